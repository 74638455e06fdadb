//! Spawns identity and feedback in-process (each on a fresh database, both on one NATS prefix)
//! and talks to feedback as a client would.

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

    let identity_db = platform::testing::fresh_database("fb_identity").await.unwrap();
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
        ]))
        .unwrap(),
    )
    .await
    .unwrap();
    let identity_addr = identity.http_addr();
    let identity_grpc = format!("http://{}", identity.grpc_addr());
    tokio::spawn(identity.run_until_stopped(shutdown.clone()));

    let db = platform::testing::fresh_database("feedback").await.unwrap();
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
    ];
    vars.extend_from_slice(overrides);
    let replica_env: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let app = feedback::Application::build(feedback::Config::from_env(env(&vars)).unwrap()).await.unwrap();
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
    pub slug: String,
}

impl TestApp {
    /// Starts another feedback replica on the same database and NATS prefix; its base URL.
    pub async fn replica(&self) -> String {
        let vars: Vec<(&str, &str)> = self.replica_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = feedback::Application::build(feedback::Config::from_env(env(&vars)).unwrap()).await.unwrap();
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
        for _ in 0..100 {
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

    /// Creates a post and returns it.
    pub async fn create(&self, user: &User, body: Value) -> Value {
        let r = self.post("/v1/feedback", &body, &user.token).await;
        assert_eq!(r.status(), StatusCode::CREATED, "create {body}");
        r.json().await.unwrap()
    }

    /// Every message on this test's stream subjects matching `filter` (e.g. `events.feedback.>`).
    pub async fn messages(&self, stream: &str, filter: &str, at_least: usize) -> Vec<(String, Value)> {
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = js.get_stream(format!("{}_{stream}", self.prefix)).await.unwrap();
        let subject = format!("{}.{filter}", self.prefix);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
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
            if out.len() >= at_least || tokio::time::Instant::now() > deadline {
                return out;
            }
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
        slug: body["organization"]["slug"].as_str().unwrap().to_owned(),
    }
}

pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    response.json().await.unwrap()
}

impl TestApp {
    /// `notify.send` commands so far (the command stream is a work queue: read once, acked).
    pub async fn notifications(&self, at_least: usize) -> Vec<Value> {
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
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mut batch =
                consumer.fetch().max_messages(100).expires(Duration::from_millis(300)).messages().await.unwrap();
            while let Some(Ok(msg)) = batch.next().await {
                msg.ack().await.unwrap();
                out.push(serde_json::from_slice(&msg.payload).unwrap());
            }
            if out.len() >= at_least || tokio::time::Instant::now() >= deadline {
                return out;
            }
        }
    }
}
