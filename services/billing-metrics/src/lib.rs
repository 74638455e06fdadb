//! billing-metrics: the plan catalog, one subscription per organization, exact metering of
//! every event, quota answers from memory over gRPC, Stripe-driven subscription status and the
//! activity log.

pub mod analytics;
pub mod budgets;
pub mod config;
pub mod events;
pub mod grpc;
pub mod http;
pub mod ledger;
pub mod lifecycle;
pub mod meter;
pub mod metering;
pub mod periods;
pub mod plans;
pub mod retention;
pub mod store;
pub mod stripe;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use platform::auth::{AuthClient, GrpcAuthenticator};
use platform::bus::{Bus, EVENTS_STREAM};
use platform::consumer::{Consumer, ConsumerSpec};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use config::Config;

use crate::store::subscriptions::{self, Subscription};

/// Events per metering transaction, at most.
pub const METERING_BATCH: usize = 256;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/billing-metrics");

platform::app_state!(AppState, Services);

pub struct Services {
    pub config: Config,
    pub pool: PgPool,
    pub bus: Bus,
    pub auth: AuthClient,
    /// Plans, statuses and usage in memory: what quota checks are answered from.
    pub ledger: ledger::Ledger,
}

/// `org`'s subscription, started on `free` (trialing for `TRIAL_DAYS`) if it has none yet:
/// `identity.org.created` starts it, and so does the first question about an organization
/// billing had not heard of.
pub async fn subscribe(tx: &mut PgConnection, services: &Services, org: Uuid) -> anyhow::Result<Subscription> {
    let now = Utc::now();
    let days = services.config.trial_days;
    let trial = (days > 0).then(|| (now, now + chrono::TimeDelta::days(days)));
    let status = if trial.is_some() { "trialing" } else { "active" };
    let period = (now, periods::period_end(now, "month"));
    if let Some(s) = subscriptions::start(tx, org, "free", status, period, trial).await? {
        events::subscription(tx, &s, Vec::new()).await?;
        return Ok(s);
    }
    subscriptions::get(tx, org).await?.ok_or_else(|| anyhow::anyhow!("subscription of {org} vanished"))
}

/// Rolls over subscriptions whose period or trial ended, a batch at a time, under row locks
/// that other replicas skip; each change publishes `billing.subscription.updated`.
pub async fn roll_over(services: &Services) -> anyhow::Result<usize> {
    let mut done = 0;
    loop {
        let mut tx = services.pool.begin().await?;
        let due = subscriptions::due(&mut tx, Utc::now(), 100).await?;
        if due.is_empty() {
            return Ok(done);
        }
        for mut s in due {
            let interval =
                store::plans::get(&mut tx, &s.plan).await?.map_or_else(|| "month".to_owned(), |p| p.billing_interval);
            let changed = lifecycle::advance(&mut s, &interval, Utc::now());
            if !changed.is_empty() {
                let s = subscriptions::save(&mut tx, &s).await?;
                events::subscription(&mut tx, &s, changed).await?;
                services.ledger.forget(Some(s.organization_id));
            }
            done += 1;
        }
        tx.commit().await?;
    }
}

/// A built, bound, not yet serving billing-metrics instance.
pub struct Application {
    foundation: platform::service::Foundation,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let foundation = platform::service::prepare(&config.common, &MIGRATOR).await?;
        let (pool, bus) = (foundation.runtime.pool.clone(), foundation.runtime.bus.clone());
        let token = config.common.service_token();
        let authenticator = GrpcAuthenticator::new(&config.common.identity_grpc_url, token)?;
        let auth = AuthClient::new(Arc::new(authenticator), config.common.auth_cache_ttl);
        let ledger = ledger::Ledger::new(pool.clone(), config.quota_cache_ttl);
        let state = AppState(Arc::new(Services { config, pool, bus, auth, ledger }));
        Ok(Self { foundation, state })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.foundation.http_addr()
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.foundation.grpc_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP and gRPC, meters every event, rolls subscriptions over and relays the outbox
    /// until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { foundation: platform::service::Foundation { runtime, http, grpc }, state } = self;
        let revocations = state.auth.listen(state.bus.clone(), shutdown.clone());
        let relay = platform::outbox::Relay::new(runtime.pool.clone(), runtime.bus.clone(), runtime.metrics.clone());
        let (routes, api) = http::router(state.clone());
        let router = platform::http::with_common(
            routes,
            &runtime,
            platform::http::Web {
                openapi: platform::openapi::document(api),
                auth: Some(state.auth.clone()),
                common: &state.config.common,
            },
        );
        let grpc_routes = grpc::routes(state.clone(), &state.config.common.service_token());
        let retention = retention::rules(runtime.pool.clone());
        let metering = Consumer {
            // Events applied as sets: a batch's counters are added up before they are written.
            spec: ConsumerSpec::new("billing-metering", EVENTS_STREAM, "events.>").batched(METERING_BATCH, 4),
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            metrics: runtime.metrics.clone(),
            handler: Arc::new(metering::Metering { services: state.0.clone() }),
        };
        let services = state.0.clone();
        let interval = state.config.rollover_interval;
        let rollover_stop = shutdown.clone();
        let (s1, s2) = (shutdown.clone(), shutdown.clone());
        let parts: Vec<platform::lifecycle::Part> = vec![
            ("http", tokio::spawn(platform::http::serve(http, router, shutdown.clone()))),
            ("grpc", tokio::spawn(platform::grpc::serve(grpc, grpc_routes, &[grpc::SERVICE_NAME], shutdown.clone()))),
            (
                "outbox relay",
                tokio::spawn(async move {
                    relay.run(s1).await;
                    Ok(())
                }),
            ),
            ("retention", tokio::spawn(retention.run(shutdown.clone()))),
            (
                "metering",
                tokio::spawn(async move {
                    metering.run(s2).await;
                    Ok(())
                }),
            ),
            (
                "rollover",
                tokio::spawn(async move {
                    loop {
                        if let Err(e) = roll_over(&services).await {
                            tracing::warn!(error = %e, "subscription rollover failed; next pass retries");
                        }
                        tokio::select! {
                            _ = rollover_stop.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(interval) => {}
                        }
                    }
                }),
            ),
        ];
        let result = platform::lifecycle::supervise(shutdown, state.config.common.shutdown_grace, parts).await;
        revocations.abort();
        result
    }
}
