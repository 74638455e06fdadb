//! Spawns identity and billing-metrics in-process (fresh databases, one NATS prefix) and talks
//! to them as clients, producers of events and calling services would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;
use platform::bus::CloudEvent;
use platform::config::Env;
use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";
pub const OPERATOR: &str = "operator-token-0123456789abcdef";
pub const STRIPE_SECRET: &str = "whsec_test_current_secret";
pub const STRIPE_OLD_SECRET: &str = "whsec_test_previous_secret";
pub const WAIT: Duration = Duration::from_secs(15);

pub fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_map(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>())
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub grpc: String,
    pub identity_addr: SocketAddr,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub prefix: String,
    pub nats: async_nats::Client,
    db: String,
    nats_url: String,
    identity_grpc: String,
    overrides: Vec<(String, String)>,
    shutdown: CancellationToken,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    platform::telemetry::init_for_tests();
    let prefix = platform::testing::unique_prefix();
    let nats_url = platform::testing::nats_url();
    let shutdown = CancellationToken::new();
    let identity_db = platform::testing::fresh_database("bm_identity").await.unwrap();
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
    let db = platform::testing::fresh_database("billing").await.unwrap().expose_secret().to_owned();
    let nats = async_nats::connect(&nats_url).await.unwrap();
    let mut app = TestApp {
        addr: "127.0.0.1:0".parse().unwrap(),
        grpc: String::new(),
        identity_addr,
        http: reqwest::Client::new(),
        pool: PgPool::connect_lazy(&db).unwrap(),
        prefix,
        nats,
        db,
        nats_url,
        identity_grpc,
        overrides: overrides.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        shutdown,
    };
    let (addr, grpc) = app.replica().await;
    (app.addr, app.grpc) = (addr, grpc);
    app
}

impl TestApp {
    /// Starts one more billing-metrics on the same database and prefix; its HTTP and gRPC
    /// addresses.
    pub async fn replica(&self) -> (SocketAddr, String) {
        let mut vars: Vec<(&str, &str)> = vec![
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("GRPC_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", &self.db),
            ("DATABASE_MAX_CONNECTIONS", "10"),
            ("NATS_URL", &self.nats_url),
            ("NATS_PREFIX", &self.prefix),
            ("IDENTITY_GRPC_URL", &self.identity_grpc),
            ("SWITCHBOARD_ENV", "development"),
            ("BILLING_OPERATOR_TOKEN", OPERATOR),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_test_current_secret,whsec_test_previous_secret"),
            ("QUOTA_CACHE_TTL_SECS", "0.2"),
        ];
        vars.extend(self.overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let app =
            billing_metrics::Application::build(billing_metrics::Config::from_env(env(&vars)).unwrap()).await.unwrap();
        let addr = app.http_addr();
        let grpc = format!("http://{}", app.grpc_addr());
        tokio::spawn(app.run_until_stopped(self.shutdown.clone()));
        (addr, grpc)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new organization with its owner, once billing has started its subscription.
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
        let user = User {
            token: body["access_token"].as_str().unwrap().to_owned(),
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            org: body["organization"]["id"].as_str().unwrap().parse().unwrap(),
        };
        let org = user.org;
        until_some("billing to see the new organization", || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM subscriptions WHERE organization_id = $1")
                .bind(org)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            (n == 1).then_some(())
        })
        .await;
        user
    }

    /// An API key of `owner`'s organization with `scopes`.
    pub async fn api_key(&self, owner: &User, scopes: &[&str]) -> String {
        let r = self
            .http
            .post(format!("http://{}/v1/api-keys", self.identity_addr))
            .bearer_auth(&owner.token)
            .json(&json!({"name": "ci", "role": "admin", "scopes": scopes}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, token).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http.put(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    /// Publishes `event` as a producer's relay does, on `events.<type>`, without a
    /// `Nats-Msg-Id` (so the server keeps copies: the consumer must tell them apart).
    pub async fn publish(&self, event: &CloudEvent<Value>) {
        let js = async_nats::jetstream::new(self.nats.clone());
        let subject = format!("{}.events.{}", self.prefix, event.event_type);
        js.publish(subject, serde_json::to_vec(event).unwrap().into()).await.unwrap().await.unwrap();
    }

    /// Every message on this test's `stream` matching `filter`, once there are at least
    /// `at_least`.
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
                consumer.fetch().max_messages(5000).expires(Duration::from_millis(300)).messages().await.unwrap();
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

    /// The next `n` `notify.send` commands (the command stream is a work queue: each is read
    /// once, acked).
    pub async fn notifications(&self, n: usize) -> Vec<Value> {
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
        while out.len() < n {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {n} notifications; got {out:?}");
            let mut batch =
                consumer.fetch().max_messages(10).expires(Duration::from_millis(200)).messages().await.unwrap();
            while let Some(Ok(msg)) = batch.next().await {
                msg.ack().await.unwrap();
                out.push(serde_json::from_slice(&msg.payload).unwrap());
            }
        }
        out
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// The billing gRPC client of `url`, with the development service token.
    pub async fn billing(&self, url: &str) -> proto::billing::billing_client::BillingClient<tonic::transport::Channel> {
        proto::billing::billing_client::BillingClient::connect(url.to_owned()).await.unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
    }
}

/// A request with the development service token.
pub fn authorized<T>(message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert("authorization", "Bearer switchboard-development-service-token".parse().unwrap());
    r
}

/// An event of `org` as a producer would publish it.
pub fn event(event_type: &str, org: Uuid, data: Value) -> CloudEvent<Value> {
    CloudEvent::new("switchboard/test", event_type, Some(org), Some(Uuid::now_v7().to_string()), data)
}

#[derive(Clone)]
pub struct User {
    pub token: String,
    pub id: Uuid,
    pub org: Uuid,
}

pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    response.json().await.unwrap()
}
