//! billing-metrics: metering from the stream (events/s with exact counts, every event delivered
//! twice, with one replica and with two) and `CheckQuota` over gRPC at concurrency 64.
//!
//! The stream is loaded before billing starts, so what is timed is billing's consumption: from
//! its start until every organization's counter holds exactly what was published.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use platform::bus::CloudEvent;
use platform::config::Env;
use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::runner;

const ORGS: usize = 50;
const TOKEN: &str = "switchboard-development-service-token";

fn env(pairs: &[(&str, String)]) -> Env {
    let mut vars: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    vars.entry("SWITCHBOARD_ENV".to_owned()).or_insert_with(|| "development".to_owned());
    Env::from_map(vars)
}

/// One billing-metrics replica on `db` and `prefix`; its gRPC URL.
async fn replica(db: &str, nats: &str, prefix: &str, stop: &CancellationToken) -> anyhow::Result<String> {
    replica_with(db, nats, prefix, "http://127.0.0.1:9", stop).await.map(|(grpc, _)| grpc)
}

/// A replica that authenticates with identity at `identity_grpc`; its gRPC and HTTP URLs.
async fn replica_with(
    db: &str,
    nats: &str,
    prefix: &str,
    identity_grpc: &str,
    stop: &CancellationToken,
) -> anyhow::Result<(String, String)> {
    let config = billing_metrics::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0".into()),
        ("GRPC_ADDR", "127.0.0.1:0".into()),
        ("DATABASE_URL", db.to_owned()),
        ("DATABASE_MAX_CONNECTIONS", "20".into()),
        ("NATS_URL", nats.to_owned()),
        ("NATS_PREFIX", prefix.to_owned()),
        // Metering and quota answers need no identity; refunds do.
        ("IDENTITY_GRPC_URL", identity_grpc.to_owned()),
        ("LOG_LEVEL", "warn".into()),
    ]))?;
    let app = billing_metrics::Application::build(config).await?;
    let grpc = format!("http://{}", app.grpc_addr());
    let http = format!("http://{}", app.http_addr());
    tokio::spawn(app.run_until_stopped(stop.clone()));
    Ok((grpc, http))
}

/// 1,000 refunds approved at once against one budget that holds 400 of them: exactly 400
/// approved, the budget spent to its limit and not a cent more, the usage records summing to it.
async fn refunds() -> anyhow::Result<String> {
    let prefix = platform::testing::unique_prefix();
    let nats = platform::testing::nats_url();
    let stop = CancellationToken::new();
    let identity_db = platform::testing::fresh_database("lg_billing_identity").await?;
    let identity = identity::Application::build(identity::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0".into()),
        ("GRPC_ADDR", "127.0.0.1:0".into()),
        ("DATABASE_URL", identity_db.expose_secret().to_owned()),
        ("NATS_URL", nats.clone()),
        ("NATS_PREFIX", prefix.clone()),
    ]))?)
    .await?;
    let identity_base = format!("http://{}", identity.http_addr());
    let identity_grpc = format!("http://{}", identity.grpc_addr());
    tokio::spawn(identity.run_until_stopped(stop.clone()));
    let db = platform::testing::fresh_database("lg_billing_refunds").await?.expose_secret().to_owned();
    let (_, base) = replica_with(&db, &nats, &prefix, &identity_grpc, &stop).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(1024).build()?;
    let signup = json!({"email": "bench@example.com", "password": "correct horse battery staple", "name": "Bench",
        "organization_name": "Bench"});
    let answer: serde_json::Value = http
        .post(format!("{identity_base}/v1/auth/signup"))
        .json(&signup)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = answer["access_token"].as_str().unwrap_or_default().to_owned();
    let budget = json!({"name": "Refunds", "budget_type": "refund", "period": "monthly", "limit_cents": 40_000});
    http.post(format!("{base}/v1/budgets")).bearer_auth(&token).json(&budget).send().await?.error_for_status()?;
    let mut ids = Vec::new();
    for i in 0..1000 {
        let r = json!({"amount_cents": 100, "reason": "service_downtime", "customer_id": format!("c{i}")});
        let created: serde_json::Value = http
            .post(format!("{base}/v1/refunds"))
            .bearer_auth(&token)
            .json(&r)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.push(created["id"].as_str().unwrap_or_default().to_owned());
    }
    let start = Instant::now();
    let approvals = ids.iter().map(|id| {
        let (http, url, token) = (http.clone(), format!("{base}/v1/refunds/{id}/approve"), token.clone());
        async move { http.post(url).bearer_auth(token).json(&json!({})).send().await.map(|r| r.status().as_u16()) }
    });
    let statuses = futures::future::join_all(approvals).await;
    let elapsed = start.elapsed();
    let ok = statuses.iter().filter(|s| matches!(s, Ok(200))).count();
    let over = statuses.iter().filter(|s| matches!(s, Ok(409))).count();
    let pool = PgPool::connect(&db).await?;
    let spent: i64 = sqlx::query_scalar("SELECT spent_cents FROM budgets").fetch_one(&pool).await?;
    let used: i64 = sqlx::query_scalar("SELECT COALESCE(sum(amount_cents), 0)::bigint FROM budget_usage_records")
        .fetch_one(&pool)
        .await?;
    stop.cancel();
    anyhow::ensure!(ok == 400 && over == 600, "approved {ok}, refused {over}: {statuses:?}");
    anyhow::ensure!(spent == 40_000 && used == 40_000, "spent {spent}, usage records {used}");
    Ok(format!(
        "refunds: 1,000 concurrent approvals against one budget of 400 in {:.2} s: 400 approved, 600 refused (409), \
         spent 40000 of 40000, usage records 40000",
        elapsed.as_secs_f64()
    ))
}

