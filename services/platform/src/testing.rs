//! Test support: a fresh database per test and a unique NATS prefix per test.

use secrecy::SecretString;
use sqlx::{Connection, Executor, PgConnection};

/// The server tests create their databases on (`TEST_DATABASE_URL`, default local trust auth).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The NATS server tests use (`TEST_NATS_URL`, default local).
pub fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Creates an empty database named after `label` and returns its URL.
pub async fn fresh_database(label: &str) -> anyhow::Result<SecretString> {
    let admin = admin_url();
    let name = format!("test_{}_{}", label.replace('-', "_"), uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await?;
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await?;
    conn.close().await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
    Ok(SecretString::from(format!("{base}/{name}")))
}

/// A NATS prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}
