//! Identity and the dispatcher in-process on one NATS prefix; receivers are small local HTTP
//! servers that verify every signature and answer as each test scripts them.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use platform::bus::{Bus, CloudEvent};
use platform::config::Env;
use reqwest::Response;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub identity: String,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub bus: Bus,
    vars: Vec<(String, String)>,
    pub shutdown: CancellationToken,
}

fn env(pairs: &[(String, String)]) -> Env {
    Env::from_map(pairs.iter().cloned().collect::<HashMap<_, _>>())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    platform::telemetry::init_for_tests();
    let prefix = platform::testing::unique_prefix();
    let nats = platform::testing::nats_url();
    let shutdown = CancellationToken::new();
    let identity_db = platform::testing::fresh_database("wh_identity").await.unwrap();
    let owned =
        |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
    let identity = identity::Application::build(
        identity::Config::from_env(env(&owned(&[
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("GRPC_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", identity_db.expose_secret()),
            ("DATABASE_MAX_CONNECTIONS", "5"),
            ("NATS_URL", &nats),
            ("NATS_PREFIX", &prefix),
            ("ARGON2_MEMORY_KIB", "256"),
            ("ARGON2_ITERATIONS", "1"),
            ("SWITCHBOARD_ENV", "development"),
        ])))
        .unwrap(),
    )
    .await
    .unwrap();
    let identity_base = format!("http://{}", identity.http_addr());
    let identity_grpc = format!("http://{}", identity.grpc_addr());
    tokio::spawn(identity.run_until_stopped(shutdown.clone()));

    let db = platform::testing::fresh_database("webhooks").await.unwrap();
    let mut vars = owned(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
        ("IDENTITY_GRPC_URL", &identity_grpc),
        // Receivers are local servers: allow loopback, as the local run command does.
        ("WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
        ("WEBHOOK_RETRY_SCHEDULE_SECS", "0,0.2,0.2,0.2"),
        ("WEBHOOK_RETRY_JITTER", "0"),
        ("WEBHOOK_TIMEOUT_SECS", "2"),
        ("WEBHOOK_LEASE_SECS", "3"),
        ("DEV_MAILBOX", "true"),
        ("SHUTDOWN_GRACE_SECS", "2"),
        ("SWITCHBOARD_ENV", "development"),
    ]);
    for (k, v) in overrides {
        vars.retain(|(key, _)| key != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    let (base, pool) = start(&vars, shutdown.clone()).await;
    let bus = Bus::connect(&nats, &prefix, "test").await.unwrap();
    TestApp { base, identity: identity_base, http: reqwest::Client::new(), pool, bus, vars, shutdown }
}

async fn start(vars: &[(String, String)], shutdown: CancellationToken) -> (String, PgPool) {
    let app = webhooks_dispatcher::Application::build(webhooks_dispatcher::Config::from_env(env(vars)).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.http_addr());
    let pool = app.state().pool.clone();
    tokio::spawn(app.run_until_stopped(shutdown));
    (base, pool)
}

#[derive(Clone)]
pub struct User {
    pub token: String,
    pub id: Uuid,
    pub org: Uuid,
}

impl TestApp {
    /// Another replica on the same database and prefix, stopped by its own token; `overrides`
    /// change its settings.
    pub async fn replica(&self, stop: CancellationToken, overrides: &[(&str, &str)]) -> String {
        let mut vars = self.vars.clone();
        for (k, v) in overrides {
            vars.retain(|(key, _)| key != k);
            vars.push(((*k).to_owned(), (*v).to_owned()));
        }
        start(&vars, stop).await.0
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn owner(&self, email: &str, org: &str) -> User {
        let r: Value = self
            .http
            .post(format!("{}/v1/auth/signup", self.identity))
            .json(&json!({"email": email, "password": PASSWORD, "name": "Owner", "organization_name": org}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        User {
            token: r["access_token"].as_str().unwrap().to_owned(),
            id: r["user"]["id"].as_str().unwrap().parse().unwrap(),
            org: r["organization"]["id"].as_str().unwrap().parse().unwrap(),
        }
    }

    /// An API key of `owner`'s organization with `scopes`, acting as an admin.
    pub async fn api_key(&self, owner: &User, scopes: &[&str]) -> String {
        let r = self
            .http
            .post(format!("{}/v1/api-keys", self.identity))
            .bearer_auth(&owner.token)
            .json(&json!({"name": "Test key", "scopes": scopes, "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "create API key");
        r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
    }

    /// The events of this test's prefix whose type starts with `prefix`, once there are `n`.
    pub async fn events(&self, prefix: &str, n: usize) -> Vec<CloudEvent<Value>> {
        use async_nats::jetstream::consumer::{pull, DeliverPolicy};
        use futures::StreamExt;
        let stream = self.bus.jetstream.get_stream(self.bus.stream_name(platform::bus::EVENTS_STREAM)).await.unwrap();
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                filter_subject: self.bus.subject("events.>"),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut found = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while found.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(Some(Ok(m))) = tokio::time::timeout(left, messages.next()).await else {
                panic!("{} of {n} {prefix}* events within 10 s", found.len());
            };
            let _ = m.ack().await;
            let event: CloudEvent<Value> = serde_json::from_slice(&m.payload).unwrap();
            if event.event_type.starts_with(prefix) {
                found.push(event);
            }
        }
        found
    }

    /// Waits until no delivery is pending (every recorded delivery finished).
    pub async fn settled(&self) {
        let pool = self.pool.clone();
        eventually("no pending deliveries", || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status = 'pending'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                (n == 0).then_some(())
            }
        })
        .await
    }

    pub async fn post(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let r = self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    /// Creates an endpoint; returns (id, secret).
    pub async fn endpoint(&self, user: &User, body: Value) -> (String, String) {
        let r = self.post("/v1/webhooks", &body, &user.token).await;
        assert_eq!(r.status(), StatusCode::CREATED, "create endpoint {body}");
        let v: Value = r.json().await.unwrap();
        (v["id"].as_str().unwrap().to_owned(), v["secret"].as_str().unwrap().to_owned())
    }

    /// Publishes an event of `org` as a service would (through JetStream, with its id as message id).
    pub async fn publish(&self, org: Uuid, event_type: &str, data: Value) -> Uuid {
        let event = CloudEvent::new("switchboard/test", event_type, Some(org), None, data);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        self.bus
            .jetstream
            .publish_with_headers(
                self.bus.event_subject(event_type),
                headers,
                serde_json::to_vec(&event).unwrap().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        event.id
    }

    /// A command (`mail.send`, `notify.send`) as a service would send it.
    pub async fn command<T: serde::Serialize>(&self, subject: &str, org: Option<Uuid>, data: T) {
        let event = CloudEvent::new("switchboard/test", subject, org, None, data);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        self.bus
            .jetstream
            .publish_with_headers(self.bus.subject(subject), headers, serde_json::to_vec(&event).unwrap().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub user_agent: String,
    pub body: Value,
    pub raw: Bytes,
    pub at: Instant,
}

/// Statuses (and Retry-After seconds) to answer, in turn.
/// Each answer: status, `Retry-After`, body.
type Script = Arc<Mutex<VecDeque<(u16, Option<u64>, &'static [u8])>>>;

/// A receiver: answers the scripted statuses in turn (then 200), records what it gets.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Script,
    delay: Arc<Mutex<Duration>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(Mutex::new(VecDeque::new()));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let (g, s, d) = (got.clone(), script.clone(), delay.clone());
        let handler = move |headers: HeaderMap, body: Bytes| {
            let (g, s, d) = (g.clone(), s.clone(), d.clone());
            async move {
                let wait = *d.lock().unwrap();
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                g.lock().unwrap().push(Received {
                    id: h("webhook-id"),
                    timestamp: h("webhook-timestamp").parse().unwrap_or(0),
                    signature: h("webhook-signature"),
                    user_agent: h("user-agent"),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    raw: body,
                    at: Instant::now(),
                });
                let (status, retry_after, answer) = s.lock().unwrap().pop_front().unwrap_or((200, None, b"ok"));
                let mut response = axum::http::Response::builder().status(status);
                if let Some(ra) = retry_after {
                    response = response.header("retry-after", ra.to_string());
                }
                response.body(axum::body::Body::from(answer)).unwrap()
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let router = axum::Router::new().route("/hook", axum::routing::post(handler));
            let _ = axum::serve(listener, router).await;
        });
        Self { url: format!("http://{addr}/hook"), got, script, delay }
    }

    pub fn answer(&self, status: u16, retry_after: Option<u64>) {
        self.script.lock().unwrap().push_back((status, retry_after, b"ok"));
    }

    /// The next answer is `status` with `body`.
    pub fn answer_with(&self, status: u16, body: &'static [u8]) {
        self.script.lock().unwrap().push_back((status, None, body));
    }

    pub fn slow(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived, then returns every one received so far; fails
    /// the test, saying how many of the `n` came and what they were, if fewer arrived within 10 s.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.got.lock().unwrap().len() >= n {
                return self.received();
            }
            if Instant::now() >= deadline {
                let got = self.received();
                let types: Vec<&str> = got.iter().map(|r| r.body["type"].as_str().unwrap_or("?")).collect();
                panic!("timed out: only {} of {n} deliveries reached {} within 10 s: {types:?}", got.len(), self.url);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls `check` until it gives a value; fails the test at a 10 s deadline naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Verifies like a Standard Webhooks library.
pub fn verified(r: &Received, secret: &str) -> bool {
    let age = chrono::Utc::now().timestamp() - r.timestamp;
    (0..300).contains(&age) && webhooks_dispatcher::signing::verify(secret, &r.id, r.timestamp, &r.raw, &r.signature)
}

pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    response.json().await.unwrap()
}
