//! Merging a ticket into another: the source becomes `merged` with `merged_into_id`, its comments
//! (with their attachments) and watchers move to the target, both histories record it, and later
//! replies to the source land on the target.

use axum::http::StatusCode;
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use super::change::{self, How, Who};
use crate::domain::ticket::{Status, Ticket};
use crate::events::{self, Notice};
use crate::store::tickets::TicketRef;
use crate::store::{comments, history, tickets, watchers};
use crate::Services;

/// Merges ticket `source` of `org` into `target`; both tickets afterwards.
pub async fn merge(
    tx: &mut PgConnection,
    services: &Services,
    org: Uuid,
    source: Uuid,
    target: TicketRef,
    who: Who,
) -> ApiResult<(Ticket, Ticket)> {
    let source_row = tickets::get(tx, org, source).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    let target_row = tickets::get(tx, org, target).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    if source_row.id == target_row.id {
        return Err(
            Problem::validation(vec![FieldError::new("target", "a ticket cannot be merged into itself")]).into()
        );
    }
    // Lock in id order: two merges of the same pair in opposite directions cannot deadlock.
    let (a, b) =
        if source_row.id < target_row.id { (source_row.id, target_row.id) } else { (target_row.id, source_row.id) };
    let first_a = tickets::lock(tx, org, a).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    let first_b = tickets::lock(tx, org, b).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    let (from, into) = if first_a.id == source_row.id { (first_a, first_b) } else { (first_b, first_a) };
    for (t, role) in [(&from, "ticket"), (&into, "target")] {
        if matches!(t.status, Status::Merged | Status::Closed) {
            return Err(Problem::new(StatusCode::CONFLICT, "conflict", "Conflict")
                .detail(format!(
                    "the {role} {} is {}; only open, in progress, waiting or resolved tickets merge",
                    t.number, t.status
                ))
                .into());
        }
    }
    let moved = comments::move_all(tx, org, from.id, into.id).await?;
    watchers::move_all(tx, org, from.id, into.id).await?;
    let how = How { kind: Some("merged"), route: true };
    let merged = change::apply(tx, &from, who, how, |t| {
        t.status = Status::Merged;
        t.merged_into_id = Some(into.id);
    })
    .await?;
    tickets::refresh_search(tx, from.id).await?;
    tickets::refresh_search(tx, into.id).await?;
    let entry = history::Change {
        field: "merged_from",
        before: None,
        after: Some(serde_json::json!({"ticket_id": from.id, "number": from.number, "comments_moved": moved})),
        kind: "merged",
    };
    history::record(tx, org, into.id, who.actor.user_id(), who.kind.as_str(), &[entry]).await?;
    let data = ev::TicketMerged {
        organization_id: org,
        source_id: from.id,
        source_number: from.number.clone(),
        target_id: into.id,
        target_number: into.number.clone(),
        actor_id: who.actor.user_id(),
    };
    events::emit(tx, ev::TICKET_MERGED, org, from.id, data).await?;
    change::finish(tx, services, &from, &merged, who.actor).await?;
    let target_now = tickets::get(tx, org, into.id).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    let recipients: Vec<Uuid> = watchers::ids(tx, org, into.id).await?.into_iter().chain(into.assignee_id).collect();
    let notice = Notice {
        reason: ev::TICKET_MERGED,
        title: format!("{} was merged into {}", from.number, into.number),
        body: into.subject.clone(),
    };
    events::notify(tx, &target_now, recipients, who.actor, notice, &services.config.app_base_url).await?;
    Ok((merged, target_now))
}
