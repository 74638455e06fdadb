//! Spawns identity and inbox-sync in-process (fresh databases, one NATS prefix) beside a
//! stand-in for Meta's Graph API, and talks to them as clients and platforms would.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use axum::extract::{Path, Query, State};
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
pub const META_APP_ID: &str = "1234567890123456";
pub const TIKTOK_CLIENT_KEY: &str = "awtestclientkey";
/// The token the Graph stand-in accepts.
pub const GOOD_TOKEN: &str = "EAAG-good-system-user-token";
/// The fixtures' WhatsApp phone number id and business account.
pub const PHONE_ID: &str = "106540352242922";
pub const WABA_ID: &str = "102290129340398";
/// The fixtures' media id: the Graph API has it only while a test puts it in `Graph::media`.
pub const MEDIA_GONE: &str = "1234567890123456";
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
    /// The OAuth providers' side (Facebook, Instagram, TikTok Business).
    pub oauth: Mutex<Providers>,
    /// Media by id.
    pub media: Mutex<HashMap<String, StandinMedia>>,
    /// Media lookups and downloads asked for.
    pub media_calls: Mutex<Vec<String>>,
    /// Where this stand-in listens.
    pub base: Mutex<String>,
}

/// A media file the stand-in holds: the type it is declared as, the type it is served as, bytes.
pub type StandinMedia = (String, String, Vec<u8>);

/// What the OAuth stand-ins were asked and what they hold.
#[derive(Debug, Default)]
pub struct Providers {
    /// Every OAuth call: method, path and query or body, in order.
    pub calls: Vec<String>,
    /// TikTok's refresh token that is good now (each refresh rotates it).
    pub tiktok_refresh: String,
    pub tiktok_rotations: u32,
    /// Instagram refuses refreshes (the grant was revoked).
    pub instagram_refuses: bool,
    pub instagram_refreshes: u32,
    /// Pages subscribed to our app's webhooks.
    pub subscribed: Vec<String>,
}

/// The authorization code the stand-ins accept.
pub const GOOD_CODE: &str = "AQD-good-code";
pub const PAGES: [(&str, &str, &str); 2] =
    [("104200000000001", "Acme Support", "EAApageToken1"), ("104200000000002", "Acme Shop", "EAApageToken2")];
pub const IG_ACCOUNT: &str = "17841400000000001";
pub const TIKTOK_ACCOUNT: &str = "-000BUSINESSOPENID0000000000000000";

fn refused(message: &str) -> (AxumStatus, axum::Json<Value>) {
    (AxumStatus::BAD_REQUEST, axum::Json(json!({"error": {"message": message, "type": "OAuthException", "code": 100}})))
}

async fn facebook_token(
    State(g): State<Arc<Graph>>,
    Query(q): Query<HashMap<String, String>>,
) -> (AxumStatus, axum::Json<Value>) {
    g.oauth.lock().unwrap().calls.push(format!("GET facebook oauth/access_token {q:?}"));
    if q.get("client_secret").map(String::as_str) != Some(META_SECRET) {
        return refused("Error validating client secret.");
    }
    if q.get("grant_type").map(String::as_str) == Some("fb_exchange_token") {
        return match q.get("fb_exchange_token").map(String::as_str) {
            Some("EAAtestShortLivedUserToken") => (
                AxumStatus::OK,
                axum::Json(serde_json::from_slice(&fixture("oauth/fb_exchange_token_response.json")).unwrap()),
            ),
            _ => refused("Invalid OAuth access token."),
        };
    }
    match q.get("code").map(String::as_str) {
        Some(GOOD_CODE) => (
            AxumStatus::OK,
            axum::Json(
                json!({"access_token": "EAAtestShortLivedUserToken", "token_type": "bearer", "expires_in": 3600}),
            ),
        ),
        _ => refused("This authorization code has been used."),
    }
}

async fn facebook_pages(State(g): State<Arc<Graph>>, headers: HeaderMap) -> (AxumStatus, axum::Json<Value>) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    g.oauth.lock().unwrap().calls.push(format!("GET facebook me/accounts {auth}"));
    if auth != "Bearer EAAtestLongLivedUserToken" {
        return refused("Invalid OAuth access token.");
    }
    let data: Vec<Value> = PAGES
        .iter()
        .map(|(id, name, token)| json!({"id": id, "name": name, "access_token": token, "category": "Shop"}))
        .collect();
    (AxumStatus::OK, axum::Json(json!({ "data": data })))
}

async fn subscribe(
    State(g): State<Arc<Graph>>,
    Path((_v, page)): Path<(String, String)>,
) -> (AxumStatus, axum::Json<Value>) {
    g.oauth.lock().unwrap().subscribed.push(page);
    (AxumStatus::OK, axum::Json(json!({"success": true})))
}