/// A `ticket.created` payload as ticketing writes it (analytics reads all of it).
fn ticket(org: Uuid, n: usize) -> serde_json::Value {
    let now = chrono::Utc::now();
    serde_json::to_value(proto::events::Ticket {
        organization_id: org,
        ticket_id: Uuid::now_v7(),
        number: format!("TKT-2026-{n:06}"),
        subject: "The export button does nothing".into(),
        status: "open".into(),
        status_before: None,
        priority: "normal".into(),
        severity: "normal".into(),
        category: "technical".into(),
        tags: vec!["export".into()],
        source: "web".into(),
        customer_id: Some(Uuid::now_v7()),
        assignee_id: None,
        team_id: None,
        project_id: None,
        conversation_id: None,
        changed: vec![],
        actor_id: Some(Uuid::now_v7()),
        created_at: Some(now),
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        reopen_count: 0,
    })
    .unwrap_or_default()
}

/// Publishes `per_org` `ticket.created` events for each organization, each twice (no
/// `Nats-Msg-Id`, so the server keeps both copies).
async fn load(nats: &async_nats::Client, prefix: &str, orgs: &[Uuid], per_org: usize) -> anyhow::Result<()> {
    let js = async_nats::jetstream::new(nats.clone());
    let mut acks = Vec::new();
    for i in 0..per_org {
        for org in orgs {
            let event = CloudEvent::new(
                "switchboard/loadgen",
                "ticket.created",
                Some(*org),
                Some(Uuid::now_v7().to_string()),
                ticket(*org, i),
            );
            let payload: bytes::Bytes = serde_json::to_vec(&event)?.into();
            for _ in 0..2 {
                acks.push(js.publish(format!("{prefix}.events.ticket.created"), payload.clone()).await?);
                if acks.len() >= 4096 {
                    for a in acks.drain(..) {
                        a.await?;
                    }
                }
            }
        }
    }
    for a in acks {
        a.await?;
    }
    Ok(())
}

