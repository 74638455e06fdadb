//! Board settings: the public portal, anonymous posts and votes, who gets subscribed.

use axum::extract::State;
use platform::auth::{Principal, Role};
use platform::extract::Json;
use platform::{ApiResult, Problem};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{can_read, can_write};
use crate::boards::{self, Board};
use crate::AppState;

/// The board's settings.
#[utoipa::path(
    get,
    operation_id = "get_settings",
    path = "/v1/feedback/settings",
    tag = "settings",
    responses((status = 200, description = "The settings", body = Board))
)]
pub async fn get(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Board>> {
    can_read(&p)?;
    let mut conn = state.pool.acquire().await?;
    boards::ensure(&mut conn, p.org_id, &p.org_slug).await?;
    Ok(Json(boards::by_org(&mut conn, p.org_id).await?.ok_or_else(Problem::internal)?))
}

/// Every field is optional; what is given changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBoard {
    public_enabled: Option<bool>,
    allow_anonymous_posts: Option<bool>,
    allow_anonymous_votes: Option<bool>,
    auto_subscribe_voters: Option<bool>,
    auto_subscribe_commenters: Option<bool>,
}

/// Change the board's settings (admins).
#[utoipa::path(
    put,
    operation_id = "update_settings",
    path = "/v1/feedback/settings",
    tag = "settings",
    request_body = UpdateBoard,
    responses((status = 200, description = "The settings after the change", body = Board))
)]
pub async fn update(State(state): State<AppState>, p: Principal, Json(b): Json<UpdateBoard>) -> ApiResult<Json<Board>> {
    can_write(&p)?;
    p.require_role(Role::Admin)?;
    let mut tx = state.pool.begin().await?;
    boards::ensure(&mut tx, p.org_id, &p.org_slug).await?;
    let changes = boards::Changes {
        public_enabled: b.public_enabled,
        allow_anonymous_posts: b.allow_anonymous_posts,
        allow_anonymous_votes: b.allow_anonymous_votes,
        auto_subscribe_voters: b.auto_subscribe_voters,
        auto_subscribe_commenters: b.auto_subscribe_commenters,
    };
    let board = boards::update(&mut tx, p.org_id, changes).await?;
    tx.commit().await?;
    Ok(Json(board))
}
