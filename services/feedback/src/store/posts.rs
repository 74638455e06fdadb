//! Writes to posts: create, edit, delete, status, merge.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{Feedback, COLUMNS};

/// Whether `category` is one of `org`'s.
pub async fn category_exists(conn: &mut PgConnection, org: Uuid, category: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM categories WHERE id = $1 AND organization_id = $2)")
        .bind(category)
        .bind(org)
        .fetch_one(conn)
        .await
}

/// A post by a member (or an API key: `author` is `None`).
pub struct NewPost<'a> {
    pub org: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub category_id: Option<Uuid>,
    pub tags: &'a [String],
    pub is_public: bool,
    pub priority: &'a str,
    pub author: Option<Uuid>,
    pub metadata: serde_json::Value,
}

pub async fn insert(conn: &mut PgConnection, p: NewPost<'_>) -> sqlx::Result<Feedback> {
    sqlx::query_as(&format!(
        "INSERT INTO feedback (id, organization_id, title, description, category_id, tags, is_public, priority, \
         author_id, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(p.org)
    .bind(p.title)
    .bind(p.description)
    .bind(p.category_id)
    .bind(p.tags)
    .bind(p.is_public)
    .bind(p.priority)
    .bind(p.author)
    .bind(p.metadata)
    .fetch_one(conn)
    .await
}

/// An anonymous visitor's post on the public board: always public.
pub async fn insert_anonymous(
    conn: &mut PgConnection,
    org: Uuid,
    title: &str,
    description: &str,
    author_name: Option<&str>,
) -> sqlx::Result<Feedback> {
    sqlx::query_as(&format!(
        "INSERT INTO feedback (id, organization_id, title, description, author_name, anonymous, is_public) \
         VALUES ($1, $2, $3, $4, $5, true, true) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(title)
    .bind(description)
    .bind(author_name)
    .fetch_one(conn)
    .await
}

/// The fields a `PATCH` changes; `None` keeps the value. `Some(None)` clears a nullable one.
#[derive(Default)]
pub struct Changes {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<Option<Uuid>>,
    pub tags: Option<Vec<String>>,
    pub priority: Option<&'static str>,
    pub assignee_id: Option<Option<Uuid>>,
    pub is_pinned: Option<bool>,
    pub is_public: Option<bool>,
    pub metadata: Option<serde_json::Value>,
}

pub async fn update(conn: &mut PgConnection, org: Uuid, id: Uuid, c: Changes) -> sqlx::Result<Feedback> {
    sqlx::query_as(&format!(
        "UPDATE feedback SET title = COALESCE($3, title), description = COALESCE($4, description), \
         category_id = CASE WHEN $5 THEN $6 ELSE category_id END, tags = COALESCE($7, tags), \
         priority = COALESCE($8, priority), assignee_id = CASE WHEN $9 THEN $10 ELSE assignee_id END, \
         is_pinned = COALESCE($11, is_pinned), is_public = COALESCE($12, is_public), \
         metadata = metadata || COALESCE($13, '{{}}'::jsonb) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(c.title)
    .bind(c.description)
    .bind(c.category_id.is_some())
    .bind(c.category_id.flatten())
    .bind(c.tags)
    .bind(c.priority)
    .bind(c.assignee_id.is_some())
    .bind(c.assignee_id.flatten())
    .bind(c.is_pinned)
    .bind(c.is_public)
    .bind(c.metadata)
    .fetch_one(conn)
    .await
}

pub async fn soft_delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE feedback SET deleted_at = now() WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    status: &str,
    note: Option<&str>,
) -> sqlx::Result<Feedback> {
    sqlx::query_as(&format!(
        "UPDATE feedback SET status = $3, status_note = $4 WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(status)
    .bind(note)
    .fetch_one(conn)
    .await
}

/// Moves `source`'s votes and subscribers to `target` (a user who voted on both keeps their vote
/// on the target) and marks `source` a duplicate of it; the merged source and the votes moved.
pub async fn merge(conn: &mut PgConnection, org: Uuid, source: Uuid, target: Uuid) -> sqlx::Result<(Feedback, u64)> {
    let moved = sqlx::query(
        "INSERT INTO votes (id, feedback_id, organization_id, user_id, voter_key, type, created_at) \
         SELECT gen_random_uuid(), $2, organization_id, user_id, voter_key, type, created_at FROM votes \
         WHERE feedback_id = $1 AND organization_id = $3 ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .bind(org)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM votes WHERE feedback_id = $1 AND organization_id = $2")
        .bind(source)
        .bind(org)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO subscriptions (feedback_id, user_id) SELECT $2, user_id FROM subscriptions WHERE feedback_id = $1 \
         ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    let merged = sqlx::query_as(&format!(
        "UPDATE feedback SET status = 'duplicate', merged_into_id = $2 WHERE id = $1 AND organization_id = $3 \
         RETURNING {COLUMNS}"
    ))
    .bind(source)
    .bind(target)
    .bind(org)
    .fetch_one(&mut *conn)
    .await?;
    Ok((merged, moved))
}

/// A post's vote count, read in the caller's transaction.
pub async fn vote_count(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT vote_count FROM feedback WHERE id = $1").bind(id).fetch_one(conn).await
}

/// A post's public comment count, read in the caller's transaction.
pub async fn comment_count(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT comment_count FROM feedback WHERE id = $1").bind(id).fetch_one(conn).await
}
