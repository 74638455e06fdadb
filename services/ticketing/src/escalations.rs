//! Opening an escalation with what follows it: `ticket.escalated` and, when it has an owner, a
//! notification to them. By hand (HTTP), by a decision rule, or by the SLA scanner.

use platform::bus::{CloudEvent, NOTIFY_SEND};
use proto::events as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::escalations::{self as store, Escalation, NewEscalation};

const SOURCE: &str = "switchboard/ticketing";

/// Opens `new`, emits `ticket.escalated` and tells its owner, if any (unless the owner opened
/// it), in the caller's transaction.
pub async fn open(tx: &mut PgConnection, new: NewEscalation, base_url: &str) -> anyhow::Result<Escalation> {
    let org = new.organization_id;
    let actor = new.created_by;
    let e = store::insert(tx, new).await?;
    let data = ev::TicketEscalated {
        organization_id: org,
        ticket_id: e.ticket_id,
        escalation_id: e.id,
        reason: e.reason.as_str().to_owned(),
        priority: e.priority.as_str().to_owned(),
        origin: e.origin.as_str().to_owned(),
        assignee_id: e.assignee_id,
    };
    crate::events::emit(tx, ev::TICKET_ESCALATED, org, e.ticket_id.unwrap_or(e.id), data).await?;
    if let Some(owner) = e.assignee_id {
        notify_owner(tx, org, &e, owner, actor, base_url).await?;
    }
    Ok(e)
}

/// `notify.send` to `owner` about escalation `e`, unless they made the change themselves.
pub async fn notify_owner(
    tx: &mut PgConnection,
    org: Uuid,
    e: &Escalation,
    owner: Uuid,
    actor: Option<Uuid>,
    base_url: &str,
) -> anyhow::Result<()> {
    if actor == Some(owner) {
        return Ok(());
    }
    let command = ev::NotifySend {
        organization_id: org,
        recipients: vec![owner],
        title: format!("A {} priority escalation was assigned to you", e.priority.as_str()),
        body: e.summary.clone().unwrap_or_else(|| format!("Reason: {}", e.reason.as_str())),
        link: Some(format!("{base_url}/escalations/{}", e.id)),
        reason: ev::TICKET_ESCALATED.to_owned(),
    };
    let envelope = CloudEvent::new(SOURCE, ev::NOTIFY_SEND, Some(org), Some(e.id.to_string()), command);
    platform::outbox::enqueue(tx, NOTIFY_SEND, &envelope).await?;
    Ok(())
}
