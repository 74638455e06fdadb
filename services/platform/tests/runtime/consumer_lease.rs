//! The consumer's lease (ack_wait, 15 s): a killed replica's message comes back to another one
//! within it, and a slow handler that reports progress keeps its message meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use platform::bus::Bus;
use platform::consumer::{Consumer, Delivery, Handler};
use platform::metrics::Metrics;
use sqlx::PgConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::consumer::{event, publish_raw, spec, start, Recorder};
use crate::support::{self, count, count_reaches, eventually, settled, setup, setup_with_prefix, Replica};

/// Starts work on a message, then takes `work` (forever when `None`) before recording it.
struct Slow {
    started: Notify,
    work: Option<Duration>,
}

impl Handler for Slow {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.started.notify_one();
            match self.work {
                Some(work) => tokio::time::sleep(work).await,
                None => std::future::pending().await,
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

#[tokio::test]
async fn a_killed_replicas_message_is_processed_by_another_within_the_lease() {
    let (pool, bus, prefix) = setup_with_prefix().await;
    let stuck = Arc::new(Slow { started: Notify::new(), work: None });
    let replica = {
        let (pool, handler) = (support::pool_like(&pool), stuck.clone());
        Replica::start(async move {
            let bus = Bus::connect(&platform::testing::nats_url(), &prefix, "replica").await.unwrap();
            let consumer = Consumer { spec: spec(5), pool, bus, metrics: Metrics::new("replica"), handler };
            consumer.run(CancellationToken::new()).await;
        })
    };
    publish_raw(&bus, &event()).await;
    tokio::time::timeout(Duration::from_secs(15), stuck.started.notified()).await.expect("the replica took it");
    let delivered = std::time::Instant::now();
    replica.kill();

    let survivor = Recorder::new(0);
    let stop = start(&pool, &bus, spec(5), survivor.clone());
    // Back within the 15 s lease (plus a margin for a slow machine), not after the 30 s of
    // NATS's default ack wait.
    let lease = Duration::from_secs(22).saturating_sub(delivered.elapsed());
    count_reaches(&pool, "SELECT count(*) FROM effects", 1, lease).await;
    let attempt: i64 = sqlx::query_scalar("SELECT attempt FROM effects").fetch_one(&pool).await.unwrap();
    assert_eq!(attempt, 2, "the survivor got the killed replica's delivery again");
    stop.cancel();
}

#[tokio::test]
async fn a_slow_handler_keeps_its_message_past_the_ack_wait() {
    let (pool, bus) = setup().await;
    // 20 s of work: longer than the 15 s ack_wait, so only progress reports keep the message.
    let slow = Arc::new(Slow { started: Notify::new(), work: Some(Duration::from_secs(20)) });
    let stop_slow = start(&pool, &bus, spec(5), slow.clone());
    publish_raw(&bus, &event()).await;
    tokio::time::timeout(Duration::from_secs(15), slow.started.notified()).await.expect("the slow one took it");
    let other = Recorder::new(0);
    let stop_other = start(&pool, &bus, spec(5), other.clone());

    count_reaches(&pool, "SELECT count(*) FROM effects", 1, Duration::from_secs(40)).await;
    settled(&bus, "test-consumer", 1).await;
    let info = support::consumer_info(&bus, "test-consumer").await.unwrap();
    assert_eq!(info.delivered.consumer_sequence, 1, "the message was delivered once, never redelivered");
    assert_eq!(count(&pool, "SELECT count(*) FROM effects WHERE attempt = 1").await, 1);
    assert_eq!(other.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    stop_slow.cancel();
    stop_other.cancel();
}

#[tokio::test]
async fn the_consumer_reports_its_lag_and_holds_messages_for_fifteen_seconds() {
    let (pool, bus) = setup().await;
    let stuck = Arc::new(Slow { started: Notify::new(), work: None });
    let metrics = Metrics::new("test");
    let mut one_at_a_time = spec(5);
    one_at_a_time.concurrency = 1;
    let stop = CancellationToken::new();
    let consumer = Consumer {
        spec: one_at_a_time,
        pool: pool.clone(),
        bus: bus.clone(),
        metrics: metrics.clone(),
        handler: stuck.clone(),
    };
    tokio::spawn(consumer.run(stop.clone()));
    for _ in 0..10 {
        publish_raw(&bus, &event()).await;
    }
    tokio::time::timeout(Duration::from_secs(15), stuck.started.notified()).await.expect("the consumer took one");

    // The first is stuck, so the rest wait: the gauge shows what NATS counts as not delivered.
    eventually(Duration::from_secs(15), "the lag gauge to show what NATS counts", || {
        let (bus, metrics) = (&bus, &metrics);
        async move {
            let info = support::consumer_info(bus, "test-consumer").await.expect("the durable exists");
            assert_eq!(info.config.ack_wait, Duration::from_secs(15), "the lease");
            let reported = metrics
                .encode()
                .lines()
                .find_map(|l| l.strip_prefix("switchboard_consumer_pending{consumer=\"test-consumer\"} "))
                .and_then(|v| v.trim().parse::<u64>().ok());
            (info.num_pending > 0 && reported == Some(info.num_pending)).then_some(())
        }
    })
    .await;
    stop.cancel();
}
