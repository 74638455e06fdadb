//! billing-metrics' configuration: the common variables, the operator token that may change the
//! plan catalog, Stripe's webhook secrets, the trial and how long quota answers are kept.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// Changes the plan catalog (`Authorization: Bearer <token>`); unset, the catalog is
    /// read-only.
    pub operator_token: Option<SecretString>,
    /// Stripe's endpoint secrets (`whsec_…`, several during a rotation); none: `/webhooks/stripe`
    /// answers 404.
    pub stripe_secrets: Vec<SecretString>,
    /// How old a Stripe signature's timestamp may be.
    pub stripe_tolerance: Duration,
    /// Days of trial a new organization starts with (0: none, it starts `active`).
    pub trial_days: i64,
    /// How long a replica answers quota checks from memory before reading the figures again
    /// (another replica's consumer counts too).
    pub quota_cache_ttl: Duration,
    /// How often subscriptions whose period ended are rolled over.
    pub rollover_interval: Duration,
}

impl Config {
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, "billing-metrics", 8086, 50056);
        let operator_token = env.optional("BILLING_OPERATOR_TOKEN").filter(|v| !v.is_empty()).map(SecretString::from);
        let stripe_secrets: Vec<SecretString> =
            env.list("STRIPE_WEBHOOK_SECRETS").into_iter().map(SecretString::from).collect();
        let config = Self {
            operator_token,
            stripe_secrets,
            stripe_tolerance: env.seconds("STRIPE_TOLERANCE_SECS", Duration::from_secs(300)),
            trial_days: env.get("TRIAL_DAYS", 14),
            quota_cache_ttl: env.seconds("QUOTA_CACHE_TTL_SECS", Duration::from_secs(5)),
            rollover_interval: env.seconds("ROLLOVER_INTERVAL_SECS", Duration::from_secs(60)),
            common,
        };
        if let Some(t) = &config.operator_token {
            if t.expose_secret().len() < 16 {
                env.invalid("BILLING_OPERATOR_TOKEN", "must be at least 16 characters");
            }
        }
        if config.stripe_secrets.iter().any(|s| !s.expose_secret().starts_with("whsec_")) {
            env.invalid("STRIPE_WEBHOOK_SECRETS", "each secret starts with whsec_");
        }
        if !(0..=365).contains(&config.trial_days) {
            env.invalid("TRIAL_DAYS", "0 to 365");
        }
        env.finish()?;
        Ok(config)
    }
}
