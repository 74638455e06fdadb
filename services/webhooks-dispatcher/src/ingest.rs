//! From events to deliveries: a durable pull consumer on `events.>` takes whatever is waiting
//! (up to a batch), matches each event of the public catalog to the enabled endpoints of its
//! organization, and records the deliveries of the whole batch in one transaction before acking.
//! A redelivered batch adds nothing: a delivery is unique per (endpoint, event). A replica that
//! dies gives its unacked events back after the 15 s ack wait (slow batches send in-progress
//! acks), and a silent server is noticed by missed heartbeats within seconds, so an idle
//! consumer reconnects soon after NATS returns. Its lag is `switchboard_consumer_pending`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::AckKind;
use futures::StreamExt;
use platform::bus::{Bus, CloudEvent, EVENTS_STREAM};
use platform::metrics::ConsumerLabels;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::filters;

const CONSUMER: &str = "webhooks-dispatcher-events";
/// A replica that dies holding events gives them back this soon; slow batches say they are
/// still at work every [`PROGRESS_EVERY`].
const ACK_WAIT: Duration = Duration::from_secs(15);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// A silent server is noticed after two missed heartbeats, and the consumer set up again.
const HEARTBEAT: Duration = Duration::from_secs(2);
const PULL_EXPIRES: Duration = Duration::from_secs(10);

pub struct Ingest {
    pub pool: PgPool,
    pub bus: Bus,
    /// Wakes this replica's workers at once.
    pub wake: Arc<Notify>,
    pub batch: usize,
    pub metrics: Arc<platform::metrics::Metrics>,
}

