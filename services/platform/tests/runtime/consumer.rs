//! The consumer runner: one effect per event, retries with backoff, parking what keeps failing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use platform::bus::{Bus, CloudEvent};
use platform::consumer::{Consumer, ConsumerSpec, Delivery, Handler};
use platform::metrics::Metrics;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::support::{count, count_reaches, settled, setup};

const DURABLE: &str = "test-consumer";
const WAIT: Duration = Duration::from_secs(20);

/// Records each delivery as an effect; fails while `fail_first` attempts remain.
pub struct Recorder {
    pub fail_first: i64,
    pub calls: AtomicUsize,
}

impl Recorder {
    pub fn new(fail_first: i64) -> Arc<Self> {
        Arc::new(Self { fail_first, calls: AtomicUsize::new(0) })
    }
}

impl Handler for Recorder {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if d.attempt <= self.fail_first {
                anyhow::bail!("failing attempt {}", d.attempt);
            }
            sqlx::query("INSERT INTO effects (event_id, attempt) VALUES ($1, $2)")
                .bind(d.event_id)
                .bind(d.attempt)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    }
}

pub fn spec(max_deliver: i64) -> ConsumerSpec {
    let mut s = ConsumerSpec::new(DURABLE, "EVENTS", "events.>");
    s.max_deliver = max_deliver;
    s.backoff = vec![Duration::from_millis(100)];
    s
}

/// Runs a consumer until the returned token is cancelled (a graceful stop).
pub fn start(pool: &PgPool, bus: &Bus, spec: ConsumerSpec, handler: Arc<dyn Handler>) -> CancellationToken {
    let stop = CancellationToken::new();
    let consumer = Consumer { spec, pool: pool.clone(), bus: bus.clone(), metrics: Metrics::new("test"), handler };
    tokio::spawn(consumer.run(stop.clone()));
    stop
}

pub async fn publish_raw(bus: &Bus, event: &CloudEvent<serde_json::Value>) {
    let payload = serde_json::to_vec(event).unwrap();
    bus.jetstream.publish(bus.event_subject(&event.event_type), payload.into()).await.unwrap().await.unwrap();
}

pub fn event() -> CloudEvent<serde_json::Value> {
    CloudEvent::new("test", "thing.happened", Some(Uuid::now_v7()), None, serde_json::json!({"n": 1}))
}

#[tokio::test]
async fn a_redelivered_event_has_one_effect() {
    let (pool, bus) = setup().await;
    let stop = start(&pool, &bus, spec(5), Recorder::new(0));
    let e = event();
    // Without a Nats-Msg-Id the stream keeps both copies: the consumer must dedupe by event id.
    publish_raw(&bus, &e).await;
    publish_raw(&bus, &e).await;
    publish_raw(&bus, &event()).await;
    settled(&bus, DURABLE, 3).await;
    let per_event: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM effects GROUP BY event_id").fetch_all(&pool).await.unwrap();
    assert_eq!(per_event, vec![1, 1]);
    stop.cancel();
}

#[tokio::test]
async fn a_failing_handler_is_retried_with_backoff() {
    let (pool, bus) = setup().await;
    let stop = start(&pool, &bus, spec(5), Recorder::new(2));
    publish_raw(&bus, &event()).await;
    count_reaches(&pool, "SELECT count(*) FROM effects", 1, WAIT).await;
    let attempt: i64 = sqlx::query_scalar("SELECT attempt FROM effects").fetch_one(&pool).await.unwrap();
    assert_eq!(attempt, 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM dead_letters").await, 0);
    stop.cancel();
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_parked_not_dropped() {
    let (pool, bus) = setup().await;
    let handler = Recorder::new(i64::MAX);
    let stop = start(&pool, &bus, spec(3), handler.clone());
    let e = event();
    publish_raw(&bus, &e).await;
    count_reaches(&pool, "SELECT count(*) FROM dead_letters", 1, WAIT).await;
    let (consumer, event_id, error, deliveries): (String, Option<String>, String, i64) =
        sqlx::query_as("SELECT consumer, event_id, error, deliveries FROM dead_letters")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(consumer, DURABLE);
    assert_eq!(event_id, Some(e.id.to_string()));
    assert!(error.contains("failing attempt 3"), "{error}");
    assert_eq!(deliveries, 3);
    // Once the server holds nothing more for the consumer, no fourth attempt can come.
    settled(&bus, DURABLE, 1).await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3, "not retried past the limit");
    assert_eq!(count(&pool, "SELECT count(*) FROM effects").await, 0);
    stop.cancel();
}

#[tokio::test]
async fn a_message_without_an_event_id_is_parked() {
    let (pool, bus) = setup().await;
    let handler = Recorder::new(0);
    let stop = start(&pool, &bus, spec(3), handler.clone());
    bus.jetstream.publish(bus.event_subject("junk"), "not json".into()).await.unwrap().await.unwrap();
    count_reaches(&pool, "SELECT count(*) FROM dead_letters", 1, WAIT).await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
    stop.cancel();
}

/// Applies batches, refusing any that holds a `poison` event; records the largest batch.
pub struct Batches {
    pub largest: AtomicUsize,
}

impl Handler for Batches {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let e: CloudEvent<serde_json::Value> = serde_json::from_slice(&d.payload)?;
            if e.data["poison"] == true {
                anyhow::bail!("poisoned");
            }
            sqlx::query("INSERT INTO effects (event_id, attempt) VALUES ($1, $2)")
                .bind(d.event_id)
                .bind(d.attempt)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    }

    fn handle_batch<'a>(&'a self, tx: &'a mut PgConnection, ds: &'a [Delivery]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.largest.fetch_max(ds.len(), Ordering::SeqCst);
            for d in ds {
                self.handle(tx, d).await?;
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn batches_apply_each_event_once_and_a_bad_message_fails_alone() {
    let (pool, bus) = setup().await;
    // Everything is in the stream before the consumer starts: it arrives in batches.
    let good: Vec<_> = (0..40).map(|_| event()).collect();
    for e in &good {
        publish_raw(&bus, e).await;
    }
    for e in good.iter().take(10) {
        publish_raw(&bus, e).await;
    }
    let mut poison = event();
    poison.data = serde_json::json!({"poison": true});
    publish_raw(&bus, &poison).await;
    let handler = Arc::new(Batches { largest: AtomicUsize::new(0) });
    let stop = start(&pool, &bus, spec(2).batched(64, 2), handler.clone());
    count_reaches(&pool, "SELECT count(*) FROM dead_letters", 1, WAIT).await;
    settled(&bus, DURABLE, 51).await;
    let per_event: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM effects GROUP BY event_id").fetch_all(&pool).await.unwrap();
    assert_eq!(per_event, vec![1; 40], "each good event once, whatever batch it was in");
    let parked: Option<String> =
        sqlx::query_scalar("SELECT event_id FROM dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(parked, Some(poison.id.to_string()));
    assert!(handler.largest.load(Ordering::SeqCst) > 1, "applied in batches");
    stop.cancel();
}
