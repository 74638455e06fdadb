//! Deliveries and their attempts: listing, detail, test events, retry and recovery.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::endpoints::find;
use super::{can_read, can_write};
use crate::AppState;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Delivery {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<serde_json::Value>,
}

const COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, attempts, \
    CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at, last_status_code, last_error, created_at, updated_at";

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Attempt {
    attempted_at: DateTime<Utc>,
    status_code: Option<i32>,
    response_body: Option<String>,
    duration_ms: i32,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    status: Option<String>,
}

/// `GET /v1/webhooks/{id}/deliveries?status=pending|succeeded|failed&limit=&cursor=`, newest first.
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    can_read(&p)?;
    let (limit, cursor) = q.page.parse()?;
    if let Some(s) = &q.status {
        if !["pending", "succeeded", "failed"].contains(&s.as_str()) {
            return Err(Problem::validation(vec![FieldError::new("status", "pending, succeeded or failed")]).into());
        }
    }
    let mut conn = state.pool.acquire().await?;
    find(&mut conn, p.org_id, id).await?;
    let rows: Vec<Delivery> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2) \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(id)
    .bind(q.status)
    .bind(cursor.map(|c| c.time))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |d| Cursor { time: d.created_at, id: d.id })))
}

#[derive(Serialize)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    delivery: Delivery,
    attempts: Vec<Attempt>,
}

/// `GET /v1/deliveries/{id}`: the delivery, its payload and every attempt.
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<DeliveryDetail>> {
    can_read(&p)?;
    let delivery: Option<Delivery> =
        sqlx::query_as(&format!("SELECT {COLUMNS}, payload FROM deliveries WHERE id = $1 AND organization_id = $2"))
            .bind(id)
            .bind(p.org_id)
            .fetch_optional(&state.pool)
            .await?;
    let delivery = delivery.ok_or_else(|| Problem::not_found("delivery"))?;
    let attempts = sqlx::query_as(
        "SELECT attempted_at, status_code, response_body, duration_ms, error FROM attempts WHERE delivery_id = $1 \
         ORDER BY attempted_at, id",
    )
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(DeliveryDetail { delivery, attempts }))
}

#[derive(Serialize)]
pub struct Queued {
    delivery_id: Uuid,
}

/// `POST /v1/deliveries/{id}/retry`: sends it again now, whatever it came to (a new schedule).
pub async fn retry(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    can_write(&p)?;
    let done = sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL \
         WHERE id = $1 AND organization_id = $2 AND payload IS NOT NULL",
    )
    .bind(id)
    .bind(p.org_id)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("delivery").into());
    }
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(Queued { delivery_id: id })))
}

#[derive(Deserialize)]
pub struct Recover {
    since: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct Recovered {
    requeued: u64,
}

/// `POST /v1/webhooks/{id}/recover {since}`: sends again every delivery that failed since then.
pub async fn recover(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Recover>,
) -> ApiResult<(StatusCode, Json<Recovered>)> {
    can_write(&p)?;
    let mut tx = state.pool.begin().await?;
    find(&mut tx, p.org_id, id).await?;
    let requeued = sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL \
         WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2 AND payload IS NOT NULL",
    )
    .bind(id)
    .bind(body.since)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(Recovered { requeued })))
}

/// `POST /v1/webhooks/{id}/test`: a `webhook.test` delivery to this endpoint only.
pub async fn test(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    can_write(&p)?;
    let mut tx = state.pool.begin().await?;
    let endpoint = find(&mut tx, p.org_id, id).await?;
    let delivery = Uuid::now_v7();
    let event = Uuid::now_v7();
    let payload = json!({
        "type": "webhook.test",
        "timestamp": Utc::now(),
        "data": {"endpoint_id": endpoint.id, "message": "This is a test delivery from Switchboard."},
    });
    sqlx::query(
        "INSERT INTO deliveries (id, endpoint_id, organization_id, event_id, event_type, payload) VALUES ($1, $2, $3, $4, 'webhook.test', $5)",
    )
    .bind(delivery)
    .bind(endpoint.id)
    .bind(p.org_id)
    .bind(event)
    .bind(payload)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(Queued { delivery_id: delivery })))
}
