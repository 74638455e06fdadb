//! The one way a ticket row changes: write the new version, record its history, let SLA and
//! routing react, and (at the end of the whole operation) emit the events that describe the
//! difference between the first and the last version.

use chrono::Utc;
use platform::{ApiError, FieldError, Problem};
use proto::events as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::changes::{self, FieldChange};
use crate::domain::ticket::{Actor, AuthorKind, Status, Ticket};
use crate::events::{self, Notice};
use crate::store::{history, tickets, watchers};
use crate::Services;

/// Who acts, and as what (history's `actor_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who {
    pub actor: Actor,
    pub kind: AuthorKind,
}

impl Who {
    pub const SYSTEM: Who = Who { actor: Actor::System, kind: AuthorKind::System };

    pub fn agent(user: Option<Uuid>) -> Self {
        Who { actor: user.map_or(Actor::System, Actor::User), kind: AuthorKind::Agent }
    }
}

/// 409 naming the statuses `from` may move to.
pub fn invalid_move(from: Status, to: Status) -> ApiError {
    let allowed: Vec<&str> = from.allowed_moves().iter().map(|s| s.as_str()).collect();
    let listed = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
    let mut problem =
        Problem::new(axum::http::StatusCode::CONFLICT, "invalid-status-change", "Status change not allowed")
            .detail(format!("a {from} ticket cannot become {to}; allowed: {listed}"));
    problem.errors = vec![FieldError::new("status", format!("allowed: {listed}"))];
    problem.into()
}

/// How a change is recorded and followed up.
#[derive(Debug, Clone, Copy)]
pub struct How {
    /// History kind for every field (`rule` for rules' actions), or by field when `None`.
    pub kind: Option<&'static str>,
    /// Whether routing runs now (creation routes once, after its rules).
    pub route: bool,
}

impl How {
    pub const EDIT: How = How { kind: None, route: true };
}

/// Applies `edit` to `before` (locked by the caller) and writes it with its history, SLA and
/// routing effects; the ticket as it is afterwards.
pub async fn apply(
    tx: &mut PgConnection,
    before: &Ticket,
    who: Who,
    how: How,
    edit: impl FnOnce(&mut Ticket),
) -> anyhow::Result<Ticket> {
    let mut next = before.clone();
    edit(&mut next);
    if next == *before {
        return Ok(next);
    }
    let written = tickets::write(tx, &next).await?;
    if written.subject != before.subject || written.description != before.description {
        tickets::refresh_search(tx, written.id).await?;
    }
    record(tx, before, &written, who, how.kind).await?;
    after_write(tx, Some(before), &written, true, how.route).await
}

/// SLA (when `sla`) and routing (when `route`) react to a written version; the ticket as they
/// leave it. An agent the change freed is handed the oldest queued ticket of their teams.
pub async fn after_write(
    tx: &mut PgConnection,
    before: Option<&Ticket>,
    written: &Ticket,
    sla: bool,
    route: bool,
) -> anyhow::Result<Ticket> {
    let (org, id) = (written.organization_id, written.id);
    // The row is read back only when SLA or routing wrote to it.
    let sla_wrote = sla && crate::sla::on_change(tx, before, written).await?;
    let mut now = if sla_wrote { reload(tx, org, id).await? } else { written.clone() };
    if route {
        let routed = crate::routing::on_change(tx, before, &now).await?;
        let after = if routed.wrote { reload(tx, org, id).await? } else { now.clone() };
        if let Some(agent) = routed.assigned {
            let change = FieldChange {
                field: "assignee_id",
                before: serde_json::json!(now.assignee_id),
                after: serde_json::json!(agent),
            };
            history_rows(tx, &after, Who::SYSTEM, &[change], None).await?;
        }
        now = after;
    }
    if let Some(agent) = before.and_then(occupant) {
        if occupant(&now) != Some(agent) {
            crate::routing::drain(tx, org, agent).await?;
        }
    }
    Ok(now)
}

