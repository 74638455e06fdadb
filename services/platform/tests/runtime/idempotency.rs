//! `Idempotency-Key`: one effect per key and caller, nothing remembered that depends on the
//! moment or on the credentials, and claims of dead requests freed after their lease.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::app::App;
use crate::support::{self, client, count, setup, Replica, ALICE, BOB, MALLORY, ORG_KEY};

struct Call<'a> {
    url: String,
    key: &'a str,
    bearer: Option<&'a str>,
    forwarded_for: Option<&'a str>,
    body: Value,
}

impl<'a> Call<'a> {
    fn new(base: &str, path: &str, key: &'a str, bearer: Option<&'a str>) -> Self {
        Self { url: format!("{base}{path}"), key, bearer, forwarded_for: None, body: json!({"name": "x"}) }
    }

    async fn send(&self) -> reqwest::Response {
        let mut req = client().post(&self.url).header("idempotency-key", self.key).json(&self.body);
        if let Some(b) = self.bearer {
            req = req.bearer_auth(b);
        }
        if let Some(xff) = self.forwarded_for {
            req = req.header("x-forwarded-for", xff);
        }
        req.send().await.unwrap()
    }
}

fn replayed(r: &reqwest::Response) -> bool {
    r.headers().get("idempotent-replayed").is_some_and(|v| v == "true")
}

async fn run_of(r: reqwest::Response) -> u64 {
    r.json::<Value>().await.unwrap()["run"].as_u64().unwrap()
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response_once_per_principal() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool.clone(), bus)).await;

    let first = Call::new(&server.url, "/things", "k1", Some(ALICE)).send().await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(&first));
    let first_body: Value = first.json().await.unwrap();

    let again = Call::new(&server.url, "/things", "k1", Some(ALICE)).send().await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(replayed(&again));
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    assert_eq!(app.runs(), 1, "the handler ran once");

    // Another user of the same organization, the organization's API key, and a user of another
    // organization each get their own effect: keys never collide across principals.
    for (n, other) in [BOB, ORG_KEY, MALLORY].into_iter().enumerate() {
        let r = Call::new(&server.url, "/things", "k1", Some(other)).send().await;
        assert_eq!(r.status(), StatusCode::CREATED, "{other}");
        assert!(!replayed(&r), "{other}");
        assert_eq!(run_of(r).await, n as u64 + 2, "{other}");
    }

    let mut changed = Call::new(&server.url, "/things", "k1", Some(ALICE));
    changed.body = json!({"name": "y"});
    let r = changed.send().await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.runs(), 4);
}

#[tokio::test]
async fn a_bogus_bearer_is_refused_and_claims_nothing() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool.clone(), bus)).await;

    let r = Call::new(&server.url, "/things", "k2", Some("not-a-credential")).send().await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(count(&pool, "SELECT count(*) FROM idempotency_keys").await, 0);
    assert_eq!(app.runs(), 0);

    let r = Call::new(&server.url, "/things", "k2", Some(ALICE)).send().await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(!replayed(&r));
    assert_eq!(app.runs(), 1);
}

#[tokio::test]
async fn forbidden_throttled_and_unavailable_answers_are_not_remembered() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool.clone(), bus)).await;

    // 401 here is the handler's, after the credential passed the boundary: the key was claimed.
    for status in [401u16, 403, 429, 503] {
        let path = format!("/fail/{status}");
        let before = app.runs();
        for _ in 0..2 {
            let r = Call::new(&server.url, &path, "k3", Some(ALICE)).send().await;
            assert_eq!(r.status().as_u16(), status);
            assert!(!replayed(&r));
        }
        assert_eq!(app.runs(), before + 2, "a retry after {status} runs the handler again");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM idempotency_keys").await, 0);
}

