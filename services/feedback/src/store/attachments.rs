//! Attachment rows (the files live under `ATTACHMENTS_DIR`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::Viewer;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub feedback_id: Uuid,
    /// The comment it is attached to; `null` when attached to the post.
    pub comment_id: Option<Uuid>,
    pub original_filename: String,
    pub mime_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the file.
    #[schema(min_length = 64, max_length = 64)]
    pub sha256: String,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    #[schema(ignore)]
    pub stored_name: String,
    /// Whether it belongs to an internal note (its name stays out of events).
    #[serde(skip)]
    #[schema(ignore)]
    pub internal: bool,
}

const COLUMNS: &str = "a.id, a.feedback_id, a.comment_id, a.original_filename, a.mime_type, a.size_bytes, a.sha256, \
     a.uploaded_by, a.created_at, a.stored_name";

pub struct NewAttachment<'a> {
    pub org: Uuid,
    pub post: Uuid,
    pub comment_id: Option<Uuid>,
    pub internal: bool,
    pub stored_name: &'a str,
    pub original_filename: &'a str,
    pub mime_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub uploaded_by: Option<Uuid>,
}

pub async fn insert(conn: &mut PgConnection, a: NewAttachment<'_>) -> sqlx::Result<Attachment> {
    sqlx::query_as(&format!(
        "INSERT INTO attachments AS a (id, organization_id, feedback_id, comment_id, stored_name, original_filename, \
         mime_type, size_bytes, sha256, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         RETURNING {COLUMNS}, $11 AS internal"
    ))
    .bind(Uuid::now_v7())
    .bind(a.org)
    .bind(a.post)
    .bind(a.comment_id)
    .bind(a.stored_name)
    .bind(a.original_filename)
    .bind(a.mime_type)
    .bind(a.size_bytes)
    .bind(a.sha256)
    .bind(a.uploaded_by)
    .bind(a.internal)
    .fetch_one(conn)
    .await
}

/// Attachments of a post `viewer` may see (those of internal notes only for staff), or just
/// the one `only` names.
pub async fn visible(pool: &PgPool, viewer: &Viewer, post: Uuid, only: Option<Uuid>) -> sqlx::Result<Vec<Attachment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, COALESCE(c.is_internal, false) AS internal FROM attachments a \
         LEFT JOIN comments c ON c.id = a.comment_id \
         WHERE a.feedback_id = $1 AND a.organization_id = $2 AND ($3 OR c.id IS NULL OR NOT c.is_internal) \
           AND ($4::uuid IS NULL OR a.id = $4) ORDER BY a.created_at, a.id LIMIT 1000"
    ))
    .bind(post)
    .bind(viewer.org())
    .bind(viewer.sees_internal())
    .bind(only)
    .fetch_all(pool)
    .await
}

/// Attachments of these comments, read before the comments go (their rows go by cascade).
pub async fn of_comments(conn: &mut PgConnection, org: Uuid, comments: &[Uuid]) -> sqlx::Result<Vec<Attachment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, c.is_internal AS internal FROM attachments a JOIN comments c ON c.id = a.comment_id \
         WHERE a.organization_id = $1 AND a.comment_id = ANY($2) ORDER BY a.created_at, a.id"
    ))
    .bind(org)
    .bind(comments)
    .fetch_all(conn)
    .await
}

/// Whether there was such an attachment to delete.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM attachments WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
