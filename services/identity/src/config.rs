//! Identity's configuration: the common variables plus token lifetimes and lockout policy.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// billing-metrics' gRPC address (`seats`, `api_keys`); quotas are not checked when unset.
    pub billing_grpc_url: Option<String>,
    pub quota_timeout: Duration,
    /// Lifetime of an access token; refreshing issues a new one.
    pub access_ttl: Duration,
    /// A session unused (no request, no refresh) for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however active.
    pub session_absolute: Duration,
    pub lockout_threshold: i32,
    pub lockout_window: Duration,
    pub lockout_duration: Duration,
    /// Password hashes computed at once; more wait, so a login flood cannot starve the runtime.
    pub password_hash_concurrency: usize,
    pub invitation_ttl: Duration,
    pub reset_ttl: Duration,
    pub verification_ttl: Duration,
    /// Base of links in emails (`{APP_BASE_URL}/reset-password?token=...`).
    pub app_base_url: String,
    /// Argon2 memory in KiB (OWASP: 19456 with 2 iterations); lowered only in tests.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
}

impl Config {
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, "identity", 8081, 50051);
        let config = Self {
            billing_grpc_url: env.optional("BILLING_GRPC_URL"),
            quota_timeout: env.seconds("QUOTA_TIMEOUT_SECS", Duration::from_millis(300)),
            common,
            access_ttl: env.seconds("ACCESS_TOKEN_TTL_SECS", Duration::from_secs(15 * 60)),
            session_idle: env.seconds("SESSION_IDLE_TIMEOUT_SECS", Duration::from_secs(7 * 24 * 3600)),
            session_absolute: env.seconds("SESSION_ABSOLUTE_TIMEOUT_SECS", Duration::from_secs(30 * 24 * 3600)),
            lockout_threshold: env.get("LOCKOUT_THRESHOLD", 5),
            lockout_window: env.seconds("LOCKOUT_WINDOW_SECS", Duration::from_secs(15 * 60)),
            lockout_duration: env.seconds("LOCKOUT_DURATION_SECS", Duration::from_secs(15 * 60)),
            // One core is always left to everything else, so a login flood cannot starve it.
            password_hash_concurrency: env.get(
                "PASSWORD_HASH_CONCURRENCY",
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
            ),
            invitation_ttl: env.seconds("INVITATION_TTL_SECS", Duration::from_secs(72 * 3600)),
            reset_ttl: env.seconds("PASSWORD_RESET_TTL_SECS", Duration::from_secs(3600)),
            verification_ttl: env.seconds("EMAIL_VERIFICATION_TTL_SECS", Duration::from_secs(48 * 3600)),
            app_base_url: env.string("APP_BASE_URL", "http://127.0.0.1:8080"),
            argon2_memory_kib: env.get("ARGON2_MEMORY_KIB", 19_456),
            argon2_iterations: env.get("ARGON2_ITERATIONS", 2),
        };
        if config.lockout_threshold < 1 {
            env.invalid("LOCKOUT_THRESHOLD", "must be at least 1");
        }
        if config.password_hash_concurrency == 0 {
            env.invalid("PASSWORD_HASH_CONCURRENCY", "must be at least 1");
        }
        if config.access_ttl.is_zero() {
            env.invalid("ACCESS_TOKEN_TTL_SECS", "must be positive");
        }
        if config.argon2_memory_kib < 8 || config.argon2_iterations < 1 {
            env.invalid("ARGON2_MEMORY_KIB", "argon2 needs at least 8 KiB and 1 iteration");
        }
        env.finish()?;
        Ok(config)
    }
}