async fn instagram_code(State(g): State<Arc<Graph>>, body: String) -> (AxumStatus, axum::Json<Value>) {
    // Form-encoded; the fields looked at here need no decoding.
    let f: HashMap<String, String> =
        body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    g.oauth.lock().unwrap().calls.push(format!("POST instagram oauth/access_token {f:?}"));
    if f.get("code").map(String::as_str) != Some(GOOD_CODE)
        || f.get("client_secret").map(String::as_str) != Some(META_SECRET)
    {
        return (
            AxumStatus::BAD_REQUEST,
            axum::Json(
                json!({"error_type": "OAuthException", "code": 400, "error_message": "Invalid authorization code"}),
            ),
        );
    }
    (
        AxumStatus::OK,
        axum::Json(
            json!({"access_token": "IGtestShortLived", "user_id": 17841400000000001u64, "permissions": ["instagram_business_basic"]}),
        ),
    )
}

async fn instagram_exchange(
    State(g): State<Arc<Graph>>,
    Query(q): Query<HashMap<String, String>>,
) -> (AxumStatus, axum::Json<Value>) {
    g.oauth.lock().unwrap().calls.push(format!("GET instagram access_token {q:?}"));
    if q.get("grant_type").map(String::as_str) != Some("ig_exchange_token")
        || q.get("access_token").map(String::as_str) != Some("IGtestShortLived")
    {
        return refused("Invalid OAuth access token.");
    }
    // Instagram's long-lived tokens live 60 days; this one has only days left, so it is refreshed.
    (
        AxumStatus::OK,
        axum::Json(json!({"access_token": "IGtestLongLivedToken", "token_type": "bearer", "expires_in": 3 * 86_400})),
    )
}

async fn instagram_refresh(
    State(g): State<Arc<Graph>>,
    Query(q): Query<HashMap<String, String>>,
) -> (AxumStatus, axum::Json<Value>) {
    let mut o = g.oauth.lock().unwrap();
    o.calls.push(format!("GET instagram refresh_access_token {q:?}"));
    if o.instagram_refuses {
        return (
            AxumStatus::BAD_REQUEST,
            axum::Json(
                json!({"error": {"message": "Error validating access token: The user has not authorized application.", "type": "OAuthException", "code": 190}}),
            ),
        );
    }
    o.instagram_refreshes += 1;
    (AxumStatus::OK, axum::Json(serde_json::from_slice(&fixture("oauth/ig_refresh_response.json")).unwrap()))
}

async fn instagram_me(State(g): State<Arc<Graph>>, headers: HeaderMap) -> (AxumStatus, axum::Json<Value>) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    g.oauth.lock().unwrap().calls.push(format!("GET instagram me {auth}"));
    if auth != "Bearer IGtestLongLivedToken" {
        return refused("Invalid OAuth access token.");
    }
    (
        AxumStatus::OK,
        axum::Json(json!({"user_id": IG_ACCOUNT, "id": "9999", "username": "acme.shop", "name": "Acme Shop"})),
    )
}

async fn tiktok_token(
    State(g): State<Arc<Graph>>,
    axum::Json(b): axum::Json<Value>,
) -> (AxumStatus, axum::Json<Value>) {
    let mut o = g.oauth.lock().unwrap();
    o.calls.push(format!("POST tiktok token {b}"));
    if b["auth_code"] != GOOD_CODE || b["client_secret"] != TIKTOK_SECRET || b["grant_type"] != "authorization_code" {
        return (AxumStatus::OK, axum::Json(json!({"code": 40001, "message": "auth_code is invalid", "data": {}})));
    }
    let answer: Value = serde_json::from_slice(&fixture("oauth/tiktok_business_token_response.json")).unwrap();
    o.tiktok_refresh = answer["data"]["refresh_token"].as_str().unwrap().to_owned();
    (AxumStatus::OK, axum::Json(answer))
}

