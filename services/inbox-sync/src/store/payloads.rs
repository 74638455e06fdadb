//! Raw inbound bodies, kept byte for byte.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// Keeps `body` with what it held (`updates` handled, `skipped` of kinds not handled) or why it
/// could not be read; `None` when the same bytes are kept already (a redelivery: the platform
/// resends a body byte for byte). A concurrent delivery of the same bytes waits here for the
/// first to commit (then `None`) or roll back (then this one is the first).
pub async fn insert(
    conn: &mut PgConnection,
    platform: &str,
    connection: Option<Uuid>,
    body: &[u8],
    counts: (usize, usize),
    error: Option<&str>,
) -> sqlx::Result<Option<Uuid>> {
    let id = Uuid::now_v7();
    // Why a body could not be read may quote it: text, so without U+0000.
    let error = error.map(|e| platform::extract::replace_nul(e).into_owned());
    let done = sqlx::query(
        "INSERT INTO inbound_payloads (id, platform, connection_id, body, body_sha256, updates, skipped, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (body_sha256) DO NOTHING",
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
    Ok((done.rows_affected() == 1).then_some(id))
}
