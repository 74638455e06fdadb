//! In-app notifications of the signed-in user, and the development mailbox.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::pagination::Page;
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Notification {
    id: Uuid,
    title: String,
    body: String,
    link: Option<String>,
    reason: String,
    read_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Position {
    u: bool,
    t: DateTime<Utc>,
    i: Uuid,
}

/// `GET /v1/notifications?limit=&cursor=`: unread first, then newest first.
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let user = p.require_user()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::validation(vec![FieldError::new("limit", "between 1 and 200")]).into());
    }
    let cursor: Option<Position> = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            Some(URL_SAFE_NO_PAD.decode(c).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(|| {
                Problem::validation(vec![FieldError::new("cursor", "is not a cursor this list gave")])
            })?)
        }
        None => None,
    };
    let rows: Vec<Notification> = sqlx::query_as(
        "SELECT id, title, body, link, reason, read_at, created_at FROM notifications \
         WHERE user_id = $1 AND organization_id = $2 \
           AND ($3::bool IS NULL OR ((read_at IS NULL), created_at, id) < ($3, $4, $5)) \
         ORDER BY (read_at IS NULL) DESC, created_at DESC, id DESC LIMIT $6",
    )
    .bind(user)
    .bind(p.org_id)
    .bind(cursor.as_ref().map(|c| c.u))
    .bind(cursor.as_ref().map(|c| c.t))
    .bind(cursor.as_ref().map(|c| c.i))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    let mut rows = rows;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more.then(|| rows.last()).flatten().map(|n| {
        URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Position { u: n.read_at.is_none(), t: n.created_at, i: n.id }).unwrap_or_default(),
        )
    });
    Ok(Json(Page { data: rows, next_cursor }))
}

#[derive(Serialize)]
pub struct Count {
    unread: i64,
}

/// `GET /v1/notifications/unread-count`.
pub async fn unread_count(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Count>> {
    let user = p.require_user()?;
    let unread = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND organization_id = $2 AND read_at IS NULL",
    )
    .bind(user)
    .bind(p.org_id)
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(Count { unread }))
}

/// `POST /v1/notifications/{id}/read`.
pub async fn read(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let user = p.require_user()?;
    let done = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, now()) WHERE id = $1 AND user_id = $2 AND organization_id = $3",
    )
    .bind(id)
    .bind(user)
    .bind(p.org_id)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("notification").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/notifications/read-all`.
pub async fn read_all(State(state): State<AppState>, p: Principal) -> ApiResult<StatusCode> {
    let user = p.require_user()?;
    sqlx::query(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND organization_id = $2 AND read_at IS NULL",
    )
    .bind(user)
    .bind(p.org_id)
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct MailboxQuery {
    to: Option<String>,
}

#[derive(Serialize, sqlx::FromRow)]
pub struct Mail {
    id: Uuid,
    recipient: String,
    template: String,
    subject: String,
    link: Option<String>,
    variables: serde_json::Value,
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct MailList {
    data: Vec<Mail>,
}

/// `GET /v1/dev/mailbox?to=`: development only (404 unless `DEV_MAILBOX` is on), newest first.
pub async fn mailbox(State(state): State<AppState>, Query(q): Query<MailboxQuery>) -> ApiResult<Json<MailList>> {
    if !state.config.dev_mailbox {
        return Err(Problem::not_found("route").into());
    }
    let data = sqlx::query_as(
        "SELECT id, recipient, template, subject, link, variables, created_at FROM mailbox \
         WHERE ($1::text IS NULL OR lower(recipient) = lower($1)) ORDER BY created_at DESC LIMIT 100",
    )
    .bind(q.to)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(MailList { data }))
}