#[derive(sqlx::FromRow)]
struct Endpoint {
    id: Uuid,
    organization_id: Uuid,
    events: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl Ingest {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        while !shutdown.is_cancelled() {
            if let Err(err) = self.consume(&shutdown).await {
                tracing::warn!(error = %err, "event intake interrupted; restarting");
            }
            // Whether it failed or its stream ended, resume after a pause, never in a spin.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        Ok(())
    }

    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let stream = self.bus.jetstream.get_stream(self.bus.stream_name(EVENTS_STREAM)).await?;
        let durable = self.bus.stream_name(CONSUMER);
        let config = pull::Config {
            durable_name: Some(durable.clone()),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::All,
            filter_subject: self.bus.subject("events.>"),
            ack_wait: ACK_WAIT,
            max_ack_pending: 20_000,
            ..Default::default()
        };
        let mut consumer: PullConsumer = stream.get_or_create_consumer(&durable, config.clone()).await?;
        // An existing durable keeps its settings: bring one made by an older version up to date.
        if consumer.cached_info().config.ack_wait != ACK_WAIT {
            consumer = stream.create_consumer(config).await?;
        }
        let labels = ConsumerLabels { consumer: CONSUMER.to_owned() };
        let lag = self.metrics.consumer_pending.get_or_create(&labels).clone();
        let lag_consumer = consumer.clone();
        let lag_task = tokio::spawn(async move {
            loop {
                if let Ok(info) = lag_consumer.get_info().await {
                    lag.set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let result = self.pull(&consumer, shutdown).await;
        lag_task.abort();
        result
    }

    async fn pull(&self, consumer: &PullConsumer, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut batches = consumer
            .stream()
            .max_messages_per_batch(self.batch)
            .expires(PULL_EXPIRES)
            .heartbeat(HEARTBEAT)
            .messages()
            .await?
            .ready_chunks(self.batch);
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                b = batches.next() => match b {
                    Some(b) => b,
                    None => return Ok(()),
                }
            };
            let mut messages = Vec::with_capacity(batch.len());
            let mut broken = None;
            for m in batch {
                match m {
                    Ok(m) => messages.push(m),
                    // A missed heartbeat or a broken pull: record what came, then start over.
                    Err(err) => broken = Some(err),
                }
            }
            self.handle(&messages).await;
            if let Some(err) = broken {
                return Err(err.into());
            }
        }
    }

    /// Records a batch, telling the server it is still at work while that takes long, then acks
    /// it (or naks it for a prompt redelivery when it could not be recorded).
    async fn handle(&self, messages: &[async_nats::jetstream::Message]) {
        if messages.is_empty() {
            return;
        }
        let record = self.record(messages);
        tokio::pin!(record);
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
        let recorded = loop {
            tokio::select! {
                r = &mut record => break r,
                _ = progress.tick() => {
                    futures::future::join_all(messages.iter().map(|m| m.ack_with(AckKind::Progress))).await;
                }
            }
        };
        match recorded {
            Ok(n) => {
                futures::future::join_all(messages.iter().map(|m| m.ack())).await;
                if n > 0 {
                    self.wake.notify_waiters();
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not record deliveries; the events will come again");
                futures::future::join_all(
                    messages.iter().map(|m| m.ack_with(AckKind::Nak(Some(Duration::from_secs(1))))),
                )
                .await;
            }
        }
    }

    /// Records the deliveries of a batch; returns how many were new.
    async fn record(&self, messages: &[async_nats::jetstream::Message]) -> anyhow::Result<u64> {
        let mut events: Vec<CloudEvent<Value>> = Vec::with_capacity(messages.len());
        for m in messages {
            match serde_json::from_slice::<CloudEvent<Value>>(&m.payload) {
                Ok(e) if filters::in_catalog(&e.event_type) && e.orgid.is_some() => events.push(e),
                Ok(_) => {}
                Err(err) => {
                    // Not a CloudEvent: nothing to deliver, but kept for a human to look at.
                    sqlx::query(
                        "INSERT INTO dead_letters (consumer, subject, payload, error, deliveries) VALUES ($1, $2, $3, $4, 1)",
                    )
                    .bind(CONSUMER)
                    .bind(m.subject.as_str())
                    .bind(m.payload.as_ref())
                    .bind(err.to_string())
                    .execute(&self.pool)
                    .await?;
                }
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        let mut orgs: Vec<Uuid> = events.iter().filter_map(|e| e.orgid).collect();
        orgs.sort();
        orgs.dedup();
        let endpoints: Vec<Endpoint> = sqlx::query_as(
            "SELECT id, organization_id, events, created_at FROM endpoints WHERE enabled AND organization_id = ANY($1)",
        )
        .bind(&orgs)
        .fetch_all(&self.pool)
        .await?;
        let (mut ids, mut endpoint_ids, mut org_ids, mut event_ids, mut types, mut payloads) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for e in &events {
            // An endpoint receives what happens from its creation on, not the stream's past.
            let wanted = |ep: &&Endpoint| {
                Some(ep.organization_id) == e.orgid
                    && e.time >= ep.created_at
                    && filters::matches(&ep.events, &e.event_type)
            };
            for ep in endpoints.iter().filter(wanted) {
                ids.push(Uuid::now_v7());
                endpoint_ids.push(ep.id);
                org_ids.push(ep.organization_id);
                event_ids.push(e.id);
                types.push(e.event_type.clone());
                payloads.push(serde_json::json!({"type": e.event_type, "timestamp": e.time, "data": e.data}));
            }
        }
        if ids.is_empty() {
            return Ok(0);
        }
        let inserted = sqlx::query(
            "INSERT INTO deliveries (id, endpoint_id, organization_id, event_id, event_type, payload) \
             SELECT id, endpoint_id, organization_id, event_id, event_type, payload \
             FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::jsonb[]) WITH ORDINALITY \
               AS d(id, endpoint_id, organization_id, event_id, event_type, payload, n) \
             ORDER BY n ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .bind(&ids)
        .bind(&endpoint_ids)
        .bind(&org_ids)
        .bind(&event_ids)
        .bind(&types)
        .bind(&payloads)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted)
    }
}
