//! The status workflow, merges of duplicates, and following a post.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::posts::visible;
use super::{can_read, can_write};
use crate::domain::{self, SettableStatus, Status, Viewer};
use crate::events::{self, Notice};
use crate::store::{self, posts, Feedback};
use crate::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatus {
    /// Any status but `duplicate`, which only a merge sets.
    #[schema(value_type = SettableStatus)]
    status: String,
    /// A public note shown with the status.
    #[schema(max_length = 5000)]
    note: Option<String>,
}

/// Change a post's status (agents and above); its subscribers are notified.
#[utoipa::path(
    post,
    operation_id = "change_post_status",
    path = "/v1/feedback/{id}/status",
    tag = "posts",
    params(("id" = Uuid, Path, description = "The post's id")),
    request_body = ChangeStatus,
    responses(
        (status = 200, description = "The post with its new status", body = Feedback),
        (status = 409, description = "The post was merged into another", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ChangeStatus>,
) -> ApiResult<Json<Feedback>> {
    can_write(&principal)?;
    principal.require_role(Role::Agent)?;
    let invalid = |e: FieldError| Problem::validation(vec![e]);
    if body.status == Status::Duplicate.as_str() {
        return Err(invalid(FieldError::new("status", "use POST /v1/feedback/{id}/merge to mark a duplicate")).into());
    }
    let status = SettableStatus::parse("status", &body.status).map_err(invalid)?.status();
    let note = body.note.as_deref().map(|n| domain::text("note", n, 5000)).transpose().map_err(invalid)?;
    let viewer = Viewer::of(&principal);
    let current = visible(&state, &viewer, id).await?;
    // Who may hear of a private post is decided now, from identity, before the transaction.
    let staff_now = events::staff_now(&state, principal.org_id, current.is_public).await;
    let mut tx = state.pool.begin().await?;
    let before = store::lock(&mut tx, principal.org_id, id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if before.merged_into_id.is_some() {
        return Err(Problem::conflict("this post was merged into another").into());
    }
    let post = posts::set_status(&mut tx, principal.org_id, id, status.as_str(), note.as_deref()).await?;
    if before.status != post.status {
        let mut data = events::post(&post, principal.user_id);
        data.status_before = Some(before.status.clone());
        data.status_note = note.clone();
        events::emit(&mut tx, ev::FEEDBACK_STATUS_CHANGED, post.organization_id, post.id, data).await?;
        let body = match &note {
            Some(n) => format!("{} → {}: {n}", before.status, post.status),
            None => format!("{} → {}", before.status, post.status),
        };
        let notice = Notice {
            reason: ev::FEEDBACK_STATUS_CHANGED,
            title: format!("\"{}\" is now {}", post.title, post.status.replace('_', " ")),
            body,
        };
        events::notify_subscribers(
            &mut tx,
            &post,
            principal.user_id,
            staff_now.as_ref(),
            notice,
            &state.config.app_base_url,
        )
        .await?;
    }
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok(Json(post))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The post this one duplicates.
    into: Uuid,
}

/// Merge a duplicate into another post (agents and above): its votes move there without
/// counting anyone twice, and its subscribers follow.
#[utoipa::path(
    post,
    operation_id = "merge_post",
    path = "/v1/feedback/{id}/merge",
    tag = "posts",
    params(("id" = Uuid, Path, description = "The duplicate's id")),
    request_body = Merge,
    responses(
        (status = 200, description = "The duplicate, merged", body = Feedback),
        (status = 409, description = "One of the posts was already merged", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn merge(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Merge>,
) -> ApiResult<Json<Feedback>> {
    can_write(&principal)?;
    principal.require_role(Role::Agent)?;
    if body.into == id {
        return Err(Problem::validation(vec![FieldError::new("into", "a post cannot be merged into itself")]).into());
    }
    let org = principal.org_id;
    let mut tx = state.pool.begin().await?;
    // Lock both in id order, so two opposite merges cannot deadlock.
    let (first, second) = if id < body.into { (id, body.into) } else { (body.into, id) };
    let a = store::lock(&mut tx, org, first).await?;
    let b = store::lock(&mut tx, org, second).await?;
    let (source, target) = if first == id { (a, b) } else { (b, a) };
    let source = source.ok_or_else(|| Problem::not_found("feedback"))?;
    let target = target.ok_or_else(|| Problem::not_found("target feedback"))?;
    if source.merged_into_id.is_some() {
        return Err(Problem::conflict("this post was already merged").into());
    }
    if target.merged_into_id.is_some() {
        return Err(Problem::conflict("the target was itself merged into another post").into());
    }
    let (merged, moved) = posts::merge(&mut tx, org, source.id, target.id).await?;
    let target_votes = posts::vote_count(&mut tx, target.id).await?;
    let data = ev::FeedbackMerged {
        organization_id: org,
        source_id: merged.id,
        target_id: target.id,
        source_title: merged.title.clone(),
        target_title: target.title.clone(),
        votes_moved: i64::try_from(moved).unwrap_or(i64::MAX),
        target_vote_count: target_votes,
        actor_id: principal.user_id,
    };
    events::emit(&mut tx, ev::FEEDBACK_MERGED, org, merged.id, data).await?;
    tx.commit().await?;
    state.changed(&[merged.id, target.id]).await;
    Ok(Json(merged))
}

/// Follow a post (signed-in users): hear of its status changes and official answers.
#[utoipa::path(
    put,
    operation_id = "subscribe_to_post",
    path = "/v1/feedback/{id}/subscription",
    tag = "posts",
    params(("id" = Uuid, Path, description = "The post's id")),
    responses((status = 204, description = "Subscribed"))
)]
pub async fn subscribe(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    can_read(&principal)?;
    let user = principal.require_user()?;
    let post = visible(&state, &Viewer::of(&principal), id).await?;
    let mut conn = state.pool.acquire().await?;
    store::subscribe(&mut conn, post.id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop following a post.
#[utoipa::path(
    delete,
    operation_id = "unsubscribe_from_post",
    path = "/v1/feedback/{id}/subscription",
    tag = "posts",
    params(("id" = Uuid, Path, description = "The post's id")),
    responses((status = 204, description = "Unsubscribed (or was not subscribed)"))
)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    can_read(&principal)?;
    let user = principal.require_user()?;
    let post = visible(&state, &Viewer::of(&principal), id).await?;
    let mut conn = state.pool.acquire().await?;
    store::unsubscribe(&mut conn, post.id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
