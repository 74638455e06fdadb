//! Spawns identity and ticketing in-process (each on a fresh database, both on one NATS prefix)
//! and talks to ticketing as a client would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;
use platform::config::Env;
use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse battery staple";

/// How long anything asynchronous may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Polls `condition` until it holds; fails the test, naming `what`, at the deadline.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `f` until it yields a value; fails the test, naming `what`, at the deadline. For
/// conditions whose result the test goes on with (an `eventually` closure cannot hand it out).
pub async fn until_some<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub identity_addr: SocketAddr,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub prefix: String,
    pub nats: async_nats::Client,
    pub attachments: std::path::PathBuf,
    /// Everything a second replica needs to join this one.
    replica_env: Vec<(String, String)>,
    shutdown: CancellationToken,
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_map(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    platform::telemetry::init_for_tests();
    let prefix = platform::testing::unique_prefix();
    let nats_url = platform::testing::nats_url();
    let shutdown = CancellationToken::new();

    let identity_db = platform::testing::fresh_database("tk_identity").await.unwrap();
    let identity = identity::Application::build(
        identity::Config::from_env(env(&[
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("GRPC_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", identity_db.expose_secret()),
            ("DATABASE_MAX_CONNECTIONS", "5"),
            ("NATS_URL", &nats_url),
            ("NATS_PREFIX", &prefix),
            ("ARGON2_MEMORY_KIB", "256"),
            ("ARGON2_ITERATIONS", "1"),
            ("SWITCHBOARD_ENV", "development"),
        ]))
        .unwrap(),
    )
    .await
    .unwrap();
    let identity_addr = identity.http_addr();
    let identity_grpc = format!("http://{}", identity.grpc_addr());
    tokio::spawn(identity.run_until_stopped(shutdown.clone()));

    let db = platform::testing::fresh_database("ticketing").await.unwrap();
    let attachments = std::env::temp_dir().join(format!("sb-attachments-{}", uuid::Uuid::new_v4().simple()));
    let attachments_dir = attachments.to_string_lossy().to_string();
    let mut vars: Vec<(&str, &str)> = vec![
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("NATS_URL", &nats_url),
        ("NATS_PREFIX", &prefix),
        ("IDENTITY_GRPC_URL", &identity_grpc),
        ("ATTACHMENTS_DIR", &attachments_dir),
        ("SWITCHBOARD_ENV", "development"),
    ];
    vars.extend_from_slice(overrides);
    let replica_env: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let app = ticketing::Application::build(ticketing::Config::from_env(env(&vars)).unwrap()).await.unwrap();
    let addr = app.http_addr();
    let pool = app.state().pool.clone();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let nats = async_nats::connect(&nats_url).await.unwrap();
    TestApp {
        addr,
        identity_addr,
        http: reqwest::Client::new(),
        pool,
        prefix,
        nats,
        attachments,
        replica_env,
        shutdown,
    }
}

/// A signed-in user: token and ids.
#[derive(Clone)]
pub struct User {
    pub token: String,
    pub id: String,
    pub org: String,
}

