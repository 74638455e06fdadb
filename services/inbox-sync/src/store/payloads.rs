//! Raw inbound bodies, kept byte for byte.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// Keeps `body` with what it held (`updates` handled, `skipped` of kinds not handled) or why it
/// could not be read.
pub async fn insert(
    conn: &mut PgConnection,
    platform: &str,
    connection: Option<Uuid>,
    body: &[u8],
    counts: (usize, usize),
    error: Option<&str>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO inbound_payloads (id, platform, connection_id, body, body_sha256, updates, skipped, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(platform)
    .bind(connection)
    .bind(body)
    .bind(Sha256::digest(body).to_vec())
    .bind(i32::try_from(counts.0).unwrap_or(i32::MAX))
    .bind(i32::try_from(counts.1).unwrap_or(i32::MAX))
    .bind(error)
    .execute(conn)
    .await?;
    Ok(id)
}
