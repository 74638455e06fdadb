//! The outbox relay and the platform schema under concurrent replicas.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use platform::bus::CloudEvent;
use platform::metrics::Metrics;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::support::{eventually, setup, MIGRATOR};

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
    eventually(Duration::from_secs(20), "an empty outbox", || async {
        (platform::outbox::backlog(&pool).await.unwrap() == 0).then_some(())
    })
    .await;
    let stream = bus.jetstream.get_stream(bus.stream_name("EVENTS")).await.unwrap();
    assert_eq!(stream.get_info().await.unwrap().state.messages, 500);
    let consumer = stream.create_consumer(async_nats::jetstream::consumer::pull::Config::default()).await.unwrap();
    let mut seen = HashSet::new();
    let mut msgs = consumer.fetch().max_messages(500).expires(Duration::from_secs(10)).messages().await.unwrap();
    while let Some(Ok(m)) = msgs.next().await {
        let id = m.headers.as_ref().unwrap().get("Nats-Msg-Id").unwrap().to_string();
        assert!(seen.insert(id), "published twice");
    }
    let expected: HashSet<String> = ids.iter().map(Uuid::to_string).collect();
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
