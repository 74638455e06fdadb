//! Configuration fails closed: production unless told otherwise, and production names every
//! secret it misses.

use std::collections::HashMap;

use platform::config::{CommonConfig, Env, Environment};
use secrecy::ExposeSecret;

fn env(vars: &[(&str, &str)]) -> Env {
    Env::from_map(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>())
}

#[test]
fn an_unset_environment_is_production_and_requires_the_service_token() {
    let mut e = env(&[]);
    let common = CommonConfig::read(&mut e, "platform-test", 0, 0);
    assert_eq!(common.environment, Environment::Production);
    assert!(!common.is_development());
    let err = e.finish().unwrap_err().to_string();
    assert!(err.contains("SERVICE_TOKEN: required outside development (SWITCHBOARD_ENV=development)"), "{err}");

    let mut e = env(&[("SERVICE_TOKEN", "t0ken")]);
    let common = CommonConfig::read(&mut e, "platform-test", 0, 0);
    e.finish().unwrap();
    assert_eq!(common.service_token.expose_secret(), "t0ken");
    assert!(common.cors_allowed_origins.is_empty(), "no CORS by default");
}

#[test]
fn production_secrets_name_the_variable_and_development_uses_the_default() {
    let mut e = env(&[]);
    e.production_secret("SECRETS_KEYS", Environment::Production, "dev-keys");
    e.production_secret("VOTER_KEY_SECRET", Environment::Production, "dev-voter");
    let err = e.finish().unwrap_err().to_string();
    assert!(err.contains("SECRETS_KEYS: required outside development"), "{err}");
    assert!(err.contains("VOTER_KEY_SECRET: required outside development"), "{err}");

    let mut e = env(&[]);
    let dev = e.production_secret("SECRETS_KEYS", Environment::Development, "dev-keys");
    e.finish().unwrap();
    assert_eq!(dev.expose_secret(), "dev-keys");
}

#[test]
fn the_environment_and_origins_are_read_and_checked() {
    let mut e = env(&[("SWITCHBOARD_ENV", "staging")]);
    let _ = CommonConfig::read(&mut e, "platform-test", 0, 0);
    let err = e.finish().unwrap_err().to_string();
    assert!(err.contains("SWITCHBOARD_ENV"), "{err}");

    let origins = "https://app.example, https://admin.example";
    let mut e = env(&[("SWITCHBOARD_ENV", "development"), ("CORS_ALLOWED_ORIGINS", origins)]);
    let common = CommonConfig::read(&mut e, "platform-test", 0, 0);
    e.finish().unwrap();
    assert!(common.is_development());
    assert_eq!(common.cors_allowed_origins, ["https://app.example", "https://admin.example"]);
}
