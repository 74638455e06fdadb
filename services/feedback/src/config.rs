//! Feedback's configuration: the common variables plus uploads, the public portal and quotas.

use std::path::PathBuf;
use std::time::Duration;

use platform::config::{CommonConfig, ConfigError, Env};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// Where uploaded files are stored, under generated names.
    pub attachments_dir: PathBuf,
    pub attachment_max_bytes: usize,
    pub attachment_types: Vec<String>,
    /// Key of the hash that identifies anonymous voters (never their raw address). Required
    /// outside development: a known key would let anyone link votes back to addresses.
    pub voter_key_secret: SecretString,
    /// Anonymous posts and votes per client per minute.
    pub public_rate_per_minute: i32,
    /// billing-metrics' gRPC address; quotas are not checked when unset.
    pub billing_grpc_url: Option<String>,
    pub quota_timeout: Duration,
    /// Base of links in notifications.
    pub app_base_url: String,
    /// How long a replica may serve a post from memory should a change broadcast be lost.
    pub post_cache_ttl: Duration,
}

impl Config {
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, "feedback", 8082, 50052);
        let types =
            env.string("ATTACHMENT_TYPES", "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain");
        let voter_key_secret =
            env.production_secret("VOTER_KEY_SECRET", common.environment, "development-only-voter-key");
        let config = Self {
            common,
            attachments_dir: PathBuf::from(env.string("ATTACHMENTS_DIR", "./data/attachments")),
            attachment_max_bytes: env.get("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
            attachment_types: types
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
            voter_key_secret,
            public_rate_per_minute: env.get("PUBLIC_RATE_PER_MINUTE", 30),
            billing_grpc_url: env.optional("BILLING_GRPC_URL"),
            quota_timeout: env.seconds("QUOTA_TIMEOUT_SECS", Duration::from_millis(300)),
            app_base_url: env.string("APP_BASE_URL", "http://127.0.0.1:8080"),
            post_cache_ttl: env.seconds("POST_CACHE_TTL_SECS", Duration::from_secs(2)),
        };
        if config.attachment_max_bytes == 0 {
            env.invalid("ATTACHMENT_MAX_BYTES", "must be positive");
        }
        if config.public_rate_per_minute < 1 {
            env.invalid("PUBLIC_RATE_PER_MINUTE", "must be at least 1");
        }
        env.finish()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>())
    }

    #[test]
    fn production_needs_a_voter_key() {
        let err = Config::from_env(env(&[("SERVICE_TOKEN", "t")])).unwrap_err().to_string();
        assert!(err.contains("VOTER_KEY_SECRET: required outside development"), "{err}");
        let ok = Config::from_env(env(&[("SERVICE_TOKEN", "t"), ("VOTER_KEY_SECRET", "k")]));
        assert!(ok.is_ok(), "{:?}", ok.err());
        assert!(Config::from_env(env(&[("SWITCHBOARD_ENV", "development")])).is_ok());
    }
}
