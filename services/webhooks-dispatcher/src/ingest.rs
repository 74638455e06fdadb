//! From events to deliveries: a durable pull consumer on `events.>` takes whatever is waiting
//! (up to a batch), matches each event of the public catalog to the enabled endpoints of its
//! organization, and records the deliveries of the whole batch in one transaction before acking.
//! A redelivered batch adds nothing: a delivery is unique per (endpoint, event).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::AckKind;
use futures::StreamExt;
use platform::bus::{Bus, CloudEvent, EVENTS_STREAM};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::filters;

const CONSUMER: &str = "webhooks-dispatcher-events";

pub struct Ingest {
    pub pool: PgPool,
    pub bus: Bus,
    /// Wakes this replica's workers at once.
    pub wake: Arc<Notify>,
    pub batch: usize,
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
        let consumer = stream
            .get_or_create_consumer(
                &durable,
                pull::Config {
                    durable_name: Some(durable.clone()),
                    ack_policy: AckPolicy::Explicit,
                    deliver_policy: DeliverPolicy::All,
                    filter_subject: self.bus.subject("events.>"),
                    ack_wait: Duration::from_secs(30),
                    max_ack_pending: 20_000,
                    ..Default::default()
                },
            )
            .await?;
        let mut batches = consumer.messages().await?.ready_chunks(self.batch);
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                b = batches.next() => match b {
                    Some(b) => b,
                    None => return Ok(()),
                }
            };
            let messages: Vec<async_nats::jetstream::Message> = batch.into_iter().filter_map(Result::ok).collect();
            match self.record(&messages).await {
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
