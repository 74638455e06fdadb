//! The organization's desk settings: the ticket number prefix (`GET` agents, `PUT` admins).

use axum::extract::State;
use platform::auth::{Principal, Role};
use platform::extract::Json;
use platform::{ApiResult, Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::checks::check_quota;
use super::{can_read, can_write, staff};
use crate::domain::ticket;
use crate::store::settings::{self, Settings};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get, put))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSettings {
    /// Numbers of tickets created from now on start with it (`SUP-2026-000001`); existing
    /// numbers stay. The year's counter continues.
    #[schema(pattern = "^[A-Z][A-Z0-9]{0,9}$", example = "SUP")]
    ticket_prefix: String,
}

/// The desk settings.
#[utoipa::path(
    get,
    operation_id = "get_ticket_settings",
    path = "/v1/tickets/settings",
    tag = "settings",
    responses((status = 200, description = "The settings", body = Settings))
)]
pub async fn get(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Settings>> {
    can_read(&p)?;
    staff(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(settings::get(&mut conn, p.org_id).await?))
}

/// Change the desk settings (admins; a custom prefix is a plan entitlement).
#[utoipa::path(
    put,
    operation_id = "put_ticket_settings",
    path = "/v1/tickets/settings",
    tag = "settings",
    request_body = PutSettings,
    responses(
        (status = 200, description = "The settings", body = Settings),
        (status = 402, description = "The plan has no custom ticket prefix", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<PutSettings>,
) -> ApiResult<Json<Settings>> {
    can_write(&p)?;
    p.require_role(Role::Admin)?;
    let prefix = ticket::prefix(&body.ticket_prefix).map_err(|e| Problem::validation(vec![e]))?;
    if prefix != "TKT" {
        check_quota(&state, p.org_id, "custom_ticket_prefix", "custom ticket prefixes").await?;
    }
    let mut conn = state.pool.acquire().await?;
    Ok(Json(settings::put(&mut conn, p.org_id, &prefix).await?))
}
