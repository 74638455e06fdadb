//! Webhooks: events on the stream → verified deliveries (throughput, loss, duplicates), latency
//! from event creation to receipt at a steady rate, the full path from `POST /v1/feedback`, and
//! two dispatcher replicas sharing the work. The receiver verifies every signature.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use platform::bus::{Bus, CloudEvent};
use platform::config::Env;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

/// The variables given, in development mode (the services' default secrets).
fn env(pairs: &[(&str, &str)]) -> Env {
    let mut vars = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>();
    vars.entry("SWITCHBOARD_ENV".to_owned()).or_insert_with(|| "development".to_owned());
    Env::from_map(vars)
}

/// Counts verified deliveries by webhook-id and records when each event arrived.
#[derive(Default)]
struct Tally {
    ids: HashSet<String>,
    total: u64,
    bad_signatures: u64,
    /// sent-at (ns since the run's epoch, from the payload) → receipt latency.
    latencies: Vec<Duration>,
    last: Option<Instant>,
}

struct Receiver {
    url: String,
    tally: Arc<Mutex<Tally>>,
}

async fn receiver(secret: Arc<Mutex<String>>, epoch: Instant) -> anyhow::Result<Receiver> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let t = tally.clone();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let (t, secret) = (t.clone(), secret.clone());
        async move {
            let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let (id, ts, sig) =
                (h("webhook-id"), h("webhook-timestamp").parse::<i64>().unwrap_or(0), h("webhook-signature"));
            let ok = webhooks_dispatcher::signing::verify(&secret.lock().unwrap(), &id, ts, &body, &sig);
            let sent = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["data"]["sent_ns"].as_u64());
            let mut t = t.lock().unwrap();
            if !ok {
                t.bad_signatures += 1;
                return axum::http::StatusCode::UNAUTHORIZED;
            }
            t.total += 1;
            t.ids.insert(id);
            if let Some(ns) = sent {
                t.latencies.push(epoch.elapsed().saturating_sub(Duration::from_nanos(ns)));
            }
            t.last = Some(Instant::now());
            axum::http::StatusCode::NO_CONTENT
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let router = axum::Router::new().route("/hook", axum::routing::post(handler));
        let _ = axum::serve(listener, router).await;
    });
    Ok(Receiver { url, tally })
}

struct Stack {
    stop: CancellationToken,
    bus: Bus,
    dispatcher_vars: Vec<(String, String)>,
    identity_grpc: String,
    identity_base: String,
    nats: String,
    prefix: String,
}

