//! Starts identity, feedback, ticketing, inbox-sync and the webhooks dispatcher in this process,
//! each from its library on a fresh database and a runtime of its own, all on one NATS prefix,
//! wired to each other as in production (the others authenticate and look members up through
//! identity's gRPC), with inbox-sync calling a local stand-in for Meta's Graph API (`graph`).

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use platform::config::Env;
use secrecy::ExposeSecret;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::graph::GraphStandin;

/// The secret of Switchboard's Meta app: Meta signs its webhooks to inbox-sync with it
/// (`X-Hub-Signature-256`).
pub const META_SECRET: &str = "e2e_meta_app_secret_0123456789abcdef";
/// The token of Meta's webhook verification handshake.
pub const META_VERIFY_TOKEN: &str = "e2e-verify-token-7c41";

/// A service on a runtime of its own, so that killing it drops every task it spawned at once —
/// requests in flight, claimed leases, pulled but unacked messages — as `kill -9` would.
pub struct Process {
    runtime: Option<Runtime>,
}

impl Process {
    fn new(name: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("a runtime");
        Self { runtime: Some(runtime) }
    }

    /// Runs the future `start` makes on this process's runtime; what it spawns lives there too.
    /// The future is made and driven on a thread of its own: the services' `build` futures are
    /// not provably `Send` (a rustc limitation with sqlx executors), so they cannot be spawned.
    async fn run<T, F, Fut>(&self, start: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
    {
        let handle = self.runtime.as_ref().expect("a live process").handle().clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(handle.block_on(start()));
        });
        rx.await.expect("the service starts")
    }

    /// No grace period: every task stops where it is.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The services, reachable over HTTP at these base URLs, and the third party beside them: Meta's
/// Graph API, which inbox-sync calls to check a connection's token and to send replies.
pub struct Stack {
    pub identity: String,
    pub feedback: String,
    pub ticketing: String,
    pub inbox: String,
    pub dispatcher: String,
    /// billing-metrics, when the stack was started with it ([`Stack::start_with_billing`]).
    pub billing: Option<String>,
    pub http: reqwest::Client,
    pub graph: Arc<GraphStandin>,
    dispatcher_env: HashMap<String, String>,
    dispatcher_process: Process,
    billing_process: Option<Process>,
    _services: Vec<Process>,
    attachments: PathBuf,
}

