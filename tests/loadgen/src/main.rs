//! Switchboard's benchmark tool. Each suite starts what it measures in-process on fresh
//! databases, runs the ceilings (what the hardware gives without our code) in the same
//! invocation, and prints one table, so results are read as ratios.
//!
//! `cargo run --release -p loadgen -- identity|feedback [--seconds 10]`, `... -- webhooks [--events 30000]`,
//! `... -- ticketing [--seconds 10] [--only create,numbers,read,lists,inbox] [--per-creator 1000]`,
//! `... -- inbox [--seconds 10] [--only batches,singles,statuses]`,
//! `... -- billing [--seconds 10] [--only metering,refunds,quota] [--per-org 1000]`

mod billing_suite;
mod cleanup;
mod feedback_suite;
mod identity_suite;
mod inbox_suite;
mod runner;
mod ticketing_data;
mod ticketing_inbox;
mod ticketing_suite;
mod webhooks_suite;

use std::time::Duration;

/// The services' allocator, so the client side costs what it would against a real deployment.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let suite = args.get(1).map(String::as_str).unwrap_or("identity");
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(10u64);
    let duration = Duration::from_secs(seconds);
    match suite {
        "identity" => identity_suite::run(duration).await,
        "feedback" => feedback_suite::run(duration).await,
        "cleanup-streams" => cleanup::run().await,
        "ticketing" => {
            let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
            let per_creator = args
                .iter()
                .position(|a| a == "--per-creator")
                .and_then(|i| args.get(i + 1))
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000);
            ticketing_suite::run(duration, only, per_creator).await
        }
        "inbox" => {
            let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
            inbox_suite::run(duration, only).await
        }
        "billing" => {
            let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
            let per_org = args
                .iter()
                .position(|a| a == "--per-org")
                .and_then(|i| args.get(i + 1))
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000);
            billing_suite::run(duration, per_org, only).await
        }
        "webhooks" => {
            let events = args
                .iter()
                .position(|a| a == "--events")
                .and_then(|i| args.get(i + 1))
                .and_then(|s| s.parse().ok())
                .unwrap_or(30_000);
            webhooks_suite::run(events).await
        }
        other => {
            anyhow::bail!("unknown suite {other:?}; known: identity, feedback, webhooks, ticketing, inbox, billing")
        }
    }
}
