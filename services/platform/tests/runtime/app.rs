//! A tiny service on the platform's HTTP stack: each handler counts its runs, so a test can tell
//! a replay (or a rejection at the boundary) from an effect.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use platform::auth::{AuthClient, Principal};
use platform::extract::{Json, Path, Query};
use platform::http::{Runtime, Web};
use platform::{ApiResult, Problem};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::support::{self, FixedIdentity};

#[derive(Clone)]
pub struct App {
    pub auth: AuthClient,
    pub pool: PgPool,
    /// Handler runs so far.
    pub runs: Arc<AtomicUsize>,
    /// Signalled when a blocking handler has started.
    pub started: Arc<Notify>,
    /// Signalled when the server drops a blocking handler (its client went away).
    pub abandoned: Arc<Notify>,
}

impl App {
    pub fn new(pool: PgPool) -> Self {
        Self {
            auth: FixedIdentity::client(),
            pool,
            runs: Arc::new(AtomicUsize::new(0)),
            started: Arc::new(Notify::new()),
            abandoned: Arc::new(Notify::new()),
        }
    }

    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    fn run(&self) -> usize {
        self.runs.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The routes wrapped by `with_common`, the way a service's `lib.rs` does it.
    pub fn router(&self, runtime: &Runtime, common: &platform::config::CommonConfig) -> Router {
        let routes = Router::new()
            .route("/me", get(me))
            .route("/things", post(create))
            .route("/public/things", post(create_public))
            .route("/public/other", post(create_public))
            .route("/fail/{status}", post(fail))
            .route("/block", post(block))
            .route("/echo", post(echo))
            .route("/tags", get(tags))
            .route("/items/{name}", get(item))
            .route("/db", get(db))
            .with_state(self.clone());
        let web = Web { openapi: "{}".into(), auth: Some(self.auth.clone()), common };
        platform::http::with_common(routes, runtime, web)
    }

    /// The app served on port 0 with the default development configuration.
    pub async fn serve(&self, runtime: &Runtime) -> support::Server {
        support::serve(self.router(runtime, &support::common_config(&[]))).await
    }
}

impl FromRef<App> for AuthClient {
    fn from_ref(app: &App) -> Self {
        app.auth.clone()
    }
}

#[derive(Deserialize)]
struct Thing {
    name: String,
}

async fn me(p: Principal) -> Json<Value> {
    Json(json!({ "org_id": p.org_id, "user_id": p.user_id }))
}

async fn create(State(app): State<App>, p: Principal, Json(t): Json<Thing>) -> (StatusCode, Json<Value>) {
    let n = app.run();
    (StatusCode::CREATED, Json(json!({ "run": n, "name": t.name, "org_id": p.org_id, "user_id": p.user_id })))
}

async fn create_public(State(app): State<App>, Json(t): Json<Thing>) -> (StatusCode, Json<Value>) {
    let n = app.run();
    (StatusCode::CREATED, Json(json!({ "run": n, "name": t.name })))
}

/// Answers the status it is told to: the answers that must not be remembered.
async fn fail(State(app): State<App>, _: Principal, Path(status): Path<u16>) -> Problem {
    app.run();
    match status {
        // A handler's own 401 (a credential it refuses after authentication let it through).
        401 => Problem::unauthorized(),
        403 => Problem::forbidden("not you"),
        429 => Problem::too_many_requests(1),
        _ => Problem::unavailable("try later").retry_after(1),
    }
}

/// Never answers: a request that is still running, or that dies with its replica.
async fn block(State(app): State<App>, _: Principal) -> StatusCode {
    struct Abandoned(Arc<Notify>);
    impl Drop for Abandoned {
        fn drop(&mut self) {
            self.0.notify_one();
        }
    }
    let _abandoned = Abandoned(app.abandoned.clone());
    app.run();
    app.started.notify_one();
    std::future::pending::<()>().await;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Echo {
    name: String,
    tags: Vec<String>,
}

async fn echo(State(app): State<App>, Json(_): Json<Echo>) -> StatusCode {
    app.run();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Tags {
    tag: Option<String>,
}

async fn tags(State(app): State<App>, Query(_): Query<Tags>) -> StatusCode {
    app.run();
    StatusCode::NO_CONTENT
}

async fn item(State(app): State<App>, Path(_): Path<String>) -> StatusCode {
    app.run();
    StatusCode::NO_CONTENT
}

/// A query on the app's pool, its error propagated with `?` as handlers do.
async fn db(State(app): State<App>) -> ApiResult<StatusCode> {
    app.run();
    sqlx::query("SELECT 1").execute(&app.pool).await?;
    Ok(StatusCode::NO_CONTENT)
}