/// Reports a service that stopped on its own: the test would otherwise only time out.
async fn watch(name: &'static str, run: impl Future<Output = anyhow::Result<()>>) {
    if let Err(err) = run.await {
        eprintln!("{name} stopped: {err:#}");
    }
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

impl Stack {
    /// On the shared test NATS server.
    pub async fn start() -> Self {
        Self::start_on(&platform::testing::nats_url()).await
    }

    pub async fn start_on(nats_url: &str) -> Self {
        Self::start_all(nats_url, false).await
    }

    /// With billing-metrics, whose plan limits every calling service then enforces (the free
    /// plan's, for a new organization). Without it, the services allow every create (fail open).
    pub async fn start_with_billing() -> Self {
        Self::start_all(&platform::testing::nats_url(), true).await
    }

    async fn start_all(nats_url: &str, with_billing: bool) -> Self {
        platform::telemetry::init_for_tests();
        // billing-metrics' gRPC port is chosen first: identity asks it (seats, API keys) and
        // it asks identity (authentication); the quota clients connect lazily.
        let billing_grpc_addr = if with_billing {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            Some(l.local_addr().expect("bound").to_string())
        } else {
            None
        };
        let billing_grpc_url = billing_grpc_addr.as_ref().map(|a| format!("http://{a}"));
        let prefix = platform::testing::unique_prefix();
        let service_token = format!("e2e-{}", uuid::Uuid::new_v4().simple());
        let common = |db: &str, connections: &str| {
            let mut v = vars(&[
                ("SWITCHBOARD_ENV", "development"),
                ("SERVICE_TOKEN", &service_token),
                ("HTTP_ADDR", "127.0.0.1:0"),
                ("GRPC_ADDR", "127.0.0.1:0"),
                ("DATABASE_URL", db),
                ("DATABASE_MAX_CONNECTIONS", connections),
                ("NATS_URL", nats_url),
                ("NATS_PREFIX", &prefix),
            ]);
            if let Some(url) = &billing_grpc_url {
                v.extend(vars(&[("BILLING_GRPC_URL", url), ("QUOTA_TIMEOUT_SECS", "2")]));
            }
            v
        };

        let db = platform::testing::fresh_database("e2e_identity").await.expect("identity database");
        let mut env = common(db.expose_secret(), "5");
        // Cheap hashes keep the suite fast; production uses the OWASP parameters.
        env.extend(vars(&[("ARGON2_MEMORY_KIB", "256"), ("ARGON2_ITERATIONS", "1")]));
        let config = identity::Config::from_env(Env::from_map(env)).expect("identity config");
        let identity = Process::new("identity");
        let (identity_http, identity_grpc) = identity
            .run(move || async move {
                let app = identity::Application::build(config).await.expect("identity builds");
                let addrs = (app.http_addr(), app.grpc_addr());
                tokio::spawn(watch("identity", app.run_until_stopped(CancellationToken::new())));
                addrs
            })
            .await;
        let identity_grpc = format!("http://{identity_grpc}");

        let mut billing_process = None;
        let mut billing = None;
        if let Some(addr) = &billing_grpc_addr {
            let db = platform::testing::fresh_database("e2e_billing").await.expect("billing database");
            let mut env = common(db.expose_secret(), "8");
            env.extend(vars(&[("IDENTITY_GRPC_URL", &identity_grpc), ("GRPC_ADDR", addr)]));
            let config = billing_metrics::Config::from_env(Env::from_map(env)).expect("billing config");
            let process = Process::new("billing");
            let http = process
                .run(move || async move {
                    let app = billing_metrics::Application::build(config).await.expect("billing-metrics builds");
                    let addr = app.http_addr();
                    tokio::spawn(watch("billing-metrics", app.run_until_stopped(CancellationToken::new())));
                    addr
                })
                .await;
            billing = Some(format!("http://{http}"));
            billing_process = Some(process);
        }

        let db = platform::testing::fresh_database("e2e_feedback").await.expect("feedback database");
        let attachments = std::env::temp_dir().join(format!("e2e-attachments-{}", uuid::Uuid::new_v4().simple()));
        let mut env = common(db.expose_secret(), "8");
        let dir = attachments.join("feedback");
        env.extend(vars(&[("IDENTITY_GRPC_URL", &identity_grpc), ("ATTACHMENTS_DIR", &dir.to_string_lossy())]));
        let config = feedback::Config::from_env(Env::from_map(env)).expect("feedback config");
        let feedback = Process::new("feedback");
        let feedback_http = feedback
            .run(move || async move {
                let app = feedback::Application::build(config).await.expect("feedback builds");
                let addr = app.http_addr();
                tokio::spawn(watch("feedback", app.run_until_stopped(CancellationToken::new())));
                addr
            })
            .await;

        let db = platform::testing::fresh_database("e2e_ticketing").await.expect("ticketing database");
        let mut env = common(db.expose_secret(), "8");
        let dir = attachments.join("ticketing");
        env.extend(vars(&[("IDENTITY_GRPC_URL", &identity_grpc), ("ATTACHMENTS_DIR", &dir.to_string_lossy())]));
        let config = ticketing::Config::from_env(Env::from_map(env)).expect("ticketing config");
        let ticketing = Process::new("ticketing");
        let ticketing_http = ticketing
            .run(move || async move {
                let app = ticketing::Application::build(config).await.expect("ticketing builds");
                let addr = app.http_addr();
                tokio::spawn(watch("ticketing", app.run_until_stopped(CancellationToken::new())));
                addr
            })
            .await;

        let graph = GraphStandin::start().await;
        let db = platform::testing::fresh_database("e2e_inbox").await.expect("inbox-sync database");
        let mut env = common(db.expose_secret(), "8");
        env.extend(vars(&[
            ("IDENTITY_GRPC_URL", &identity_grpc),
            ("META_APP_SECRET", META_SECRET),
            ("META_VERIFY_TOKEN", META_VERIFY_TOKEN),
            ("META_GRAPH_URL", &graph.url),
            ("INSTAGRAM_GRAPH_URL", &graph.url),
            ("SEND_BACKOFF_SECS", "0.05"),
        ]));
        let config = inbox_sync::Config::from_env(Env::from_map(env)).expect("inbox-sync config");
        let inbox = Process::new("inbox-sync");
        let inbox_http = inbox
            .run(move || async move {
                let app = inbox_sync::Application::build(config).await.expect("inbox-sync builds");
                let addr = app.http_addr();
                tokio::spawn(watch("inbox-sync", app.run_until_stopped(CancellationToken::new())));
                addr
            })
            .await;

        let db = platform::testing::fresh_database("e2e_webhooks").await.expect("dispatcher database");
        let mut dispatcher_env = common(db.expose_secret(), "8");
        dispatcher_env.extend(vars(&[
            ("IDENTITY_GRPC_URL", &identity_grpc),
            ("DEV_MAILBOX", "true"),
            // The receiver is a local server: allow loopback, as the local run command does.
            ("WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
            ("WEBHOOK_ONLY_ALLOWED_CIDRS", "true"),
            ("WEBHOOK_RETRY_SCHEDULE_SECS", "0,0.5,1,1,2,2,4,4"),
            ("WEBHOOK_RETRY_JITTER", "0"),
            ("WEBHOOK_TIMEOUT_SECS", "2"),
            // Short, so a killed replica's claimed deliveries come back soon.
            ("WEBHOOK_LEASE_SECS", "3"),
        ]));
        let (dispatcher_process, dispatcher) = start_dispatcher(&dispatcher_env).await;
        Self {
            identity: format!("http://{identity_http}"),
            feedback: format!("http://{feedback_http}"),
            ticketing: format!("http://{ticketing_http}"),
            inbox: format!("http://{inbox_http}"),
            dispatcher,
            billing,
            http: reqwest::Client::new(),
            graph,
            dispatcher_env,
            dispatcher_process,
            billing_process,
            _services: vec![identity, feedback, ticketing, inbox],
            attachments,
        }
    }

    /// Kills billing-metrics without grace: the services' quota checks then fail open.
    pub fn kill_billing(&mut self) {
        if let Some(mut p) = self.billing_process.take() {
            p.kill();
        }
    }

    /// Kills the dispatcher without grace, as `kill -9` would.
    pub fn kill_dispatcher(&mut self) {
        self.dispatcher_process.kill();
    }

    /// A new dispatcher replica on the same database and prefix; clients talk to it from now on.
    pub async fn start_new_dispatcher(&mut self) {
        let (process, base) = start_dispatcher(&self.dispatcher_env).await;
        self.dispatcher_process = process;
        self.dispatcher = base;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.attachments);
    }
}

async fn start_dispatcher(env: &HashMap<String, String>) -> (Process, String) {
    let config = webhooks_dispatcher::Config::from_env(Env::from_map(env.clone())).expect("dispatcher config");
    let process = Process::new("dispatcher");
    let addr = process
        .run(move || async move {
            let app = webhooks_dispatcher::Application::build(config).await.expect("the dispatcher builds");
            let addr = app.http_addr();
            tokio::spawn(watch("dispatcher", app.run_until_stopped(CancellationToken::new())));
            addr
        })
        .await;
    (process, format!("http://{addr}"))
}
