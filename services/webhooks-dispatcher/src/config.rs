//! The dispatcher's configuration: delivery policy, SSRF rules, notifications and mail.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};

use crate::ssrf::Cidr;

/// Development only: a well-known key, so a fresh checkout runs without configuration.
const DEVELOPMENT_KEY: &str = "dev:c3dpdGNoYm9hcmQtZGV2ZWxvcG1lbnQta2V5LTMyYmI=";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// Delay before each attempt: the first is immediate. Default 0, 5 s, 5 min, 30 min, 2 h,
    /// 5 h, 10 h, 10 h.
    pub retry_schedule: Vec<Duration>,
    /// ± this fraction of each delay, so retries of many deliveries do not arrive together.
    pub retry_jitter: f64,
    pub request_timeout: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// Bounds of a receiver's `Retry-After`.
    pub retry_after_max: Duration,
    /// Networks outbound deliveries may reach although private (e.g. 127.0.0.0/8 locally).
    pub allow_cidrs: Vec<Cidr>,
    /// Delivered payloads are pruned after this long.
    pub retention: Duration,
    /// How long a replica owns a claimed delivery; longer than a request can take.
    pub lease: Duration,
    pub batch_size: i64,
    /// Deliveries in flight per replica.
    pub max_in_flight: usize,
    /// Rotated secrets keep signing beside the new one this long by default.
    pub rotation_overlap: Duration,
    /// May carry a password: never printed.
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    /// Development only: keep mail at `GET /v1/dev/mailbox` instead of sending it.
    pub dev_mailbox: bool,
    pub user_agent: String,
    /// Keys that encrypt endpoint secrets at rest: `id:base64(32 bytes)`, comma-separated, the
    /// first encrypting. The development default must be replaced in production.
    pub secrets_keys: SecretString,
    pub secrets_keys_default: bool,
}

impl Config {
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, "webhooks-dispatcher", 8085, 50055);
        let schedule_text = env.string("WEBHOOK_RETRY_SCHEDULE_SECS", "0,5,300,1800,7200,18000,36000,36000");
        let mut retry_schedule = Vec::new();
        for part in schedule_text.split(',') {
            match part.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => retry_schedule.push(Duration::from_secs_f64(s)),
                _ => env.invalid("WEBHOOK_RETRY_SCHEDULE_SECS", "a comma-separated list of seconds"),
            }
        }
        let cidrs_text = env.string("WEBHOOK_ALLOW_CIDRS", "");
        let mut allow_cidrs = Vec::new();
        for part in cidrs_text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<Cidr>() {
                Ok(c) => allow_cidrs.push(c),
                Err(e) => env.invalid("WEBHOOK_ALLOW_CIDRS", &e),
            }
        }
        let config = Self {
            common,
            retry_schedule,
            retry_jitter: env.get("WEBHOOK_RETRY_JITTER", 0.1),
            request_timeout: env.seconds("WEBHOOK_TIMEOUT_SECS", Duration::from_secs(15)),
            disable_after: env.seconds("WEBHOOK_DISABLE_AFTER_SECS", Duration::from_secs(5 * 24 * 3600)),
            retry_after_max: env.seconds("WEBHOOK_RETRY_AFTER_MAX_SECS", Duration::from_secs(3600)),
            allow_cidrs,
            retention: env.seconds("WEBHOOK_RETENTION_SECS", Duration::from_secs(30 * 24 * 3600)),
            lease: env.seconds("WEBHOOK_LEASE_SECS", Duration::from_secs(60)),
            batch_size: env.get("WEBHOOK_BATCH_SIZE", 256),
            max_in_flight: env.get("WEBHOOK_MAX_IN_FLIGHT", 1024),
            rotation_overlap: env.seconds("WEBHOOK_ROTATION_OVERLAP_SECS", Duration::from_secs(24 * 3600)),
            smtp_url: env.optional("SMTP_URL").map(SecretString::from),
            mail_from: env.string("MAIL_FROM", "Switchboard <no-reply@switchboard.local>"),
            dev_mailbox: env.flag("DEV_MAILBOX", false),
            user_agent: env.string("WEBHOOK_USER_AGENT", "Switchboard-Webhooks/1.0"),
            secrets_keys_default: env.optional("SECRETS_KEYS").is_none(),
            secrets_keys: env.secret("SECRETS_KEYS", DEVELOPMENT_KEY),
        };
        if let Err(e) = platform::crypto::KeyRing::parse(&config.secrets_keys) {
            env.invalid("SECRETS_KEYS", &e);
        }
        if let Some(url) = &config.smtp_url {
            if let Err(e) = crate::smtp::Smtp::parse(url.expose_secret(), &config.mail_from) {
                env.invalid("SMTP_URL", &e.to_string());
            }
        }
        if config.retry_schedule.is_empty() {
            env.invalid("WEBHOOK_RETRY_SCHEDULE_SECS", "needs at least one attempt");
        }
        if !(0.0..1.0).contains(&config.retry_jitter) {
            env.invalid("WEBHOOK_RETRY_JITTER", "between 0 and 1");
        }
        if config.lease <= config.request_timeout {
            env.invalid("WEBHOOK_LEASE_SECS", "must be longer than WEBHOOK_TIMEOUT_SECS");
        }
        if config.batch_size < 1 || config.max_in_flight == 0 {
            env.invalid("WEBHOOK_BATCH_SIZE", "batch size and WEBHOOK_MAX_IN_FLIGHT must be positive");
        }
        env.finish()?;
        Ok(config)
    }
}
