//! Feedback: boards of feature requests with votes, threaded comments, attachments, search, a
//! public portal, merges of duplicates and notifications to subscribers.

pub mod boards;
pub mod cache;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod quota;
pub mod store;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use platform::auth::{AuthClient, GrpcAuthenticator};
use platform::bus::Bus;
use platform::consumer::{Consumer, ConsumerSpec};
use proto::identity::identity_client::IdentityClient;
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
    pub identity: IdentityClient<tonic::transport::Channel>,
    pub quota: quota::Quota,
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
        let authenticator = GrpcAuthenticator::new(&config.common.identity_grpc_url)?;
        let auth = AuthClient::new(Arc::new(authenticator), config.common.auth_cache_ttl);
        let identity = IdentityClient::new(
            tonic::transport::Endpoint::from_shared(config.common.identity_grpc_url.clone())?
                .connect_timeout(std::time::Duration::from_secs(2))
                .timeout(std::time::Duration::from_secs(5))
                .connect_lazy(),
        );
        let quota = quota::Quota::new(config.billing_grpc_url.as_deref(), config.quota_timeout)?;
        let state = AppState(Arc::new(Services {
            posts: cache::PostCache::new(config.post_cache_ttl),
            config,
            pool,
            bus,
            auth,
            identity,
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

    /// Serves HTTP and gRPC (health and reflection), relays the outbox and learns organizations
    /// from identity's events until `shutdown`.
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
        let router = platform::http::with_common(
            http::router(state.clone()),
            &runtime,
            http::OPENAPI,
            state.config.common.body_limit_bytes,
        );
        let (s1, s2) = (shutdown.clone(), shutdown.clone());
        let views = state.views.clone().run(runtime.pool.clone(), std::time::Duration::from_secs(2), shutdown.clone());
        let parts: Vec<platform::lifecycle::Part> = vec![
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
            ("views", tokio::spawn(views)),
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
