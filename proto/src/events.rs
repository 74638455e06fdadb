//! Payloads of events (`events.<type>`) and commands (`mail.send`, `notify.send`), shared by
//! producers and consumers so both compile against the same type. Each travels inside a
//! CloudEvents 1.0 envelope whose `type` is the constant beside it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ORG_CREATED: &str = "identity.org.created";
pub const USER_CREATED: &str = "identity.user.created";
pub const MEMBER_ADDED: &str = "identity.member.added";
pub const MEMBER_REMOVED: &str = "identity.member.removed";
pub const MEMBER_ROLE_CHANGED: &str = "identity.member.role_changed";
pub const INVITATION_CREATED: &str = "identity.invitation.created";
pub const INVITATION_ACCEPTED: &str = "identity.invitation.accepted";
pub const MAIL_SEND: &str = "mail.send";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgCreated {
    pub organization_id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub created_by: Option<Uuid>,
}

/// Never carries the password hash or any token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserCreated {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberAdded {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberRemoved {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub actor_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberRoleChanged {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role_before: String,
    pub role_after: String,
    pub actor_id: Option<Uuid>,
}

/// The invitation's token is in the mail command only, never in this event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationCreated {
    pub invitation_id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationAccepted {
    pub invitation_id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
}

/// An email to send. `link` may hold a one-time token: the command stream keeps it no longer
/// than needed and it never reaches a customer's webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MailSend {
    pub to: String,
    /// `email_verification`, `password_reset` or `invitation`.
    pub template: String,
    pub subject: String,
    pub link: Option<String>,
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
}

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
pub const NOTIFY_SEND: &str = "notify.send";

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

/// In-app notifications to deliver (`notify.send` on the command stream).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NotifySend {
    pub organization_id: Uuid,
    pub recipients: Vec<Uuid>,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    /// What caused it, e.g. `feedback.status_changed`.
    pub reason: String,
}
