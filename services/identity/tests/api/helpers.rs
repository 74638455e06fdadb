//! Spawns identity in-process on port 0 with a fresh database and its own NATS prefix, and
//! talks to it the way a client would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;
use identity::{Application, Config};
use platform::config::Env;
use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub prefix: String,
    pub database_url: String,
    pub nats: async_nats::Client,
    /// What internal gRPC callers present.
    pub service_token: platform::grpc::ServiceToken,
    /// Every mail read so far (the command stream is a work queue: a read mail is gone).
    pub seen_mails: std::sync::Mutex<Vec<Value>>,
    pub shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Variables every test instance gets; `overrides` win.
pub fn test_env(database_url: &str, prefix: &str, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = [
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", database_url),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("NATS_PREFIX", prefix),
        // Cheap hashes keep the suite fast; production uses the OWASP parameters.
        ("ARGON2_MEMORY_KIB", "256"),
        ("ARGON2_ITERATIONS", "1"),
        ("SHUTDOWN_GRACE_SECS", "2"),
        ("SWITCHBOARD_ENV", "development"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.insert("NATS_URL".into(), platform::testing::nats_url());
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    vars
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    platform::telemetry::init_for_tests();
    let db = platform::testing::fresh_database("identity").await.expect("test database");
    let prefix = platform::testing::unique_prefix();
    spawn_on(db.expose_secret(), &prefix, overrides).await
}

/// Another instance on the same database and prefix: a second replica.
pub async fn spawn_on(database_url: &str, prefix: &str, overrides: &[(&str, &str)]) -> TestApp {
    let config = Config::from_env(Env::from_map(test_env(database_url, prefix, overrides))).expect("config");
    let service_token = config.common.service_token();
    let app = Application::build(config).await.expect("identity builds");
    let addr = app.http_addr();
    let grpc_addr = app.grpc_addr();
    let pool = app.state().pool.clone();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let nats = async_nats::connect(platform::testing::nats_url()).await.expect("nats");
    TestApp {
        addr,
        grpc_addr,
        http: reqwest::Client::new(),
        pool,
        prefix: prefix.to_owned(),
        database_url: database_url.to_owned(),
        nats,
        service_token,
        seen_mails: Default::default(),
        shutdown,
        task: Some(task),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    pub async fn patch(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http.patch(self.url(path)).bearer_auth(token).json(body).send().await.expect("request")
    }

    pub async fn put(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http.put(self.url(path)).bearer_auth(token).json(body).send().await.expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.http.delete(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    /// Signs up `email` with a new organization and returns the response body.
    pub async fn signup(&self, email: &str, org: &str) -> Value {
        let r = self
            .post(
                "/v1/auth/signup",
                &json!({"email": email, "password": PASSWORD, "name": "Test User", "organization_name": org}),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "signup of {email}");
        r.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/v1/auth/login", &json!({"email": email, "password": password}), None).await
    }

    /// The mail commands sent so far, read from this test's `mail.send` subject.
    pub async fn mails(&self, expected: usize) -> Vec<Value> {
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = js.get_stream(format!("{}_COMMANDS", self.prefix)).await.expect("commands stream");
        let consumer = stream
            .get_or_create_consumer(
                "test-mail-reader",
                pull::Config {
                    durable_name: Some("test-mail-reader".into()),
                    filter_subject: format!("{}.mail.send", self.prefix),
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .expect("mail consumer");
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while out.len() < expected && tokio::time::Instant::now() < deadline {
            let mut batch = consumer
                .fetch()
                .max_messages(expected - out.len())
                .expires(Duration::from_millis(300))
                .messages()
                .await
                .expect("fetch");
            while let Some(Ok(msg)) = batch.next().await {
                msg.ack().await.expect("ack");
                out.push(serde_json::from_slice(&msg.payload).expect("mail json"));
            }
        }
        assert!(out.len() >= expected, "expected {expected} mails, got {}", out.len());
        self.seen_mails.lock().unwrap().extend(out.iter().cloned());
        out
    }

    /// The token in the link of the newest mail with `template` to `to`.
    pub async fn token_from_mail(&self, to: &str, template: &str) -> String {
        for _ in 0..50 {
            let mails = self.mails(1).await;
            if let Some(m) = mails.iter().rev().find(|m| m["data"]["to"] == to && m["data"]["template"] == template) {
                let link = m["data"]["link"].as_str().unwrap();
                return link.split("token=").nth(1).unwrap().to_owned();
            }
        }
        panic!("no {template} mail to {to}");
    }

    /// Every event on this test's `EVENTS` stream: (headers' Nats-Msg-Id, body).
    pub async fn events(&self, expected: usize) -> Vec<(String, Value)> {
        self.stream_messages("EVENTS", expected).await
    }

    /// The messages of stream `{prefix}_{name}` once it holds `expected` (or at a deadline).
    async fn stream_messages(&self, name: &str, expected: usize) -> Vec<(String, Value)> {
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = js.get_stream(format!("{}_{name}", self.prefix)).await.expect("stream");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let consumer = stream
                .create_consumer(pull::Config { deliver_policy: DeliverPolicy::All, ..Default::default() })
                .await
                .expect("consumer");
            let info = stream.get_info().await.expect("stream info");
            let total = info.state.messages as usize;
            if total >= expected || tokio::time::Instant::now() >= deadline {
                let mut out = Vec::new();
                if total > 0 {
                    let mut batch = consumer
                        .fetch()
                        .max_messages(total)
                        .expires(Duration::from_secs(2))
                        .messages()
                        .await
                        .expect("fetch");
                    while let Some(Ok(msg)) = batch.next().await {
                        let id = msg
                            .headers
                            .as_ref()
                            .and_then(|h| h.get("Nats-Msg-Id"))
                            .map(|v| v.to_string())
                            .unwrap_or_default();
                        out.push((id, serde_json::from_slice(&msg.payload).expect("message json")));
                        if out.len() == total {
                            break;
                        }
                    }
                }
                return out;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first event of `event_type` whose body satisfies `matches`, waiting for it up to a
    /// deadline.
    pub async fn event(&self, event_type: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let found =
                self.events(0).await.into_iter().map(|(_, e)| e).find(|e| e["type"] == event_type && matches(e));
            if let Some(e) = found {
                return e;
            }
            assert!(tokio::time::Instant::now() < deadline, "no {event_type} event");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `condition` (a SQL boolean) until it holds, failing at a deadline.
    pub async fn until_db(&self, condition: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let holds: bool = sqlx::query_scalar(&format!("SELECT {condition}")).fetch_one(&self.pool).await.unwrap();
            if holds {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{condition} never held");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        let _ = self.stop_result().await;
    }

    /// Fires the shutdown token and answers what `run_until_stopped` returned.
    pub async fn stop_result(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(10), task).await??
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// Asserts a problem+json response with `status` quoting the response's request id, returning
/// its body without that id (two answers that must be the same are compared as wholes).
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let ct = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    // A replay is the first answer as it was stored, with the first request's id, if any.
    let replayed = response.headers().contains_key("idempotent-replayed");
    let mut body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().unwrap().starts_with("https://"));
    let quoted = body.as_object_mut().unwrap().remove("request_id");
    if !replayed {
        assert_eq!(quoted.as_ref().and_then(Value::as_str), id.as_deref(), "the problem quotes the request id");
    }
    body
}

/// Asserts a 422 naming `field` among its errors.
pub async fn assert_invalid(response: Response, field: &str) -> Value {
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&field), "{field} named in {fields:?}");
    body
}

pub fn token(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}
