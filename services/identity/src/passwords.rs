//! Argon2id password hashing off the async workers, with bounded concurrency.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords; clones share the concurrency bound.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against for unknown users, so they take as long as known ones.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(memory_kib: u32, iterations: u32, concurrency: usize) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
        let dummy = hash_blocking(&params, "switchboard-dummy-password")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            dummy_hash: dummy.into(),
        })
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let params = self.params.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the same time and
    /// answers false.
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await?;
        let known = stored.is_some();
        let phc = stored
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy_hash.to_string());
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            Ok::<_, anyhow::Error>(
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await??;
        Ok(known && matched)
    }
}

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    Ok(argon
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string())
}
