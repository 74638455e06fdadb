//! Watchers (followers) of a ticket: agents told about its replies, notes and status changes.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::ApiResult;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::checks::check_member;
use super::{can_read, can_write, staff, viewer, visible};
use crate::service::extras;
use crate::store::watchers::{self, Watcher};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(add, remove))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WatcherList {
    pub data: Vec<Watcher>,
}

/// Who watches a ticket (agents).
#[utoipa::path(
    get,
    operation_id = "list_ticket_watchers",
    path = "/v1/tickets/{id}/watchers",
    tag = "watchers",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, description = "The watchers", body = WatcherList))
)]
pub async fn list(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<WatcherList>> {
    can_read(&p)?;
    staff(&p)?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(WatcherList { data: watchers::list(&mut conn, p.org_id, ticket.id).await? }))
}

/// Make an agent (oneself, or anyone by a manager) watch a ticket. Idempotent.
#[utoipa::path(
    put,
    operation_id = "add_ticket_watcher",
    path = "/v1/tickets/{id}/watchers/{user_id}",
    tag = "watchers",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("user_id" = Uuid, Path, description = "An agent or above of the organization"),
    ),
    responses(
        (status = 204, description = "Watching"),
        (status = 422, description = "`user_id` is not a member of the organization with the agent role or above", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    p: Principal,
    Path((id, user)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    staff(&p)?;
    if p.user_id != Some(user) {
        p.require_role(Role::Manager)?;
        check_member(&state, p.org_id, user, Role::Agent, "user_id").await?;
    }
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut tx = state.pool.begin().await?;
    extras::watch(&mut tx, p.org_id, ticket.id, user).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop an agent watching (oneself, or anyone by a manager). Idempotent.
#[utoipa::path(
    delete,
    operation_id = "remove_ticket_watcher",
    path = "/v1/tickets/{id}/watchers/{user_id}",
    tag = "watchers",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("user_id" = Uuid, Path, description = "The watcher"),
    ),
    responses((status = 204, description = "Not watching"))
)]
pub async fn remove(
    State(state): State<AppState>,
    p: Principal,
    Path((id, user)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    staff(&p)?;
    if p.user_id != Some(user) {
        p.require_role(Role::Manager)?;
    }
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut tx = state.pool.begin().await?;
    extras::unwatch(&mut tx, p.org_id, ticket.id, user).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
