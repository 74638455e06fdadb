//! Feedback rows and the queries the areas share.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// A post as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Feedback {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub description: String,
    pub status: String,
    pub status_note: Option<String>,
    pub priority: String,
    pub category_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub anonymous: bool,
    pub assignee_id: Option<Uuid>,
    pub vote_count: i32,
    pub upvotes: i32,
    pub downvotes: i32,
    pub comment_count: i32,
    pub view_count: i64,
    pub is_public: bool,
    pub is_pinned: bool,
    pub tags: Vec<String>,
    pub metadata: serde_json::Value,
    pub merged_into_id: Option<Uuid>,
    #[serde(skip)]
    pub trending: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const COLUMNS: &str = "id, organization_id, title, description, status, status_note, priority, category_id, \
    author_id, author_name, anonymous, assignee_id, vote_count, upvotes, downvotes, comment_count, view_count, \
    is_public, is_pinned, tags, metadata, merged_into_id, trending, created_at, updated_at";

/// A live (not deleted) post of `org`.
#[tracing::instrument(skip(conn))]
pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Feedback>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM feedback WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// The same, locked for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Feedback>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM feedback WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL FOR UPDATE"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Subscribes `user` (staff or not) to a post; nothing if already subscribed.
pub async fn subscribe(conn: &mut PgConnection, feedback: Uuid, user: Uuid, staff: bool) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO subscriptions (feedback_id, user_id, staff) VALUES ($1, $2, $3) \
         ON CONFLICT (feedback_id, user_id) DO UPDATE SET staff = EXCLUDED.staff",
    )
    .bind(feedback)
    .bind(user)
    .bind(staff)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// A fixed-window rate limit shared by every replica: whether `key` may act once more.
pub async fn rate_limit(conn: &mut PgConnection, key: &str, per_minute: i32) -> sqlx::Result<Option<u64>> {
    let (hits, left): (i32, f64) = sqlx::query_as(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, date_trunc('minute', now()), 1) \
         ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
         RETURNING hits, EXTRACT(EPOCH FROM (window_start + interval '1 minute' - now()))::float8",
    )
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    if rand_cleanup() {
        sqlx::query("DELETE FROM rate_limits WHERE window_start < now() - interval '5 minutes'").execute(conn).await?;
    }
    Ok((hits > per_minute).then(|| left.ceil().max(1.0) as u64))
}

/// About one call in a hundred sweeps old windows.
fn rand_cleanup() -> bool {
    Uuid::new_v4().as_bytes()[0] < 3
}
