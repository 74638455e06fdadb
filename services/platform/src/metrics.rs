//! Prometheus metrics of one service instance (no global registry: two instances can share a
//! process).

use std::sync::{Arc, Mutex};
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
    registry: Mutex<Registry>,
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
            registry: Mutex::new(registry),
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

    /// Registers a service's own metric (`switchboard_` is prefixed).
    pub fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry.lock().unwrap_or_else(|p| p.into_inner()).register(name, help, metric);
    }

    /// The OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// The classic Prometheus text format (0.0.4), for scrapers that ask for `text/plain`:
    /// the OpenMetrics text without its `# EOF` trailer, counters keeping their `_total` samples.
    pub fn encode_prometheus(&self) -> String {
        let open = self.encode();
        let mut out = String::with_capacity(open.len());
        for line in open.lines() {
            if line == "# EOF" || line.starts_with("# UNIT ") {
                continue;
            }
            // OpenMetrics names a counter family without `_total`; Prometheus 0.0.4 uses the
            // sample name in TYPE and HELP lines.
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                if let Some((name, "counter")) = rest.split_once(' ') {
                    out.push_str(&format!("# TYPE {name}_total counter\n"));
                    continue;
                }
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                if let Some((name, help)) = rest.split_once(' ') {
                    if open.contains(&format!("# TYPE {name} counter")) {
                        out.push_str(&format!("# HELP {name}_total {help}\n"));
                        continue;
                    }
                }
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Methods beyond the standard ones become one label value, so a client cannot grow the
/// metric families by inventing methods.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware recording every request by matched route (never the raw path, to bound labels).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method()).to_owned();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&axum::http::Method::from_bytes(b"FOOBAR").unwrap()), "OTHER");
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
    }

    #[test]
    fn prometheus_text_has_no_eof_and_names_counters_by_sample() {
        let m = Metrics::new("test");
        m.outbox_published.inc();
        let text = m.encode_prometheus();
        assert!(!text.contains("# EOF"), "{text}");
        assert!(text.contains("# TYPE switchboard_outbox_published_total counter"), "{text}");
        assert!(text.contains("switchboard_outbox_published_total 1"), "{text}");
    }
}
