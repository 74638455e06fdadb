//! The outgoing mail queue (see migration 0002): recorded by the `mail.send` consumer, claimed
//! under a lease by the sender, deleted once sent, parked in `dead_letters` when it cannot be.
//! Each function is one short statement or transaction: none spans the SMTP conversation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The consumer that parks mail, as the platform's consumers name their dead letters.
pub const CONSUMER: &str = "webhooks-dispatcher-mail";

#[derive(Debug, sqlx::FromRow)]
pub struct Outgoing {
    pub id: Uuid,
    /// The `mail.send` CloudEvent as it came.
    pub command: serde_json::Value,
    pub expires_at: Option<DateTime<Utc>>,
    /// Including the one now claimed.
    pub attempts: i32,
}

/// Records a mail to send, once per command.
pub async fn enqueue(
    conn: &mut PgConnection,
    id: Uuid,
    org: Option<Uuid>,
    command: &serde_json::Value,
    expires_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO outgoing_mail (id, organization_id, command, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(org)
    .bind(command)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `n` due mails for `lease`, counting the attempt. One statement, so no
/// transaction stays open while they are sent.
pub async fn claim(pool: &PgPool, n: i64, lease: Duration) -> sqlx::Result<Vec<Outgoing>> {
    sqlx::query_as(
        "WITH due AS ( \
           SELECT id FROM outgoing_mail WHERE next_attempt_at <= now() \
             AND (leased_until IS NULL OR leased_until < now()) \
           ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         UPDATE outgoing_mail m SET leased_until = now() + make_interval(secs => $2), attempts = m.attempts + 1 \
         FROM due WHERE m.id = due.id RETURNING m.id, m.command, m.expires_at, m.attempts",
    )
    .bind(n)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// The server accepted it.
pub async fn sent(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM outgoing_mail WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// Tries again after `delay`.
pub async fn retry_later(pool: &PgPool, id: Uuid, delay: Duration, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outgoing_mail SET leased_until = NULL, next_attempt_at = now() + make_interval(secs => $2), \
         last_error = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(delay.as_secs_f64())
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives up: the command goes to the dead-letter table (deleted with its link when it has one).
pub async fn park(pool: &PgPool, mail: &Outgoing, error: &str) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO dead_letters (consumer, subject, event_id, payload, error, deliveries, expires_at) \
         VALUES ($1, 'mail.send', $2, $3, $4, $5, $6)",
    )
    .bind(CONSUMER)
    .bind(mail.id.to_string())
    .bind(serde_json::to_vec(&mail.command).unwrap_or_default())
    .bind(error)
    .bind(i64::from(mail.attempts))
    .bind(mail.expires_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM outgoing_mail WHERE id = $1").bind(mail.id).execute(&mut *tx).await?;
    tx.commit().await
}
