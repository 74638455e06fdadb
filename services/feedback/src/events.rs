//! Feedback's events (`events.feedback.*`) and notification commands (`notify.send`), written to
//! the outbox in the caller's transaction.

use platform::bus::{CloudEvent, NOTIFY_SEND};
use proto::events::{FeedbackPost, NotifySend};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::Feedback;

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
pub fn post(f: &Feedback, actor: Option<Uuid>) -> FeedbackPost {
    FeedbackPost {
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

/// Tells the post's subscribers (but not the one who acted) about it.
pub async fn notify_subscribers(
    conn: &mut PgConnection,
    f: &Feedback,
    actor: Option<Uuid>,
    reason: &str,
    title: String,
    body: String,
    base_url: &str,
) -> anyhow::Result<()> {
    // A private post tells only staff and its author: customers who followed it while it was
    // public no longer see it.
    let recipients: Vec<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM subscriptions WHERE feedback_id = $1 AND ($2::uuid IS NULL OR user_id <> $2) \
         AND ($3 OR staff OR user_id = $4) ORDER BY created_at",
    )
    .bind(f.id)
    .bind(actor)
    .bind(f.is_public)
    .bind(f.author_id)
    .fetch_all(&mut *conn)
    .await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let command = NotifySend {
        organization_id: f.organization_id,
        recipients,
        title,
        body,
        link: Some(format!("{base_url}/feedback/{}", f.id)),
        reason: reason.to_owned(),
    };
    let envelope =
        CloudEvent::new(SOURCE, proto::events::NOTIFY_SEND, Some(f.organization_id), Some(f.id.to_string()), command);
    platform::outbox::enqueue(conn, NOTIFY_SEND, &envelope).await?;
    Ok(())
}
