//! Round-robin: a ticket given to a team without an assignee goes to the team's online agent
//! with free capacity (capacity > their open, in-progress and waiting tickets) who was assigned
//! least recently; when nobody has room it waits in the team's queue (`queued_at`) and is handed
//! out, oldest first, as soon as someone frees up or comes online.
//!
//! Every decision runs under one advisory lock per organization, held to the end of the
//! transaction, so the loads it counts are the committed ones and two replicas never give an
//! agent more than their capacity. One lock per organization rather than per team: an agent in
//! two teams would otherwise be counted under two locks, and a transaction draining several
//! teams could deadlock with another taking them in a different order. Ticket creation is
//! already serialized per organization by its number counter, so this costs it nothing more.
//! Lock order: the routing lock before any agent row (agents' PUT takes it first too).

use proto::events as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ticket::{Actor, Ticket};
use crate::events::{self, Notice};
use crate::store;

/// Queued tickets handed out per drain at most; the rest go at the next chance.
const DRAIN_BATCH: i64 = 500;

pub use store::routing::lock;

/// Whether `t` should have an agent picked for it.
fn wants_agent(t: &Ticket) -> bool {
    t.team_id.is_some() && t.assignee_id.is_none() && t.status.is_active()
}

/// The hook of the ticket transaction (after the row is written): queues `after` for its team
/// and hands out the team's queue (this ticket included, oldest first) when it wants an agent;
/// takes it out of the queue otherwise. The assignee of `after`, if it got one, is returned for
/// the caller to record and announce; other queued tickets given away here are announced here.
/// Freeing an agent is the caller's to report, through [`drain`].
pub async fn on_change(tx: &mut PgConnection, _before: Option<&Ticket>, after: &Ticket) -> anyhow::Result<Routed> {
    let org = after.organization_id;
    let mut assigned = None;
    let mut wrote = false;
    if wants_agent(after) {
        let team = after.team_id.unwrap_or_default();
        lock(tx, org).await?;
        if after.queued_at.is_none() {
            wrote = true;
            platform::cache::touch(after.id);
            store::routing::enqueue(tx, org, after.id).await?;
        }
        for (ticket, agent) in drain_team_unannounced(tx, org, team).await? {
            if ticket == after.id {
                wrote = true;
                assigned = Some(agent);
            } else {
                announce(tx, org, ticket).await?;
            }
        }
    } else if after.queued_at.is_some() {
        wrote = true;
        platform::cache::touch(after.id);
        store::routing::dequeue(tx, org, after.id).await?;
    }
    Ok(Routed { assigned, wrote })
}

/// What [`on_change`] did to its ticket.
pub struct Routed {
    /// The agent it was given, to record and announce.
    pub assigned: Option<Uuid>,
    /// Whether the ticket row was written (queued, taken out of the queue or assigned).
    pub wrote: bool,
}

/// `agent` has room now (a ticket of theirs ended, they came online or gained capacity): hands
/// out the queues of their teams, announcing each assignment (`ticket.assigned`, history,
/// notification). Returns `(ticket, assignee)` of each.
pub async fn drain(tx: &mut PgConnection, org: Uuid, agent: Uuid) -> anyhow::Result<Vec<(Uuid, Uuid)>> {
    lock(tx, org).await?;
    let mut all = Vec::new();
    for team in store::teams::teams_of(tx, org, agent).await? {
        all.extend(drain_team(tx, org, team).await?);
    }
    Ok(all)
}

/// Hands out `team`'s queue to its agents with room, announcing each assignment.
pub async fn drain_team(tx: &mut PgConnection, org: Uuid, team: Uuid) -> anyhow::Result<Vec<(Uuid, Uuid)>> {
    lock(tx, org).await?;
    let given = drain_team_unannounced(tx, org, team).await?;
    for (ticket, _) in &given {
        announce(tx, org, *ticket).await?;
    }
    Ok(given)
}

/// The queue of `team`, oldest first, to the least recently assigned online agent with room,
/// one ticket at a time. Call under the routing lock. Queued tickets another transaction holds
/// are skipped: that transaction routes its ticket itself.
async fn drain_team_unannounced(tx: &mut PgConnection, org: Uuid, team: Uuid) -> anyhow::Result<Vec<(Uuid, Uuid)>> {
    let mut agents = store::agents::candidates(tx, org, team).await?;
    let room: i64 = agents.iter().map(|a| (i64::from(a.capacity) - a.load).max(0)).sum();
    if room == 0 {
        return Ok(Vec::new());
    }
    let queue = store::routing::queue(tx, org, team, room.min(DRAIN_BATCH)).await?;
    let mut given = Vec::with_capacity(queue.len());
    for ticket in queue {
        // Never assigned first, then the longest ago; ties by id, so the order is total.
        let Some(next) = agents
            .iter_mut()
            .filter(|a| a.load < i64::from(a.capacity))
            .min_by_key(|a| (a.last_assigned_at.is_some(), a.last_assigned_at, a.user_id))
        else {
            break;
        };
        platform::cache::touch(ticket);
        store::routing::give(tx, org, ticket, next.user_id).await?;
        next.last_assigned_at = Some(store::agents::touch(tx, org, next.user_id).await?);
        next.load += 1;
        given.push((ticket, next.user_id));
    }
    Ok(given)
}

/// What the core does for an assignment it makes, for one made here: history, the event and
/// the assignee's notification. The link is relative (`/tickets/{number}`): routing runs inside
/// transactions that carry no configuration.
async fn announce(tx: &mut PgConnection, org: Uuid, ticket: Uuid) -> anyhow::Result<()> {
    let Some(t) = store::tickets::get(tx, org, ticket).await? else {
        return Ok(());
    };
    let change = store::history::Change {
        field: "assignee_id",
        before: Some(serde_json::Value::Null),
        after: Some(serde_json::json!(t.assignee_id)),
        kind: "assigned",
    };
    store::history::record(tx, org, t.id, None, "system", &[change]).await?;
    events::ticket_event(tx, ev::TICKET_ASSIGNED, &t, Actor::System, &["assignee_id"]).await?;
    let notice = Notice {
        reason: ev::TICKET_ASSIGNED,
        title: format!("{} was assigned to you", t.number),
        body: t.subject.clone(),
    };
    events::notify(tx, &t, t.assignee_id.into_iter().collect(), Actor::System, notice, "").await
}
