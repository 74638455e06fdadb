//! Feedback: boards of feature requests with votes, threaded comments, attachments, search, a
//! public portal, merges of duplicates and notifications to subscribers.

pub mod boards;
pub mod cache;
pub mod config;
pub use platform::directory;
pub mod domain;
pub mod events;
pub mod http;
pub mod store;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use platform::auth::{AuthClient, GrpcAuthenticator};
use platform::bus::Bus;
use platform::consumer::{Consumer, ConsumerSpec};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use config::Config;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/feedback");

platform::app_state!(AppState, Services);

pub struct Services {
    pub config: Config,
    pub pool: PgPool,
    pub bus: Bus,
    pub auth: AuthClient,
    /// identity's member lookups (gRPC, with the service token).
    pub directory: directory::Directory,
    pub quota: platform::quota::Quota,
    pub views: views::Views,
    pub posts: cache::PostCache,
}

impl Services {
    /// Call after committing a change to these posts: drops them from every replica's cache.
    pub async fn changed(&self, ids: &[uuid::Uuid]) {
        self.posts.changed(&self.bus, ids).await;
    }
}

/// A built, bound, not yet serving feedback instance.
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
        let state = AppState(Arc::new(Services {
            posts: cache::PostCache::new(config.post_cache_ttl),
            config,
            pool,
            bus,
            auth,
            directory,
            quota,
            views: views::Views::default(),
        }));
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

    /// Serves HTTP and gRPC (health and reflection), relays the outbox, learns organizations
    /// from identity's events and prunes old rows until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { foundation: platform::service::Foundation { runtime, http, grpc }, state } = self;
        let revocations = state.auth.listen(state.bus.clone(), shutdown.clone());
        let relay = platform::outbox::Relay::new(runtime.pool.clone(), runtime.bus.clone(), runtime.metrics.clone());
        let organizations = Consumer {
            spec: ConsumerSpec::new("feedback-organizations", platform::bus::EVENTS_STREAM, "events.identity.org.>"),
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            metrics: runtime.metrics.clone(),
            handler: Arc::new(boards::OrganizationEvents),
        };
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
        let retention =
            platform::retention::Retention::new(runtime.pool.clone()).rule("rate_limits", store::RATE_LIMIT_RETENTION);
        let (s1, s2) = (shutdown.clone(), shutdown.clone());
        let views = state.views.clone().run(runtime.pool.clone(), std::time::Duration::from_secs(2), shutdown.clone());
        let parts: Vec<platform::lifecycle::Part> = vec![
            ("http", tokio::spawn(platform::http::serve(http, router, shutdown.clone()))),
            (
                "grpc",
                // Health only: feedback serves none of the Switchboard contracts, so reflection
                // lists none of them.
                tokio::spawn(platform::grpc::serve(grpc, tonic::service::Routes::default(), &[], shutdown.clone())),
            ),
            (
                "outbox relay",
                tokio::spawn(async move {
                    relay.run(s1).await;
                    Ok(())
                }),
            ),
            ("views", tokio::spawn(views)),
            ("retention", tokio::spawn(retention.run(shutdown.clone()))),
            ("post cache", tokio::spawn(state.posts.clone().listen(state.bus.clone(), shutdown.clone()))),
            (
                "organization events",
                tokio::spawn(async move {
                    organizations.run(s2).await;
                    Ok(())
                }),
            ),
        ];
        let result = platform::lifecycle::supervise(shutdown, state.config.common.shutdown_grace, parts).await;
        revocations.abort();
        result
    }
}
