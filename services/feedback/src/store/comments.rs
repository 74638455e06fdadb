//! Comments: rows, threads, and the files a thread takes with it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub feedback_id: Uuid,
    /// The comment this one answers; `null` at the top of a thread.
    pub parent_id: Option<Uuid>,
    /// `null` for comments made by API keys.
    pub author_id: Option<Uuid>,
    pub content: String,
    /// An internal note: agents and above only.
    pub is_internal: bool,
    /// A public answer by an agent or above.
    pub is_official: bool,
    pub is_edited: bool,
    pub edited_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, feedback_id, parent_id, author_id, content, is_internal, is_official, is_edited, edited_at, created_at, updated_at";

/// Comments of a post in order of writing; internal notes only when `internal` is true.
pub async fn of_post(conn: &mut PgConnection, org: Uuid, post: Uuid, internal: bool) -> sqlx::Result<Vec<Comment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM comments WHERE feedback_id = $1 AND organization_id = $2 AND ($3 OR NOT is_internal) \
         ORDER BY created_at, id LIMIT 5000"
    ))
    .bind(post)
    .bind(org)
    .bind(internal)
    .fetch_all(conn)
    .await
}

/// Whether a comment of `post` is an internal note; `None` if there is no such comment.
pub async fn is_internal(conn: &mut PgConnection, org: Uuid, post: Uuid, id: Uuid) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar("SELECT is_internal FROM comments WHERE id = $1 AND feedback_id = $2 AND organization_id = $3")
        .bind(id)
        .bind(post)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Author and kind of a comment of `post`, for attaching files to it.
pub async fn author_and_kind(
    conn: &mut PgConnection,
    org: Uuid,
    post: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<(Option<Uuid>, bool)>> {
    sqlx::query_as(
        "SELECT author_id, is_internal FROM comments WHERE id = $1 AND feedback_id = $2 AND organization_id = $3",
    )
    .bind(id)
    .bind(post)
    .bind(org)
    .fetch_optional(conn)
    .await
}

pub struct NewComment<'a> {
    pub org: Uuid,
    pub post: Uuid,
    pub parent_id: Option<Uuid>,
    pub author: Option<Uuid>,
    pub author_role: &'a str,
    pub content: &'a str,
    pub internal: bool,
    pub official: bool,
}

pub async fn insert(conn: &mut PgConnection, c: NewComment<'_>) -> sqlx::Result<Comment> {
    sqlx::query_as(&format!(
        "INSERT INTO comments (id, feedback_id, organization_id, parent_id, author_id, author_role, content, \
         is_internal, is_official) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(c.post)
    .bind(c.org)
    .bind(c.parent_id)
    .bind(c.author)
    .bind(c.author_role)
    .bind(c.content)
    .bind(c.internal)
    .bind(c.official)
    .fetch_one(conn)
    .await
}

/// A comment of `post`, locked for an edit or delete.
pub async fn lock(conn: &mut PgConnection, org: Uuid, post: Uuid, id: Uuid) -> sqlx::Result<Option<Comment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM comments WHERE id = $1 AND feedback_id = $2 AND organization_id = $3 FOR UPDATE"
    ))
    .bind(id)
    .bind(post)
    .bind(org)
    .fetch_optional(conn)
    .await
}

pub async fn edit(conn: &mut PgConnection, org: Uuid, id: Uuid, content: &str) -> sqlx::Result<Comment> {
    sqlx::query_as(&format!(
        "UPDATE comments SET content = $3, is_edited = true, edited_at = now() WHERE id = $1 AND organization_id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(content)
    .fetch_one(conn)
    .await
}

/// A comment and every reply under it (the comment first, then the replies in order of
/// writing), locked: what deleting the comment removes.
pub async fn lock_thread(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Vec<Comment>> {
    sqlx::query_as(&format!(
        "WITH RECURSIVE thread AS (SELECT id FROM comments WHERE id = $1 AND organization_id = $2 \
           UNION ALL SELECT c.id FROM comments c JOIN thread t ON c.parent_id = t.id) \
         SELECT {COLUMNS} FROM comments WHERE id IN (SELECT id FROM thread) ORDER BY created_at, id FOR UPDATE"
    ))
    .bind(id)
    .bind(org)
    .fetch_all(conn)
    .await
}

/// Deletes a comment; its replies and their attachments go by cascade.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM comments WHERE id = $1 AND organization_id = $2").bind(id).bind(org).execute(conn).await?;
    Ok(())
}
