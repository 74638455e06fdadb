//! Feedback's SQL: one function per statement, grouped by what it is about. Statements that take
//! an id from a client filter by organization; the few keyed by a post id alone (its counts,
//! votes, subscribers) run only after that post was found in the caller's organization.

pub mod attachments;
pub mod categories;
pub mod comments;
pub mod listing;
pub mod posts;
pub mod votes;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Priority, Status};

/// A post as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Feedback {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub description: String,
    #[schema(value_type = Status)]
    pub status: String,
    /// The public note of the last status change.
    pub status_note: Option<String>,
    #[schema(value_type = Priority)]
    pub priority: String,
    pub category_id: Option<Uuid>,
    /// `null` for posts made by API keys and anonymous visitors.
    pub author_id: Option<Uuid>,
    /// The name an anonymous visitor gave.
    pub author_name: Option<String>,
    pub anonymous: bool,
    pub assignee_id: Option<Uuid>,
    /// Up votes minus down votes.
    pub vote_count: i32,
    pub upvotes: i32,
    pub downvotes: i32,
    /// Public comments (internal notes are not counted).
    pub comment_count: i32,
    pub view_count: i64,
    pub is_public: bool,
    pub is_pinned: bool,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub merged_into_id: Option<Uuid>,
    #[serde(skip)]
    #[schema(ignore)]
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

/// A post's state for a write that depends on it (a comment, a vote), under a key-share lock:
/// a merge or delete (which lock the post for update) racing the write waits for it, or wins
/// and is seen here.
#[derive(Debug, sqlx::FromRow)]
pub struct Openness {
    pub deleted: bool,
    pub merged_into_id: Option<Uuid>,
    pub is_public: bool,
    pub author_id: Option<Uuid>,
}

pub async fn openness(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Openness>> {
    sqlx::query_as(
        "SELECT deleted_at IS NOT NULL AS deleted, merged_into_id, is_public, author_id FROM feedback \
         WHERE id = $1 AND organization_id = $2 FOR KEY SHARE",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Subscribes `user` to a post; nothing if already subscribed.
pub async fn subscribe(conn: &mut PgConnection, feedback: Uuid, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO subscriptions (feedback_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(feedback)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unsubscribe(conn: &mut PgConnection, feedback: Uuid, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM subscriptions WHERE feedback_id = $1 AND user_id = $2")
        .bind(feedback)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// A post's subscribers, oldest first.
pub async fn subscribers(conn: &mut PgConnection, feedback: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM subscriptions WHERE feedback_id = $1 ORDER BY created_at, user_id")
        .bind(feedback)
        .fetch_all(conn)
        .await
}

/// A fixed-window rate limit shared by every replica: the seconds to wait if `key` may not act
/// once more this minute. Old windows go by retention (`RATE_LIMIT_RETENTION`).
pub async fn rate_limit(conn: &mut PgConnection, key: &str, per_minute: i32) -> sqlx::Result<Option<u64>> {
    let (hits, left): (i32, f64) = sqlx::query_as(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, date_trunc('minute', now()), 1) \
         ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
         RETURNING hits, EXTRACT(EPOCH FROM (window_start + interval '1 minute' - now()))::float8",
    )
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    Ok((hits > per_minute).then(|| left.ceil().max(1.0) as u64))
}

/// One batch of the rate-limit windows nobody needs any more.
pub const RATE_LIMIT_RETENTION: &str = "DELETE FROM rate_limits WHERE ctid IN (SELECT ctid FROM rate_limits \
     WHERE window_start < now() - interval '5 minutes' LIMIT 1000)";
