//! A replica-local cache with a TTL and a generation counter: a value read from the database
//! before an invalidation is not stored after it, so an eviction can never be undone by a slow
//! reader. Used for caches that other replicas invalidate over core NATS, where the TTL bounds
//! staleness should a broadcast be lost.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
}
