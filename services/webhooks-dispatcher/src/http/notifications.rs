//! In-app notifications of the signed-in user, and the development mailbox.

use axum::extract::State;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::pagination::PageQuery;
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::store::notifications::{self as store, Mail, Notification, Position};
use crate::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The cursor's wire form.
#[derive(Serialize, Deserialize)]
struct WirePosition {
    u: bool,
    t: DateTime<Utc>,
    i: Uuid,
}

fn decode(cursor: &str) -> Result<Position, Problem> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice::<WirePosition>(&b).ok())
        .map(|w| Position { unread: w.u, time: w.t, id: w.i })
        .ok_or_else(|| Problem::validation(vec![FieldError::new("cursor", "is not a cursor this list gave")]))
}

fn encode(n: &Notification) -> String {
    let w = WirePosition { u: n.read_at.is_none(), t: n.created_at, i: n.id };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&w).unwrap_or_default())
}

#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    data: Vec<Notification>,
    /// Pass as `cursor` for the next page; none on the last.
    next_cursor: Option<String>,
}

/// The caller's notifications: unread first, then newest first. Users only, not API keys.
#[utoipa::path(get, path = "/v1/notifications", operation_id = "list_notifications", tag = "notifications", params(ListQuery),
    responses((status = 200, description = "A page of notifications", body = NotificationPage)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let user = p.require_user()?;
    // The same limit rules as every list; this one's cursor has its own shape.
    let (limit, _) = PageQuery { limit: q.limit, cursor: None }.parse()?;
    let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(decode).transpose()?;
    let mut rows = store::list(&state.pool, p.org_id, user, after, limit).await?;
    let keep = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > keep;
    rows.truncate(keep);
    let next_cursor = more.then(|| rows.last().map(encode)).flatten();
    Ok(Json(NotificationPage { data: rows, next_cursor }))
}

#[derive(Serialize, ToSchema)]
pub struct Count {
    unread: i64,
}

#[utoipa::path(get, path = "/v1/notifications/unread-count", operation_id = "count_unread_notifications", tag = "notifications",
    responses((status = 200, description = "How many are unread", body = Count)))]
pub async fn unread_count(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Count>> {
    let user = p.require_user()?;
    Ok(Json(Count { unread: store::unread(&state.pool, p.org_id, user).await? }))
}

#[utoipa::path(post, path = "/v1/notifications/{id}/read", operation_id = "read_notification", tag = "notifications",
    responses((status = 204, description = "Marked read")))]
pub async fn read(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let user = p.require_user()?;
    if !store::mark_read(&state.pool, p.org_id, user, id).await? {
        return Err(Problem::not_found("notification").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/notifications/read-all", operation_id = "read_all_notifications", tag = "notifications",
    responses((status = 204, description = "All marked read")))]
pub async fn read_all(State(state): State<AppState>, p: Principal) -> ApiResult<StatusCode> {
    let user = p.require_user()?;
    store::mark_all_read(&state.pool, p.org_id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MailboxQuery {
    /// Only mail to this address (case-insensitive).
    to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MailList {
    /// Newest first, at most 100.
    data: Vec<Mail>,
}

/// Development only (the route exists only with `DEV_MAILBOX` in development): mail kept
/// instead of sent.
#[utoipa::path(get, path = "/v1/dev/mailbox", operation_id = "dev_mailbox", tag = "development", params(MailboxQuery), security(()),
    responses((status = 200, description = "The newest mail", body = MailList)))]
pub async fn mailbox(State(state): State<AppState>, Query(q): Query<MailboxQuery>) -> ApiResult<Json<MailList>> {
    Ok(Json(MailList { data: store::mailbox(&state.pool, q.to.as_deref()).await? }))
}
