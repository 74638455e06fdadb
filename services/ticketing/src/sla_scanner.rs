//! The SLA scanner: every `SLA_SCAN_INTERVAL_SECS` it claims the tickets whose first response or
//! resolution is past due and not yet breached, and for each breach, in the claiming
//! transaction: stamps `*_breached_at`, records history (`sla`), emits `ticket.sla.breached`,
//! notifies the assignee (or, without one, the team's members) and opens an escalation with
//! origin `sla_breach`.
//!
//! Replicas share it safely: claims are `FOR UPDATE SKIP LOCKED` of rows still unbreached, and
//! the stamp commits with the event, so each target of each ticket breaches exactly once. The
//! claims span organizations (the scanner works for all of them); everything after them is
//! scoped to the claimed ticket's organization.

use std::time::Duration;

use chrono::{DateTime, Utc};

use platform::bus::Bus;
use platform::cache::Shared;
use proto::events as ev;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::ticket::{Actor, Priority, Ticket};
use crate::events::{self, Notice};
use crate::store::escalations::NewEscalation;
use crate::store::sla::{claim_breaches, stamp, Target};
use crate::store::{history, teams};

/// Breaches handled per transaction.
const BATCH: i64 = 100;

pub struct SlaScanner {
    pool: PgPool,
    interval: Duration,
    base_url: String,
    cache: Option<(Shared<Ticket>, Bus)>,
}

impl SlaScanner {
    pub fn new(pool: PgPool, interval: Duration, base_url: &str) -> Self {
        Self { pool, interval, base_url: base_url.to_owned(), cache: None }
    }

    /// Evicts the tickets each pass stamps from every replica's `cache`.
    pub fn evicting(mut self, cache: Shared<Ticket>, bus: Bus) -> Self {
        self.cache = Some((cache, bus));
        self
    }

    /// Scans every interval until `shutdown`; a failed scan is logged and retried next time.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            if let Err(err) = self.scan_once().await {
                tracing::warn!(error = %err, "SLA scan failed; retrying at the next interval");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One pass over every due breach; how many were recorded.
    pub async fn scan_once(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        for target in [Target::FirstResponse, Target::Resolution] {
            loop {
                let mut tx = self.pool.begin().await?;
                let claimed = claim_breaches(&mut tx, target, BATCH).await?;
                for t in &claimed {
                    breached(&mut tx, t, target, &self.base_url).await?;
                }
                tx.commit().await?;
                if let Some((cache, bus)) = &self.cache {
                    let ids: Vec<Uuid> = claimed.iter().map(|t| t.id).collect();
                    cache.changed(bus, Some(&ids)).await;
                }
                total += claimed.len();
                if (claimed.len() as i64) < BATCH {
                    break;
                }
            }
        }
        Ok(total)
    }
}

/// Records the breach of `target` on ticket `id`, found late by the ticket's own change (see
/// `crate::sla`): the stamp, history and `ticket.sla.breached`, once.
pub async fn record_late(tx: &mut PgConnection, org: Uuid, id: Uuid, target: Target) -> anyhow::Result<()> {
    if let Some(t) = stamp(tx, org, id, target).await? {
        announce(tx, &t, target).await?;
    }
    Ok(())
}

/// History and the event of a stamped breach; the due time it missed.
async fn announce(tx: &mut PgConnection, t: &Ticket, target: Target) -> anyhow::Result<Option<DateTime<Utc>>> {
    let org = t.organization_id;
    let (due, at, field) = match target {
        Target::FirstResponse => (t.first_response_due_at, t.first_response_breached_at, "first_response_breached_at"),
        Target::Resolution => (t.resolution_due_at, t.resolution_breached_at, "resolution_breached_at"),
    };
    let Some(due) = due else { return Ok(None) };
    let change = history::Change {
        field,
        before: Some(serde_json::Value::Null),
        after: Some(serde_json::json!(at)),
        kind: "sla",
    };
    history::record(tx, org, t.id, None, "system", &[change]).await?;
    let data = ev::TicketSlaBreached {
        organization_id: org,
        ticket_id: t.id,
        number: t.number.clone(),
        target: target.as_str().to_owned(),
        due_at: due,
        policy_id: t.sla_policy_id,
        assignee_id: t.assignee_id,
        team_id: t.team_id,
    };
    events::emit(tx, ev::TICKET_SLA_BREACHED, org, t.id, data).await?;
    Ok(Some(due))
}

/// What follows one claimed breach of `target` on `t` (already stamped).
async fn breached(tx: &mut PgConnection, t: &Ticket, target: Target, base_url: &str) -> anyhow::Result<()> {
    let org = t.organization_id;
    let Some(due) = announce(tx, t, target).await? else { return Ok(()) };
    let recipients = match (t.assignee_id, t.team_id) {
        (Some(agent), _) => vec![agent],
        (None, Some(team)) => teams::members(tx, org, team).await?,
        (None, None) => Vec::new(),
    };
    let what = match target {
        Target::FirstResponse => "first response",
        Target::Resolution => "resolution",
    };
    let notice = Notice {
        reason: ev::TICKET_SLA_BREACHED,
        title: format!("{}: the {what} target was missed", t.number),
        body: t.subject.clone(),
    };
    events::notify(tx, t, recipients, Actor::System, notice, base_url).await?;
    let escalation = NewEscalation {
        organization_id: org,
        ticket_id: Some(t.id),
        conversation_id: t.conversation_id,
        customer_id: t.customer_id,
        reason: "sla_breach".to_owned(),
        priority: escalation_priority(t.priority).to_owned(),
        origin: "sla_breach".to_owned(),
        assignee_id: None,
        summary: Some(format!("The {what} of {} was due at {} and is late", t.number, due.to_rfc3339())),
        created_by: None,
    };
    crate::escalations::open(tx, escalation, base_url).await?;
    Ok(())
}

/// A breach escalates one step above the ticket's priority.
fn escalation_priority(p: Priority) -> &'static str {
    match p {
        Priority::Low => "normal",
        Priority::Normal => "high",
        Priority::High => "urgent",
        Priority::Urgent => "critical",
    }
}
