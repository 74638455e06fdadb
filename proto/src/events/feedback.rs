//! `feedback.*` events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const FEEDBACK_CREATED: &str = "feedback.created";
pub const FEEDBACK_UPDATED: &str = "feedback.updated";
pub const FEEDBACK_STATUS_CHANGED: &str = "feedback.status_changed";
pub const FEEDBACK_MERGED: &str = "feedback.merged";
pub const FEEDBACK_DELETED: &str = "feedback.deleted";
pub const VOTE_CREATED: &str = "feedback.vote.created";
pub const VOTE_CHANGED: &str = "feedback.vote.changed";
pub const VOTE_DELETED: &str = "feedback.vote.deleted";
pub const COMMENT_CREATED: &str = "feedback.comment.created";
pub const COMMENT_UPDATED: &str = "feedback.comment.updated";
pub const COMMENT_DELETED: &str = "feedback.comment.deleted";
pub const CATEGORY_CREATED: &str = "feedback.category.created";
pub const CATEGORY_UPDATED: &str = "feedback.category.updated";
pub const CATEGORY_DELETED: &str = "feedback.category.deleted";
pub const ATTACHMENT_CREATED: &str = "feedback.attachment.created";
pub const ATTACHMENT_DELETED: &str = "feedback.attachment.deleted";

/// A feedback post as webhook consumers see it (created, updated, deleted, status changed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedbackPost {
    pub feedback_id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub status: String,
    /// Set on `feedback.status_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_before: Option<String>,
    /// The public note given with a status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_note: Option<String>,
    pub priority: String,
    pub category_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub is_public: bool,
    pub vote_count: i32,
    pub comment_count: i32,
    pub author_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    /// Who did it; `None` for anonymous visitors of the public board.
    pub actor_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedbackMerged {
    pub organization_id: Uuid,
    pub source_id: Uuid,
    pub target_id: Uuid,
    pub source_title: String,
    pub target_title: String,
    pub votes_moved: i64,
    pub target_vote_count: i32,
    pub actor_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vote {
    pub organization_id: Uuid,
    pub feedback_id: Uuid,
    /// `up` or `down`; the retracted vote's type on `feedback.vote.deleted`.
    pub vote_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_type: Option<String>,
    pub vote_count: i32,
    pub upvotes: i32,
    pub downvotes: i32,
    /// `None` for anonymous votes.
    pub voter_id: Option<Uuid>,
}

/// A comment event. `content` is `None` for internal notes: their text never leaves the
/// service in an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comment {
    pub organization_id: Uuid,
    pub feedback_id: Uuid,
    pub comment_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub is_internal: bool,
    pub is_official: bool,
    pub content: Option<String>,
    pub author_id: Option<Uuid>,
    pub comment_count: i32,
}

/// A category event (created, updated, deleted: the category as it was last).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Category {
    pub organization_id: Uuid,
    pub category_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub color: String,
    pub icon: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub actor_id: Option<Uuid>,
}

/// An attachment event. `filename` is `None` for files of internal notes: nothing of an
/// internal note but its existence leaves the service in an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub organization_id: Uuid,
    pub attachment_id: Uuid,
    pub feedback_id: Uuid,
    pub comment_id: Option<Uuid>,
    pub is_internal: bool,
    pub filename: Option<String>,
    pub mime_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: Option<Uuid>,
    /// Who did it: the uploader on `created`, the one who deleted it (or its comment) on `deleted`.
    pub actor_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}
