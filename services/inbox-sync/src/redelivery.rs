//! Redeliveries answered in process: platforms resend a body byte for byte (after a slow answer,
//! often while the first delivery is still being stored). The bodies this replica committed
//! recently, and those it is storing now, are known by their SHA-256: a copy of a committed body
//! is a duplicate at once, a copy of one in flight waits for it (and is a duplicate if it
//! committed, or is stored itself if it failed). Everything else goes to the database, whose
//! unique raw-body and message indexes decide — so this is a shortcut, never the guarantee: other
//! replicas and restarts are covered by the database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

type Hash = [u8; 32];

/// Bodies remembered as committed.
const REMEMBERED: usize = 50_000;

#[derive(Default)]
pub struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    in_flight: HashMap<Hash, Arc<Notify>>,
    committed: HashSet<Hash>,
    order: VecDeque<Hash>,
}

/// What to do with a body.
pub enum Claim<'a> {
    /// Store it; tell the guard when it committed.
    Mine(Guard<'a>),
    /// This replica committed the same bytes: a redelivery.
    Seen,
}

/// The body being stored by this request; dropping it without [`Guard::committed`] lets a
/// waiting copy store the body itself.
pub struct Guard<'a> {
    recent: &'a Recent,
    hash: Hash,
    committed: bool,
}

impl Recent {
    pub async fn claim(&self, body: &[u8]) -> Claim<'_> {
        let hash: Hash = Sha256::digest(body).into();
        loop {
            let notify = {
                let mut inner = self.inner.lock().expect("redelivery map");
                if inner.committed.contains(&hash) {
                    return Claim::Seen;
                }
                match inner.in_flight.get(&hash) {
                    Some(n) => n.clone(),
                    None => {
                        inner.in_flight.insert(hash, Arc::new(Notify::new()));
                        return Claim::Mine(Guard { recent: self, hash, committed: false });
                    }
                }
            };
            let notified = notify.notified();
            tokio::pin!(notified);
            // Registered before looking again, so the first request's wake-up cannot be missed.
            notified.as_mut().enable();
            let still = self
                .inner
                .lock()
                .expect("redelivery map")
                .in_flight
                .get(&hash)
                .is_some_and(|n| Arc::ptr_eq(n, &notify));
            if still {
                notified.await;
            }
        }
    }
}

impl Guard<'_> {
    /// The body's transaction committed.
    pub fn committed(mut self) {
        self.committed = true;
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let mut inner = self.recent.inner.lock().expect("redelivery map");
        if let Some(n) = inner.in_flight.remove(&self.hash) {
            n.notify_waiters();
        }
        if self.committed && inner.committed.insert(self.hash) {
            inner.order.push_back(self.hash);
            if inner.order.len() > REMEMBERED {
                if let Some(old) = inner.order.pop_front() {
                    inner.committed.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_copy_waits_for_the_first_and_is_a_duplicate_only_if_it_committed() {
        let recent = Arc::new(Recent::default());
        let Claim::Mine(first) = recent.claim(b"body").await else { panic!("the first is mine") };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let r = recent.clone();
        let copy = tokio::spawn(async move {
            tx.send(()).unwrap();
            matches!(r.claim(b"body").await, Claim::Seen)
        });
        rx.await.unwrap();
        // The copy is waiting (it has not finished while the first holds the body).
        tokio::task::yield_now().await;
        assert!(!copy.is_finished());
        first.committed();
        assert!(tokio::time::timeout(Duration::from_secs(5), copy).await.unwrap().unwrap());

        // A first that fails lets its copy store the body.
        let Claim::Mine(failing) = recent.claim(b"other").await else { panic!("mine") };
        let r = recent.clone();
        let copy = tokio::spawn(async move { matches!(r.claim(b"other").await, Claim::Mine(_)) });
        drop(failing);
        assert!(tokio::time::timeout(Duration::from_secs(5), copy).await.unwrap().unwrap());
    }
}
