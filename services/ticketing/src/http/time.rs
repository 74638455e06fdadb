//! Time entries of a ticket (agents): minutes worked, summed into its actual hours.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{can_read, can_write, staff, viewer, visible};
use crate::domain::fields;
use crate::service::extras;
use crate::store::time::{self, TimeEntry};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTimeEntry {
    /// Minutes worked, 1 to 10080 (a week).
    #[schema(minimum = 1, maximum = 10080)]
    minutes: i64,
    #[schema(max_length = 1000, nullable)]
    note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeEntries {
    pub data: Vec<TimeEntry>,
    /// Their sum.
    pub total_minutes: i64,
}

/// Log time worked on a ticket (agents, signed in).
#[utoipa::path(
    post,
    operation_id = "create_time_entry",
    path = "/v1/tickets/{id}/time-entries",
    tag = "time",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body = CreateTimeEntry,
    responses((status = 201, description = "The entry", body = TimeEntry))
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<CreateTimeEntry>,
) -> ApiResult<(StatusCode, Json<TimeEntry>)> {
    can_write(&p)?;
    staff(&p)?;
    let user = p.require_user()?;
    let mut errors = Vec::new();
    let minutes = i32::try_from(body.minutes).ok().filter(|m| (1..=10080).contains(m));
    if minutes.is_none() {
        errors.push(FieldError::new("minutes", "must be between 1 and 10080"));
    }
    let note = match body.note.as_deref() {
        Some(n) => fields::text("note", n, 1000).map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    let Some(minutes) = minutes.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut tx = state.pool.begin().await?;
    let entry = extras::log_time(&mut tx, p.org_id, ticket.id, user, minutes, note).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// A ticket's time entries (agents).
#[utoipa::path(
    get,
    operation_id = "list_time_entries",
    path = "/v1/tickets/{id}/time-entries",
    tag = "time",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, description = "The entries", body = TimeEntries))
)]
pub async fn list(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<TimeEntries>> {
    can_read(&p)?;
    staff(&p)?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut conn = state.pool.acquire().await?;
    let data = time::list(&mut conn, p.org_id, ticket.id).await?;
    Ok(Json(TimeEntries { total_minutes: ticket.actual_minutes, data }))
}

/// Take back a time entry (its author, or a manager).
#[utoipa::path(
    delete,
    operation_id = "delete_time_entry",
    path = "/v1/tickets/{id}/time-entries/{entry_id}",
    tag = "time",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("entry_id" = Uuid, Path, description = "The entry's id"),
    ),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path((id, entry)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    staff(&p)?;
    let user = p.require_user()?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut tx = state.pool.begin().await?;
    let found = extras::time_entry(&mut tx, p.org_id, ticket.id, entry).await?;
    if found.user_id != user && p.role < Role::Manager {
        return Err(Problem::forbidden("only its author or a manager can delete a time entry").into());
    }
    extras::delete_time(&mut tx, p.org_id, ticket.id, entry, user).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