#[tokio::test]
async fn anonymous_callers_are_scoped_by_client_address_and_path() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool.clone(), bus)).await;
    let call = |path, xff| {
        let mut c = Call::new(&server.url, path, "k4", None);
        c.forwarded_for = Some(xff);
        c
    };

    let r = call("/public/things", "203.0.113.9, 198.51.100.1").send().await;
    assert_eq!((r.status(), replayed(&r)), (StatusCode::CREATED, false));
    // The edge appends the address it saw; earlier hops are whatever the client claimed.
    let r = call("/public/things", "192.0.2.77, 198.51.100.1").send().await;
    assert_eq!((r.status(), replayed(&r)), (StatusCode::CREATED, true));
    assert_eq!(app.runs(), 1);

    let r = call("/public/things", "203.0.113.9, 198.51.100.2").send().await;
    assert_eq!((r.status(), replayed(&r)), (StatusCode::CREATED, false), "another client");
    let r = call("/public/other", "203.0.113.9, 198.51.100.1").send().await;
    assert_eq!((r.status(), replayed(&r)), (StatusCode::CREATED, false), "another route");
    assert_eq!(app.runs(), 3);
}

#[tokio::test]
async fn a_claim_under_lease_is_busy_and_a_dead_requests_claim_is_reclaimed_after_it() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let survivor = app.serve(&support::runtime(pool.clone(), bus.clone())).await;

    // A replica takes the claim and dies with the request running.
    let replica_pool = support::pool_like(&pool);
    let router = {
        let mut replica_app = app.clone();
        replica_app.pool = replica_pool.clone();
        replica_app.router(&support::runtime(replica_pool, bus), &support::common_config(&[]))
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let replica_url = format!("http://{}", listener.local_addr().unwrap());
    let replica = Replica::start(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = axum::serve(listener, router).await;
    });
    let hanging = tokio::spawn(async move { Call::new(&replica_url, "/block", "k5", Some(ALICE)).send().await });
    tokio::time::timeout(Duration::from_secs(10), app.started.notified()).await.expect("the handler started");
    replica.kill();
    hanging.abort();

    // The claim is still leased: the retry is told to come back, not run twice.
    let r = Call::new(&survivor.url, "/block", "k5", Some(ALICE)).send().await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(app.runs(), 1);

    // Once the lease is over (30 s; moved to the past here), the retry runs.
    sqlx::query("UPDATE idempotency_keys SET locked_until = now() - interval '1 second'").execute(&pool).await.unwrap();
    let retry = tokio::spawn({
        let url = survivor.url.clone();
        async move { Call::new(&url, "/block", "k5", Some(ALICE)).send().await }
    });
    tokio::time::timeout(Duration::from_secs(10), app.started.notified()).await.expect("the retry ran");
    assert_eq!(app.runs(), 2);
    retry.abort();
}

#[tokio::test]
async fn a_request_abandoned_by_its_client_frees_its_key_within_the_lease() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool.clone(), bus)).await;

    let url = server.url.clone();
    let gone = tokio::spawn(async move { Call::new(&url, "/block", "k6", Some(ALICE)).send().await });
    tokio::time::timeout(Duration::from_secs(10), app.started.notified()).await.expect("the handler started");
    gone.abort();
    tokio::time::timeout(Duration::from_secs(10), app.abandoned.notified()).await.expect("the server dropped it");

    // The client retries as told (Retry-After) until its key is free: within the 30 s lease, not
    // 24 hours later.
    let deadline = Instant::now() + Duration::from_secs(45);
    let retry = loop {
        let url = server.url.clone();
        let mut attempt = tokio::spawn(async move { Call::new(&url, "/block", "k6", Some(ALICE)).send().await });
        let answered = tokio::select! {
            _ = app.started.notified() => None,
            answer = &mut attempt => Some(answer.unwrap()),
        };
        let Some(answer) = answered else { break attempt };
        assert_eq!(answer.status(), StatusCode::CONFLICT);
        let wait: u64 = answer.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(Instant::now() < deadline, "the key is still claimed after 45 s");
        tokio::time::sleep(Duration::from_secs(wait)).await;
    };
    assert_eq!(app.runs(), 2);
    retry.abort();
}
