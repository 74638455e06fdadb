//! The smaller changes of a ticket: CSAT, time entries and watchers.

use axum::http::StatusCode;
use platform::{ApiResult, Problem};
use proto::events as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use super::change::Who;
use crate::domain::ticket::{Status, Ticket};
use crate::events;
use crate::store::time::{self, TimeEntry};
use crate::store::{history, tickets, watchers};

fn conflict(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(detail)
}

async fn locked(tx: &mut PgConnection, org: Uuid, id: Uuid) -> ApiResult<Ticket> {
    Ok(tickets::lock(tx, org, id).await?.ok_or_else(|| Problem::not_found("ticket"))?)
}

/// Records the one CSAT rating of a resolved (or closed) ticket and emits
/// `ticket.csat.submitted`. Agents' ratings are the average of their tickets' ratings, derived
/// when read (`store::agents`).
pub async fn rate(
    tx: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    rating: i16,
    comment: Option<String>,
    who: Who,
) -> ApiResult<Ticket> {
    let t = locked(tx, org, id).await?;
    if !matches!(t.status, Status::Resolved | Status::Closed) {
        return Err(conflict(format!("the ticket is {}; it can be rated once resolved", t.status)).into());
    }
    if !tickets::rate(tx, org, t.id, rating, comment.as_deref()).await? {
        return Err(conflict("the ticket was rated already").into());
    }
    let entry =
        history::Change { field: "csat_rating", before: None, after: Some(serde_json::json!(rating)), kind: "csat" };
    history::record(tx, org, t.id, who.actor.user_id(), who.kind.as_str(), &[entry]).await?;
    let data = ev::TicketCsatSubmitted {
        organization_id: org,
        ticket_id: t.id,
        number: t.number.clone(),
        rating,
        comment,
        assignee_id: t.assignee_id,
    };
    events::emit(tx, ev::TICKET_CSAT_SUBMITTED, org, t.id, data).await?;
    Ok(tickets::get(tx, org, t.id).await?.ok_or_else(|| Problem::not_found("ticket"))?)
}

/// Records minutes worked on the ticket; they add up into its actual time.
pub async fn log_time(
    tx: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    user: Uuid,
    minutes: i32,
    note: Option<String>,
) -> ApiResult<TimeEntry> {
    let t = locked(tx, org, id).await?;
    let entry = time::insert(tx, org, t.id, user, minutes, note.as_deref()).await?;
    let total = tickets::add_minutes(tx, org, t.id, i64::from(minutes)).await?;
    time_history(tx, &t, user, total).await?;
    Ok(entry)
}

/// Takes a time entry back (its author or a manager; the caller checked).
pub async fn delete_time(tx: &mut PgConnection, org: Uuid, id: Uuid, entry: Uuid, user: Uuid) -> ApiResult<TimeEntry> {
    let t = locked(tx, org, id).await?;
    let gone = time::delete(tx, org, t.id, entry).await?.ok_or_else(|| Problem::not_found("time entry"))?;
    let total = tickets::add_minutes(tx, org, t.id, -i64::from(gone.minutes)).await?;
    time_history(tx, &t, user, total).await?;
    Ok(gone)
}

async fn time_history(tx: &mut PgConnection, t: &Ticket, user: Uuid, total: i64) -> anyhow::Result<()> {
    let entry = history::Change {
        field: "actual_minutes",
        before: Some(serde_json::json!(t.actual_minutes)),
        after: Some(serde_json::json!(total)),
        kind: "time",
    };
    history::record(tx, t.organization_id, t.id, Some(user), "agent", &[entry]).await?;
    Ok(())
}

/// A time entry before its deletion, for the permission check.
pub async fn time_entry(tx: &mut PgConnection, org: Uuid, id: Uuid, entry: Uuid) -> ApiResult<TimeEntry> {
    let t = locked(tx, org, id).await?;
    time::list(tx, org, t.id)
        .await?
        .into_iter()
        .find(|e| e.id == entry)
        .ok_or_else(|| Problem::not_found("time entry").into())
}

/// Makes `user` watch the ticket; whether they were not watching before.
pub async fn watch(tx: &mut PgConnection, org: Uuid, id: Uuid, user: Uuid) -> ApiResult<bool> {
    let t = locked(tx, org, id).await?;
    Ok(watchers::add(tx, org, t.id, user).await?)
}

/// Stops `user` watching the ticket; whether they were.
pub async fn unwatch(tx: &mut PgConnection, org: Uuid, id: Uuid, user: Uuid) -> ApiResult<bool> {
    let t = locked(tx, org, id).await?;
    Ok(watchers::remove(tx, org, t.id, user).await?)
}
