//! JetStream consumer runner: durable pull consumer, explicit ack, bounded redelivery with
//! backoff, `(consumer, event_id)` idempotency in the handler's transaction, and a dead-letter
//! table for messages that keep failing.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::AckKind;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bus::Bus;
use crate::metrics::{ConsumerLabels, Metrics};
use crate::telemetry::{self, TraceContext};

/// A message handed to a handler.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subject: String,
    pub event_id: Uuid,
    pub payload: bytes::Bytes,
    /// How many times this message has been delivered, starting at 1.
    pub attempt: i64,
}

/// The effect of one message, applied inside the transaction that records it as processed.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, delivery: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>>;

    /// The effect of several messages (each new to this consumer) in one transaction, for
    /// consumers run with [`ConsumerSpec::batch`]. By default each is handled in turn; a
    /// handler overrides it to apply them as sets (one statement for many rows).
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        deliveries: &'a [Delivery],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            for d in deliveries {
                self.handle(tx, d).await?;
            }
            Ok(())
        })
    }

    /// When a parked copy of this message must be deleted (e.g. it carries a one-time link that
    /// expires); `None` keeps it for the dead-letter retention.
    fn dead_letter_expires_at(&self, delivery: &Delivery) -> Option<chrono::DateTime<chrono::Utc>> {
        let _ = delivery;
        None
    }

    /// After the handler's transaction committed: what it [`crate::cache::touch`]ed, for the
    /// caches of those rows to be evicted.
    fn committed<'a>(&'a self, touched: crate::cache::Touched) -> BoxFuture<'a, ()> {
        let _ = touched;
        Box::pin(async {})
    }
}

/// How long the server waits for an ack before giving a message to another replica: a killed
/// replica's messages come back this soon. Slow handlers report progress to keep theirs.
pub const ACK_WAIT: Duration = Duration::from_secs(15);

/// How often a running handler tells the server it is still working on its message.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Idle heartbeat of pull requests: a silent connection is noticed within two of these.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(2);

/// What to consume and how hard to retry.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable name, unique per purpose (`ticketing-inbox`).
    pub name: String,
    /// Stream, unprefixed (`EVENTS`).
    pub stream: String,
    /// Subject filter, unprefixed (`events.inbox.>`).
    pub filter: String,
    pub max_deliver: i64,
    /// Delay before each redelivery; the last one repeats.
    pub backoff: Vec<Duration>,
    pub concurrency: usize,
    /// Up to this many messages already received are applied in one transaction (1: each in
    /// its own). A batch that fails is retried message by message, so one bad message is
    /// retried, and parked, alone.
    pub batch: usize,
}

impl ConsumerSpec {
    pub fn new(name: &str, stream: &str, filter: &str) -> Self {
        Self {
            name: name.to_owned(),
            stream: stream.to_owned(),
            filter: filter.to_owned(),
            max_deliver: 8,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120),
            ],
            concurrency: 32,
            batch: 1,
        }
    }

    /// Applies up to `batch` messages per transaction, `concurrency` transactions at once.
    pub fn batched(mut self, batch: usize, concurrency: usize) -> Self {
        self.batch = batch.max(1);
        self.concurrency = concurrency.max(1);
        self
    }

    fn delay(&self, attempt: i64) -> Duration {
        let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(0);
        self.backoff.get(i).or(self.backoff.last()).copied().unwrap_or(Duration::from_secs(1))
    }
}

/// Runs one durable consumer until `shutdown`, finishing the messages in flight.
pub struct Consumer {
    pub spec: ConsumerSpec,
    pub pool: PgPool,
    pub bus: Bus,
    pub metrics: Arc<Metrics>,
    pub handler: Arc<dyn Handler>,
}

