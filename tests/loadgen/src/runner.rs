//! Drives an async operation at a concurrency (closed loop) or a fixed rate (open loop) for a
//! duration and reports throughput and latency percentiles.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one scenario measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Every latency, sorted, so rounds can be pooled.
    pub samples: Vec<Duration>,
}

impl Report {
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn line(&self) -> String {
        format!(
            "| {:<46} | {:>9.0} | {:>7.2} | {:>7.2} | {:>8.2} | {:>6} |",
            self.name,
            self.throughput(),
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.errors
        )
    }
}

pub fn header() -> String {
    format!(
        "| {:<46} | {:>9} | {:>7} | {:>7} | {:>8} | {:>6} |\n|{}|{}|{}|{}|{}|{}|",
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "-".repeat(48),
        "-".repeat(11),
        "-".repeat(9),
        "-".repeat(9),
        "-".repeat(10),
        "-".repeat(8)
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summarise(name: &str, mut samples: Vec<Duration>, errors: u64, elapsed: Duration) -> Report {
    samples.sort_unstable();
    let pick = |q: f64| {
        if samples.is_empty() {
            Duration::ZERO
        } else {
            samples[((samples.len() - 1) as f64 * q).round() as usize]
        }
    };
    Report {
        name: name.to_owned(),
        ok: samples.len() as u64,
        errors,
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
        max: samples.last().copied().unwrap_or_default(),
        samples,
    }
}

/// One report of several rounds of the same scenario.
pub fn pool(name: &str, rounds: Vec<Report>) -> Report {
    let elapsed = rounds.iter().map(|r| r.elapsed).sum();
    let errors = rounds.iter().map(|r| r.errors).sum();
    let samples = rounds.into_iter().flat_map(|r| r.samples).collect();
    summarise(name, samples, errors, elapsed)
}

/// Runs `op` from `concurrency` workers back to back for `duration` (after a short warm-up).
pub async fn closed_loop<F, Fut>(name: &str, concurrency: usize, duration: Duration, op: F) -> Report
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let warmup = Instant::now() + Duration::from_millis(500);
    let deadline = warmup + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0u64;
            let mut i = worker as u64;
            loop {
                let start = Instant::now();
                if start >= deadline {
                    break;
                }
                let ok = op(i).await;
                i += concurrency as u64;
                if start < warmup {
                    continue;
                }
                if ok {
                    samples.push(start.elapsed());
                } else {
                    errors += 1;
                }
            }
            (samples, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (s, e) = t.await.expect("worker");
        all.extend(s);
        errors += e;
    }
    summarise(name, all, errors, duration)
}

/// Starts `op` at `rate` per second for `duration`, however long each takes (no coordinated
/// omission: latency counts from the scheduled start).
pub async fn open_loop<F, Fut>(name: &str, rate: u64, duration: Duration, op: F) -> Report
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let op = Arc::new(op);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let total = (duration.as_secs_f64() * rate as f64) as u64;
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let ok = op(i).await;
            (ok, scheduled.elapsed())
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for t in tasks {
        let (ok, d) = t.await.expect("request");
        if ok {
            samples.push(d);
        } else {
            errors += 1;
        }
    }
    summarise(name, samples, errors, duration)
}
