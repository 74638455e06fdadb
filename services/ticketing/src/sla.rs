//! The SLA hook of the ticket transaction: which policy applies, when each target is due, and
//! the pause while the ticket waits.
//!
//! - On creation, and when the priority or category changes, the matching enabled policy (the
//!   category's own, else the priority's catch-all) sets `sla_policy_id` and both due times:
//!   creation + target + the business time paused so far, counted in the policy's business
//!   hours when it has them. A target already breached keeps its due time and its breach.
//!   Without a matching policy the ticket has no due times.
//! - The clock runs while the ticket is open or in progress. Leaving those (waiting, resolved,
//!   closed) pauses it (`sla_paused_at`); coming back moves the due times of the targets not yet
//!   met by the business time paused, and adds that to `sla_paused_seconds`.
//! - A target missed while the clock ran, and met or paused before the scanner saw it, is
//!   recorded as breached then (`ticket.sla.breached`, without the scanner's escalation: the
//!   ticket has moved on).
//! - Editing or deleting a policy changes nothing on tickets until their next priority or
//!   category change.

use chrono::Utc;
use sqlx::PgConnection;

use crate::domain::sla::{running, Calendar, Clock};
use crate::domain::ticket::Ticket;
use crate::store::sla::{self as store, SlaPolicy, Target, TicketSla};

/// How `policy` counts time (wall-clock when it has no business hours, or they no longer parse).
pub fn clock(policy: Option<&SlaPolicy>) -> Clock {
    policy
        .and_then(|p| p.business_hours.as_ref())
        .and_then(|h| Calendar::parse("business_hours", h).ok())
        .map_or(Clock::Wall, Clock::Business)
}

/// Sets or moves the SLA clock of `after` (written, locked) for its change from `before`
/// (`None`: just created); whether it wrote to the ticket row.
pub async fn on_change(tx: &mut PgConnection, before: Option<&Ticket>, after: &Ticket) -> anyhow::Result<bool> {
    let (org, id) = (after.organization_id, after.id);
    let now = Utc::now();
    let was_running = before.is_none_or(|b| running(b.status));
    let resuming = !was_running && running(after.status) && after.sla_paused_at.is_some();
    let retarget = before.is_none_or(|b| b.priority != after.priority || b.category != after.category);
    let pausing = !running(after.status) && after.sla_paused_at.is_none();
    let mut wrote = false;
    // Most changes (a reply, a tag) move no clock: nothing to read or write for them.
    let mut sla = TicketSla {
        policy_id: after.sla_policy_id,
        first_response_due_at: after.first_response_due_at,
        resolution_due_at: after.resolution_due_at,
        paused_at: after.sla_paused_at,
        paused_seconds: if resuming || retarget { store::paused_seconds(tx, org, id).await? } else { 0 },
    };
    let start = sla.clone();

    // Resuming: the paused business time moves the targets not met yet.
    if resuming {
        let current = match after.sla_policy_id {
            Some(p) => store::get(tx, org, p).await?,
            None => None,
        };
        if let Some(paused_at) = sla.paused_at.take() {
            let c = clock(current.as_ref());
            let paused = c.between(paused_at, now);
            sla.paused_seconds += paused;
            if after.first_response_breached_at.is_none() && after.first_response_at.is_none() {
                sla.first_response_due_at = sla.first_response_due_at.map(|d| c.add(d, paused));
            }
            if after.resolution_breached_at.is_none() {
                sla.resolution_due_at = sla.resolution_due_at.map(|d| c.add(d, paused));
            }
        }
    }

    if retarget {
        let policy = store::matching(tx, org, after.priority, after.category).await?;
        let c = clock(policy.as_ref());
        let due = |minutes: i32| c.add(after.created_at, i64::from(minutes) * 60 + sla.paused_seconds);
        sla.policy_id = policy.as_ref().map(|p| p.id);
        if after.first_response_breached_at.is_none() {
            sla.first_response_due_at = policy.as_ref().map(|p| due(p.first_response_minutes));
        }
        if after.resolution_breached_at.is_none() {
            sla.resolution_due_at = policy.as_ref().map(|p| due(p.resolution_minutes));
        }
    }

    // Pausing: waiting, resolved and closed stop the clock.
    if pausing {
        if !(resuming || retarget) {
            sla.paused_seconds = store::paused_seconds(tx, org, id).await?;
        }
        sla.paused_at = Some(now);
    }

    if sla != start || pausing {
        store::set_ticket(tx, org, id, &sla).await?;
        wrote = true;
    }

    // A target missed while the clock ran but met (or paused) before the scanner saw it is a
    // breach all the same: recorded now, once (this transaction holds the ticket's row, which
    // the scanner's claims skip, and they no longer match it afterwards).
    let first_met = before.is_some_and(|b| b.first_response_at.is_none()) && after.first_response_at.is_some();
    let stopped = was_running && !running(after.status);
    let late = |due: Option<chrono::DateTime<Utc>>, at: chrono::DateTime<Utc>| due.is_some_and(|d| d < at);
    if after.first_response_breached_at.is_none() {
        let met_late = first_met && late(sla.first_response_due_at, after.first_response_at.unwrap_or(now));
        let stopped_late = stopped && after.first_response_at.is_none() && late(sla.first_response_due_at, now);
        if met_late || stopped_late {
            crate::sla_scanner::record_late(tx, org, id, Target::FirstResponse).await?;
            wrote = true;
        }
    }
    if after.resolution_breached_at.is_none() && stopped && late(sla.resolution_due_at, now) {
        crate::sla_scanner::record_late(tx, org, id, Target::Resolution).await?;
        wrote = true;
    }
    Ok(wrote)
}
