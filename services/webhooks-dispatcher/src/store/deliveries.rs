//! Deliveries and their attempts, as the API reads and requeues them. Every statement filters by
//! organization (directly or through an endpoint already checked to be the caller's).

use chrono::{DateTime, Utc};
use platform::pagination::Cursor;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Delivery {
    /// Also the `webhook-id` header, the same on every attempt.
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// The column's CHECK constraint holds it to the values of [`Status`].
    #[schema(value_type = Status)]
    pub status: String,
    pub attempts: i32,
    /// When the next attempt is due; only while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The body POSTed (`{type, timestamp, data}`); in the detail only, and gone once pruned.
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

const COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, attempts, \
    CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at, last_status_code, last_error, created_at, updated_at";

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attempt {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status; none when no answer came (see `error`).
    pub status_code: Option<i32>,
    /// The first 4 KiB of the receiver's answer.
    pub response_body: Option<String>,
    pub duration_ms: i32,
    pub error: Option<String>,
}

/// A page of an endpoint's deliveries, newest first (one more than `limit`, for the cursor).
pub async fn list(
    conn: &mut PgConnection,
    endpoint: Uuid,
    status: Option<Status>,
    cursor: Option<Cursor>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2) \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(endpoint)
    .bind(status.map(Status::as_str))
    .bind(cursor.map(|c| c.time))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}

pub async fn find(pool: &PgPool, org: Uuid, id: Uuid) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!("SELECT {COLUMNS}, payload FROM deliveries WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(pool)
        .await
}

pub async fn attempts(pool: &PgPool, org: Uuid, delivery: Uuid) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as(
        "SELECT a.attempted_at, a.status_code, a.response_body, a.duration_ms, a.error FROM attempts a \
         JOIN deliveries d ON d.id = a.delivery_id WHERE a.delivery_id = $1 AND d.organization_id = $2 \
         ORDER BY a.attempted_at, a.id",
    )
    .bind(delivery)
    .bind(org)
    .fetch_all(pool)
    .await
}

/// Sends a delivery again with a fresh schedule; false when there is none (or it was pruned).
pub async fn retry(pool: &PgPool, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL \
         WHERE id = $1 AND organization_id = $2 AND payload IS NOT NULL",
    )
    .bind(id)
    .bind(org)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Requeues every delivery of the endpoint that failed and was created since `since`.
pub async fn recover(conn: &mut PgConnection, org: Uuid, endpoint: Uuid, since: DateTime<Utc>) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL \
         WHERE endpoint_id = $1 AND organization_id = $2 AND status = 'failed' AND created_at >= $3 \
           AND payload IS NOT NULL",
    )
    .bind(endpoint)
    .bind(org)
    .bind(since)
    .execute(conn)
    .await?
    .rows_affected())
}

/// A delivery of a made-up event to one endpoint only (`webhook.test`).
pub async fn insert_test(
    conn: &mut PgConnection,
    org: Uuid,
    endpoint: Uuid,
    payload: &serde_json::Value,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO deliveries (id, endpoint_id, organization_id, event_id, event_type, payload) \
         VALUES ($1, $2, $3, $4, 'webhook.test', $5)",
    )
    .bind(id)
    .bind(endpoint)
    .bind(org)
    .bind(Uuid::now_v7())
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Deliveries waiting to be sent, for the backlog gauge.
pub async fn backlog(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetch_one(pool).await
}
