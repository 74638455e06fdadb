//! A replica-local cache of posts for reads by id, the board's hottest path. Every write to a
//! post evicts it here at once and on every other replica through a core NATS broadcast
//! (`internal.feedback.changed`, [`platform::cache::Shared`]); entries also expire after a short
//! TTL, which bounds staleness should a broadcast be lost. View counts, flushed in batches, are
//! not worth an eviction.

use std::sync::Arc;
use std::time::Duration;

use platform::bus::Bus;
use platform::cache::Shared;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::Feedback;

pub const CHANGED_SUBJECT: &str = "internal.feedback.changed";
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone)]
pub struct PostCache {
    inner: Shared<Feedback>,
}

impl PostCache {
    pub fn new(ttl: Duration) -> Self {
        Self { inner: Shared::new(CHANGED_SUBJECT, ttl, MAX_ENTRIES) }
    }

    pub fn get(&self, org: Uuid, id: Uuid) -> Option<Arc<Feedback>> {
        self.inner.get(id).filter(|p| p.organization_id == org)
    }

    /// Taken before reading the database; a read that raced an eviction is not kept.
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    pub fn put(&self, generation: u64, post: Arc<Feedback>) {
        self.inner.put(generation, post.id, post);
    }

    /// Evicts here at once and tells the other replicas.
    pub async fn changed(&self, bus: &Bus, ids: &[Uuid]) {
        self.inner.changed(bus, Some(ids)).await;
    }

    /// Evicts what other replicas announce, until `shutdown`.
    pub async fn listen(self, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.inner.listen(bus, shutdown).await
    }
}
