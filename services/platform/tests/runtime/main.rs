//! The platform's moving parts against real PostgreSQL and NATS: the outbox relay and the
//! consumer runner.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use platform::bus::{Bus, CloudEvent};
use platform::consumer::{Consumer, ConsumerSpec, Delivery, Handler};
use platform::metrics::Metrics;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/runtime/migrations");

async fn setup() -> (PgPool, Bus) {
    platform::telemetry::init_for_tests();
    let url = platform::testing::fresh_database("platform").await.unwrap();
    let pool = platform::db::pool(&url, 10).unwrap();
    platform::db::migrate(&pool, &MIGRATOR).await.unwrap();
    let bus = Bus::connect(&platform::testing::nats_url(), &platform::testing::unique_prefix(), "platform-test")
        .await
        .unwrap();
    bus.ensure_streams().await.unwrap();
    (pool, bus)
}

/// Records each delivery as an effect; fails while `fail_first` attempts remain.
struct Recorder {
    fail_first: i64,
    calls: AtomicUsize,
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

fn spec(max_deliver: i64) -> ConsumerSpec {
    let mut s = ConsumerSpec::new("test-consumer", "EVENTS", "events.>");
    s.max_deliver = max_deliver;
    s.backoff = vec![Duration::from_millis(100)];
    s
}

fn start(pool: &PgPool, bus: &Bus, spec: ConsumerSpec, handler: Arc<Recorder>) -> CancellationToken {
    let stop = CancellationToken::new();
    let consumer = Consumer { spec, pool: pool.clone(), bus: bus.clone(), metrics: Metrics::new("test"), handler };
    tokio::spawn(consumer.run(stop.clone()));
    stop
}

async fn publish_raw(bus: &Bus, event: &CloudEvent<serde_json::Value>) {
    let payload = serde_json::to_vec(event).unwrap();
    bus.jetstream.publish(bus.event_subject(&event.event_type), payload.into()).await.unwrap().await.unwrap();
}

async fn wait_for(pool: &PgPool, sql: &str, expected: i64) -> i64 {
    let mut n = 0;
    for _ in 0..100 {
        n = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if n >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    n
}

fn event() -> CloudEvent<serde_json::Value> {
    CloudEvent::new("test", "thing.happened", Some(Uuid::now_v7()), None, serde_json::json!({"n": 1}))
}

#[tokio::test]
async fn a_redelivered_event_has_one_effect() {
    let (pool, bus) = setup().await;
    let handler = Arc::new(Recorder { fail_first: 0, calls: AtomicUsize::new(0) });
    let stop = start(&pool, &bus, spec(5), handler.clone());
    let e = event();
    // Without a Nats-Msg-Id the stream keeps both copies: the consumer must dedupe by event id.
    publish_raw(&bus, &e).await;
    publish_raw(&bus, &e).await;
    let other = event();
    publish_raw(&bus, &other).await;
    assert_eq!(wait_for(&pool, "SELECT count(*) FROM effects", 2).await, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_event: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM effects GROUP BY event_id").fetch_all(&pool).await.unwrap();
    assert_eq!(per_event, vec![1, 1]);
    stop.cancel();
}

#[tokio::test]
async fn a_failing_handler_is_retried_with_backoff() {
    let (pool, bus) = setup().await;
    let handler = Arc::new(Recorder { fail_first: 2, calls: AtomicUsize::new(0) });
    let stop = start(&pool, &bus, spec(5), handler.clone());
    publish_raw(&bus, &event()).await;
    assert_eq!(wait_for(&pool, "SELECT count(*) FROM effects", 1).await, 1);
    let attempt: i64 = sqlx::query_scalar("SELECT attempt FROM effects").fetch_one(&pool).await.unwrap();
    assert_eq!(attempt, 3);
    let parked: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(parked, 0);
    stop.cancel();
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_parked_not_dropped() {
    let (pool, bus) = setup().await;
    let handler = Arc::new(Recorder { fail_first: i64::MAX, calls: AtomicUsize::new(0) });
    let stop = start(&pool, &bus, spec(3), handler.clone());
    let e = event();
    publish_raw(&bus, &e).await;
    assert_eq!(wait_for(&pool, "SELECT count(*) FROM dead_letters", 1).await, 1);
    let (consumer, event_id, error, deliveries): (String, Option<String>, String, i64) =
        sqlx::query_as("SELECT consumer, event_id, error, deliveries FROM dead_letters")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(consumer, "test-consumer");
    assert_eq!(event_id, Some(e.id.to_string()));
    assert!(error.contains("failing attempt 3"), "{error}");
    assert_eq!(deliveries, 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3, "not retried past the limit");
    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM effects").fetch_one(&pool).await.unwrap();
    assert_eq!(effects, 0);
    stop.cancel();
}

#[tokio::test]
async fn a_message_without_an_event_id_is_parked() {
    let (pool, bus) = setup().await;
    let handler = Arc::new(Recorder { fail_first: 0, calls: AtomicUsize::new(0) });
    let stop = start(&pool, &bus, spec(3), handler.clone());
    bus.jetstream.publish(bus.event_subject("junk"), "not json".into()).await.unwrap().await.unwrap();
    assert_eq!(wait_for(&pool, "SELECT count(*) FROM dead_letters", 1).await, 1);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
    stop.cancel();
}

#[tokio::test]
async fn two_relays_publish_every_outbox_row_once() {
    let (pool, bus) = setup().await;
    let mut ids = Vec::new();
    for chunk in 0..10 {
        let mut tx = pool.begin().await.unwrap();
        for i in 0..50 {
            let e = CloudEvent::new("test", "bulk.created", None, None, serde_json::json!({"chunk": chunk, "i": i}));
            ids.push(platform::outbox::emit(&mut tx, &e).await.unwrap());
        }
        tx.commit().await.unwrap();
    }
    let stop = CancellationToken::new();
    for _ in 0..2 {
        let relay = platform::outbox::Relay::new(pool.clone(), bus.clone(), Metrics::new("test"));
        tokio::spawn(relay.run(stop.clone()));
    }
    for _ in 0..100 {
        if platform::outbox::backlog(&pool).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(platform::outbox::backlog(&pool).await.unwrap(), 0);
    let stream = bus.jetstream.get_stream(bus.stream_name("EVENTS")).await.unwrap();
    assert_eq!(stream.get_info().await.unwrap().state.messages, 500);
    let consumer = stream.create_consumer(async_nats::jetstream::consumer::pull::Config::default()).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut msgs = consumer.fetch().max_messages(500).messages().await.unwrap();
    while let Some(Ok(m)) = msgs.next().await {
        let id = m.headers.as_ref().unwrap().get("Nats-Msg-Id").unwrap().to_string();
        assert!(seen.insert(id));
    }
    let expected: std::collections::HashSet<String> = ids.iter().map(Uuid::to_string).collect();
    assert_eq!(seen, expected);
    stop.cancel();
}

#[tokio::test]
async fn migrations_are_safe_when_replicas_start_together() {
    let url = platform::testing::fresh_database("platform").await.unwrap();
    let pools: Vec<PgPool> = (0..4).map(|_| platform::db::pool(&url, 2).unwrap()).collect();
    let runs = futures::future::join_all(pools.iter().map(|p| platform::db::migrate(p, &MIGRATOR))).await;
    for r in runs {
        r.unwrap();
    }
    let version: i32 =
        sqlx::query_scalar("SELECT max(version) FROM platform_schema").fetch_one(&pools[0]).await.unwrap();
    assert_eq!(version, 2, "every platform schema version applied once");
}
