//! What the tests share: a fresh database and NATS prefix, deadline polling, a stand-in
//! authenticator, servers on port 0, and "replicas" that can be killed like a process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use platform::auth::{AuthClient, AuthFailure, Authenticator, CredentialKind, Principal, Role};
use platform::bus::Bus;
use platform::config::{CommonConfig, Env};
use platform::http::Runtime;
use platform::metrics::Metrics;
use sqlx::PgPool;
use uuid::Uuid;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/runtime/migrations");

/// A migrated fresh database and a bus with its own prefix and streams.
pub async fn setup() -> (PgPool, Bus) {
    let (pool, bus, _) = setup_with_prefix().await;
    (pool, bus)
}

/// [`setup`], also naming the bus prefix, for replicas that connect on their own.
pub async fn setup_with_prefix() -> (PgPool, Bus, String) {
    platform::telemetry::init_for_tests();
    let url = platform::testing::fresh_database("platform").await.unwrap();
    let pool = platform::db::pool(&url, 10).unwrap();
    platform::db::migrate(&pool, &MIGRATOR).await.unwrap();
    let prefix = platform::testing::unique_prefix();
    let bus = Bus::connect(&platform::testing::nats_url(), &prefix, "platform-test").await.unwrap();
    bus.ensure_streams().await.unwrap();
    (pool, bus, prefix)
}

/// Another pool on the same database: a replica's own connections.
pub fn pool_like(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new().connect_lazy_with((*pool.connect_options()).clone())
}

/// Polls `check` until it yields a value, failing the test at `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < until, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `sql` (a count) polled until it reaches `expected`.
pub async fn count_reaches(pool: &PgPool, sql: &str, expected: i64, deadline: Duration) {
    eventually(deadline, sql, || async {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        (n >= expected).then_some(())
    })
    .await;
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// The common configuration of a development instance, plus `vars`.
pub fn common_config(vars: &[(&str, &str)]) -> CommonConfig {
    let mut map: HashMap<String, String> = HashMap::from([("SWITCHBOARD_ENV".into(), "development".into())]);
    map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut env = Env::from_map(map);
    let config = CommonConfig::read(&mut env, "platform-test", 0, 0);
    env.finish().unwrap();
    config
}

pub fn runtime(pool: PgPool, bus: Bus) -> Runtime {
    Runtime { pool, bus, metrics: Metrics::new("test"), migrated: Arc::new(AtomicBool::new(true)) }
}

/// An HTTP client that never goes through a proxy from the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Serves `router` on an ephemeral port of this process; stops when dropped.
pub struct Server {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(router: axum::Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { url, task }
}

/// Work on its own tokio runtime, as if in another process: `kill` drops every task, socket and
/// database connection at once without letting anything finish, like `kill -9` of a replica.
pub struct Replica(Option<tokio::runtime::Runtime>);

impl Replica {
    pub fn start<F>(work: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.spawn(work);
        Self(Some(rt))
    }

    pub fn kill(mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Credentials of the stand-in identity: two users of one organization, an API key of that
/// organization, and a user of another organization.
pub const ALICE: &str = "alice-session";
pub const BOB: &str = "bob-session";
pub const ORG_KEY: &str = "org-api-key";
pub const MALLORY: &str = "mallory-session";
/// A user of an organization whose subscription was canceled.
pub const LAPSED: &str = "lapsed-session";

/// Identity at this unit level: a fixed map of credentials to principals.
pub struct FixedIdentity(HashMap<&'static str, Principal>);

impl FixedIdentity {
    pub fn client() -> AuthClient {
        let org = Uuid::now_v7();
        let other = Uuid::now_v7();
        let user = |org_id, kind| Principal {
            user_id: (kind == CredentialKind::Session).then(Uuid::now_v7),
            org_id,
            org_slug: "acme".into(),
            role: Role::Admin,
            scopes: vec!["*".into()],
            kind,
            credential_id: Uuid::now_v7(),
            expires_at: None,
            subscription_status: None,
        };
        let map = HashMap::from([
            (ALICE, user(org, CredentialKind::Session)),
            (BOB, user(org, CredentialKind::Session)),
            (ORG_KEY, user(org, CredentialKind::ApiKey)),
            (MALLORY, user(other, CredentialKind::Session)),
            (
                LAPSED,
                Principal {
                    subscription_status: Some("canceled".into()),
                    ..user(Uuid::now_v7(), CredentialKind::Session)
                },
            ),
        ]);
        AuthClient::new(Arc::new(Self(map)), Duration::from_secs(30))
    }
}

impl Authenticator for FixedIdentity {
    fn authenticate<'a>(&'a self, credential: &'a str) -> BoxFuture<'a, Result<Principal, AuthFailure>> {
        Box::pin(async move { self.0.get(credential).cloned().ok_or(AuthFailure::Invalid) })
    }
}

/// The server's view of a durable consumer; `None` until it exists.
pub async fn consumer_info(bus: &Bus, durable: &str) -> Option<async_nats::jetstream::consumer::Info> {
    let stream = bus.jetstream.get_stream(bus.stream_name("EVENTS")).await.ok()?;
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(&bus.stream_name(durable)).await.ok()?;
    consumer.get_info().await.ok()
}

/// Waits until `durable` has handled everything in its stream: the `published` messages were
/// delivered and none is pending or awaiting its ack.
pub async fn settled(bus: &Bus, durable: &str, published: u64) {
    eventually(Duration::from_secs(20), "the consumer to settle", || async {
        let info = consumer_info(bus, durable).await?;
        (info.delivered.stream_sequence >= published && info.num_pending == 0 && info.num_ack_pending == 0)
            .then_some(())
    })
    .await;
}
