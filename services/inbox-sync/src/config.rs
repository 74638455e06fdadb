//! inbox-sync's configuration: the common variables, the platforms' app credentials and API
//! base URLs (tests point them at local stand-ins), the key ring for tokens at rest, sending
//! and retention.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub meta_app_id: Option<String>,
    /// Signs Meta's webhooks to `/webhooks/meta` (and the aliases); unset, only connections with
    /// their own app secret receive webhooks.
    pub meta_app_secret: Option<SecretString>,
    /// Meta's GET handshake token for the shared endpoint.
    pub meta_verify_token: Option<SecretString>,
    pub tiktok_client_key: Option<String>,
    pub tiktok_client_secret: Option<SecretString>,
    pub meta_graph_url: String,
    /// The Graph API version in request paths.
    pub meta_graph_version: String,
    pub instagram_graph_url: String,
    pub tiktok_api_url: String,
    pub tiktok_business_api_url: String,
    /// Consent pages the admin's browser goes to (the OAuth `authorize` step).
    pub facebook_dialog_url: String,
    pub instagram_dialog_url: String,
    pub tiktok_dialog_url: String,
    /// Instagram's code exchange (`/oauth/access_token`).
    pub instagram_api_url: String,
    /// Largest media file kept.
    pub media_max_bytes: usize,
    /// Non-public networks media may be downloaded from (tests, sandboxes); none by default.
    pub media_allow_cidrs: Vec<platform::ssrf::Cidr>,
    /// How long an OAuth `state` is good for.
    pub oauth_state_ttl: Duration,
    /// How often expiring tokens are looked for and refreshed, and keys rotated.
    pub maintenance_interval: Duration,
    /// Keys that encrypt tokens and app secrets at rest (`id:base64(32 bytes)`, first
    /// encrypts). Required outside development.
    pub secrets_keys: SecretString,
    /// Timeout of each platform API call.
    pub platform_timeout: Duration,
    /// Attempts of an outbound send on 5xx and 429 before it is `failed`.
    pub send_attempts: u32,
    /// First retry delay; doubles each time.
    pub send_backoff: Duration,
    /// Raw inbound bodies are kept this long.
    pub payload_retention: Duration,
    /// Messages are kept this many days when billing cannot say (the free plan's 30).
    pub default_history_days: i64,
    pub billing_grpc_url: Option<String>,
    pub quota_timeout: Duration,
    /// Where OAuth callbacks come back to (`<base>/v1/connections/oauth/callback`).
    pub public_base_url: String,
}

impl Config {
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, "inbox-sync", 8084, 50054);
        let secret = |env: &mut Env, name: &str| env.optional(name).filter(|v| !v.is_empty()).map(SecretString::from);
        let config = Self {
            meta_app_id: env.optional("META_APP_ID"),
            meta_app_secret: secret(&mut env, "META_APP_SECRET"),
            meta_verify_token: secret(&mut env, "META_VERIFY_TOKEN"),
            tiktok_client_key: env.optional("TIKTOK_CLIENT_KEY"),
            tiktok_client_secret: secret(&mut env, "TIKTOK_CLIENT_SECRET"),
            meta_graph_url: base(env.string("META_GRAPH_URL", "https://graph.facebook.com")),
            meta_graph_version: env.string("META_GRAPH_VERSION", "v21.0"),
            instagram_graph_url: base(env.string("INSTAGRAM_GRAPH_URL", "https://graph.instagram.com")),
            tiktok_api_url: base(env.string("TIKTOK_API_URL", "https://open.tiktokapis.com")),
            tiktok_business_api_url: base(env.string("TIKTOK_BUSINESS_API_URL", "https://business-api.tiktok.com")),
            facebook_dialog_url: base(env.string("FACEBOOK_DIALOG_URL", "https://www.facebook.com")),
            instagram_dialog_url: base(env.string("INSTAGRAM_DIALOG_URL", "https://www.instagram.com")),
            tiktok_dialog_url: base(env.string("TIKTOK_DIALOG_URL", "https://www.tiktok.com")),
            instagram_api_url: base(env.string("INSTAGRAM_API_URL", "https://api.instagram.com")),
            media_max_bytes: env.get("MEDIA_MAX_BYTES", 16 * 1024 * 1024),
            media_allow_cidrs: Vec::new(),
            oauth_state_ttl: env.seconds("OAUTH_STATE_TTL_SECS", Duration::from_secs(600)),
            maintenance_interval: env.seconds("MAINTENANCE_INTERVAL_SECS", Duration::from_secs(300)),
            secrets_keys: env.production_secret("SECRETS_KEYS", common.environment, platform::crypto::DEVELOPMENT_KEYS),
            platform_timeout: env.seconds("PLATFORM_TIMEOUT_SECS", Duration::from_secs(10)),
            send_attempts: env.get("SEND_ATTEMPTS", 5),
            send_backoff: env.seconds("SEND_BACKOFF_SECS", Duration::from_millis(500)),
            payload_retention: env.seconds("PAYLOAD_RETENTION_SECS", Duration::from_secs(7 * 24 * 3600)),
            default_history_days: env.get("DEFAULT_HISTORY_DAYS", 30),
            billing_grpc_url: env.optional("BILLING_GRPC_URL"),
            quota_timeout: env.seconds("QUOTA_TIMEOUT_SECS", Duration::from_millis(300)),
            public_base_url: base(env.string("PUBLIC_BASE_URL", "http://127.0.0.1:8080")),
            common,
        };
        if !config.secrets_keys.expose_secret().is_empty() {
            if let Err(e) = platform::crypto::KeyRing::parse(&config.secrets_keys) {
                env.invalid("SECRETS_KEYS", &e);
            }
        }
        let mut config = config;
        for part in env.string("MEDIA_ALLOW_CIDRS", "").split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<platform::ssrf::Cidr>() {
                Ok(c) => config.media_allow_cidrs.push(c),
                Err(e) => env.invalid("MEDIA_ALLOW_CIDRS", &e),
            }
        }
        if config.send_attempts == 0 {
            env.invalid("SEND_ATTEMPTS", "must be at least 1");
        }
        if config.default_history_days < 1 {
            env.invalid("DEFAULT_HISTORY_DAYS", "must be at least 1");
        }
        env.finish()?;
        Ok(config)
    }
}

fn base(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}
