//! A replica-local cache with a TTL and a generation counter: a value read from the database
//! before an invalidation is not stored after it, so an eviction can never be undone by a slow
//! reader. [`Shared`] is such a cache of rows by id that every replica evicts from at once,
//! through a core NATS broadcast; the TTL bounds staleness should a broadcast be lost.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bus::Bus;

pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    generation: AtomicU64,
    ttl: Duration,
    max_entries: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), generation: AtomicU64::new(0), ttl, max_entries }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value, if still fresh.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries();
        entries.get(key).filter(|(_, until)| *until > Instant::now()).map(|(v, _)| v.clone())
    }

    /// Take before reading the source; pass to [`TtlCache::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores `value` unless anything was invalidated since `generation` was taken.
    pub fn put(&self, generation: u64, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let now = Instant::now();
        if entries.len() >= self.max_entries {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (value, now + self.ttl));
    }

    /// Drops every entry for which `stale` holds.
    pub fn invalidate(&self, stale: impl Fn(&K, &V) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries().retain(|k, (v, _)| !stale(k, v));
    }

    /// Drops these keys (a lookup each, not a scan).
    pub fn remove(&self, keys: &[K]) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.entries();
        for key in keys {
            entries.remove(key);
        }
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries().clear();
    }
}

tokio::task_local! {
    static TOUCHED: std::cell::RefCell<Touched>;
}

/// The rows a unit of work changed, collected as its statements run (see [`touch`]) so that the
/// caches of those rows can be evicted once it commits, whichever code path wrote them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    ids: Vec<Uuid>,
    all: bool,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        !self.all && self.ids.is_empty()
    }

    /// The ids, or `None` when rows that were not named changed too (evict everything).
    pub fn ids(&self) -> Option<&[Uuid]> {
        (!self.all).then_some(self.ids.as_slice())
    }
}

/// Notes that row `id` changed, for the unit of work running [`collect`]; nothing outside one.
pub fn touch(id: Uuid) {
    let _ = TOUCHED.try_with(|t| {
        let mut t = t.borrow_mut();
        if !t.all && !t.ids.contains(&id) {
            t.ids.push(id);
        }
    });
}

/// Notes that rows changed that the statement cannot name (a cascade, a bulk update).
pub fn touch_all() {
    let _ = TOUCHED.try_with(|t| {
        let mut t = t.borrow_mut();
        t.all = true;
        t.ids.clear();
    });
}

/// Runs `work`, giving back what it [`touch`]ed with its output.
pub async fn collect<F: std::future::Future>(work: F) -> (F::Output, Touched) {
    TOUCHED
        .scope(std::cell::RefCell::new(Touched::default()), async move {
            let out = work.await;
            (out, TOUCHED.with(|t| t.take()))
        })
        .await
}

/// Rows by id, kept per replica and evicted on every replica when one of them changes a row.
///
/// Writers call [`Shared::changed`] after committing; readers take [`Shared::generation`] before
/// reading the database and [`Shared::put`] what they read. The broadcast is a JSON array of ids,
/// or `null` for "everything" (a change touching rows the writer cannot name cheaply).
pub struct Shared<V> {
    inner: Arc<TtlCache<Uuid, Arc<V>>>,
    subject: &'static str,
}

impl<V> Clone for Shared<V> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), subject: self.subject }
    }
}

impl<V: Send + Sync + 'static> Shared<V> {
    /// `subject` (under the bus prefix) carries the evictions; a zero `ttl` turns caching off.
    pub fn new(subject: &'static str, ttl: Duration, max_entries: usize) -> Self {
        Self { inner: Arc::new(TtlCache::new(ttl, max_entries)), subject }
    }

    pub fn get(&self, id: Uuid) -> Option<Arc<V>> {
        self.inner.get(&id)
    }

    /// Taken before reading the database; a read that raced an eviction is not kept.
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    pub fn put(&self, generation: u64, id: Uuid, value: Arc<V>) {
        self.inner.put(generation, id, value);
    }

    /// Evicts here only.
    pub fn evict(&self, ids: Option<&[Uuid]>) {
        match ids {
            Some(ids) => self.inner.remove(ids),
            None => self.inner.clear(),
        }
    }

    /// Evicts `ids` (`None`: everything) here at once and tells the other replicas.
    pub async fn changed(&self, bus: &Bus, ids: Option<&[Uuid]>) {
        if ids.is_some_and(|ids| ids.is_empty()) {
            return;
        }
        self.evict(ids);
        let Ok(payload) = serde_json::to_vec(&ids) else { return };
        if let Err(err) = bus.client.publish(bus.subject(self.subject), payload.into()).await {
            tracing::warn!(error = %err, subject = self.subject, "could not broadcast a change; other replicas expire it on their TTL");
        }
    }

    /// Evicts what other replicas announce, until `shutdown`. While not subscribed (at start, or
    /// after the connection dropped) nothing is known about others' writes, so the cache is
    /// emptied each time the subscription is (re)made.
    pub async fn listen(self, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
        let subject = bus.subject(self.subject);
        while !shutdown.is_cancelled() {
            let mut sub = match bus.client.subscribe(subject.clone()).await {
                Ok(s) => s,
                Err(err) => {
                    tracing::warn!(error = %err, %subject, "cannot subscribe to changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.evict(None);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    msg = sub.next() => match msg {
                        Some(msg) => match serde_json::from_slice::<Option<Vec<Uuid>>>(&msg.payload) {
                            Ok(ids) => self.evict(ids.as_deref()),
                            Err(err) => tracing::warn!(error = %err, %subject, "malformed change ignored"),
                        },
                        None => break,
                    }
                }
            }
            // The subscription ended (connection closed or reset): never spin on it.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let c: TtlCache<u32, &str> = TtlCache::new(Duration::from_secs(60), 10);
        let g = c.generation();
        c.put(g, 1, "fresh");
        assert_eq!(c.get(&1), Some("fresh"));
        let stale = c.generation();
        c.invalidate(|k, _| *k == 1);
        c.put(stale, 1, "old");
        assert_eq!(c.get(&1), None);
        let short: TtlCache<u32, &str> = TtlCache::new(Duration::ZERO, 10);
        short.put(short.generation(), 1, "x");
        assert_eq!(short.get(&1), None);
    }

    #[tokio::test]
    async fn touches_are_collected_per_unit_of_work() {
        touch(Uuid::nil());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let (out, touched) = collect(async {
            touch(a);
            tokio::task::yield_now().await;
            touch(a);
            touch(b);
            7
        })
        .await;
        assert_eq!((out, touched.ids()), (7, Some(&[a, b][..])));
        let (_, all) = collect(async {
            touch(a);
            touch_all();
            touch(b);
        })
        .await;
        assert_eq!(all.ids(), None);
        let (_, none) = collect(async {}).await;
        assert!(none.is_empty());
    }

    #[test]
    fn removing_keys_drops_only_those_and_fences_readers() {
        let c: TtlCache<u32, &str> = TtlCache::new(Duration::from_secs(60), 10);
        let g = c.generation();
        c.put(g, 1, "a");
        c.put(g, 2, "b");
        let before = c.generation();
        c.remove(&[1]);
        assert_eq!((c.get(&1), c.get(&2)), (None, Some("b")));
        c.put(before, 1, "stale");
        assert_eq!(c.get(&1), None);
        c.clear();
        assert_eq!(c.get(&2), None);
    }
}
