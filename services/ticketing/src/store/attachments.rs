//! Attachment rows (the files live under `ATTACHMENTS_DIR`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// The comment it is attached to; `null` when attached to the ticket.
    pub comment_id: Option<Uuid>,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the file.
    #[schema(min_length = 64, max_length = 64)]
    pub sha256: String,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    #[schema(ignore)]
    pub storage_key: String,
    /// Whether it belongs to an internal note (customers never see it).
    #[serde(skip)]
    #[schema(ignore)]
    pub internal: bool,
}

const COLUMNS: &str = "a.id, a.ticket_id, a.comment_id, a.filename, a.content_type, a.size_bytes, a.sha256, \
     a.uploaded_by, a.created_at, a.storage_key";

pub struct NewAttachment<'a> {
    pub org: Uuid,
    pub ticket: Uuid,
    pub comment_id: Option<Uuid>,
    pub internal: bool,
    pub storage_key: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub uploaded_by: Option<Uuid>,
}

pub async fn insert(conn: &mut PgConnection, a: NewAttachment<'_>) -> sqlx::Result<Attachment> {
    sqlx::query_as(&format!(
        "INSERT INTO ticket_attachments AS a (id, organization_id, ticket_id, comment_id, storage_key, filename, \
         content_type, size_bytes, sha256, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         RETURNING {COLUMNS}, $11 AS internal"
    ))
    .bind(Uuid::now_v7())
    .bind(a.org)
    .bind(a.ticket)
    .bind(a.comment_id)
    .bind(a.storage_key)
    .bind(a.filename)
    .bind(a.content_type)
    .bind(a.size_bytes)
    .bind(a.sha256)
    .bind(a.uploaded_by)
    .bind(a.internal)
    .fetch_one(conn)
    .await
}

/// Attachments of a ticket (those of internal notes only when `internal`), or just `only`.
pub async fn visible(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    internal: bool,
    only: Option<Uuid>,
) -> sqlx::Result<Vec<Attachment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, COALESCE(c.is_internal, false) AS internal FROM ticket_attachments a \
         LEFT JOIN ticket_comments c ON c.id = a.comment_id \
         WHERE a.ticket_id = $1 AND a.organization_id = $2 AND ($3 OR c.id IS NULL OR NOT c.is_internal) \
           AND ($4::uuid IS NULL OR a.id = $4) ORDER BY a.created_at, a.id LIMIT 1000"
    ))
    .bind(ticket)
    .bind(org)
    .bind(internal)
    .bind(only)
    .fetch_all(conn)
    .await
}

/// Every file of a ticket, read before it is deleted (the rows go by cascade).
pub async fn keys_of_ticket(conn: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT storage_key FROM ticket_attachments WHERE organization_id = $1 AND ticket_id = $2")
        .bind(org)
        .bind(ticket)
        .fetch_all(conn)
        .await
}

/// Whether there was such an attachment to delete.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM ticket_attachments WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
