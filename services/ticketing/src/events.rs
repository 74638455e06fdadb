//! Ticketing's events (`events.ticket.*`) and notification commands (`notify.send`), written to
//! the outbox in the caller's transaction. An internal note's text never goes into any of them.

use platform::bus::{CloudEvent, NOTIFY_SEND};
use proto::events as ev;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ticket::{Actor, Status, Ticket};
use crate::store::comments::Comment;

const SOURCE: &str = "switchboard/ticketing";

/// Writes `data` as event `event_type` about `subject` to the outbox.
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

/// The webhook-facing form of a ticket.
pub fn ticket(t: &Ticket, actor: Actor, changed: &[&str]) -> ev::Ticket {
    ev::Ticket {
        organization_id: t.organization_id,
        ticket_id: t.id,
        number: t.number.clone(),
        subject: t.subject.clone(),
        status: t.status.as_str().to_owned(),
        status_before: None,
        priority: t.priority.as_str().to_owned(),
        severity: t.severity.as_str().to_owned(),
        category: t.category.as_str().to_owned(),
        tags: t.tags.clone(),
        source: t.source.as_str().to_owned(),
        customer_id: t.customer_id,
        assignee_id: t.assignee_id,
        team_id: t.team_id,
        project_id: t.project_id,
        conversation_id: t.conversation_id,
        changed: changed.iter().map(|c| (*c).to_owned()).collect(),
        actor_id: actor.user_id(),
        created_at: Some(t.created_at),
        first_response_at: t.first_response_at,
        resolved_at: t.resolved_at,
        closed_at: t.closed_at,
        reopen_count: t.reopen_count,
    }
}

/// Emits `event_type` (`ticket.created`, `ticket.updated`, `ticket.assigned`, `ticket.deleted`)
/// about `t`; `changed` names the fields a `ticket.updated` changed.
pub async fn ticket_event(
    tx: &mut PgConnection,
    event_type: &str,
    t: &Ticket,
    actor: Actor,
    changed: &[&str],
) -> anyhow::Result<()> {
    emit(tx, event_type, t.organization_id, t.id, ticket(t, actor, changed)).await
}

/// `ticket.status_changed` from `before` to `t.status`.
pub async fn status_changed(tx: &mut PgConnection, t: &Ticket, before: Status, actor: Actor) -> anyhow::Result<()> {
    let mut data = ticket(t, actor, &[]);
    data.status_before = Some(before.as_str().to_owned());
    emit(tx, ev::TICKET_STATUS_CHANGED, t.organization_id, t.id, data).await
}

/// `ticket.comment.created`; a note's body is left out.
pub async fn comment_created(tx: &mut PgConnection, t: &Ticket, c: &Comment) -> anyhow::Result<()> {
    let data = ev::TicketComment {
        organization_id: t.organization_id,
        ticket_id: t.id,
        number: t.number.clone(),
        comment_id: c.id,
        is_internal: c.is_internal,
        author_kind: c.author_kind.as_str().to_owned(),
        author_id: c.author_id,
        body: (!c.is_internal).then(|| c.body.clone()),
    };
    emit(tx, ev::TICKET_COMMENT_CREATED, t.organization_id, t.id, data).await
}

/// What a notification says.
pub struct Notice {
    pub reason: &'static str,
    pub title: String,
    pub body: String,
}

/// Sends `notice` to `recipients` (deduplicated, never the actor). Recipients are the assignee
/// and watchers, who are agents or above: a note may be described to them.
pub async fn notify(
    tx: &mut PgConnection,
    t: &Ticket,
    mut recipients: Vec<Uuid>,
    actor: Actor,
    notice: Notice,
    base_url: &str,
) -> anyhow::Result<()> {
    recipients.sort();
    recipients.dedup();
    recipients.retain(|r| Some(*r) != actor.user_id());
    if recipients.is_empty() {
        return Ok(());
    }
    let command = ev::NotifySend {
        organization_id: t.organization_id,
        recipients,
        title: notice.title,
        body: notice.body,
        link: Some(format!("{base_url}/tickets/{}", t.number)),
        reason: notice.reason.to_owned(),
    };
    let envelope = CloudEvent::new(SOURCE, ev::NOTIFY_SEND, Some(t.organization_id), Some(t.id.to_string()), command);
    platform::outbox::enqueue(tx, NOTIFY_SEND, &envelope).await?;
    Ok(())
}
