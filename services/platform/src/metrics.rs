//! Prometheus metrics of one service instance (no global registry: two instances can share a
//! process).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub consumer: String,
}

/// Every metric a service exports.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_latency: Family<RouteLabels, Histogram>,
    pub pool_connections: Gauge,
    pub pool_idle: Gauge,
    pub outbox_backlog: Gauge,
    pub outbox_published: Counter,
    pub consumer_pending: Family<ConsumerLabels, Gauge>,
    pub consumer_dead_lettered: Family<ConsumerLabels, Counter>,
}

impl Metrics {
    pub fn new(service: &str) -> Arc<Self> {
        let mut registry = Registry::with_prefix("switchboard");
        let http_requests = Family::<RequestLabels, Counter>::default();
        let http_latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        });
        registry.register("http_requests", "HTTP requests by route and status", http_requests.clone());
        registry.register("http_request_duration_seconds", "HTTP latency by route", http_latency.clone());
        let pool_connections = Gauge::default();
        let pool_idle = Gauge::default();
        registry.register("db_pool_connections", "Open database connections", pool_connections.clone());
        registry.register("db_pool_idle", "Idle database connections", pool_idle.clone());
        let outbox_backlog = Gauge::default();
        let outbox_published = Counter::default();
        registry.register("outbox_backlog", "Outbox rows not yet published", outbox_backlog.clone());
        registry.register("outbox_published", "Outbox rows published", outbox_published.clone());
        let consumer_pending = Family::<ConsumerLabels, Gauge>::default();
        let consumer_dead_lettered = Family::<ConsumerLabels, Counter>::default();
        registry.register("consumer_pending", "Messages waiting for a consumer (lag)", consumer_pending.clone());
        registry.register(
            "consumer_dead_lettered",
            "Messages parked in the dead-letter table",
            consumer_dead_lettered.clone(),
        );
        let _ = service;
        Arc::new(Self {
            registry,
            http_requests,
            http_latency,
            pool_connections,
            pool_idle,
            outbox_backlog,
            outbox_published,
            consumer_pending,
            consumer_dead_lettered,
        })
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Middleware recording every request by matched route (never the raw path, to bound labels).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    metrics
        .http_latency
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(start.elapsed().as_secs_f64());
    metrics.http_requests.get_or_create(&RequestLabels { method, route, status }).inc();
    response
}
