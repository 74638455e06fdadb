//! A replica-local cache of `GET /v1/me` bodies: every client calls it on every page load, and
//! its facts (user, organization, memberships) change rarely. Entries are dropped by the same
//! revocation broadcast that keeps the principal cache honest (identity announces a change to a
//! user or organization as it commits it), and expire with the auth cache's TTL should a
//! broadcast be lost.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use platform::auth::Revocation;
use platform::cache::TtlCache;
use uuid::Uuid;

/// A body, and every organization it names (so a change to any of them drops it).
type Entry = (Bytes, Arc<Vec<Uuid>>);

#[derive(Clone)]
pub struct ProfileCache {
    inner: Arc<TtlCache<(Uuid, Uuid), Entry>>,
}

impl ProfileCache {
    pub fn new(ttl: Duration) -> Self {
        Self { inner: Arc::new(TtlCache::new(ttl, 100_000)) }
    }

    /// The cached body of `user` in `org`, if fresh.
    pub fn get(&self, user: Uuid, org: Uuid) -> Option<Bytes> {
        self.inner.get(&(user, org)).map(|(body, _)| body)
    }

    /// A token to pass to [`ProfileCache::put`]: a body read before an invalidation is not kept.
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    pub fn put(&self, generation: u64, user: Uuid, org: Uuid, orgs: Vec<Uuid>, body: Bytes) {
        self.inner.put(generation, (user, org), (body, Arc::new(orgs)));
    }

    /// Drops what a revocation or change makes stale.
    pub fn invalidate(&self, r: &Revocation) {
        self.inner.invalidate(|(user, _), (_, orgs)| {
            r.user_ids.contains(user)
                || r.changed_users.contains(user)
                || orgs.iter().any(|o| r.changed_orgs.contains(o))
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
        cache.invalidate(&Revocation { changed_users: vec![u2], ..Default::default() });
        assert!(cache.get(u2, o1).is_none());
    }
}
