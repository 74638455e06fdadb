//! The dispatcher's configuration: delivery policy, SSRF rules, notifications and mail.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};

use crate::smtp::SEND_LIMIT as SMTP_SEND_LIMIT;
use crate::ssrf::Cidr;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// billing-metrics' gRPC address (`webhook_endpoints`); quotas are not checked when unset.
    pub billing_grpc_url: Option<String>,
    pub quota_timeout: Duration,
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
    /// Deliver only inside `allow_cidrs`, never to public addresses (fuzzing, sandboxes).
    pub only_allowed_cidrs: bool,
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
    /// first encrypting. Required outside development; development has a well-known default.
    pub secrets_keys: SecretString,
    pub secrets_keys_default: bool,
    /// Mails sent at once per replica (each over its own SMTP connection, none holding a
    /// database connection).
    pub mail_concurrency: usize,
    /// How long a replica owns an outgoing mail it is sending; longer than a send can take.
    pub mail_lease: Duration,
    /// Attempts of one mail before it is parked in the dead-letter table.
    pub mail_max_attempts: i32,
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
            retry_schedule,
            retry_jitter: env.get("WEBHOOK_RETRY_JITTER", 0.1),
            request_timeout: env.seconds("WEBHOOK_TIMEOUT_SECS", Duration::from_secs(15)),
            disable_after: env.seconds("WEBHOOK_DISABLE_AFTER_SECS", Duration::from_secs(5 * 24 * 3600)),
            retry_after_max: env.seconds("WEBHOOK_RETRY_AFTER_MAX_SECS", Duration::from_secs(3600)),
            allow_cidrs,
            only_allowed_cidrs: env.flag("WEBHOOK_ONLY_ALLOWED_CIDRS", false),
            retention: env.seconds("WEBHOOK_RETENTION_SECS", Duration::from_secs(30 * 24 * 3600)),
            lease: env.seconds("WEBHOOK_LEASE_SECS", Duration::from_secs(60)),
            batch_size: env.get("WEBHOOK_BATCH_SIZE", 256),
            max_in_flight: env.get("WEBHOOK_MAX_IN_FLIGHT", 1024),
            rotation_overlap: env.seconds("WEBHOOK_ROTATION_OVERLAP_SECS", Duration::from_secs(24 * 3600)),
            smtp_url: env.optional("SMTP_URL").map(SecretString::from),
            mail_from: env.string("MAIL_FROM", "Switchboard <no-reply@switchboard.local>"),
            dev_mailbox: env.flag("DEV_MAILBOX", false),
            mail_concurrency: env.get("MAIL_CONCURRENCY", 8),
            mail_lease: env.seconds("MAIL_LEASE_SECS", Duration::from_secs(120)),
            mail_max_attempts: env.get("MAIL_MAX_ATTEMPTS", 8),
            user_agent: env.string("WEBHOOK_USER_AGENT", "Switchboard-Webhooks/1.0"),
            billing_grpc_url: env.optional("BILLING_GRPC_URL"),
            quota_timeout: env.seconds("QUOTA_TIMEOUT_SECS", Duration::from_millis(300)),
            secrets_keys_default: env.optional("SECRETS_KEYS").is_none(),
            secrets_keys: env.production_secret("SECRETS_KEYS", common.environment, platform::crypto::DEVELOPMENT_KEYS),
            common,
        };
        if config.dev_mailbox && !config.common.is_development() {
            // The mailbox shows one-time links to anyone who asks: never in production.
            env.invalid("DEV_MAILBOX", "only allowed with SWITCHBOARD_ENV=development");
        }
        if config.mail_concurrency == 0 || config.mail_max_attempts < 1 || config.mail_lease < SMTP_SEND_LIMIT {
            env.invalid(
                "MAIL_CONCURRENCY",
                "MAIL_CONCURRENCY and MAIL_MAX_ATTEMPTS must be positive, MAIL_LEASE_SECS longer than a send (60 s)",
            );
        }
        // An unset key in production is already reported as missing.
        if !config.secrets_keys.expose_secret().is_empty() {
            if let Err(e) = platform::crypto::KeyRing::parse(&config.secrets_keys) {
                env.invalid("SECRETS_KEYS", &e);
            }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_env(Env::from_map(vars))
    }

    #[test]
    fn production_needs_its_keys_and_refuses_the_mailbox() {
        let err = read(&[("SERVICE_TOKEN", "t")]).unwrap_err().to_string();
        assert!(err.contains("SECRETS_KEYS: required outside development"), "{err}");
        let keys = "k1:c3dpdGNoYm9hcmQtZGV2ZWxvcG1lbnQta2V5LTMyYmI=";
        let err =
            read(&[("SERVICE_TOKEN", "t"), ("SECRETS_KEYS", keys), ("DEV_MAILBOX", "true")]).unwrap_err().to_string();
        assert!(err.contains("DEV_MAILBOX") && !err.contains("SECRETS_KEYS"), "{err}");
        let config = read(&[("SERVICE_TOKEN", "t"), ("SECRETS_KEYS", keys)]).unwrap();
        assert!(!config.dev_mailbox && !config.secrets_keys_default);
    }

    #[test]
    fn development_has_defaults_and_the_mailbox() {
        let config = read(&[("SWITCHBOARD_ENV", "development"), ("DEV_MAILBOX", "true")]).unwrap();
        assert!(config.dev_mailbox && config.secrets_keys_default);
    }
}