async fn stack() -> anyhow::Result<Stack> {
    let prefix = platform::testing::unique_prefix();
    let nats = platform::testing::nats_url();
    let stop = CancellationToken::new();
    let identity_db = platform::testing::fresh_database("bench_wh_identity").await?;
    let identity = identity::Application::build(identity::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", identity_db.expose_secret()),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
    ]))?)
    .await?;
    let identity_base = format!("http://{}", identity.http_addr());
    let identity_grpc = format!("http://{}", identity.grpc_addr());
    tokio::spawn(identity.run_until_stopped(stop.clone()));
    let db = platform::testing::fresh_database("bench_webhooks").await?;
    let dispatcher_vars: Vec<(String, String)> = [
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
        ("IDENTITY_GRPC_URL", &identity_grpc),
        ("WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let bus = Bus::connect(&nats, &prefix, "loadgen").await?;
    Ok(Stack { stop, bus, dispatcher_vars, identity_grpc, identity_base, nats, prefix })
}

async fn dispatcher(s: &Stack) -> anyhow::Result<String> {
    let vars: Vec<(&str, &str)> = s.dispatcher_vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = webhooks_dispatcher::Application::build(webhooks_dispatcher::Config::from_env(env(&vars))?).await?;
    let base = format!("http://{}", app.http_addr());
    tokio::spawn(app.run_until_stopped(s.stop.clone()));
    Ok(base)
}

/// Signs up an owner and creates an endpoint to `url` for `events`; (token, org, secret).
async fn endpoint(
    s: &Stack,
    base: &str,
    url: &str,
    events: &[&str],
    email: &str,
) -> anyhow::Result<(String, Uuid, String)> {
    let http = reqwest::Client::new();
    let signup: Value = http
        .post(format!("{}/v1/auth/signup", s.identity_base))
        .json(&json!({"email": email, "password": PASSWORD, "name": "Bench", "organization_name": email}))
        .send()
        .await?
        .json()
        .await?;
    let token = signup["access_token"].as_str().unwrap_or_default().to_owned();
    let org: Uuid = signup["organization"]["id"].as_str().unwrap_or_default().parse()?;
    let created: Value = http
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": url, "events": events, "max_concurrency": 256}))
        .send()
        .await?
        .json()
        .await?;
    Ok((token, org, created["secret"].as_str().unwrap_or_default().to_owned()))
}

/// Publishes `n` events as fast as JetStream takes them (acks awaited in windows).
async fn flood(bus: &Bus, org: Uuid, n: usize, epoch: Instant) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut pending = Vec::with_capacity(1000);
    for i in 0..n {
        let event = CloudEvent::new(
            "loadgen",
            "ticket.updated",
            Some(org),
            None,
            json!({"n": i, "sent_ns": epoch.elapsed().as_nanos() as u64}),
        );
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        pending.push(
            bus.jetstream
                .publish_with_headers(bus.event_subject("ticket.updated"), headers, serde_json::to_vec(&event)?.into())
                .await?,
        );
        if pending.len() == 1000 {
            for ack in pending.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in pending {
        ack.await?;
    }
    Ok(started.elapsed())
}

async fn wait_for(tally: &Arc<Mutex<Tally>>, n: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while tally.lock().unwrap().ids.len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

pub async fn run(events: usize) -> anyhow::Result<()> {
    let epoch = Instant::now();
    let s = stack().await?;
    let base = dispatcher(&s).await?;
    let secret = Arc::new(Mutex::new(String::new()));
    let rx = receiver(secret.clone(), epoch).await?;

    // 1. Throughput: a burst of events, one endpoint.
    let (_, org, sec) = endpoint(&s, &base, &rx.url, &["ticket.*"], "throughput@example.com").await?;
    *secret.lock().unwrap() = sec;
    let started = Instant::now();
    let published_in = flood(&s.bus, org, events, epoch).await?;
    wait_for(&rx.tally, events, Duration::from_secs(120)).await;
    let (unique, total, bad, last) = {
        let t = rx.tally.lock().unwrap();
        (t.ids.len(), t.total, t.bad_signatures, t.last)
    };
    let took = last.map(|l| l - started).unwrap_or_default();
    println!(
        "events → verified deliveries: {events} events published in {:.2} s; {unique} received in {:.2} s = {:.0}/s; lost {}, duplicated {}, bad signatures {bad}",
        published_in.as_secs_f64(),
        took.as_secs_f64(),
        unique as f64 / took.as_secs_f64(),
        events - unique.min(events),
        total - unique as u64,
    );

    // 2. Latency at a steady 500/s for 10 s.
    *rx.tally.lock().unwrap() = Tally::default();
    let steady = 5000;
    let interval = Duration::from_millis(2);
    let t0 = Instant::now();
    for i in 0..steady {
        tokio::time::sleep_until((t0 + interval * i as u32).into()).await;
        let event = CloudEvent::new(
            "loadgen",
            "ticket.updated",
            Some(org),
            None,
            json!({"n": i, "sent_ns": epoch.elapsed().as_nanos() as u64}),
        );
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        // Not awaiting the ack here: the next publish is not held up by this one's round trip.
        let ack = s
            .bus
            .jetstream
            .publish_with_headers(s.bus.event_subject("ticket.updated"), headers, serde_json::to_vec(&event)?.into())
            .await?;
        tokio::spawn(async move {
            let _ = ack.await;
        });
    }
    wait_for(&rx.tally, steady, Duration::from_secs(30)).await;
    let mut lat = rx.tally.lock().unwrap().latencies.clone();
    lat.sort();
    println!(
        "event → receipt at a steady 500/s for 10 s: {} received; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );

    // 3. Two replicas share a burst: same totals, no duplicates.
    let _second = dispatcher(&s).await?;
    *rx.tally.lock().unwrap() = Tally::default();
    let started = Instant::now();
    flood(&s.bus, org, events, epoch).await?;
    wait_for(&rx.tally, events, Duration::from_secs(120)).await;
    let (unique, total, last) = {
        let t = rx.tally.lock().unwrap();
        (t.ids.len(), t.total, t.last)
    };
    let took = last.map(|l| l - started).unwrap_or_default();
    println!(
        "two replicas: {unique} of {events} received in {:.2} s = {:.0}/s; lost {}, duplicated {}",
        took.as_secs_f64(),
        unique as f64 / took.as_secs_f64(),
        events - unique.min(events),
        total - unique as u64
    );

    // 4. The full path: POST /v1/feedback → outbox → EVENTS → dispatcher → receiver.
    let full = full_path(&s, &base, epoch).await?;
    println!("{full}");
    s.stop.cancel();
    Ok(())
}

async fn full_path(s: &Stack, base: &str, epoch: Instant) -> anyhow::Result<String> {
    let db = platform::testing::fresh_database("bench_wh_feedback").await?;
    let dir = std::env::temp_dir().join(format!("bench-wh-{}", Uuid::new_v4().simple()));
    let app = feedback::Application::build(feedback::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("NATS_URL", &s.nats),
        ("NATS_PREFIX", &s.prefix),
        ("IDENTITY_GRPC_URL", &s.identity_grpc),
        ("ATTACHMENTS_DIR", &dir.to_string_lossy()),
    ]))?)
    .await?;
    let feedback_base = format!("http://{}", app.http_addr());
    tokio::spawn(app.run_until_stopped(s.stop.clone()));
    let secret = Arc::new(Mutex::new(String::new()));
    let rx = receiver(secret.clone(), epoch).await?;
    let (token, _, sec) = endpoint(s, base, &rx.url, &["feedback.created"], "fullpath@example.com").await?;
    *secret.lock().unwrap() = sec;
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).build()?;
    let url = reqwest::Url::parse(&format!("{feedback_base}/v1/feedback"))?;
    let duration = Duration::from_secs(10);
    let started = Instant::now();
    let report =
        crate::runner::closed_loop("POST /v1/feedback (with a webhook endpoint), c=64", 64, duration, move |i| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                http.post(url)
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("Idea number {i}")}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
    let created = report.ok as usize;
    // Posts made during the warm-up are delivered too; wait for at least the measured ones.
    wait_for(&rx.tally, created, Duration::from_secs(60)).await;
    let (unique, total, last) = {
        let t = rx.tally.lock().unwrap();
        (t.ids.len(), t.total, t.last)
    };
    let took = last.map(|l| l - started).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!(
        "full path: {created} posts created in 10 s ({:.0}/s, p99 {:.1} ms); {unique} deliveries received in {:.2} s = {:.0}/s end to end; duplicated {}",
        report.throughput(),
        report.p99.as_secs_f64() * 1000.0,
        took.as_secs_f64(),
        unique as f64 / took.as_secs_f64(),
        total - unique as u64
    ))
}