impl TestApp {
    /// Starts another ticketing replica on the same database and NATS prefix; its base URL.
    pub async fn replica(&self) -> String {
        let vars: Vec<(&str, &str)> = self.replica_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = ticketing::Application::build(ticketing::Config::from_env(env(&vars)).unwrap()).await.unwrap();
        let base = format!("http://{}", app.http_addr());
        tokio::spawn(app.run_until_stopped(self.shutdown.clone()));
        base
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn identity(&self, path: &str) -> String {
        format!("http://{}{}", self.identity_addr, path)
    }

    /// A new organization with its owner.
    pub async fn owner(&self, email: &str, org: &str) -> User {
        let r = self
            .http
            .post(self.identity("/v1/auth/signup"))
            .json(&json!({"email": email, "password": PASSWORD, "name": "Owner", "organization_name": org}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        user(r.json().await.unwrap())
    }

    /// A member of `owner`'s organization with `role`, through an invitation.
    pub async fn member(&self, owner: &User, email: &str, role: &str) -> User {
        let r = self
            .http
            .post(self.identity("/v1/invitations"))
            .bearer_auth(&owner.token)
            .json(&json!({"email": email, "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let token = self.invitation_token(email).await;
        let r = self
            .http
            .post(self.identity("/v1/invitations/accept"))
            .json(&json!({"token": token, "name": "Member", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        user(r.json().await.unwrap())
    }

    async fn invitation_token(&self, email: &str) -> String {
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = js.get_stream(format!("{}_COMMANDS", self.prefix)).await.unwrap();
        let consumer = stream
            .get_or_create_consumer(
                "test-mail",
                pull::Config {
                    durable_name: Some("test-mail".into()),
                    filter_subject: format!("{}.mail.send", self.prefix),
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            let mut batch =
                consumer.fetch().max_messages(10).expires(Duration::from_millis(200)).messages().await.unwrap();
            while let Some(Ok(msg)) = batch.next().await {
                msg.ack().await.unwrap();
                let mail: Value = serde_json::from_slice(&msg.payload).unwrap();
                if mail["data"]["to"] == email && mail["data"]["template"] == "invitation" {
                    return mail["data"]["link"].as_str().unwrap().split("token=").nth(1).unwrap().to_owned();
                }
            }
        }
        panic!("no invitation for {email}");
    }

    pub async fn post(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, token).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn patch(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http.patch(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http.put(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.http.delete(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    /// Creates a ticket and returns it.
    pub async fn create(&self, user: &User, body: Value) -> Value {
        let r = self.post("/v1/tickets", &body, &user.token).await;
        assert_eq!(r.status(), StatusCode::CREATED, "create {body}");
        r.json().await.unwrap()
    }

    /// Every message on this test's stream subjects matching `filter` (e.g. `events.ticket.>`),
    /// once there are at least `at_least`; fails at the deadline.
    pub async fn messages(&self, stream: &str, filter: &str, at_least: usize) -> Vec<(String, Value)> {
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = js.get_stream(format!("{}_{stream}", self.prefix)).await.unwrap();
        let subject = format!("{}.{filter}", self.prefix);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let consumer = stream
                .create_consumer(pull::Config { filter_subject: subject.clone(), ..Default::default() })
                .await
                .unwrap();
            let mut out = Vec::new();
            let mut batch =
                consumer.fetch().max_messages(1000).expires(Duration::from_millis(300)).messages().await.unwrap();
            while let Some(Ok(msg)) = batch.next().await {
                let id =
                    msg.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string()).unwrap_or_default();
                out.push((id, serde_json::from_slice(&msg.payload).unwrap()));
            }
            if out.len() >= at_least {
                return out;
            }
            assert!(tokio::time::Instant::now() < deadline, "{} of {at_least} messages on {filter}", out.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.attachments);
    }
}

fn user(body: Value) -> User {
    User {
        token: body["access_token"].as_str().unwrap().to_owned(),
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        org: body["organization"]["id"].as_str().unwrap().to_owned(),
    }
}

pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    response.json().await.unwrap()
}

impl TestApp {
    /// The next `notify.send` commands, read until `done` says the ones read so far suffice
    /// (the command stream is a work queue: each is read once, acked). Fails at the deadline.
    async fn read_notifications(&self, done: impl Fn(&[Value]) -> bool, what: &str) -> Vec<Value> {
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = js.get_stream(format!("{}_COMMANDS", self.prefix)).await.unwrap();
        let consumer = stream
            .get_or_create_consumer(
                "test-notify",
                pull::Config {
                    durable_name: Some("test-notify".into()),
                    filter_subject: format!("{}.notify.send", self.prefix),
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut out: Vec<Value> = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(&out) {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}; got {out:?}");
            let mut batch =
                consumer.fetch().max_messages(1).expires(Duration::from_millis(200)).messages().await.unwrap();
            while let Some(Ok(msg)) = batch.next().await {
                msg.ack().await.unwrap();
                out.push(serde_json::from_slice(&msg.payload).unwrap());
            }
        }
        out
    }

    /// The next `n` notifications; fails if they do not all come in time.
    pub async fn notifications(&self, n: usize) -> Vec<Value> {
        self.read_notifications(|got| got.len() >= n, &format!("{n} notifications")).await
    }

    /// Every notification up to and including the first one `marker` accepts. The relay sends in
    /// the order of writing, so a notification that should not exist and was written before the
    /// marker would be among them: a test asserts absence only after the marker arrived.
    pub async fn notifications_until(&self, marker: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.read_notifications(|got| got.last().is_some_and(&marker), "the marker notification").await
    }

    /// An API key of `owner`'s organization with `role` and `scopes`.
    pub async fn api_key(&self, owner: &User, role: &str, scopes: &[&str]) -> String {
        let r = self
            .http
            .post(self.identity("/v1/api-keys"))
            .bearer_auth(&owner.token)
            .json(&json!({"name": format!("{role} key"), "role": role, "scopes": scopes}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "api key");
        r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
    }

    /// Uploads `bytes` as a file of `mime` to the ticket; the response.
    pub async fn upload(&self, ticket: &str, token: &str, bytes: &[u8], name: &str, mime: &str) -> Response {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()).mime_str(mime).unwrap();
        self.http
            .post(self.url(&format!("/v1/tickets/{ticket}/attachments")))
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap()
    }
}

/// The fields a 422 names.
pub async fn invalid_fields(response: Response) -> Vec<String> {
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}
