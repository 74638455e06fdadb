//! Feedback's events (`events.feedback.*`) and notification commands (`notify.send`), written to
//! the outbox in the caller's transaction.

use std::collections::HashSet;

use platform::bus::{CloudEvent, NOTIFY_SEND};
use proto::events as ev;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::attachments::Attachment;
use crate::store::categories::Category;
use crate::store::comments::Comment;
use crate::store::{self, Feedback};
use crate::{domain, AppState};

const SOURCE: &str = "switchboard/feedback";

pub async fn emit<T: Serialize>(
    conn: &mut PgConnection,
    event_type: &str,
    org: Uuid,
    subject: Uuid,
    data: T,
) -> anyhow::Result<()> {
    let event = CloudEvent::new(SOURCE, event_type, Some(org), Some(subject.to_string()), data);
    platform::outbox::emit(conn, &event).await?;
    Ok(())
}

/// The webhook-facing form of a post.
pub fn post(f: &Feedback, actor: Option<Uuid>) -> ev::FeedbackPost {
    ev::FeedbackPost {
        feedback_id: f.id,
        organization_id: f.organization_id,
        title: f.title.clone(),
        status: f.status.clone(),
        status_before: None,
        status_note: None,
        priority: f.priority.clone(),
        category_id: f.category_id,
        tags: f.tags.clone(),
        is_public: f.is_public,
        vote_count: f.vote_count,
        comment_count: f.comment_count,
        author_id: f.author_id,
        assignee_id: f.assignee_id,
        actor_id: actor,
    }
}

/// A comment event; an internal note's text never leaves the service.
pub fn comment(c: &Comment, org: Uuid, comment_count: i32) -> ev::Comment {
    ev::Comment {
        organization_id: org,
        feedback_id: c.feedback_id,
        comment_id: c.id,
        parent_id: c.parent_id,
        is_internal: c.is_internal,
        is_official: c.is_official,
        content: (!c.is_internal).then(|| c.content.clone()),
        author_id: c.author_id,
        comment_count,
    }
}

pub fn category(c: &Category, org: Uuid, actor: Option<Uuid>) -> ev::Category {
    ev::Category {
        organization_id: org,
        category_id: c.id,
        name: c.name.clone(),
        description: c.description.clone(),
        color: c.color.clone(),
        icon: c.icon.clone(),
        is_active: c.is_active,
        sort_order: c.sort_order,
        actor_id: actor,
    }
}

/// An attachment event; the name of an internal note's file stays here.
pub fn attachment(a: &Attachment, org: Uuid, actor: Option<Uuid>) -> ev::Attachment {
    ev::Attachment {
        organization_id: org,
        attachment_id: a.id,
        feedback_id: a.feedback_id,
        comment_id: a.comment_id,
        is_internal: a.internal,
        filename: (!a.internal).then(|| a.original_filename.clone()),
        mime_type: a.mime_type.clone(),
        size_bytes: a.size_bytes,
        sha256: a.sha256.clone(),
        uploaded_by: a.uploaded_by,
        actor_id: actor,
        created_at: a.created_at,
    }
}

/// Who is staff in the organization now, for a notification about a post that is private.
/// Asked before the transaction that notifies (no network wait inside it). `None` when the post
/// is public (not needed) or identity did not answer: a private post then tells only its author.
pub async fn staff_now(state: &AppState, org: Uuid, public: bool) -> Option<HashSet<Uuid>> {
    if public {
        return None;
    }
    match state.directory.staff(org).await {
        Ok(staff) => Some(staff),
        Err(err) => {
            tracing::warn!(%org, error = %err, "cannot tell who is staff now; private notifications go to the author only");
            None
        }
    }
}

/// What a notification says.
pub struct Notice {
    pub reason: &'static str,
    pub title: String,
    pub body: String,
}

/// Tells the post's subscribers who may see it now (never the one who acted) about it.
pub async fn notify_subscribers(
    conn: &mut PgConnection,
    f: &Feedback,
    actor: Option<Uuid>,
    staff_now: Option<&HashSet<Uuid>>,
    notice: Notice,
    base_url: &str,
) -> anyhow::Result<()> {
    let subscribers = store::subscribers(conn, f.id).await?;
    let recipients = domain::audience(&subscribers, f.is_public, f.author_id, staff_now, actor);
    if recipients.is_empty() {
        return Ok(());
    }
    let command = ev::NotifySend {
        organization_id: f.organization_id,
        recipients,
        title: notice.title,
        body: notice.body,
        link: Some(format!("{base_url}/feedback/{}", f.id)),
        reason: notice.reason.to_owned(),
    };
    let envelope = CloudEvent::new(SOURCE, ev::NOTIFY_SEND, Some(f.organization_id), Some(f.id.to_string()), command);
    platform::outbox::enqueue(conn, NOTIFY_SEND, &envelope).await?;
    Ok(())
}
