//! A replica-local cache of `GET /v1/me` bodies: every client calls it on every page load, and
//! its facts (user, organization, memberships) change rarely. Entries are dropped by the same
//! revocation broadcast that keeps the principal cache honest (identity announces a change to a
//! user or organization as it commits it), and expire with the auth cache's TTL should a
//! broadcast be lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use platform::auth::Revocation;
use uuid::Uuid;

struct Entry {
    body: Bytes,
    /// Every organization the body names, so a change to any of them drops it.
    orgs: Vec<Uuid>,
    until: Instant,
}

const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Default)]
pub struct ProfileCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: Mutex<HashMap<(Uuid, Uuid), Entry>>,
    generation: AtomicU64,
    ttl: Duration,
}

impl ProfileCache {
    pub fn new(ttl: Duration) -> Self {
        Self { inner: Arc::new(Inner { ttl, ..Default::default() }) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, Uuid), Entry>> {
        self.inner.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached body of `user` in `org`, if fresh.
    pub fn get(&self, user: Uuid, org: Uuid) -> Option<Bytes> {
        let entries = self.entries();
        entries.get(&(user, org)).filter(|e| e.until > Instant::now()).map(|e| e.body.clone())
    }

    /// A token to pass to [`ProfileCache::put`]: a body read before an invalidation is not kept.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    pub fn put(&self, generation: u64, user: Uuid, org: Uuid, orgs: Vec<Uuid>, body: Bytes) {
        if self.inner.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if self.inner.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert((user, org), Entry { body, orgs, until: now + self.inner.ttl });
    }

    /// Drops what a revocation or change makes stale.
    pub fn invalidate(&self, r: &Revocation) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if r.user_ids.is_empty() && r.changed_users.is_empty() && r.changed_orgs.is_empty() {
            return;
        }
        self.entries().retain(|(user, _), e| {
            !r.user_ids.contains(user)
                && !r.changed_users.contains(user)
                && !e.orgs.iter().any(|o| r.changed_orgs.contains(o))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_drop_the_views_that_name_them() {
        let cache = ProfileCache::new(Duration::from_secs(60));
        let (u1, u2, o1, o2) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let g = cache.generation();
        cache.put(g, u1, o1, vec![o1, o2], Bytes::from_static(b"u1"));
        cache.put(g, u2, o1, vec![o1], Bytes::from_static(b"u2"));
        cache.invalidate(&Revocation { changed_orgs: vec![o2], ..Default::default() });
        assert!(cache.get(u1, o1).is_none());
        assert!(cache.get(u2, o1).is_some());
        // A body read before an invalidation is not stored.
        let stale = cache.generation();
        cache.invalidate(&Revocation { changed_users: vec![u2], ..Default::default() });
        cache.put(stale, u1, o1, vec![o1], Bytes::from_static(b"old"));
        assert!(cache.get(u1, o1).is_none());
        assert!(cache.get(u2, o1).is_none());
    }
}
