//! Identity: organizations, users, memberships, teams, departments, sessions and API keys.
//! Every other service asks it "who is this caller?" over gRPC.

pub mod authn;
pub mod billing;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod http;
pub mod passwords;
pub mod profile;
pub mod retention;
pub mod sessions;
pub mod store;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use platform::auth::AuthClient;
use platform::bus::Bus;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use config::Config;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/identity");

platform::app_state!(AppState, Services);

/// What [`AppState`] shares.
pub struct Services {
    pub config: Arc<Config>,
    pub pool: PgPool,
    pub bus: Bus,
    pub passwords: passwords::Passwords,
    pub auth: AuthClient,
    pub authn: Arc<authn::DbAuthenticator>,
    pub profiles: profile::ProfileCache,
    /// Plan limits (`seats`, `api_keys`), asked of billing-metrics.
    pub quota: platform::quota::Quota,
}

/// A built, bound, not yet serving identity instance.
pub struct Application {
    foundation: platform::service::Foundation,
    state: AppState,
}

impl Application {
    /// Connects, migrates, and binds both listeners (port 0 works).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let foundation = platform::service::prepare(&config.common, &MIGRATOR).await?;
        let (pool, bus) = (foundation.runtime.pool.clone(), foundation.runtime.bus.clone());
        let passwords = passwords::Passwords::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.password_hash_concurrency,
        )?;
        let authn = Arc::new(authn::DbAuthenticator::new(pool.clone(), config.session_idle));
        let profiles = profile::ProfileCache::new(config.common.auth_cache_ttl);
        let hook_profiles = profiles.clone();
        let auth = AuthClient::with_hook(
            authn.clone(),
            config.common.auth_cache_ttl,
            Arc::new(move |r| hook_profiles.invalidate(r)),
        );
        let quota = platform::quota::Quota::new(
            config.billing_grpc_url.as_deref(),
            config.quota_timeout,
            config.common.service_token(),
        )?;
        let state = AppState(Arc::new(Services {
            config: Arc::new(config),
            pool,
            bus,
            passwords,
            auth,
            authn,
            profiles,
            quota,
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

    /// Serves HTTP and gRPC, relays the outbox, deletes what outlived its use and listens for
    /// revocations until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { foundation: platform::service::Foundation { runtime, http, grpc }, state } = self;
        let revocations = state.auth.listen(state.bus.clone(), shutdown.clone());
        let relay = platform::outbox::Relay::new(runtime.pool.clone(), runtime.bus.clone(), runtime.metrics.clone());
        let relay_shutdown = shutdown.clone();
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
        let mirror = platform::consumer::Consumer {
            spec: platform::consumer::ConsumerSpec::new(
                "identity-billing",
                platform::bus::EVENTS_STREAM,
                "events.billing.subscription.>",
            ),
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            metrics: runtime.metrics.clone(),
            handler: Arc::new(billing::Mirror { state: state.clone() }),
        };
        let mirror_shutdown = shutdown.clone();
        let parts: Vec<platform::lifecycle::Part> = vec![
            ("http", tokio::spawn(platform::http::serve(http, router, shutdown.clone()))),
            ("grpc", tokio::spawn(platform::grpc::serve(grpc, grpc_routes, &[grpc::SERVICE_NAME], shutdown.clone()))),
            (
                "outbox relay",
                tokio::spawn(async move {
                    relay.run(relay_shutdown).await;
                    Ok(())
                }),
            ),
            ("retention", tokio::spawn(retention.run(shutdown.clone()))),
            (
                "billing mirror",
                tokio::spawn(async move {
                    mirror.run(mirror_shutdown).await;
                    Ok(())
                }),
            ),
        ];
        let result = platform::lifecycle::supervise(shutdown, state.config.common.shutdown_grace, parts).await;
        revocations.abort();
        result
    }
}