/// The agent a ticket occupies (counts against their capacity).
fn occupant(t: &Ticket) -> Option<Uuid> {
    t.assignee_id.filter(|_| t.status.is_active())
}

async fn reload(tx: &mut PgConnection, org: Uuid, id: Uuid) -> anyhow::Result<Ticket> {
    tickets::get(tx, org, id).await?.ok_or_else(|| anyhow::anyhow!("ticket {id} vanished in its own transaction"))
}

/// History rows for the difference between two versions.
pub async fn record(
    tx: &mut PgConnection,
    before: &Ticket,
    after: &Ticket,
    who: Who,
    kind: Option<&'static str>,
) -> anyhow::Result<()> {
    history_rows(tx, after, who, &changes::diff(before, after), kind).await
}

async fn history_rows(
    tx: &mut PgConnection,
    t: &Ticket,
    who: Who,
    diff: &[FieldChange],
    kind: Option<&'static str>,
) -> anyhow::Result<()> {
    let rows: Vec<history::Change<'_>> = diff
        .iter()
        .map(|c| history::Change {
            field: c.field,
            before: Some(c.before.clone()),
            after: Some(c.after.clone()),
            kind: kind.unwrap_or_else(|| c.kind()),
        })
        .collect();
    history::record(tx, t.organization_id, t.id, who.actor.user_id(), who.kind.as_str(), &rows).await?;
    Ok(())
}

/// The events and notifications of an operation that took the ticket from `first` to `last`.
pub async fn finish(
    tx: &mut PgConnection,
    services: &Services,
    first: &Ticket,
    last: &Ticket,
    actor: Actor,
) -> anyhow::Result<()> {
    let diff = changes::diff(first, last);
    if diff.is_empty() {
        return Ok(());
    }
    let changed: Vec<&str> = diff.iter().map(|c| c.field).collect();
    events::ticket_event(tx, ev::TICKET_UPDATED, last, actor, &changed).await?;
    let base = &services.config.app_base_url;
    if first.status != last.status {
        events::status_changed(tx, last, first.status, actor).await?;
        let watchers = watchers::ids(tx, last.organization_id, last.id).await?;
        let recipients: Vec<Uuid> = watchers.into_iter().chain(last.assignee_id).collect();
        let notice = Notice {
            reason: ev::TICKET_STATUS_CHANGED,
            title: format!("{} is now {}", last.number, last.status),
            body: last.subject.clone(),
        };
        events::notify(tx, last, recipients, actor, notice, base).await?;
    }
    if first.assignee_id != last.assignee_id {
        if let Some(agent) = last.assignee_id {
            assigned(tx, services, last, agent, actor).await?;
        }
    }
    Ok(())
}

/// `ticket.assigned` and a notification to the new assignee.
pub async fn assigned(
    tx: &mut PgConnection,
    services: &Services,
    t: &Ticket,
    agent: Uuid,
    actor: Actor,
) -> anyhow::Result<()> {
    events::ticket_event(tx, ev::TICKET_ASSIGNED, t, actor, &["assignee_id"]).await?;
    let notice = Notice {
        reason: ev::TICKET_ASSIGNED,
        title: format!("{} was assigned to you", t.number),
        body: t.subject.clone(),
    };
    events::notify(tx, t, vec![agent], actor, notice, &services.config.app_base_url).await
}

/// Moves `t` to `to` if the graph allows it; 409 naming the allowed moves otherwise.
pub fn check_move(t: &Ticket, to: Status) -> Result<(), ApiError> {
    if to == Status::Merged && t.status != Status::Merged {
        // Only a merge makes a ticket `merged`.
        return Err(invalid_move(t.status, to));
    }
    if t.status.can_move_to(to) {
        Ok(())
    } else {
        Err(invalid_move(t.status, to))
    }
}

/// `changes::move_status` at the current time.
pub fn move_now(t: &mut Ticket, to: Status) {
    changes::move_status(t, to, Utc::now());
}
