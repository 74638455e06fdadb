//! A replica-local cache of posts for reads by id, the board's hottest path. Every write to a
//! post evicts it here at once and on every other replica through a core NATS broadcast
//! (`internal.feedback.changed`); entries also expire after a short TTL, which bounds staleness
//! should a broadcast be lost. View counts, flushed in batches, are not worth an eviction.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use platform::bus::Bus;
use platform::cache::TtlCache;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::Feedback;

pub const CHANGED_SUBJECT: &str = "internal.feedback.changed";
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone)]
pub struct PostCache {
    inner: Arc<TtlCache<Uuid, Arc<Feedback>>>,
}

impl PostCache {
    pub fn new(ttl: Duration) -> Self {
        Self { inner: Arc::new(TtlCache::new(ttl, MAX_ENTRIES)) }
    }

    pub fn get(&self, org: Uuid, id: Uuid) -> Option<Arc<Feedback>> {
        self.inner.get(&id).filter(|p| p.organization_id == org)
    }

    /// Taken before reading the database; a read that raced an eviction is not kept.
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    pub fn put(&self, generation: u64, post: Arc<Feedback>) {
        self.inner.put(generation, post.id, post);
    }

    pub fn evict(&self, ids: &[Uuid]) {
        self.inner.invalidate(|id, _| ids.contains(id));
    }

    /// Evicts here and tells the other replicas.
    pub async fn changed(&self, bus: &Bus, ids: &[Uuid]) {
        self.evict(ids);
        let Ok(payload) = serde_json::to_vec(ids) else { return };
        if let Err(err) = bus.client.publish(bus.subject(CHANGED_SUBJECT), payload.into()).await {
            tracing::warn!(error = %err, "could not broadcast a post change; other replicas expire it on their TTL");
        }
    }

    /// Evicts what other replicas announce, until `shutdown`.
    pub async fn listen(self, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
        let subject = bus.subject(CHANGED_SUBJECT);
        while !shutdown.is_cancelled() {
            let mut sub = match bus.client.subscribe(subject.clone()).await {
                Ok(s) => s,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot subscribe to post changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    msg = sub.next() => match msg {
                        Some(msg) => match serde_json::from_slice::<Vec<Uuid>>(&msg.payload) {
                            Ok(ids) => self.evict(&ids),
                            Err(err) => tracing::warn!(error = %err, "malformed post change ignored"),
                        },
                        None => break,
                    }
                }
                // The subscription ended (connection closed or reset): never spin on it.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }
}
