//! Sends deliveries. Each replica claims due deliveries in batches with `FOR UPDATE SKIP
//! LOCKED` and a lease (a replica that dies loses nothing: its leases expire and another claims
//! the deliveries), POSTs them signed, and records every outcome of a batch in one transaction.
//! An endpoint that wants order gets one delivery at a time: only the oldest pending delivery
//! of an ordered endpoint can be claimed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use platform::bus::CloudEvent;
use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Config;
use crate::limits::Limits;
use crate::metrics::DeliveryMetrics;
use crate::signing;
use crate::ssrf::{self, Policy};

const SOURCE: &str = "switchboard/webhooks-dispatcher";
const RESPONSE_LIMIT: usize = 4096;

#[derive(Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub organization_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    pub id: Uuid,
    pub url: String,
    pub rate_limit_per_second: Option<i32>,
    pub max_concurrency: i32,
    pub secrets: Vec<String>,
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Outcome {
    Delivered {
        status: u16,
        body: String,
        took: Duration,
    },
    Failed {
        /// For the attempts metric: `http_error`, `timeout`, `connect_error`, ….
        kind: &'static str,
        status: Option<u16>,
        body: Option<String>,
        error: Option<String>,
        retry_after: Option<Duration>,
        took: Duration,
    },
    /// Held back by the endpoint's rate limit: not an attempt.
    Deferred(Duration),
}

/// Builds the HTTP client deliveries use: no redirects, vetted DNS, the configured timeout, and
/// no proxy whatever `HTTP(S)_PROXY` say: a proxy resolves names itself, past the vetted resolver.
pub fn client(config: &Config, policy: Arc<Policy>) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
        .dns_resolver(Arc::new(ssrf::VettedResolver { policy }))
        .user_agent(config.user_agent.clone())
        .pool_max_idle_per_host(64)
        .build()?)
}

pub struct Worker {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub client: reqwest::Client,
    pub policy: Arc<Policy>,
    pub wake: Arc<Notify>,
    pub limits: Arc<Limits>,
    pub keys: Arc<platform::crypto::KeyRing>,
    pub metrics: Arc<DeliveryMetrics>,
}

