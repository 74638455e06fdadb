//! What every HTTP server of ours has: health, readiness, metrics, OpenAPI, request context,
//! body limit, problem+json for everything that goes wrong, and graceful shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;

use crate::bus::Bus;
use crate::error::Problem;
use crate::metrics::Metrics;
use crate::telemetry;

/// The infrastructure one service instance runs on.
#[derive(Clone)]
pub struct Runtime {
    pub pool: PgPool,
    pub bus: Bus,
    pub metrics: Arc<Metrics>,
    /// Set once the migrations have been applied.
    pub migrated: Arc<AtomicBool>,
}

/// Wraps a service's routes with the common endpoints and layers.
pub fn with_common(routes: Router, runtime: &Runtime, openapi: &'static str, body_limit: usize) -> Router {
    let common = Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi) }))
        .with_state(runtime.clone());
    routes
        .merge(common)
        .fallback(|| async { Problem::not_found("route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(runtime.metrics.clone(), crate::metrics::track))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            Problem::internal().into_response()
        }))
        // Outside the panic catcher: a panic is a 500 here, and a 500 is not remembered.
        .layer(axum::middleware::from_fn_with_state(
            crate::idempotency::Idempotency { pool: runtime.pool.clone(), body_limit },
            crate::idempotency::middleware,
        ))
        .layer(axum::middleware::from_fn(telemetry::request_context))
}

async fn readyz(State(rt): State<Runtime>) -> Response {
    let db = tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(&rt.pool))
        .await
        .is_ok_and(|r| r.is_ok());
    let nats = rt.bus.is_connected();
    let migrations = rt.migrated.load(Ordering::Acquire);
    let ready = db && nats && migrations;
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": { "database": db, "nats": nats, "migrations": migrations },
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(rt): State<Runtime>) -> Response {
    rt.metrics.pool_connections.set(i64::from(rt.pool.size()));
    rt.metrics.pool_idle.set(i64::try_from(rt.pool.num_idle()).unwrap_or(0));
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), crate::outbox::backlog(&rt.pool)).await {
        rt.metrics.outbox_backlog.set(n);
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], rt.metrics.encode())
        .into_response()
}

/// Serves `router` on `listener` until `shutdown`, then finishes in-flight requests.
pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) -> anyhow::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    Ok(())
}

/// A token cancelled by SIGTERM or ctrl-c: the one shutdown signal of a process.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let fired = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
        tracing::info!("shutdown requested");
        fired.cancel();
    });
    token
}

/// Marks the runtime migrated.
pub fn mark_migrated(rt: &Runtime) {
    rt.migrated.store(true, Ordering::Release);
}

/// Binds a listener, naming the address on failure.
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}
