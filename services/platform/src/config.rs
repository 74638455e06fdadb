//! Typed configuration from environment variables, validated once at start.
//!
//! Every service builds its configuration through [`Env`], which collects every bad variable
//! so that a misconfigured service stops with one message naming all of them.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// Reads variables from a map (the process environment, or a test's own map).
pub struct Env {
    vars: HashMap<String, String>,
    errors: Vec<String>,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Self::from_map(std::env::vars().collect())
    }

    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Self { vars, errors: Vec::new() }
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// A parsed value, or `default` when the variable is unset.
    pub fn get<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(name).map(|v| v.trim().parse::<T>()) {
            None => default,
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                self.errors.push(format!("{name}: {e}"));
                default
            }
        }
    }

    /// A string value, or `default`.
    pub fn string(&mut self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_owned()
    }

    /// An optional string value.
    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    /// A secret, or `default` when unset (development defaults only).
    pub fn secret(&mut self, name: &str, default: &str) -> SecretString {
        SecretString::from(self.raw(name).unwrap_or(default).to_owned())
    }

    /// A secret that production must set: in development `dev_default` stands in, elsewhere an
    /// unset variable stops the service naming it (security configuration fails closed).
    pub fn production_secret(&mut self, name: &str, environment: Environment, dev_default: &str) -> SecretString {
        match (self.raw(name), environment) {
            (Some(v), _) => SecretString::from(v.to_owned()),
            (None, Environment::Development) => SecretString::from(dev_default.to_owned()),
            (None, Environment::Production) => {
                self.errors.push(format!("{name}: required outside development (SWITCHBOARD_ENV=development)"));
                SecretString::from(String::new())
            }
        }
    }

    /// A comma-separated list; empty entries are dropped.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// A required secret: missing is an error naming the variable.
    pub fn required_secret(&mut self, name: &str) -> SecretString {
        match self.raw(name) {
            Some(v) => SecretString::from(v.to_owned()),
            None => {
                self.errors.push(format!("{name}: required but not set"));
                SecretString::from(String::new())
            }
        }
    }

    /// A duration in seconds (fractions allowed), e.g. `AUTH_CACHE_TTL_SECS=30`.
    pub fn seconds(&mut self, name: &str, default: Duration) -> Duration {
        match self.raw(name).map(|v| v.trim().parse::<f64>()) {
            None => default,
            Some(Ok(v)) if v.is_finite() && v >= 0.0 => Duration::from_secs_f64(v),
            Some(_) => {
                self.errors.push(format!("{name}: expected a non-negative number of seconds"));
                default
            }
        }
    }

    /// A boolean: true/false, 1/0, yes/no.
    pub fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => false,
            Some(_) => {
                self.errors.push(format!("{name}: expected true or false"));
                default
            }
        }
    }

    /// Records a rule that the values read so far break.
    pub fn invalid(&mut self, name: &str, message: &str) {
        self.errors.push(format!("{name}: {message}"));
    }

    /// Ends reading: every bad variable in one error.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.errors))
        }
    }
}

/// The variables that were set to values the service cannot use.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            other => Err(format!("unknown log format {other:?} (json or pretty)")),
        }
    }
}

/// Whether development conveniences (default secrets, the dev mailbox) are allowed. Production is
/// the default, so a deployment that forgets a secret stops instead of running with a known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "production" | "prod" => Ok(Self::Production),
            other => Err(format!("unknown environment {other:?} (development or production)")),
        }
    }
}

/// The service token's stand-in in development; production must set `SERVICE_TOKEN`.
const DEV_SERVICE_TOKEN: &str = "switchboard-development-service-token";

/// What every service needs: listeners, database, broker, limits.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub service: &'static str,
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before answering 503.
    pub database_acquire_timeout: Duration,
    pub nats_url: String,
    /// Prefix of every subject and stream name; empty in production, unique per test.
    pub nats_prefix: String,
    pub log_format: LogFormat,
    pub body_limit_bytes: usize,
    pub shutdown_grace: Duration,
    /// Address of identity's gRPC server, for services that authenticate through it.
    pub identity_grpc_url: String,
    pub auth_cache_ttl: Duration,
    /// `SWITCHBOARD_ENV`: production unless told otherwise.
    pub environment: Environment,
    /// Shared secret of internal gRPC calls (`SERVICE_TOKEN`).
    pub service_token: SecretString,
    /// Browser origins allowed by CORS (`CORS_ALLOWED_ORIGINS`); none by default.
    pub cors_allowed_origins: Vec<String>,
}

impl CommonConfig {
    /// Whether `SWITCHBOARD_ENV=development`.
    pub fn is_development(&self) -> bool {
        self.environment == Environment::Development
    }

