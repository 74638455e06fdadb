//! Per-endpoint concurrency caps and rate limits, enforced by each replica for the deliveries it
//! sends (with N replicas an endpoint may see up to N times its per-second limit at worst; the
//! concurrency cap likewise).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use uuid::Uuid;

#[derive(Default)]
pub struct Limits {
    slots: Mutex<HashMap<Uuid, (usize, Arc<Semaphore>)>>,
    buckets: Mutex<HashMap<Uuid, (f64, Instant)>>,
}

impl Limits {
    /// The endpoint's concurrency cap (recreated when the cap changes).
    pub fn slots(&self, endpoint: Uuid, cap: usize) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let entry = slots.entry(endpoint).or_insert_with(|| (cap, Arc::new(Semaphore::new(cap))));
        if entry.0 != cap {
            *entry = (cap, Arc::new(Semaphore::new(cap)));
        }
        entry.1.clone()
    }

    /// Takes one request of `rate` per second's budget, or says how long until one is free.
    pub fn take(&self, endpoint: Uuid, rate: u32) -> Result<(), Duration> {
        let rate = f64::from(rate.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.entry(endpoint).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_rate_then_waits() {
        let l = Limits::default();
        let e = Uuid::now_v7();
        for _ in 0..5 {
            assert!(l.take(e, 5).is_ok());
        }
        let wait = l.take(e, 5).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));
    }
}
