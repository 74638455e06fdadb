//! Spawns identity and inbox-sync in-process (fresh databases, one NATS prefix) beside a
//! stand-in for Meta's Graph API, and talks to them as clients and platforms would.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::{get, post};
use futures::StreamExt;
use platform::config::Env;
use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse battery staple";
pub const META_SECRET: &str = "test_meta_app_secret_0123456789ab";
pub const VERIFY_TOKEN: &str = "VERIFY_ME_3f9a";
pub const TIKTOK_SECRET: &str = "test_tiktok_client_secret_abcdef";
/// The token the Graph stand-in accepts.
pub const GOOD_TOKEN: &str = "EAAG-good-system-user-token";
/// The fixtures' WhatsApp phone number id and business account.
pub const PHONE_ID: &str = "106540352242922";
pub const WABA_ID: &str = "102290129340398";
pub const WAIT: Duration = Duration::from_secs(10);
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/platforms");

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

/// The signature header the fixtures' manifest gives for `file`.
pub fn manifest_header(file: &str, header: &str) -> String {
    let m: Value = serde_json::from_slice(&fixture("manifest.json")).unwrap();
    let f = m["files"].as_array().unwrap().iter().find(|f| f["file"] == file).unwrap().clone();
    f["headers"][header].as_str().unwrap().to_owned()
}

pub fn sign(body: &[u8]) -> String {
    inbox_sync::platforms::signature::meta_sign(META_SECRET.as_bytes(), body)
}

/// Polls `f` until it yields a value; fails naming `what` at the deadline.
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
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// What the Graph stand-in was asked, and what it answers next.
#[derive(Default)]
pub struct Graph {
    /// Every send: (path, authorization header, JSON body).
    pub sends: Mutex<Vec<(String, String, Value)>>,
    /// Scripted answers to sends, first first; when empty, 200 with a fresh id.
    pub script: Mutex<VecDeque<(u16, Value)>>,
    /// Ids to hand out for successful sends, first first; when empty, `wamid.OUT<n>`.
    pub ids: Mutex<VecDeque<String>>,
}

impl Graph {
    pub fn answer(&self, status: u16, body: Value) {
        self.script.lock().unwrap().push_back((status, body));
    }

    pub fn sends(&self) -> Vec<(String, String, Value)> {
        self.sends.lock().unwrap().clone()
    }
}

async fn phone(
    State(g): State<Arc<Graph>>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> (AxumStatus, axum::Json<Value>) {
    let _ = g;
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth == format!("Bearer {GOOD_TOKEN}") {
        (
            AxumStatus::OK,
            axum::Json(json!({"id": id, "verified_name": "Acme Support", "display_phone_number": "+1 555-078-3881"})),
        )
    } else {
        (
            AxumStatus::UNAUTHORIZED,
            axum::Json(
                json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}),
            ),
        )
    }
}

async fn send(
    State(g): State<Arc<Graph>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (AxumStatus, axum::Json<Value>) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let n = {
        let mut sends = g.sends.lock().unwrap();
        sends.push((uri.path().to_owned(), auth, body.clone()));
        sends.len()
    };
    if let Some((status, answer)) = g.script.lock().unwrap().pop_front() {
        return (AxumStatus::from_u16(status).unwrap(), axum::Json(answer));
    }
    let id = g.ids.lock().unwrap().pop_front();
    if uri.path().ends_with("/me/messages") {
        let id = id.unwrap_or_else(|| format!("m_OUT{n}"));
        return (AxumStatus::OK, axum::Json(json!({"recipient_id": body["recipient"]["id"], "message_id": id})));
    }
    let id = id.unwrap_or_else(|| format!("wamid.OUT{n}"));
    (
        AxumStatus::OK,
        axum::Json(
            json!({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}], "messages": [{"id": id}]}),
        ),
    )
}

