//! Webhooks dispatcher: every event an organization's endpoint subscribes to is POSTed to it,
//! signed (Standard Webhooks), retried, logged and replayable; plus in-app notifications and
//! outgoing mail.

pub mod commands;
pub mod config;
pub mod filters;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod mailer;
pub mod metrics;
pub mod outcomes;
pub mod signing;
pub mod smtp;
/// Where outbound requests to addresses users give may go (moved to the platform: inbox-sync fetches media too).
pub use platform::ssrf;
pub mod store;
pub mod wakeups;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use platform::auth::{AuthClient, GrpcAuthenticator};
use platform::bus::{Bus, COMMANDS_STREAM};
use platform::consumer::{Consumer, ConsumerSpec};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use config::Config;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/webhooks-dispatcher");

platform::app_state!(AppState, Services);

pub struct Services {
    pub config: Arc<Config>,
    pub pool: PgPool,
    pub bus: Bus,
    pub auth: AuthClient,
    pub policy: Arc<ssrf::Policy>,
    pub wake: Arc<Notify>,
    /// Encrypts endpoint secrets at rest.
    pub keys: Arc<platform::crypto::KeyRing>,
    /// Plan limits (`webhook_endpoints`), asked of billing-metrics.
    pub quota: platform::quota::Quota,
}