/// Waits until every organization's `tickets` counter is `per_org`; fails if any goes past.
async fn counted(pool: &PgPool, orgs: usize, per_org: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (n, max, sum): (i64, Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT count(*), max(value), sum(value)::bigint FROM usage WHERE metric = 'tickets'")
                .fetch_one(pool)
                .await?;
        anyhow::ensure!(max.unwrap_or(0) <= per_org, "a counter went past {per_org}: {max:?}");
        if n == orgs as i64 && sum == Some(per_org * orgs as i64) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "not counted in time: {sum:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Meters `per_org × ORGS` events, each delivered twice, with `replicas` replicas; events/s.
async fn metering(replicas: usize, per_org: usize) -> anyhow::Result<(f64, Duration)> {
    let prefix = platform::testing::unique_prefix();
    let nats_url = platform::testing::nats_url();
    let db = platform::testing::fresh_database("lg_billing").await?.expose_secret().to_owned();
    let nats = async_nats::connect(&nats_url).await?;
    // The streams, as every service makes them at start, before anything consumes.
    platform::bus::Bus::connect(&nats_url, &prefix, "loadgen").await?.ensure_streams().await?;
    let orgs: Vec<Uuid> = (0..ORGS).map(|_| Uuid::now_v7()).collect();
    load(&nats, &prefix, &orgs, per_org).await?;
    let stop = CancellationToken::new();
    let start = Instant::now();
    for _ in 0..replicas {
        replica(&db, &nats_url, &prefix, &stop).await?;
    }
    let pool = PgPool::connect(&db).await?;
    counted(&pool, ORGS, per_org as i64).await?;
    let elapsed = start.elapsed();
    // Every copy handled: nothing left to count twice later.
    let activity: i64 = sqlx::query_scalar("SELECT count(*) FROM activity_logs WHERE action = 'ticket.created'")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(activity == (per_org * ORGS) as i64, "activity rows {activity}");
    stop.cancel();
    Ok(((per_org * ORGS) as f64 / elapsed.as_secs_f64(), elapsed))
}

async fn quota(duration: Duration) -> anyhow::Result<runner::Report> {
    let prefix = platform::testing::unique_prefix();
    let nats_url = platform::testing::nats_url();
    let db = platform::testing::fresh_database("lg_billing_quota").await?.expose_secret().to_owned();
    let stop = CancellationToken::new();
    let grpc = replica(&db, &nats_url, &prefix, &stop).await?;
    let orgs: Vec<Uuid> = (0..1000).map(|_| Uuid::now_v7()).collect();
    let channel = tonic::transport::Endpoint::from_shared(grpc)?.connect().await?;
    let clients: Vec<_> = (0..4).map(|_| proto::billing::billing_client::BillingClient::new(channel.clone())).collect();
    let request = move |i: u64| {
        let org = orgs[(i as usize * 7919) % orgs.len()];
        let mut r = tonic::Request::new(proto::billing::CheckQuotaRequest {
            organization_id: org.to_string(),
            metric: "tickets".into(),
            amount: 1,
        });
        r.metadata_mut().insert("authorization", format!("Bearer {TOKEN}").parse().expect("ascii"));
        r
    };
    let report = runner::closed_loop("CheckQuota, c=64 (1,000 organizations)", 64, duration, move |i| {
        let mut client = clients[(i % 4) as usize].clone();
        let r = request(i);
        async move { client.check_quota(r).await.is_ok_and(|a| a.into_inner().allowed) }
    })
    .await;
    stop.cancel();
    Ok(report)
}

pub async fn run(duration: Duration, per_org: usize, only: Option<String>) -> anyhow::Result<()> {
    let wants = |s: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == s));
    let mut lines = Vec::new();
    if wants("metering") {
        for replicas in [1, 2] {
            let (rate, elapsed) = metering(replicas, per_org).await?;
            lines.push(format!(
                "metering, {} events × 2 copies, {replicas} replica(s): {rate:.0} events/s ({:.1} s), counts exact",
                per_org * ORGS,
                elapsed.as_secs_f64()
            ));
            println!("{}", lines.last().expect("a line"));
        }
    }
    if wants("refunds") {
        let line = refunds().await?;
        println!("{line}");
        lines.push(line);
    }
    if wants("quota") {
        let r = quota(duration).await?;
        println!("{}\n{}", runner::header(), r.line());
        lines.push(r.line());
    }
    Ok(())
}
