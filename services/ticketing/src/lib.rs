//! Ticketing: the support desk. Tickets numbered per organization and year, comments and
//! internal notes, history, attachments, time, watchers, merges and CSAT; SLA policies, routing
//! and escalations; decision rules; knowledge articles and suggested answers; customer profiles,
//! projects and the inbox.

pub mod assist;
pub mod config;
pub mod consumers;
pub use platform::directory;
pub mod domain;
pub mod escalations;
pub mod events;
pub mod http;
pub mod inbox;
pub mod routing;
pub mod rules;
pub mod service;
pub mod sla;
pub mod sla_scanner;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use platform::auth::{AuthClient, GrpcAuthenticator};
use platform::bus::Bus;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use config::Config;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/ticketing");

platform::app_state!(AppState, Services);

pub struct Services {
    pub config: Config,
    pub pool: PgPool,
    pub bus: Bus,
    pub auth: AuthClient,
    /// identity's member and team lookups (gRPC, with the service token).
    pub directory: directory::Directory,
    pub quota: platform::quota::Quota,
    /// Tickets read by id, per replica; every committed change to a ticket row evicts it on
    /// every replica (the store [`platform::cache::touch`]es each row it writes).
    pub tickets: platform::cache::Shared<domain::ticket::Ticket>,
}

/// Broadcasts ticket evictions between replicas.
pub const TICKETS_CHANGED_SUBJECT: &str = "internal.ticketing.changed";
const TICKET_CACHE_ENTRIES: usize = 50_000;

impl Services {
    /// Call once the work that `touched` these tickets has committed.
    pub async fn changed(&self, touched: &platform::cache::Touched) {
        if !touched.is_empty() {
            self.tickets.changed(&self.bus, touched.ids()).await;
        }
    }
}

/// A built, bound, not yet serving ticketing instance.
pub struct Application {
    foundation: platform::service::Foundation,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let foundation = platform::service::prepare(&config.common, &MIGRATOR).await?;
        let (pool, bus) = (foundation.runtime.pool.clone(), foundation.runtime.bus.clone());
        tokio::fs::create_dir_all(&config.attachments_dir).await?;
        let token = config.common.service_token();
        let authenticator = GrpcAuthenticator::new(&config.common.identity_grpc_url, token.clone())?;
        let auth = AuthClient::new(Arc::new(authenticator), config.common.auth_cache_ttl);
        let directory = directory::Directory::new(&config.common.identity_grpc_url, token.clone())?;
        let quota = platform::quota::Quota::new(config.billing_grpc_url.as_deref(), config.quota_timeout, token)?;
        let tickets =
            platform::cache::Shared::new(TICKETS_CHANGED_SUBJECT, config.ticket_cache_ttl, TICKET_CACHE_ENTRIES);
        let state = AppState(Arc::new(Services { config, pool, bus, auth, directory, quota, tickets }));
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

    /// Serves HTTP and gRPC (health and reflection), relays the outbox, runs the background
    /// workers and prunes old rows until `shutdown`.
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
        let retention = platform::retention::Retention::new(runtime.pool.clone());
        let s1 = shutdown.clone();
        let parts: Vec<platform::lifecycle::Part> = vec![
            ("http", tokio::spawn(platform::http::serve(http, router, shutdown.clone()))),
            (
                "grpc",
                // Health only: ticketing serves none of the Switchboard contracts over gRPC.
                tokio::spawn(platform::grpc::serve(grpc, tonic::service::Routes::default(), &[], shutdown.clone())),
            ),
            (
                "outbox relay",
                tokio::spawn(async move {
                    relay.run(s1).await;
                    Ok(())
                }),
            ),
            ("retention", tokio::spawn(retention.run(shutdown.clone()))),
            ("ticket cache", tokio::spawn(state.tickets.clone().listen(state.bus.clone(), shutdown.clone()))),
            (
                "inbox consumers",
                tokio::spawn(consumers::inbox::run(state.clone(), runtime.metrics.clone(), shutdown.clone())),
            ),
            (
                "team events",
                tokio::spawn(consumers::teams::run(state.clone(), runtime.metrics.clone(), shutdown.clone())),
            ),
            (
                "sla scanner",
                tokio::spawn(
                    sla_scanner::SlaScanner::new(
                        runtime.pool.clone(),
                        state.config.sla_scan_interval,
                        &state.config.app_base_url,
                    )
                    .evicting(state.tickets.clone(), state.bus.clone())
                    .run(shutdown.clone()),
                ),
            ),
        ];
        let result = platform::lifecycle::supervise(shutdown, state.config.common.shutdown_grace, parts).await;
        revocations.abort();
        result
    }
}
