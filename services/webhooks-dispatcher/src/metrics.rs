//! The dispatcher's own metrics, registered with the service's registry: attempts by outcome,
//! attempt and end-to-end delivery latency, and the backlog of pending deliveries.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `success`, `http_error`, `timeout`, `connect_error`, `request_error`, `refused`,
    /// `secret_unavailable`, `endpoint_deleted`: a small fixed set.
    pub outcome: &'static str,
}

#[derive(Clone)]
pub struct DeliveryMetrics {
    pub attempts: Family<OutcomeLabels, Counter>,
    /// One POST, from sending to the last byte read.
    pub attempt_duration: Histogram,
    /// From the event's delivery being recorded to its success, retries included.
    pub delivery_latency: Histogram,
    pub pending: Gauge,
}

impl DeliveryMetrics {
    pub fn register(metrics: &platform::metrics::Metrics) -> Arc<Self> {
        let this = Self {
            attempts: Family::default(),
            attempt_duration: Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            delivery_latency: Histogram::new([
                0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 7200.0, 86400.0,
            ]),
            pending: Gauge::default(),
        };
        metrics.register("webhook_delivery_attempts", "Delivery attempts by outcome", this.attempts.clone());
        metrics.register(
            "webhook_attempt_duration_seconds",
            "Duration of one delivery attempt",
            this.attempt_duration.clone(),
        );
        metrics.register(
            "webhook_delivery_latency_seconds",
            "From an event's delivery being recorded to its successful attempt",
            this.delivery_latency.clone(),
        );
        metrics.register("webhook_deliveries_pending", "Deliveries waiting to be sent (backlog)", this.pending.clone());
        Arc::new(this)
    }

    pub fn attempt(&self, outcome: &'static str, took: Duration) {
        self.attempts.get_or_create(&OutcomeLabels { outcome }).inc();
        self.attempt_duration.observe(took.as_secs_f64());
    }

    /// Keeps the backlog gauge fresh until `shutdown`.
    pub async fn watch_backlog(self: Arc<Self>, pool: PgPool, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            match crate::store::deliveries::backlog(&pool).await {
                Ok(n) => {
                    self.pending.set(n);
                }
                Err(err) => tracing::debug!(error = %err, "could not count pending deliveries"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }
}
