//! Assistance for agents on a ticket: suggested answers (articles closest to it, and a drafted
//! reply when a language model is configured) with feedback on them, and its complexity score.

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

use super::{can_read, can_write};
use crate::assist::{complexity, suggest};
use crate::domain::ticket::Ticket;
use crate::store::suggestions::{self as store, ComplexityScore, Suggestion};
use crate::store::tickets;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, recompute))
        .routes(routes!(feedback))
        .routes(routes!(get_complexity, assess_complexity))
}

/// The ticket `key` (id or number) of the caller's organization, for an agent.
async fn ticket(state: &AppState, p: &Principal, key: &str) -> ApiResult<Ticket> {
    p.require_role(Role::Agent)?;
    let mut conn = state.pool.acquire().await?;
    Ok(tickets::get(&mut conn, p.org_id, key).await?.ok_or_else(|| Problem::not_found("ticket"))?)
}

#[derive(Serialize, ToSchema)]
pub struct SuggestionList {
    /// Drafted reply first (if any), then articles by confidence.
    data: Vec<Suggestion>,
}

/// The latest suggested answers for a ticket (agents); computed the first time.
#[utoipa::path(
    get,
    operation_id = "list_suggestions",
    path = "/v1/tickets/{id}/suggestions",
    tag = "suggestions",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, description = "The suggestions", body = SuggestionList))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<SuggestionList>> {
    can_read(&p)?;
    let t = ticket(&state, &p, &id).await?;
    let recorded = {
        let mut conn = state.pool.acquire().await?;
        store::latest(&mut conn, p.org_id, t.id).await?
    };
    let data = if recorded.is_empty() { suggest::compute(&state, &t).await? } else { recorded };
    Ok(Json(SuggestionList { data }))
}

/// Compute the suggested answers anew (agents), e.g. after the ticket or the articles changed.
#[utoipa::path(
    post,
    operation_id = "recompute_suggestions",
    path = "/v1/tickets/{id}/suggestions",
    tag = "suggestions",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, description = "The new suggestions", body = SuggestionList))
)]
pub async fn recompute(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<SuggestionList>> {
    can_write(&p)?;
    let t = ticket(&state, &p, &id).await?;
    Ok(Json(SuggestionList { data: suggest::compute(&state, &t).await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    was_helpful: bool,
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

/// Say whether a suggestion helped (agents); given again, it replaces the earlier feedback.
#[utoipa::path(
    post,
    operation_id = "suggestion_feedback",
    path = "/v1/tickets/{id}/suggestions/{sid}/feedback",
    tag = "suggestions",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("sid" = Uuid, Path, description = "The suggestion's id"),
    ),
    request_body = FeedbackBody,
    responses((status = 200, description = "The suggestion with the feedback", body = Suggestion))
)]
pub async fn feedback(
    State(state): State<AppState>,
    p: Principal,
    Path((id, sid)): Path<(String, Uuid)>,
    Json(body): Json<FeedbackBody>,
) -> ApiResult<Json<Suggestion>> {
    can_write(&p)?;
    if body.reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(Problem::validation(vec![FieldError::new("reason", "must be at most 1000 characters")]).into());
    }
    let reason = body.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let t = ticket(&state, &p, &id).await?;
    let mut conn = state.pool.acquire().await?;
    let s = store::feedback(&mut conn, p.org_id, t.id, sid, body.was_helpful, reason).await?;
    Ok(Json(s.ok_or_else(|| Problem::not_found("suggestion"))?))
}

/// The ticket's latest complexity score (agents); computed the first time.
#[utoipa::path(
    get,
    operation_id = "get_complexity",
    path = "/v1/tickets/{id}/complexity",
    tag = "suggestions",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, description = "The score, 0–100, and its factors", body = ComplexityScore))
)]
pub async fn get_complexity(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ComplexityScore>> {
    can_read(&p)?;
    let t = ticket(&state, &p, &id).await?;
    let mut conn = state.pool.acquire().await?;
    if let Some(score) = store::latest_complexity(&mut conn, p.org_id, t.id).await? {
        return Ok(Json(score));
    }
    drop(conn);
    Ok(Json(assess(&state, &t).await?))
}

async fn assess(state: &AppState, t: &Ticket) -> ApiResult<ComplexityScore> {
    let mut tx = state.pool.begin().await?;
    complexity::assess(&mut tx, t, None).await?;
    let score = store::latest_complexity(&mut tx, t.organization_id, t.id).await?;
    tx.commit().await?;
    Ok(score.ok_or_else(|| Problem::not_found("complexity score"))?)
}

/// Score the ticket's complexity anew (agents), with its comments, attachments and reopens so far.
#[utoipa::path(
    post,
    operation_id = "assess_complexity",
    path = "/v1/tickets/{id}/complexity",
    tag = "suggestions",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 201, description = "The new score", body = ComplexityScore))
)]
pub async fn assess_complexity(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ComplexityScore>)> {
    can_write(&p)?;
    let t = ticket(&state, &p, &id).await?;
    Ok((StatusCode::CREATED, Json(assess(&state, &t).await?)))
}
