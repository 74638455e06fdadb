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

use crate::auth::AuthClient;
use crate::bus::Bus;
use crate::config::CommonConfig;
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

/// What [`with_common`] needs besides the routes.
pub struct Web<'a> {
    /// The OpenAPI document served at `/openapi.json` ([`crate::openapi::document`]).
    pub openapi: String,
    /// Authenticates `Idempotency-Key` callers, so keys are scoped by principal.
    pub auth: Option<AuthClient>,
    pub common: &'a CommonConfig,
}

/// Wraps a service's routes with the common endpoints and layers.
pub fn with_common(routes: Router, runtime: &Runtime, web: Web<'_>) -> Router {
    let body_limit = web.common.body_limit_bytes;
    let openapi: Arc<str> = Arc::from(web.openapi);
    let common = Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }
            }),
        )
        .with_state(runtime.clone());
    let router = routes
        .merge(common)
        .fallback(|| async { Problem::not_found("route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            Problem::internal().into_response()
        }))
        // Outside the panic catcher: a panic is a 500 here, and a 500 is not remembered.
        .layer(axum::middleware::from_fn_with_state(
            crate::idempotency::Idempotency { pool: runtime.pool.clone(), body_limit, auth: web.auth },
            crate::idempotency::middleware,
        ))
        // Outside everything that answers: replays, panics and rejections are counted too.
        .layer(axum::middleware::from_fn_with_state(runtime.metrics.clone(), crate::metrics::track))
        .layer(axum::middleware::from_fn(telemetry::request_context));
    match cors(&web.common.cors_allowed_origins) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// CORS for browser clients of the configured origins (none by default: no CORS headers, and
/// browsers keep other origins out). Preflights are answered here, before authentication.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("traceparent"),
            ])
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                header::RETRY_AFTER,
                header::LOCATION,
                HeaderName::from_static("idempotent-replayed"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// The client's address as our edge saw it: the last hop of `X-Forwarded-For` (the one the edge
/// appended; earlier hops are whatever the client sent), else `X-Real-IP`.
pub fn client_address(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .or_else(|| headers.get("x-real-ip").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
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

/// `/metrics` in OpenMetrics, or the classic Prometheus text format when the scraper asks for
/// `text/plain` (and not for OpenMetrics).
async fn metrics(State(rt): State<Runtime>, headers: axum::http::HeaderMap) -> Response {
    rt.metrics.pool_connections.set(i64::from(rt.pool.size()));
    rt.metrics.pool_idle.set(i64::try_from(rt.pool.num_idle()).unwrap_or(0));
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), crate::outbox::backlog(&rt.pool)).await {
        rt.metrics.outbox_backlog.set(n);
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if accept.contains("text/plain") && !accept.contains("application/openmetrics-text") {
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], rt.metrics.encode_prometheus())
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], rt.metrics.encode())
            .into_response()
    }
}

/// Serves `router` on `listener` until `shutdown`, then finishes in-flight requests.
pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) -> anyhow::Result<()> {
    // The peer address identifies anonymous clients that reach us without the edge.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Answers go out at once: without TCP_NODELAY, Nagle's algorithm and the client's delayed
    // ACK hold some responses for 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, service).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
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
