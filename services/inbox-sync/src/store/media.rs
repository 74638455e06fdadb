//! Media files kept for their messages.

use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, sqlx::FromRow)]
pub struct Stored {
    pub content_type: String,
    pub body: Vec<u8>,
}

pub async fn get(conn: &mut PgConnection, org: Uuid, message: Uuid) -> sqlx::Result<Option<Stored>> {
    sqlx::query_as("SELECT content_type, body FROM message_media WHERE message_id = $1 AND organization_id = $2")
        .bind(message)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Keeps a fetched file (two first reads at once keep one).
pub async fn keep(
    conn: &mut PgConnection,
    org: Uuid,
    message: Uuid,
    content_type: &str,
    sha256: &[u8],
    body: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO message_media (message_id, organization_id, content_type, size, sha256, body) \
         SELECT id, organization_id, $3, $4, $5, $6 FROM messages WHERE id = $1 AND organization_id = $2 \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message)
    .bind(org)
    .bind(content_type)
    .bind(i32::try_from(body.len()).unwrap_or(i32::MAX))
    .bind(sha256)
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}
