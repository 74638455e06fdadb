//! PostgreSQL pool and migrations.
//!
//! Each service applies two sets of migrations at start, both under PostgreSQL advisory locks so
//! that replicas starting together apply them once: the platform's own tables (outbox, consumer
//! idempotency, dead letters, idempotency keys) and then the service's `migrations/<service>/`.

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// Opens a pool without connecting yet: a service starts even while PostgreSQL is down, and
/// `/readyz` says so.
pub fn pool(url: &SecretString, max_connections: u32) -> anyhow::Result<PgPool> {
    pool_with(url, max_connections, Duration::from_secs(2))
}

/// [`pool`] with the wait for a connection: past it a request answers 503, so a database outage
/// is reported within this bound instead of after a long hang.
pub fn pool_with(url: &SecretString, max_connections: u32, acquire_timeout: Duration) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .expose_secret()
        .parse::<PgConnectOptions>()
        .context("DATABASE_URL is not a valid PostgreSQL URL")?
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500))
        // Calendar arithmetic (`+ interval '1 month'`, `::date`, `date_trunc`) in UTC whatever
        // the server's default time zone.
        .options([("timezone", "UTC")]);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options))
}

/// The platform's tables, versioned; applied before the service's own migrations.
const PLATFORM_SCHEMA: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS platform_schema (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());

CREATE TABLE IF NOT EXISTS outbox (
    seq BIGSERIAL PRIMARY KEY,
    id UUID NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    payload BYTEA NOT NULL,
    traceparent TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts INT NOT NULL DEFAULT 0,
    last_error TEXT
);

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE IF NOT EXISTS processed_events (
    consumer TEXT NOT NULL,
    event_id UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE IF NOT EXISTS dead_letters (
    id BIGSERIAL PRIMARY KEY,
    consumer TEXT NOT NULL,
    subject TEXT NOT NULL,
    event_id TEXT,
    payload BYTEA NOT NULL,
    error TEXT NOT NULL,
    deliveries BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status SMALLINT,
    content_type TEXT,
    body BYTEA,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
"#,
    r#"
-- A claim whose request died is reclaimable once its lease ends (not after 24 h).
ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS locked_until TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX IF NOT EXISTS processed_events_processed ON processed_events (processed_at);
-- A parked message carrying a one-time link is deleted when the link expires.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS dead_letters_created ON dead_letters (created_at);
CREATE INDEX IF NOT EXISTS dead_letters_expires ON dead_letters (expires_at) WHERE expires_at IS NOT NULL;
"#,
];

/// Applies the platform's tables and then `migrator`, each once across replicas.
pub async fn migrate(pool: &PgPool, migrator: &Migrator) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await.context("connecting to PostgreSQL for migrations")?;
    // One lock for the platform schema; sqlx takes its own for the service's migrations.
    sqlx::query("SELECT pg_advisory_lock(7240917301)").execute(&mut *conn).await?;
    let result = apply_platform_schema(&mut conn).await;
    sqlx::query("SELECT pg_advisory_unlock(7240917301)").execute(&mut *conn).await?;
    result?;
    drop(conn);
    migrator.run(pool).await.context("applying the service's migrations")?;
    Ok(())
}

async fn apply_platform_schema(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('platform_schema') IS NOT NULL").fetch_one(&mut *conn).await?;
    let applied: i32 = if exists {
        sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM platform_schema").fetch_one(&mut *conn).await?
    } else {
        0
    };
    for (i, ddl) in PLATFORM_SCHEMA.iter().enumerate() {
        let version = i32::try_from(i + 1)?;
        if version <= applied {
            continue;
        }
        sqlx::raw_sql(ddl).execute(&mut *conn).await.context("platform schema")?;
        sqlx::query("INSERT INTO platform_schema (version) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(version)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether a database error is the violation of the named constraint.
pub fn is_constraint(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}

/// Whether a database error is any unique violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
