//! Retention of tables that grow with traffic. Every few minutes one replica (whichever takes the
//! advisory lock) deletes what has aged out, in small batches so no delete holds locks for long.
//!
//! The platform's own tables come with their rules: idempotency keys live 24 hours (their
//! promise), processed event ids 14 days (twice the stream's 7-day retention, so no redelivery can
//! outlive its record), parked messages 30 days or until they expire (a parked `mail.send` with a
//! one-time link goes when the link does). Services add rules for their own tables.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Advisory lock key of the retention job (one runner per database at a time); public so an
/// operator (or a test) can tell which session holds it.
pub const LOCK_KEY: i64 = 7_240_917_302;

/// At most this many batches per rule and run, so one run never monopolises the database.
const MAX_BATCHES: usize = 100;

const PLATFORM_RULES: [(&str, &str); 3] = [
    (
        "idempotency_keys",
        "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys \
         WHERE created_at < now() - interval '24 hours' LIMIT 1000)",
    ),
    (
        "processed_events",
        "DELETE FROM processed_events WHERE ctid IN (SELECT ctid FROM processed_events \
         WHERE processed_at < now() - interval '14 days' LIMIT 1000)",
    ),
    (
        "dead_letters",
        "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters \
         WHERE expires_at < now() OR created_at < now() - interval '30 days' LIMIT 1000)",
    ),
];

/// The retention job of one service.
pub struct Retention {
    pool: PgPool,
    rules: Vec<(&'static str, std::borrow::Cow<'static, str>)>,
    every: Duration,
}

impl Retention {
    /// The platform's rules, run every five minutes.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            rules: PLATFORM_RULES.iter().map(|(n, q)| (*n, (*q).into())).collect(),
            every: Duration::from_secs(300),
        }
    }

    /// Adds a rule: `sql` deletes one batch of aged rows (a `LIMIT`ed sub-select) and is
    /// repeated while it deletes anything.
    pub fn rule(mut self, name: &'static str, sql: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        self.rules.push((name, sql.into()));
        self
    }

    /// How often the job runs.
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// One pass over every rule, if no other replica is running one; the rows deleted.
    pub async fn run_once(&self) -> anyhow::Result<u64> {
        let mut conn = self.pool.acquire().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LOCK_KEY).fetch_one(&mut *conn).await?;
        if !locked {
            return Ok(0);
        }
        let result = self.delete_all(&mut conn).await;
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK_KEY).execute(&mut *conn).await;
        result
    }

    async fn delete_all(&self, conn: &mut sqlx::PgConnection) -> anyhow::Result<u64> {
        let mut total = 0;
        for (name, sql) in &self.rules {
            let mut deleted = 0;
            for _ in 0..MAX_BATCHES {
                let n = sqlx::query(sql.as_ref()).execute(&mut *conn).await?.rows_affected();
                deleted += n;
                if n == 0 {
                    break;
                }
            }
            if deleted > 0 {
                tracing::info!(table = name, deleted, "retention");
            }
            total += deleted;
        }
        Ok(total)
    }

    /// Runs until `shutdown`; failures are logged and retried at the next run.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.every) => {}
            }
            if let Err(err) = self.run_once().await {
                tracing::warn!(error = %err, "retention run failed; retrying later");
            }
        }
    }
}