impl Worker {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let this = Arc::new(self);
        let in_flight = Arc::new(Semaphore::new(this.config.max_in_flight));
        let mut tasks = JoinSet::new();
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let room = in_flight.available_permits().min(usize::try_from(this.config.batch_size).unwrap_or(256));
            if room == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tasks.join_next() => {}
                }
                continue;
            }
            let claimed = match this.claim(room).await {
                Ok(c) => c,
                Err(err) => {
                    tracing::warn!(error = %err, "could not claim deliveries; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                // Woken by new deliveries (ingest, the API, or NOTIFY from another replica);
                // retries come due without a wake-up, hence the short poll.
                let notified = this.wake.notified();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = notified => {}
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                continue;
            }
            let permits =
                in_flight.clone().acquire_many_owned(u32::try_from(claimed.len()).unwrap_or(u32::MAX)).await?;
            let worker = this.clone();
            tasks.spawn(async move {
                if let Err(err) = worker.process(claimed).await {
                    tracing::error!(error = ?err, "a batch of outcomes was not recorded; its leases will expire and it will be sent again");
                }
                drop(permits);
            });
        }
        // Finish what is in flight (bounded by the service's grace period).
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Claims up to `n` due deliveries, leasing them to this replica.
    async fn claim(&self, n: usize) -> sqlx::Result<Vec<Claimed>> {
        sqlx::query_as(
            "WITH due AS ( \
               SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
                 AND (d.leased_until IS NULL OR d.leased_until < now()) AND e.enabled \
                 AND (NOT e.ordered OR d.sequence = (SELECT min(p.sequence) FROM deliveries p \
                      WHERE p.endpoint_id = d.endpoint_id AND p.status = 'pending')) \
               ORDER BY d.next_attempt_at, d.sequence LIMIT $1 FOR UPDATE OF d SKIP LOCKED) \
             UPDATE deliveries d SET leased_until = now() + make_interval(secs => $2) FROM due WHERE d.id = due.id \
             RETURNING d.id, d.endpoint_id, d.organization_id, d.event_id, d.event_type, d.payload::text AS payload, d.attempts, \
               d.created_at",
        )
        .bind(i64::try_from(n).unwrap_or(256))
        .bind(self.config.lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await
    }

    async fn process(&self, claimed: Vec<Claimed>) -> anyhow::Result<()> {
        let mut endpoint_ids: Vec<Uuid> = claimed.iter().map(|c| c.endpoint_id).collect();
        endpoint_ids.sort();
        endpoint_ids.dedup();
        let targets: Vec<Target> = sqlx::query_as(
            "SELECT e.id, e.url, e.rate_limit_per_second, e.max_concurrency, \
               ARRAY(SELECT s.id::text || ' ' || s.secret FROM endpoint_secrets s WHERE s.endpoint_id = e.id \
                     AND (s.expires_at IS NULL OR s.expires_at > now()) ORDER BY s.created_at DESC) AS secrets \
             FROM endpoints e WHERE e.id = ANY($1)",
        )
        .bind(&endpoint_ids)
        .fetch_all(&self.pool)
        .await?;
        let outcomes = futures::stream::iter(claimed.into_iter().map(|d| {
            let target = targets.iter().find(|t| t.id == d.endpoint_id).cloned();
            async move {
                let outcome = match target {
                    Some(t) => self.attempt(&d, &t).await,
                    None => Outcome::Failed {
                        kind: "endpoint_deleted",
                        status: None,
                        body: None,
                        error: Some("endpoint deleted".into()),
                        retry_after: None,
                        took: Duration::ZERO,
                    },
                };
                (d, outcome)
            }
        }))
        .buffer_unordered(usize::MAX)
        .collect::<Vec<_>>()
        .await;
        let now = Utc::now();
        for (d, outcome) in &outcomes {
            match outcome {
                Outcome::Delivered { took, .. } => {
                    self.metrics.attempt("success", *took);
                    let latency = (now - d.created_at).to_std().unwrap_or_default();
                    self.metrics.delivery_latency.observe(latency.as_secs_f64());
                }
                Outcome::Failed { kind, took, .. } => self.metrics.attempt(kind, *took),
                Outcome::Deferred(_) => {}
            }
        }
        crate::outcomes::record(&self.pool, &self.config, outcomes).await
    }

    /// The signing key of a stored secret (`"<row id> <encrypted secret>"`).
    fn secret_key(&self, stored: &str) -> Option<Vec<u8>> {
        let (row, sealed) = stored.split_once(' ')?;
        match self.keys.decrypt(sealed, row.as_bytes()) {
            Ok(secret) => signing::key_of(&secret).ok(),
            Err(err) => {
                tracing::error!(secret = %row, error = %err, "an endpoint secret does not decrypt; check SECRETS_KEYS");
                None
            }
        }
    }

    /// Every active secret's key, or why the delivery must not be sent: a receiver may verify
    /// with any of them (rotation), so signing with fewer could fail where it should not, and
    /// an empty `webhook-signature` would be worse.
    fn signing_keys(&self, t: &Target) -> Result<Vec<Vec<u8>>, String> {
        if t.secrets.is_empty() {
            return Err("the endpoint has no signing secret; nothing was sent".to_owned());
        }
        t.secrets.iter().map(|s| self.secret_key(s)).collect::<Option<Vec<_>>>().ok_or_else(|| {
            "the endpoint's signing secret could not be decrypted with this replica's keys \
             (SECRETS_KEYS); nothing was sent"
                .to_owned()
        })
    }

    /// One signed POST, within the endpoint's limits.
    async fn attempt(&self, d: &Claimed, t: &Target) -> Outcome {
        if let Some(rate) = t.rate_limit_per_second {
            if let Err(wait) = self.limits.take(t.id, u32::try_from(rate).unwrap_or(1)) {
                return Outcome::Deferred(wait);
            }
        }
        let slots = self.limits.slots(t.id, usize::try_from(t.max_concurrency).unwrap_or(1).max(1));
        let Ok(_slot) = slots.acquire_owned().await else {
            return Outcome::Deferred(Duration::from_millis(100));
        };
        let started = Instant::now();
        let failed = |kind: &'static str, error: String| Outcome::Failed {
            kind,
            status: None,
            body: None,
            error: Some(error),
            retry_after: None,
            took: started.elapsed(),
        };
        let Ok(url) = reqwest::Url::parse(&t.url) else { return failed("refused", "invalid URL".into()) };
        if let Some(ip) = ssrf::literal_ip(&url) {
            if let Err(reason) = self.policy.check(ip) {
                return failed("refused", format!("refused: {reason}"));
            }
        }
        let keys = match self.signing_keys(t) {
            Ok(keys) => keys,
            Err(error) => return failed("secret_unavailable", error),
        };
        let body = d.payload.clone().unwrap_or_else(|| json!({"type": d.event_type, "data": null}).to_string());
        let timestamp = chrono::Utc::now().timestamp();
        let msg_id = d.id.to_string();
        let signature = signing::header(&keys, &msg_id, timestamp, body.as_bytes());
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                let (kind, what) = if e.is_timeout() {
                    ("timeout", "timed out")
                } else if e.is_connect() {
                    ("connect_error", "could not connect")
                } else {
                    ("request_error", "request failed")
                };
                return failed(kind, format!("{what}: {}", error_chain(&e)));
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_limited(response).await;
        let took = started.elapsed();
        if status.is_success() {
            Outcome::Delivered { status: status.as_u16(), body, took }
        } else {
            let honoured = matches!(status.as_u16(), 429 | 503).then_some(retry_after).flatten();
            Outcome::Failed {
                kind: "http_error",
                status: Some(status.as_u16()),
                body: Some(body),
                error: None,
                retry_after: honoured,
                took,
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(500).collect()
}

/// The first 4 KiB of a response body, as text (U+0000, which PostgreSQL's text cannot hold, as
/// U+FFFD, as bytes that are not UTF-8 are).
async fn read_limited(mut response: reqwest::Response) -> String {
    let mut out: Vec<u8> = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = RESPONSE_LIMIT - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= RESPONSE_LIMIT {
            break;
        }
    }
    platform::extract::replace_nul(&String::from_utf8_lossy(&out)).into_owned()
}

/// The delay before attempt `n + 1` after `n` failed attempts, with jitter; `None` when the
/// schedule is exhausted.
pub fn next_delay(config: &Config, failed_attempts: usize) -> Option<Duration> {
    let base = *config.retry_schedule.get(failed_attempts)?;
    let jitter = config.retry_jitter;
    let factor = if jitter > 0.0 { rand::thread_rng().gen_range(1.0 - jitter..=1.0 + jitter) } else { 1.0 };
    Some(base.mul_f64(factor))
}

/// An operational event about webhooks (`webhook.*`), for the outbox.
pub fn operational<T: serde::Serialize>(event_type: &str, org: Uuid, subject: Uuid, data: T) -> CloudEvent<T> {
    CloudEvent::new(SOURCE, event_type, Some(org), Some(subject.to_string()), data)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server answering every connection `200 OK`; counts connections.
    async fn server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ =
                        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                });
            }
        });
        (addr, seen)
    }

    /// The proxy variables are process-wide: this test sets them, so it relies on nextest's
    /// process per test (no other test in this binary reads them concurrently).
    #[tokio::test]
    async fn deliveries_ignore_proxy_variables() {
        let (proxy, proxied) = server().await;
        let (target, reached) = server().await;
        for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
            std::env::set_var(var, format!("http://{proxy}"));
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
        let env = platform::config::Env::from_map(
            [("SWITCHBOARD_ENV", "development")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        );
        let config = Config::from_env(env).unwrap();
        let policy = Arc::new(Policy { allow: vec!["127.0.0.0/8".parse().unwrap()], only_allowed: false });
        let client = client(&config, policy).unwrap();
        // A name, so the vetted resolver is what finds the address (a proxy would resolve it).
        let url = format!("http://localhost:{}/hook", target.port());
        let response = client.post(url).body("{}").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(reached.load(Ordering::SeqCst), 1);
        assert_eq!(proxied.load(Ordering::SeqCst), 0, "the proxy saw nothing");
    }
}