async fn graph_standin() -> (String, Arc<Graph>) {
    let graph = Arc::new(Graph::default());
    let app = axum::Router::new()
        .route("/{version}/me/messages", post(send))
        .route("/{version}/{id}/messages", post(send))
        .route("/{version}/{id}", get(phone))
        .with_state(graph.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), graph)
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub identity_addr: SocketAddr,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub prefix: String,
    pub nats: async_nats::Client,
    pub graph: Arc<Graph>,
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
    let identity_db = platform::testing::fresh_database("ib_identity").await.unwrap();
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

    let (graph_url, graph) = graph_standin().await;
    let db = platform::testing::fresh_database("inbox").await.unwrap();
    let mut vars: Vec<(&str, &str)> = vec![
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("NATS_URL", &nats_url),
        ("NATS_PREFIX", &prefix),
        ("IDENTITY_GRPC_URL", &identity_grpc),
        ("SWITCHBOARD_ENV", "development"),
        ("META_APP_SECRET", META_SECRET),
        ("META_VERIFY_TOKEN", VERIFY_TOKEN),
        ("TIKTOK_CLIENT_SECRET", TIKTOK_SECRET),
        ("META_GRAPH_URL", &graph_url),
        ("INSTAGRAM_GRAPH_URL", &graph_url),
        ("SEND_BACKOFF_SECS", "0.05"),
    ];
    vars.extend_from_slice(overrides);
    let app = inbox_sync::Application::build(inbox_sync::Config::from_env(env(&vars)).unwrap()).await.unwrap();
    let addr = app.http_addr();
    let pool = app.state().pool.clone();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let nats = async_nats::connect(&nats_url).await.unwrap();
    TestApp { addr, identity_addr, http: reqwest::Client::new(), pool, prefix, nats, graph, shutdown }
}

/// A signed-in user: token and ids.
#[derive(Clone)]
pub struct User {
    pub token: String,
    pub id: String,
    pub org: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new organization with its owner.
    pub async fn owner(&self, email: &str, org: &str) -> User {
        let r = self
            .http
            .post(format!("http://{}/v1/auth/signup", self.identity_addr))
            .json(&json!({"email": email, "password": PASSWORD, "name": "Owner", "organization_name": org}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let body: Value = r.json().await.unwrap();
        User {
            token: body["access_token"].as_str().unwrap().to_owned(),
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            org: body["organization"]["id"].as_str().unwrap().to_owned(),
        }
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

    /// Posts a body as Meta would: raw bytes, with `signature` as `X-Hub-Signature-256`.
    pub async fn meta(&self, path: &str, body: &[u8], signature: Option<&str>) -> Response {
        let mut r = self.http.post(self.url(path)).header("content-type", "application/json").body(body.to_vec());
        if let Some(s) = signature {
            r = r.header("x-hub-signature-256", s);
        }
        r.send().await.unwrap()
    }

    /// Connects the fixtures' WhatsApp number to `owner`'s organization.
    pub async fn connect_whatsapp(&self, owner: &User) -> Value {
        let body = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA_ID, "access_token": GOOD_TOKEN});
        let r = self.post("/v1/connections/whatsapp", &body, &owner.token).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.unwrap()
    }

    /// Every message on this test's `stream` matching `filter` (`events.inbox.>`), once there are
    /// at least `at_least`.
    pub async fn messages(&self, stream: &str, filter: &str, at_least: usize) -> Vec<Value> {
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = js.get_stream(format!("{}_{stream}", self.prefix)).await.unwrap();
        let subject = format!("{}.{filter}", self.prefix);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let consumer = stream
                .create_consumer(pull::Config {
                    filter_subject: subject.clone(),
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut out = Vec::new();
            let mut batch =
                consumer.fetch().max_messages(1000).expires(Duration::from_millis(300)).messages().await.unwrap();
            while let Some(Ok(msg)) = batch.next().await {
                out.push(serde_json::from_slice(&msg.payload).unwrap());
            }
            if out.len() >= at_least {
                return out;
            }
            assert!(tokio::time::Instant::now() < deadline, "{} of {at_least} messages on {filter}", out.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
    }
}

pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    response.json().await.unwrap()
}
