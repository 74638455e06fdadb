//! Argon2id password hashing on a few dedicated low-priority threads.
//!
//! Hashing is deliberately expensive (19 MiB, 2 passes). It runs off the async workers, on
//! `PASSWORD_HASH_CONCURRENCY` threads of its own whose OS priority is the lowest (nice 19): a
//! login flood then uses the CPU that is left over and queues, instead of slowing every other
//! request of the process.

use std::sync::{mpsc, Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords; clones share the threads, which end with the last clone.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    jobs: mpsc::Sender<Job>,
    /// Verified against for unknown users, so they take as long as known ones.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(memory_kib: u32, iterations: u32, threads: usize) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
        let dummy = hash_blocking(&params, "switchboard-dummy-password")?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                if let Err(err) = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min) {
                    tracing::warn!(?err, "could not lower the priority of a hashing thread");
                }
                loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(Self { params, jobs, dummy_hash: dummy.into() })
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("password hashing threads are gone"))?;
        Ok(rx.await?)
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.run(move || hash_blocking(&params, &password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the same time and
    /// answers false.
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let phc = stored.map(str::to_owned).unwrap_or_else(|| self.dummy_hash.to_string());
        let password = password.to_owned();
        let matched = self
            .run(move || {
                let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
                Ok::<_, anyhow::Error>(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await??;
        Ok(known && matched)
    }
}

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    Ok(argon.hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hashing: {e}"))?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let p = Passwords::new(64, 1, 1).unwrap();
        let h = p.hash("a long passphrase").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify(Some(&h), "a long passphrase").await.unwrap());
        assert!(!p.verify(Some(&h), "another passphrase").await.unwrap());
        assert!(!p.verify(None, "switchboard-dummy-password").await.unwrap());
    }
}