    /// The token internal gRPC calls carry.
    pub fn service_token(&self) -> crate::grpc::ServiceToken {
        crate::grpc::ServiceToken::new(self.service_token.clone())
    }

    /// Reads the shared variables with the service's default ports.
    pub fn read(env: &mut Env, service: &'static str, http_port: u16, grpc_port: u16) -> Self {
        let default_db = format!("postgres://postgres@127.0.0.1:5432/{}", service.replace('-', "_"));
        let environment = env.get("SWITCHBOARD_ENV", Environment::Production);
        let config = Self {
            service,
            http_addr: env.get("HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], http_port))),
            grpc_addr: env.get("GRPC_ADDR", SocketAddr::from(([127, 0, 0, 1], grpc_port))),
            database_url: env.secret("DATABASE_URL", &default_db),
            database_max_connections: env.get("DATABASE_MAX_CONNECTIONS", 20),
            database_acquire_timeout: env.seconds("DATABASE_ACQUIRE_TIMEOUT_SECS", Duration::from_secs(2)),
            nats_url: env.string("NATS_URL", "nats://127.0.0.1:4222"),
            nats_prefix: env.string("NATS_PREFIX", ""),
            log_format: env.get("LOG_FORMAT", LogFormat::Pretty),
            body_limit_bytes: env.get("HTTP_BODY_LIMIT_BYTES", 1024 * 1024),
            shutdown_grace: env.seconds("SHUTDOWN_GRACE_SECS", Duration::from_secs(20)),
            identity_grpc_url: env.string("IDENTITY_GRPC_URL", "http://127.0.0.1:50051"),
            auth_cache_ttl: env.seconds("AUTH_CACHE_TTL_SECS", Duration::from_secs(30)),
            environment,
            service_token: env.production_secret("SERVICE_TOKEN", environment, DEV_SERVICE_TOKEN),
            cors_allowed_origins: env.list("CORS_ALLOWED_ORIGINS"),
        };
        if config.database_acquire_timeout.is_zero() {
            env.invalid("DATABASE_ACQUIRE_TIMEOUT_SECS", "must be more than 0");
        }
        for origin in &config.cors_allowed_origins {
            if origin != "*" && http::HeaderValue::from_str(origin).is_err() {
                env.invalid("CORS_ALLOWED_ORIGINS", "each origin must be a valid header value");
            }
        }
        if config.database_max_connections == 0 {
            env.invalid("DATABASE_MAX_CONNECTIONS", "must be at least 1");
        }
        if !config.nats_prefix.is_empty() && !config.nats_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            env.invalid("NATS_PREFIX", "letters, digits and underscores only");
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_all_named() {
        let mut env = Env::from_map(HashMap::from([
            ("HTTP_ADDR".into(), "nope".into()),
            ("LOG_FORMAT".into(), "xml".into()),
            ("DATABASE_MAX_CONNECTIONS".into(), "0".into()),
            ("SWITCHBOARD_ENV".into(), "development".into()),
        ]));
        let _ = CommonConfig::read(&mut env, "identity", 8081, 50051);
        let err = env.finish().unwrap_err().to_string();
        assert!(err.contains("HTTP_ADDR"), "{err}");
        assert!(err.contains("LOG_FORMAT"), "{err}");
        assert!(err.contains("DATABASE_MAX_CONNECTIONS"), "{err}");
    }

    #[test]
    fn production_refuses_missing_secrets() {
        let mut env = Env::from_map(HashMap::new());
        let c = CommonConfig::read(&mut env, "identity", 8081, 50051);
        assert_eq!(c.environment, Environment::Production);
        let err = env.finish().unwrap_err().to_string();
        assert!(err.contains("SERVICE_TOKEN: required outside development"), "{err}");

        let mut env = Env::from_map(HashMap::from([("SWITCHBOARD_ENV".into(), "development".into())]));
        let c = CommonConfig::read(&mut env, "identity", 8081, 50051);
        env.finish().unwrap();
        assert!(c.is_development());
    }

    #[test]
    fn defaults_apply_when_unset() {
        let mut env = Env::from_map(HashMap::from([("SWITCHBOARD_ENV".into(), "development".into())]));
        let c = CommonConfig::read(&mut env, "billing-metrics", 8086, 50056);
        env.finish().unwrap();
        assert_eq!(c.http_addr.port(), 8086);
        assert_eq!(c.body_limit_bytes, 1024 * 1024);
        use secrecy::ExposeSecret;
        assert!(c.database_url.expose_secret().ends_with("/billing_metrics"));
    }
}