impl Consumer {
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match this.clone().consume(shutdown.clone()).await {
                Ok(()) if shutdown.is_cancelled() => return,
                // The message stream ended without a shutdown (the connection was reset): resume.
                Ok(()) => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(err) => {
                    tracing::warn!(consumer = %this.spec.name, error = %err, "consumer interrupted; restarting");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    async fn consume(self: Arc<Self>, shutdown: CancellationToken) -> anyhow::Result<()> {
        let stream = self.bus.jetstream.get_stream(self.bus.stream_name(&self.spec.stream)).await?;
        let durable = self.bus.stream_name(&self.spec.name);
        let config = pull::Config {
            durable_name: Some(durable.clone()),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::All,
            filter_subject: self.bus.subject(&self.spec.filter),
            // The server redelivers after ack_wait when a replica dies mid-message.
            ack_wait: ACK_WAIT,
            max_deliver: -1,
            max_ack_pending: 1024,
            ..Default::default()
        };
        // Create, or update an existing durable to this configuration (ack_wait is editable).
        let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> =
            match stream.create_consumer(config.clone()).await {
                Ok(c) => c,
                Err(err) => {
                    tracing::debug!(error = %err, "consumer update refused; using it as it is");
                    stream.get_or_create_consumer(&durable, config).await?
                }
            };
        let lag =
            self.metrics.consumer_pending.get_or_create(&ConsumerLabels { consumer: self.spec.name.clone() }).clone();
        // Pull no more than can be worked on at once, so nothing waits in memory past its
        // ack_wait; heartbeats make a dead connection end this stream within seconds.
        let messages = consumer
            .stream()
            .max_messages_per_batch((self.spec.concurrency * self.spec.batch).clamp(1, 1024))
            .heartbeat(IDLE_HEARTBEAT)
            .expires(Duration::from_secs(10))
            .messages()
            .await?;
        let lag_consumer = consumer.clone();
        let lag_task = tokio::spawn(async move {
            loop {
                if let Ok(info) = lag_consumer.get_info().await {
                    lag.set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let this = self.clone();
        let result = if self.spec.batch > 1 {
            // Whatever has arrived, up to a batch: no waiting to fill one. An error of the
            // message stream ends it (after the batch's good messages), as below.
            messages
                .take_until(shutdown.cancelled_owned())
                .ready_chunks(self.spec.batch)
                .map(Ok::<_, anyhow::Error>)
                .try_for_each_concurrent(self.spec.concurrency, |chunk| {
                    let this = this.clone();
                    async move {
                        let mut ok = Vec::with_capacity(chunk.len());
                        let mut failed = None;
                        for m in chunk {
                            match m {
                                Ok(m) => ok.push(m),
                                Err(e) => failed = Some(anyhow::anyhow!(e)),
                            }
                        }
                        this.process_batch(ok).await;
                        failed.map_or(Ok(()), Err)
                    }
                })
                .await
        } else {
            messages
                .take_until(shutdown.cancelled_owned())
                .map_err(|e| anyhow::anyhow!(e))
                .try_for_each_concurrent(self.spec.concurrency, move |msg| {
                    let this = this.clone();
                    async move {
                        this.process(msg).await;
                        Ok(())
                    }
                })
                .await
        };
        lag_task.abort();
        result
    }

    /// Applies `msgs` in one transaction and acks them; if that fails, each on its own.
    async fn process_batch(&self, msgs: Vec<async_nats::jetstream::Message>) {
        if msgs.is_empty() {
            return;
        }
        let mut deliveries = Vec::with_capacity(msgs.len());
        let mut ids = Vec::with_capacity(msgs.len());
        for msg in &msgs {
            match self.delivery(msg) {
                // A message without an id goes the single way, to be parked.
                None => return self.one_by_one(msgs).await,
                Some(d) => {
                    ids.push(d.event_id);
                    deliveries.push(d);
                }
            }
        }
        let outcome = self.work_on(crate::cache::collect(self.apply_batch(&ids, deliveries)), &msgs).await;
        match outcome {
            Ok(()) => {
                futures::future::join_all(msgs.iter().map(|m| m.ack())).await;
            }
            Err(err) => {
                tracing::warn!(consumer = %self.spec.name, size = msgs.len(), error = %err, "batch failed; applying its messages one by one");
                self.one_by_one(msgs).await;
            }
        }
    }

    /// Runs `work` (a transaction and what it touched), telling the server every few seconds
    /// that `msgs` are still being worked on; after a commit, the handler hears what it touched.
    async fn work_on(
        &self,
        work: impl std::future::Future<Output = (anyhow::Result<()>, crate::cache::Touched)>,
        msgs: &[async_nats::jetstream::Message],
    ) -> anyhow::Result<()> {
        tokio::pin!(work);
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
        loop {
            tokio::select! {
                (outcome, touched) = &mut work => {
                    if outcome.is_ok() && !touched.is_empty() {
                        self.handler.committed(touched).await;
                    }
                    return outcome;
                }
                _ = progress.tick() => {
                    futures::future::join_all(msgs.iter().map(|m| m.ack_with(AckKind::Progress))).await;
                }
            }
        }
    }

    async fn one_by_one(&self, msgs: Vec<async_nats::jetstream::Message>) {
        for msg in msgs {
            self.process(msg).await;
        }
    }

    /// Records the new ones of `ids` as processed and hands their deliveries (each event once,
    /// also when the batch holds two copies) to the handler, in one transaction.
    async fn apply_batch(&self, ids: &[Uuid], deliveries: Vec<Delivery>) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let fresh: std::collections::HashSet<Uuid> = sqlx::query_scalar(
            "INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[]) \
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(&self.spec.name)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut seen = std::collections::HashSet::with_capacity(fresh.len());
        let new: Vec<Delivery> =
            deliveries.into_iter().filter(|d| fresh.contains(&d.event_id) && seen.insert(d.event_id)).collect();
        if !new.is_empty() {
            self.handler.handle_batch(&mut tx, &new).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn delivery(&self, msg: &async_nats::jetstream::Message) -> Option<Delivery> {
        let attempt = msg.info().map(|i| i.delivered).unwrap_or(1);
        let event_id = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .and_then(|v| Uuid::parse_str(v.as_str()).ok())
            .or_else(|| event_id_of(&msg.payload))?;
        Some(Delivery { subject: msg.subject.to_string(), event_id, payload: msg.payload.clone(), attempt })
    }

    async fn process(&self, msg: async_nats::jetstream::Message) {
        let attempt = msg.info().map(|i| i.delivered).unwrap_or(1);
        let parent = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("traceparent"))
            .and_then(|v| TraceContext::parse(v.as_str()))
            .map(|c| c.child())
            .unwrap_or_else(TraceContext::new_root);
        let Some(delivery) = self.delivery(&msg) else {
            self.dead_letter(&msg, None, "message has no event id", attempt, None).await;
            return;
        };
        let event_id = delivery.event_id;
        let work = telemetry::scope(parent, crate::cache::collect(self.apply(&delivery)));
        let outcome = self.work_on(work, std::slice::from_ref(&msg)).await;
        match outcome {
            Ok(()) => {
                let _ = msg.ack().await;
            }
            Err(err) if attempt >= self.spec.max_deliver => {
                tracing::error!(consumer = %self.spec.name, %event_id, error = ?err, "giving up on message");
                let expires_at = self.handler.dead_letter_expires_at(&delivery);
                self.dead_letter(&msg, Some(event_id), &format!("{err:#}"), attempt, expires_at).await;
            }
            Err(err) => {
                tracing::warn!(consumer = %self.spec.name, %event_id, attempt, error = %err, "handler failed; will redeliver");
                let _ = msg.ack_with(AckKind::Nak(Some(self.spec.delay(attempt)))).await;
            }
        }
    }

    /// Applies the handler once per `(consumer, event_id)`.
    async fn apply(&self, delivery: &Delivery) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let fresh =
            sqlx::query("INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&self.spec.name)
                .bind(delivery.event_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if fresh {
            self.handler.handle(&mut tx, delivery).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Parks a message; if even that fails, the message is left for redelivery, never dropped.
    async fn dead_letter(
        &self,
        msg: &async_nats::jetstream::Message,
        event_id: Option<Uuid>,
        error: &str,
        attempt: i64,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let stored = sqlx::query(
            "INSERT INTO dead_letters (consumer, subject, event_id, payload, error, deliveries, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&self.spec.name)
        .bind(msg.subject.as_str())
        .bind(event_id.map(|id| id.to_string()))
        .bind(msg.payload.as_ref())
        .bind(error)
        .bind(attempt)
        .bind(expires_at)
        .execute(&self.pool)
        .await;
        match stored {
            Ok(_) => {
                self.metrics
                    .consumer_dead_lettered
                    .get_or_create(&ConsumerLabels { consumer: self.spec.name.clone() })
                    .inc();
                let _ = msg.ack_with(AckKind::Term).await;
            }
            Err(err) => {
                tracing::error!(error = %err, "could not park a failing message; it will be redelivered");
                let _ = msg.ack_with(AckKind::Nak(Some(self.spec.delay(attempt)))).await;
            }
        }
    }
}

fn event_id_of(payload: &[u8]) -> Option<Uuid> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        id: Uuid,
    }
    serde_json::from_slice::<Envelope>(payload).ok().map(|e| e.id)
}
