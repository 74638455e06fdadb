//! An idle consumer notices that NATS went away and resumes within seconds once it is back
//! (the pull requests' idle heartbeat), instead of waiting out a long request expiry.

use std::time::{Duration, Instant};

use platform::bus::Bus;
use platform::testing::PrivateNats;

use crate::consumer::{event, publish_raw, spec, start, Recorder};
use crate::support::{count_reaches, eventually, setup};

#[tokio::test]
async fn an_idle_consumer_resumes_within_seconds_after_nats_returns() {
    let (pool, _) = setup().await;
    let mut nats = PrivateNats::start().await.expect("private nats-server");
    let bus = Bus::connect(&nats.url(), &platform::testing::unique_prefix(), "reconnect-test").await.unwrap();
    bus.ensure_streams().await.unwrap();
    let stop = start(&pool, &bus, spec(5), Recorder::new(0));
    publish_raw(&bus, &event()).await;
    count_reaches(&pool, "SELECT count(*) FROM effects", 1, Duration::from_secs(10)).await;

    nats.kill().await.expect("nats-server killed");
    eventually(Duration::from_secs(10), "the client sees the outage", || {
        let disconnected = !bus.is_connected();
        async move { disconnected.then_some(()) }
    })
    .await;
    nats.resume().await.expect("nats-server restarted");
    eventually(Duration::from_secs(10), "the client reconnects", || {
        let connected = bus.is_connected();
        async move { connected.then_some(()) }
    })
    .await;

    let back = Instant::now();
    publish_raw(&bus, &event()).await;
    // Within seconds: the 2 s idle heartbeat notices the dead pull, not the 10 s pull expiry.
    count_reaches(&pool, "SELECT count(*) FROM effects", 2, Duration::from_secs(10)).await;
    assert!(back.elapsed() < Duration::from_secs(6), "resumed after {:?}", back.elapsed());
    stop.cancel();
}