async fn tiktok_refresh(
    State(g): State<Arc<Graph>>,
    axum::Json(b): axum::Json<Value>,
) -> (AxumStatus, axum::Json<Value>) {
    let mut o = g.oauth.lock().unwrap();
    o.calls.push(format!("POST tiktok refresh {b}"));
    if b["refresh_token"] != o.tiktok_refresh.as_str() || b["client_secret"] != TIKTOK_SECRET {
        return (
            AxumStatus::OK,
            axum::Json(json!({"code": 40104, "message": "refresh_token is invalid or expired", "data": {}})),
        );
    }
    o.tiktok_rotations += 1;
    let n = o.tiktok_rotations;
    o.tiktok_refresh = format!("rft.rotated{n}");
    (
        AxumStatus::OK,
        axum::Json(json!({"code": 0, "message": "OK", "data": {
        "open_id": TIKTOK_ACCOUNT, "access_token": format!("act.rotated{n}"), "expires_in": 3600,
        "refresh_token": format!("rft.rotated{n}"), "refresh_token_expires_in": 31_536_000}})),
    )
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
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = g.media.lock().unwrap().get(&id).cloned();
    if let Some((declared, _, bytes)) = media.filter(|_| auth == format!("Bearer {GOOD_TOKEN}")) {
        g.media_calls.lock().unwrap().push(format!("lookup {id}"));
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        let url = format!("{}/media-files/{id}?sig=abc", g.base.lock().unwrap());
        return (
            AxumStatus::OK,
            axum::Json(
                json!({"url": url, "mime_type": declared, "sha256": sha, "file_size": bytes.len(), "id": id, "messaging_product": "whatsapp"}),
            ),
        );
    }
    if id == MEDIA_GONE {
        return (
            AxumStatus::NOT_FOUND,
            axum::Json(json!({"error": {"message": "Unsupported get request. Object does not exist", "code": 100}})),
        );
    }
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

async fn media_file(
    State(g): State<Arc<Graph>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    g.media_calls.lock().unwrap().push(format!("download {id}"));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = g.media.lock().unwrap().get(&id).cloned();
    match media {
        Some((_, served, bytes)) if auth == format!("Bearer {GOOD_TOKEN}") => {
            ([(axum::http::header::CONTENT_TYPE, served)], bytes).into_response()
        }
        Some(_) => AxumStatus::UNAUTHORIZED.into_response(),
        None => AxumStatus::NOT_FOUND.into_response(),
    }
}

/// A file on a CDN that needs no token (Messenger's, Instagram's and TikTok's links).
async fn public_file(State(g): State<Arc<Graph>>, Path(id): Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    g.media_calls.lock().unwrap().push(format!("public {id}"));
    match g.media.lock().unwrap().get(&id).cloned() {
        Some((_, served, bytes)) => ([(axum::http::header::CONTENT_TYPE, served)], bytes).into_response(),
        None => AxumStatus::NOT_FOUND.into_response(),
    }
}

/// TikTok Business Messaging's send: the token in `Access-Token`, TikTok's own `code` in a 200.
async fn tiktok_send(
    State(g): State<Arc<Graph>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (AxumStatus, axum::Json<Value>) {
    let token = headers.get("access-token").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let n = {
        let mut sends = g.sends.lock().unwrap();
        sends.push((uri.path().to_owned(), token, body));
        sends.len()
    };
    if let Some((status, answer)) = g.script.lock().unwrap().pop_front() {
        return (AxumStatus::from_u16(status).unwrap(), axum::Json(answer));
    }
    (
        AxumStatus::OK,
        axum::Json(json!({"code": 0, "message": "OK", "data": {"message": {"message_id": format!("tt_OUT{n}")}}})),
    )
}

async fn graph_standin() -> (String, Arc<Graph>) {
    let graph = Arc::new(Graph::default());
    let app = axum::Router::new()
        .route("/{version}/me/messages", post(send))
        .route("/{version}/{id}/messages", post(send))
        .route("/{version}/{id}", get(phone))
        .route("/media-files/{id}", get(media_file))
        .route("/cdn/{id}", get(public_file))
        .route("/{version}/oauth/access_token", get(facebook_token))
        .route("/{version}/me/accounts", get(facebook_pages))
        .route("/{version}/{id}/subscribed_apps", post(subscribe))
        .route("/oauth/access_token", post(instagram_code))
        .route("/access_token", get(instagram_exchange))
        .route("/refresh_access_token", get(instagram_refresh))
        .route("/{version}/me", get(instagram_me))
        .route("/open_api/v1.3/tt_user/oauth2/token/", post(tiktok_token))
        .route("/open_api/v1.3/business/message/send/", post(tiktok_send))
        .route("/open_api/v1.3/tt_user/oauth2/refresh_token/", post(tiktok_refresh))
        .with_state(graph.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    *graph.base.lock().unwrap() = format!("http://{addr}");
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

pub fn env(pairs: &[(&str, &str)]) -> Env {
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
        ("INSTAGRAM_API_URL", &graph_url),
        ("TIKTOK_BUSINESS_API_URL", &graph_url),
        ("META_APP_ID", META_APP_ID),
        ("TIKTOK_CLIENT_KEY", TIKTOK_CLIENT_KEY),
        ("SEND_BACKOFF_SECS", "0.05"),
        // The stand-ins listen on loopback, which media downloads may not reach otherwise.
        ("MEDIA_ALLOW_CIDRS", "127.0.0.0/8"),
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
