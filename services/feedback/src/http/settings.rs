//! Board settings: the public portal, anonymous posts and votes, who gets subscribed.

use axum::extract::State;
use platform::auth::{Principal, Role};
use platform::extract::Json;
use platform::{ApiResult, Problem};
use serde::Deserialize;

use super::{can_read, can_write};
use crate::boards::{self, Board};
use crate::AppState;

/// `GET /v1/feedback/settings`.
pub async fn get(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Board>> {
    can_read(&p)?;
    let mut conn = state.pool.acquire().await?;
    boards::ensure(&mut conn, p.org_id, &p.org_slug).await?;
    Ok(Json(boards::by_org(&mut conn, p.org_id).await?.ok_or_else(Problem::internal)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBoard {
    public_enabled: Option<bool>,
    allow_anonymous_posts: Option<bool>,
    allow_anonymous_votes: Option<bool>,
    auto_subscribe_voters: Option<bool>,
    auto_subscribe_commenters: Option<bool>,
}

/// `PUT /v1/feedback/settings` (admin): the fields given change.
pub async fn update(State(state): State<AppState>, p: Principal, Json(b): Json<UpdateBoard>) -> ApiResult<Json<Board>> {
    can_write(&p)?;
    p.require_role(Role::Admin)?;
    let mut tx = state.pool.begin().await?;
    boards::ensure(&mut tx, p.org_id, &p.org_slug).await?;
    let board = sqlx::query_as(&format!(
        "UPDATE boards SET public_enabled = COALESCE($2, public_enabled), \
         allow_anonymous_posts = COALESCE($3, allow_anonymous_posts), \
         allow_anonymous_votes = COALESCE($4, allow_anonymous_votes), \
         auto_subscribe_voters = COALESCE($5, auto_subscribe_voters), \
         auto_subscribe_commenters = COALESCE($6, auto_subscribe_commenters) \
         WHERE organization_id = $1 RETURNING {}",
        boards::COLUMNS
    ))
    .bind(p.org_id)
    .bind(b.public_enabled)
    .bind(b.allow_anonymous_posts)
    .bind(b.allow_anonymous_votes)
    .bind(b.auto_subscribe_voters)
    .bind(b.auto_subscribe_commenters)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(board))
}
