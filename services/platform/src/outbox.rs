//! Transactional outbox: events are written in the business transaction and published to
//! JetStream by a relay, so an accepted write never loses its event.
//!
//! The relay is woken by `LISTEN/NOTIFY` (a slow poll is the safety net), claims rows with
//! `FOR UPDATE SKIP LOCKED` so replicas share the work, publishes a whole batch before awaiting
//! the acks together, and deletes what the stream acknowledged. `Nats-Msg-Id` is the event id,
//! so a batch re-published after a crash is dropped by JetStream's duplicate window.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use futures::future::join_all;
use serde::Serialize;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bus::{Bus, CloudEvent};
use crate::metrics::Metrics;
use crate::telemetry::TraceContext;

/// Writes `message` to the outbox within the caller's transaction; `subject` is unprefixed
/// (`events.identity.org.created`, `mail.send`).
pub async fn enqueue<T: Serialize>(
    conn: &mut PgConnection,
    subject: &str,
    message: &CloudEvent<T>,
) -> anyhow::Result<Uuid> {
    let payload = serde_json::to_vec(message)?;
    let traceparent = TraceContext::for_outgoing().to_string();
    sqlx::query("INSERT INTO outbox (id, subject, payload, traceparent) VALUES ($1, $2, $3, $4)")
        .bind(message.id)
        .bind(subject)
        .bind(payload)
        .bind(traceparent)
        .execute(conn)
        .await?;
    Ok(message.id)
}

/// Writes domain events (`events.<type>`) to the outbox in one statement, in their order.
pub async fn emit_all<T: Serialize>(conn: &mut PgConnection, events: &[CloudEvent<T>]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let traceparent = TraceContext::for_outgoing().to_string();
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let subjects: Vec<String> = events.iter().map(|e| format!("events.{}", e.event_type)).collect();
    let payloads = events.iter().map(serde_json::to_vec).collect::<Result<Vec<_>, _>>()?;
    sqlx::query(
        "INSERT INTO outbox (id, subject, payload, traceparent) \
         SELECT id, subject, payload, $4 FROM unnest($1::uuid[], $2::text[], $3::bytea[]) WITH ORDINALITY \
           AS e(id, subject, payload, n) ORDER BY n",
    )
    .bind(ids)
    .bind(subjects)
    .bind(payloads)
    .bind(traceparent)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a domain event (`events.<type>`) to the outbox.
pub async fn emit<T: Serialize>(conn: &mut PgConnection, event: &CloudEvent<T>) -> anyhow::Result<Uuid> {
    enqueue(conn, &format!("events.{}", event.event_type), event).await
}

/// Publishes outbox rows to JetStream.
pub struct Relay {
    pool: PgPool,
    bus: Bus,
    metrics: Arc<Metrics>,
    batch_size: i64,
    poll_interval: Duration,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: Uuid,
    subject: String,
    payload: Vec<u8>,
    traceparent: Option<String>,
}

impl Relay {
    pub fn new(pool: PgPool, bus: Bus, metrics: Arc<Metrics>) -> Self {
        Self { pool, bus, metrics, batch_size: 500, poll_interval: Duration::from_secs(1) }
    }

    /// Runs until `shutdown`, then flushes what it can within a few seconds.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener: Option<PgListener> = None;
        let mut failures = 0u32;
        loop {
            if listener.is_none() {
                listener = self.listen().await;
            }
            match self.drain().await {
                Ok(()) => failures = 0,
                Err(err) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %err, "outbox relay could not publish; will retry");
                }
            }
            let wait = if failures == 0 {
                self.poll_interval
            } else {
                Duration::from_millis(200u64.saturating_mul(1 << failures.min(6))).min(Duration::from_secs(10))
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                woke = wait_for_notify(&mut listener, wait), if failures == 0 => {
                    if !woke { listener = None; }
                }
                _ = tokio::time::sleep(wait), if failures > 0 => {}
            }
        }
        let flush = tokio::time::timeout(Duration::from_secs(5), self.drain()).await;
        if !matches!(flush, Ok(Ok(()))) {
            tracing::warn!("outbox relay stopped with events left; they will be published on the next start");
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen("outbox").await.ok()?;
        Some(listener)
    }

    /// Publishes batches until the outbox is empty.
    pub async fn drain(&self) -> anyhow::Result<()> {
        while self.publish_batch().await? == self.batch_size as usize {}
        Ok(())
    }

    /// Publishes one batch; returns how many rows it claimed.
    async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT seq, id, subject, payload, traceparent FROM outbox \
             ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let claimed = rows.len();
        let mut pending = Vec::with_capacity(claimed);
        let mut first_error = None;
        for row in &rows {
            let mut headers = HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, row.id.to_string().as_str());
            if let Some(tp) = &row.traceparent {
                headers.insert("traceparent", tp.as_str());
            }
            let subject = self.bus.subject(&row.subject);
            match self.bus.jetstream.publish_with_headers(subject, headers, row.payload.clone().into()).await {
                Ok(ack) => pending.push((row.seq, ack)),
                Err(err) => {
                    first_error = Some(anyhow::Error::new(err));
                    break;
                }
            }
        }
        let (seqs, acks): (Vec<i64>, Vec<_>) = pending.into_iter().unzip();
        let results = join_all(acks.into_iter().map(std::future::IntoFuture::into_future)).await;
        let mut published = Vec::with_capacity(seqs.len());
        let mut failed = Vec::new();
        for (seq, result) in seqs.into_iter().zip(results) {
            match result {
                Ok(_) => published.push(seq),
                Err(err) => {
                    failed.push(seq);
                    first_error.get_or_insert_with(|| anyhow::Error::new(err));
                }
            }
        }
        if !published.is_empty() {
            sqlx::query("DELETE FROM outbox WHERE seq = ANY($1)").bind(&published).execute(&mut *tx).await?;
        }
        if let Some(err) = &first_error {
            sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = ANY($1)")
                .bind(&failed)
                .bind(err.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.metrics.outbox_published.inc_by(published.len() as u64);
        match first_error {
            Some(err) => Err(err),
            None => Ok(claimed),
        }
    }
}

/// Waits for a notification or the timeout; false when the listener is gone.
async fn wait_for_notify(listener: &mut Option<PgListener>, timeout: Duration) -> bool {
    match listener {
        Some(l) => match tokio::time::timeout(timeout, l.recv()).await {
            Ok(Ok(_)) | Err(_) => true,
            Ok(Err(_)) => false,
        },
        None => {
            tokio::time::sleep(timeout).await;
            true
        }
    }
}

/// Rows waiting to be published.
pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(pool).await
}
