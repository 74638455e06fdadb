//! Ticketing's configuration: the common variables plus uploads, quotas, suggestions and the SLA
//! scanner.

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
    /// billing-metrics' gRPC address; quotas are not checked when unset.
    pub billing_grpc_url: Option<String>,
    pub quota_timeout: Duration,
    /// An OpenAI-compatible chat-completions endpoint for drafted replies; off when unset.
    pub suggestions_llm_url: Option<String>,
    pub suggestions_llm_api_key: Option<SecretString>,
    pub suggestions_llm_model: String,
    /// How often the SLA scanner looks for breaches.
    pub sla_scan_interval: Duration,
    /// Base of links in notifications.
    pub app_base_url: String,
    /// How long a replica keeps a ticket it read for `GET /v1/tickets/{id}` (evicted on every
    /// replica by every write; `0` turns the cache off).
    pub ticket_cache_ttl: Duration,
}

impl Config {
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, "ticketing", 8083, 50053);
        let types =
            env.string("ATTACHMENT_TYPES", "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain");
        let config = Self {
            common,
            attachments_dir: PathBuf::from(env.string("ATTACHMENTS_DIR", "./data/ticket-attachments")),
            attachment_max_bytes: env.get("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
            attachment_types: types
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
            billing_grpc_url: env.optional("BILLING_GRPC_URL"),
            quota_timeout: env.seconds("QUOTA_TIMEOUT_SECS", Duration::from_millis(300)),
            suggestions_llm_url: env.optional("SUGGESTIONS_LLM_URL"),
            suggestions_llm_api_key: env.optional("SUGGESTIONS_LLM_API_KEY").map(SecretString::from),
            suggestions_llm_model: env.string("SUGGESTIONS_LLM_MODEL", "gpt-4o-mini"),
            sla_scan_interval: env.seconds("SLA_SCAN_INTERVAL_SECS", Duration::from_secs(30)),
            app_base_url: env.string("APP_BASE_URL", "http://127.0.0.1:8080"),
            ticket_cache_ttl: env.seconds("TICKET_CACHE_TTL_SECS", Duration::from_secs(2)),
        };
        if config.attachment_max_bytes == 0 {
            env.invalid("ATTACHMENT_MAX_BYTES", "must be positive");
        }
        if config.sla_scan_interval.is_zero() {
            env.invalid("SLA_SCAN_INTERVAL_SECS", "must be positive");
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
    fn development_defaults_suffice_and_production_needs_the_service_token() {
        assert!(Config::from_env(env(&[("SWITCHBOARD_ENV", "development")])).is_ok());
        let err = Config::from_env(env(&[])).unwrap_err().to_string();
        assert!(err.contains("SERVICE_TOKEN"), "{err}");
    }
}
