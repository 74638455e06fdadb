//! inbox-sync: one inbox for WhatsApp, Messenger, Instagram and TikTok. Platform connections
//! with their tokens encrypted at rest, signed inbound webhooks stored before they are
//! acknowledged, conversations and messages with delivery status, and outbound messages sent
//! through the platforms' APIs.

pub mod config;
pub mod events;
pub mod http;
pub mod inbound;
pub mod maintenance;
pub mod outbound;
pub mod platforms;
pub mod redelivery;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use platform::auth::{AuthClient, GrpcAuthenticator};
use platform::bus::{Bus, COMMANDS_STREAM};
use platform::consumer::{Consumer, ConsumerSpec};
use platform::crypto::KeyRing;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use config::Config;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inbox-sync");

platform::app_state!(AppState, Services);

pub struct Services {
    pub config: Config,
    pub pool: PgPool,
    pub bus: Bus,
    pub auth: AuthClient,
    /// Tokens and app secrets at rest.
    pub keys: KeyRing,
    pub api: platforms::send::Api,
    pub oauth: platforms::oauth::OAuth,
    pub media: platforms::media::MediaClient,
    pub quota: platform::quota::Quota,
    /// Members' roles, asked of identity (an assignee must be an agent).
    pub directory: platform::directory::Directory,
    /// Bodies this replica stored or is storing: redeliveries answered without the database.
    pub recent: redelivery::Recent,
    /// Wakes the sender when a message is queued.
    pub send_wake: Arc<Notify>,
}

/// The associated data a secret of connection `id` is sealed with: a ciphertext copied to
/// another row, or to another column of the same row, does not decrypt.
pub fn sealed_for(id: Uuid, field: &str) -> Vec<u8> {
    let mut aad = id.as_bytes().to_vec();
    aad.push(b':');
    aad.extend_from_slice(field.as_bytes());
    aad
}

/// The retention job: raw bodies after `PAYLOAD_RETENTION_SECS`, used OAuth states after a day,
/// early statuses after a week, and messages past their organization's history window (its
/// plan's `history_days` as billing last said, else `DEFAULT_HISTORY_DAYS`; pending replies
/// stay). One replica at a time runs it.
pub fn retention(config: &Config, pool: PgPool) -> platform::retention::Retention {
    let payload_days = config.payload_retention.as_secs().div_ceil(86_400).max(1);
    let default_days = config.default_history_days;
    platform::retention::Retention::new(pool)
        .rule(
            "inbound payloads",
            format!(
                "DELETE FROM inbound_payloads WHERE id IN (SELECT id FROM inbound_payloads \
                 WHERE received_at < now() - interval '{payload_days} days' LIMIT 1000)"
            ),
        )
        .rule(
            "used OAuth states",
            "DELETE FROM oauth_states_used WHERE nonce IN (SELECT nonce FROM oauth_states_used \
             WHERE used_at < now() - interval '1 day' LIMIT 1000)",
        )
        .rule(
            "early statuses",
            "DELETE FROM early_statuses WHERE ctid IN (SELECT ctid FROM early_statuses \
             WHERE received_at < now() - interval '7 days' LIMIT 1000)",
        )
        .rule(
            "messages past the history window",
            format!(
                "DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m \
                   LEFT JOIN history_windows h ON h.organization_id = m.organization_id \
                 WHERE m.created_at < now() - interval '1 day' AND m.status <> 'pending' \
                   AND CASE WHEN h.organization_id IS NULL THEN m.created_at < now() - interval '{default_days} days' \
                     ELSE h.history_days IS NOT NULL AND m.created_at < now() - make_interval(days => h.history_days) END \
                 LIMIT 1000)"
            ),
        )
}

/// A built, bound, not yet serving inbox-sync instance.
pub struct Application {
    foundation: platform::service::Foundation,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let foundation = platform::service::prepare(&config.common, &MIGRATOR).await?;
        let (pool, bus) = (foundation.runtime.pool.clone(), foundation.runtime.bus.clone());
        let token = config.common.service_token();
        let authenticator = GrpcAuthenticator::new(&config.common.identity_grpc_url, token.clone())?;
        let auth = AuthClient::new(Arc::new(authenticator), config.common.auth_cache_ttl);
        let keys = KeyRing::parse(&config.secrets_keys).map_err(anyhow::Error::msg)?;
        let api = platforms::send::Api::new(&config)?;
        let oauth = platforms::oauth::OAuth::new(&config)?;
        let media = platforms::media::MediaClient::new(&config)?;
        let directory = platform::directory::Directory::new(&config.common.identity_grpc_url, token.clone())?;
        let quota = platform::quota::Quota::new(config.billing_grpc_url.as_deref(), config.quota_timeout, token)?;
        let state = AppState(Arc::new(Services {
            config,
            pool,
            bus,
            auth,
            keys,
            api,
            oauth,
            media,
            quota,
            directory,
            recent: redelivery::Recent::default(),
            send_wake: Arc::new(Notify::new()),
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

    /// Serves HTTP (API and inbound webhooks) and gRPC health, relays the outbox, consumes
    /// `inbox.send`, sends outbound messages and prunes old rows until `shutdown`.
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
        let retention = retention(&state.config, runtime.pool.clone());
        let sends = Consumer {
            spec: ConsumerSpec::new("inbox-sync-send", COMMANDS_STREAM, proto::events::INBOX_SEND),
            pool: runtime.pool.clone(),
            bus: runtime.bus.clone(),
            metrics: runtime.metrics.clone(),
            handler: Arc::new(outbound::SendCommand { wake: state.send_wake.clone() }),
        };
        let sender = outbound::Sender { services: state.0.clone(), api: state.api.clone() };
        let maintenance = maintenance::Maintenance { services: state.0.clone(), oauth: state.oauth.clone() };
        let (s1, s2) = (shutdown.clone(), shutdown.clone());
        let parts: Vec<platform::lifecycle::Part> = vec![
            ("http", tokio::spawn(platform::http::serve(http, router, shutdown.clone()))),
            (
                "grpc",
                // Health only: inbox-sync serves none of the Switchboard contracts over gRPC yet.
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
            (
                "inbox.send consumer",
                tokio::spawn(async move {
                    sends.run(s2).await;
                    Ok(())
                }),
            ),
            ("sender", tokio::spawn(sender.run(shutdown.clone()))),
            ("connection maintenance", tokio::spawn(maintenance.run(shutdown.clone()))),
        ];
        let result = platform::lifecycle::supervise(shutdown, state.config.common.shutdown_grace, parts).await;
        revocations.abort();
        result
    }
}