pub struct Application {
    foundation: platform::service::Foundation,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let foundation = platform::service::prepare(&config.common, &MIGRATOR).await?;
        let (pool, bus) = (foundation.runtime.pool.clone(), foundation.runtime.bus.clone());
        let auth = AuthClient::new(
            Arc::new(GrpcAuthenticator::new(&config.common.identity_grpc_url, config.common.service_token())?),
            config.common.auth_cache_ttl,
        );
        let policy =
            Arc::new(ssrf::Policy { allow: config.allow_cidrs.clone(), only_allowed: config.only_allowed_cidrs });
        let keys = Arc::new(platform::crypto::KeyRing::parse(&config.secrets_keys).map_err(anyhow::Error::msg)?);
        if config.secrets_keys_default {
            // Only reachable in development: production refuses to start without the keys.
            tracing::warn!("SECRETS_KEYS is not set: endpoint secrets are encrypted with the development key");
        }
        let quota = platform::quota::Quota::new(
            config.billing_grpc_url.as_deref(),
            config.quota_timeout,
            config.common.service_token(),
        )?;
        let state = AppState(Arc::new(Services {
            quota,
            config: Arc::new(config),
            pool,
            bus,
            auth,
            policy,
            wake: Arc::new(Notify::new()),
            keys,
        }));
        Ok(Self { foundation, state })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.foundation.http_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves the API, turns events into deliveries, sends them, consumes notification and mail
    /// commands, sends mail, prunes old rows, and relays its own events until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { foundation: platform::service::Foundation { runtime, http, grpc }, state } = self;
        let revocations = state.auth.listen(state.bus.clone(), shutdown.clone());
        let config = state.config.clone();
        let relay = platform::outbox::Relay::new(runtime.pool.clone(), runtime.bus.clone(), runtime.metrics.clone());
        let delivery_metrics = metrics::DeliveryMetrics::register(&runtime.metrics);
        let mail_wake = Arc::new(Notify::new());
        let wakeups =
            wakeups::Wakeups { pool: runtime.pool.clone(), deliveries: state.wake.clone(), mail: mail_wake.clone() };
        let ingest = ingest::Ingest {
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            wake: state.wake.clone(),
            batch: usize::try_from(config.batch_size).unwrap_or(256),
            metrics: runtime.metrics.clone(),
        };
        let worker = worker::Worker {
            pool: runtime.pool.clone(),
            config: config.clone(),
            client: worker::client(&config, state.policy.clone())?,
            policy: state.policy.clone(),
            wake: state.wake.clone(),
            limits: Arc::new(limits::Limits::default()),
            keys: state.keys.clone(),
            metrics: delivery_metrics.clone(),
        };
        let consumer = |name: &str, filter: &str, handler: Arc<dyn platform::consumer::Handler>| Consumer {
            spec: ConsumerSpec::new(name, COMMANDS_STREAM, filter),
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            metrics: runtime.metrics.clone(),
            handler,
        };
        let notifications = consumer("webhooks-dispatcher-notify", "notify.send", Arc::new(commands::Notifications));
        let smtp =
            config.smtp_url.as_ref().map(|u| smtp::Smtp::parse(u.expose_secret(), &config.mail_from)).transpose()?;
        let mail = consumer(
            store::mail::CONSUMER,
            "mail.send",
            Arc::new(commands::Mail { dev_mailbox: config.dev_mailbox, smtp: smtp.is_some() }),
        );
        let (routes, api) = http::router(state.clone());
        let router = platform::http::with_common(
            routes,
            &runtime,
            platform::http::Web {
                openapi: platform::openapi::document(api),
                auth: Some(state.auth.clone()),
                common: &config.common,
            },
        );
        let retention = platform::retention::Retention::new(runtime.pool.clone())
            // Development's mailbox holds one-time links: a week is plenty.
            .rule(
                "mailbox",
                "DELETE FROM mailbox WHERE ctid IN \
                 (SELECT ctid FROM mailbox WHERE created_at < now() - interval '7 days' LIMIT 1000)",
            );
        let (s1, s2, s3) = (shutdown.clone(), shutdown.clone(), shutdown.clone());
        let prune_pool = runtime.pool.clone();
        let mut parts: Vec<platform::lifecycle::Part> = vec![
            ("http", tokio::spawn(platform::http::serve(http, router, shutdown.clone()))),
            (
                "grpc",
                tokio::spawn(platform::grpc::serve(grpc, tonic::service::Routes::default(), &[], shutdown.clone())),
            ),
            (
                "outbox relay",
                tokio::spawn(async move {
                    relay.run(s1).await;
                    Ok(())
                }),
            ),
            ("wake-ups", tokio::spawn(wakeups.run(shutdown.clone()))),
            ("event intake", tokio::spawn(ingest.run(shutdown.clone()))),
            ("deliveries", tokio::spawn(worker.run(shutdown.clone()))),
            ("delivery backlog", tokio::spawn(delivery_metrics.watch_backlog(runtime.pool.clone(), shutdown.clone()))),
            (
                "notifications",
                tokio::spawn(async move {
                    notifications.run(s2).await;
                    Ok(())
                }),
            ),
            (
                "mail",
                tokio::spawn(async move {
                    mail.run(s3).await;
                    Ok(())
                }),
            ),
            ("delivery retention", tokio::spawn(prune(prune_pool, config.retention, shutdown.clone()))),
            ("retention", tokio::spawn(retention.run(shutdown.clone()))),
        ];
        if let Some(smtp) = smtp {
            let mailer = mailer::Mailer {
                pool: runtime.pool.clone(),
                smtp,
                wake: mail_wake,
                concurrency: config.mail_concurrency,
                lease: config.mail_lease,
                max_attempts: config.mail_max_attempts,
            };
            parts.push(("mail sender", tokio::spawn(mailer.run(shutdown.clone()))));
        }
        let result = platform::lifecycle::supervise(shutdown, config.common.shutdown_grace, parts).await;
        revocations.abort();
        result
    }
}

/// Deletes finished deliveries (and their attempts) older than the retention period, in
/// batches so no statement holds many locks for long; replicas doing it at once only share it.
async fn prune(pool: PgPool, retention: Duration, shutdown: CancellationToken) -> anyhow::Result<()> {
    loop {
        let mut pruned = 0;
        loop {
            let result = sqlx::query(
                "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status <> 'pending' \
                 AND updated_at < now() - make_interval(secs => $1) LIMIT 1000)",
            )
            .bind(retention.as_secs_f64())
            .execute(&pool)
            .await;
            match result {
                Ok(r) if r.rows_affected() > 0 && !shutdown.is_cancelled() => pruned += r.rows_affected(),
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "could not prune deliveries");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, "old deliveries pruned");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(60).min(retention.max(Duration::from_secs(1)))) => {}
        }
    }
}
