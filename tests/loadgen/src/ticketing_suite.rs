//! Ticketing: `POST /v1/tickets` against the same inserts in one transaction, 64 concurrent
//! creators numbering 64,000 tickets of one organization without a gap, `GET /v1/tickets/{id}`
//! against the raw select-by-pk, a team's backlog and searches over 200,000 tickets with
//! 1,000,000 comments, and the inbox flow (`inbox.message.received` → comment).
//!
//! Each part runs in its own organization: creates (A), the data set (B), numbering (C).
//! `--only create,numbers,read,lists,inbox` runs some parts (the data set is seeded for read,
//! lists and inbox); `--per-creator N` shortens the numbering part while developing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use platform::bus::Bus;
use platform::config::Env;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use ticketing::domain::ticket::{Actor, Ticket};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::runner::{self, closed_loop, Report};
use crate::ticketing_data;

const PASSWORD: &str = "correct horse battery staple";

/// The variables given, in development mode (the services' default secrets).
fn env(pairs: &[(&str, &str)]) -> Env {
    let mut vars = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>();
    vars.entry("SWITCHBOARD_ENV".to_owned()).or_insert_with(|| "development".to_owned());
    Env::from_map(vars)
}

struct Stack {
    identity: String,
    base: String,
    raw: PgPool,
    bus: Bus,
    http: reqwest::Client,
}

/// An organization's owner: (token, org, user).
async fn owner(s: &Stack, email: &str) -> anyhow::Result<(String, Uuid, Uuid)> {
    let signup: Value = s
        .http
        .post(format!("{}/v1/auth/signup", s.identity))
        .json(&json!({"email": email, "password": PASSWORD, "name": "Bench", "organization_name": email}))
        .send()
        .await?
        .json()
        .await?;
    let token = signup["access_token"].as_str().unwrap_or_default().to_owned();
    let org = signup["organization"]["id"].as_str().unwrap_or_default().parse()?;
    let user = signup["user"]["id"].as_str().unwrap_or_default().parse()?;
    Ok((token, org, user))
}

pub async fn run(duration: Duration, only: Option<String>, per_creator: usize) -> anyhow::Result<()> {
    let wants = |part: &str| only.as_deref().is_none_or(|o| o.split(',').any(|p| p == part));
    let prefix = platform::testing::unique_prefix();
    let nats = platform::testing::nats_url();
    let stop = CancellationToken::new();
    let identity_db = platform::testing::fresh_database("bench_tk_identity").await?;
    let identity = identity::Application::build(identity::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", identity_db.expose_secret()),
        ("DATABASE_MAX_CONNECTIONS", "5"),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
    ]))?)
    .await?;
    let identity_base = format!("http://{}", identity.http_addr());
    let identity_grpc = format!("http://{}", identity.grpc_addr());
    tokio::spawn(identity.run_until_stopped(stop.clone()));
    let db = platform::testing::fresh_database("bench_ticketing").await?;
    let dir = std::env::temp_dir().join(format!("bench-tk-attachments-{}", Uuid::new_v4().simple()));
    let config = ticketing::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
        ("IDENTITY_GRPC_URL", &identity_grpc),
        ("ATTACHMENTS_DIR", &dir.to_string_lossy()),
    ]))?;
    let pool_size = config.common.database_max_connections;
    let app = ticketing::Application::build(config).await?;
    let base = format!("http://{}", app.http_addr());
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let name = db.expose_secret().rsplit('/').next().unwrap_or_default().to_owned();
    println!("ticketing database: {name}");
    let s = Stack {
        identity: identity_base,
        base,
        raw: platform::db::pool(&db, pool_size)?,
        bus: Bus::connect(&nats, &prefix, "loadgen").await?,
        http: reqwest::Client::builder().pool_max_idle_per_host(256).build()?,
    };

    let mut reports: Vec<Report> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    if wants("create") {
        create(&s, duration, &mut reports).await?;
    }
    if wants("numbers") {
        lines.push(numbers(&s, per_creator).await?);
    }
    if wants("read") || wants("lists") || wants("inbox") {
        let (token, org, _) = owner(&s, "desk@example.com").await?;
        let seeded = Instant::now();
        let data = ticketing_data::seed(&s.raw, org).await?;
        println!("data set ready in {:.1} s", seeded.elapsed().as_secs_f64());
        if wants("read") {
            read(&s, &token, org, duration, &mut reports).await?;
        }
        if wants("lists") {
            lists(&s, &token, org, &data, duration, &mut reports, &mut lines).await?;
        }
        if wants("inbox") {
            let (inbox, sustained) = crate::ticketing_inbox::run(s.bus.clone(), s.raw.clone(), org, 20_000).await?;
            lines.extend(inbox);
            targets.push(format!("inbox → comments: {sustained:.0}/s draining a backlog (target >= 2,000/s)"));
        }
    }

    println!("\n{}", runner::header());
    for r in &reports {
        println!("{}", r.line());
    }
    println!();
    for l in &lines {
        println!("{l}");
    }
    let by = |p: &str| reports.iter().find(|r| r.name.starts_with(p)).cloned();
    if let (Some(w), Some(c)) = (by("POST /v1/tickets"), by("ceiling: the create's inserts")) {
        println!(
            "\nPOST /v1/tickets / its inserts in one tx = {:.0}% (target >= 50%)",
            100.0 * w.throughput() / c.throughput()
        );
    }
    if let (Some(g), Some(c)) = (by("GET /v1/tickets/{id}"), by("ceiling: raw sqlx select-by-pk")) {
        println!(
            "GET /v1/tickets/{{id}} / raw select-by-pk = {:.0}% (target >= 75%), p99 {:.2} ms (target < 10 ms)",
            100.0 * g.throughput() / c.throughput(),
            g.p99.as_secs_f64() * 1000.0
        );
    }
    for t in targets {
        println!("{t}");
    }
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A ticket as an agent opens one: SLA policies apply, no team (routing is not measured here).
fn new_ticket(i: u64) -> Value {
    let priority = ["low", "normal", "normal", "high", "urgent"][(i % 5) as usize];
    json!({
        "subject": format!("Printer on floor {} jams on every print job", i % 7),
        "description": format!("Reported by phone, case {i}. It started after the driver update."),
        "priority": priority,
        "category": "technical_issue",
        "tags": ["hardware", "office"],
    })
}

async fn create(s: &Stack, duration: Duration, reports: &mut Vec<Report>) -> anyhow::Result<()> {
    let (token, org, user) = owner(s, "creates@example.com").await?;
    for (priority, first, resolution) in
        [("low", 1440, 10080), ("normal", 480, 2880), ("high", 240, 1440), ("urgent", 60, 240)]
    {
        let r = s
            .http
            .post(format!("{}/v1/sla-policies", s.base))
            .bearer_auth(&token)
            .json(&json!({"name": format!("{priority} tickets"), "priority": priority,
                          "first_response_minutes": first, "resolution_minutes": resolution}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "SLA policy: {} {}", r.status(), r.text().await?);
    }
    // Ceiling: what every create writes (the counter, the ticket with its search vectors, the
    // `created` history row, the `ticket.created` outbox row) in one transaction, with
    // ticketing's own statements, without HTTP, auth, validation, SLA, rules or routing.
    reports.push({
        let raw = s.raw.clone();
        closed_loop("ceiling: the create's inserts in one tx, c=64", 64, duration, move |i| {
            let raw = raw.clone();
            async move { raw_create(&raw, org, user, i).await.is_ok() }
        })
        .await
    });
    reports.push({
        let (http, url) = (s.http.clone(), reqwest::Url::parse(&format!("{}/v1/tickets", s.base))?);
        closed_loop("POST /v1/tickets (one organization), c=64", 64, duration, move |i| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                http.post(url)
                    .bearer_auth(&token)
                    .json(&new_ticket(i))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    });
    Ok(())
}

async fn raw_create(pool: &PgPool, org: Uuid, user: Uuid, i: u64) -> anyhow::Result<()> {
    use ticketing::store::{history, tickets};
    let mut tx = pool.begin().await?;
    let number = tickets::next_number(&mut tx, org).await?;
    let t: Ticket = sqlx::query_as(&format!(
        "INSERT INTO tickets (id, organization_id, number, subject, description, priority, category, tags, created_by, \
           search_public, search_all) VALUES ($1, $2, $3, $4, $5, 'normal', 'technical_issue', $6, $7, {V}, {V}) \
         RETURNING {}",
        tickets::COLUMNS,
        V = "setweight(to_tsvector('english', $4), 'A') || setweight(to_tsvector('english', $5), 'B')"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(number)
    .bind(format!("Printer on floor {} jams on every print job", i % 7))
    .bind(format!("Reported by phone, case {i}. It started after the driver update."))
    .bind(vec!["hardware".to_owned(), "office".to_owned()])
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    let entry = history::Change {
        field: "ticket",
        before: None,
        after: Some(json!({"number": t.number, "subject": t.subject, "status": t.status, "priority": t.priority})),
        kind: "created",
    };
    history::record(&mut tx, org, t.id, Some(user), "agent", &[entry]).await?;
    ticketing::events::ticket_event(&mut tx, proto::events::TICKET_CREATED, &t, Actor::User(user), &[]).await?;
    tx.commit().await?;
    Ok(())
}

/// 64 creators, `per_creator` tickets each, in a fresh organization; then the numbers are read
/// back: 1…64 × per_creator, none twice, none missing.
async fn numbers(s: &Stack, per_creator: usize) -> anyhow::Result<String> {
    let (token, org, _) = owner(s, "numbers@example.com").await?;
    let url = reqwest::Url::parse(&format!("{}/v1/tickets", s.base))?;
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..64u64 {
        let (http, url, token, errors) = (s.http.clone(), url.clone(), token.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..per_creator as u64 {
                let ok = http
                    .post(url.clone())
                    .bearer_auth(&token)
                    .json(&new_ticket(c * 1_000_000 + k))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let took = started.elapsed();
    let (count, distinct, low, high): (i64, i64, Option<i32>, Option<i32>) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT number), min(n), max(n) \
         FROM (SELECT number, split_part(number, '-', 3)::int AS n FROM tickets WHERE organization_id = $1) t",
    )
    .bind(org)
    .fetch_one(&s.raw)
    .await?;
    let expected = 64 * per_creator as i64;
    let exact = count == expected && distinct == expected && low == Some(1) && high == Some(expected as i32);
    Ok(format!(
        "numbering: 64 creators × {per_creator} tickets in one organization in {:.1} s = {:.0} tickets/s; \
         {count} tickets, {distinct} distinct numbers, lowest {}, highest {}, {} failed requests → {}",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        low.unwrap_or(0),
        high.unwrap_or(0),
        errors.load(Ordering::Relaxed),
        if exact { "1…N, no duplicate, no gap" } else { "NOT exact" }
    ))
}

async fn read(s: &Stack, token: &str, org: Uuid, duration: Duration, reports: &mut Vec<Report>) -> anyhow::Result<()> {
    // A thousand tickets of the live backlog, read in turn by both sides.
    let ids: Arc<Vec<Uuid>> = Arc::new(
        sqlx::query_scalar(
            "SELECT id FROM tickets WHERE organization_id = $1 AND status IN ('open', 'in_progress') \
             ORDER BY created_at DESC LIMIT 1000",
        )
        .bind(org)
        .fetch_all(&s.raw)
        .await?,
    );
    reports.push({
        let (raw, ids) = (s.raw.clone(), ids.clone());
        closed_loop("ceiling: raw sqlx select-by-pk of a ticket, c=64", 64, duration, move |i| {
            let (raw, id) = (raw.clone(), ids[i as usize % ids.len()]);
            async move {
                sqlx::query_as::<_, Ticket>(&format!(
                    "SELECT {} FROM tickets WHERE id = $1",
                    ticketing::store::tickets::COLUMNS
                ))
                .bind(id)
                .fetch_one(&raw)
                .await
                .is_ok()
            }
        })
        .await
    });
    let urls: Arc<Vec<reqwest::Url>> = Arc::new(
        ids.iter().map(|id| reqwest::Url::parse(&format!("{}/v1/tickets/{id}", s.base))).collect::<Result<_, _>>()?,
    );
    reports.push(get_loop("GET /v1/tickets/{id} (auth cached), c=64", s, token, urls, 64, duration).await);
    Ok(())
}

/// Closed-loop GETs of `urls` in turn, reading every body.
async fn get_loop(
    name: &str,
    s: &Stack,
    token: &str,
    urls: Arc<Vec<reqwest::Url>>,
    concurrency: usize,
    duration: Duration,
) -> Report {
    let (http, token) = (s.http.clone(), token.to_owned());
    closed_loop(name, concurrency, duration, move |i| {
        let (http, url, token) = (http.clone(), urls[i as usize % urls.len()].clone(), token.clone());
        async move {
            match http.get(url).bearer_auth(&token).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

async fn lists(
    s: &Stack,
    token: &str,
    org: Uuid,
    data: &ticketing_data::DataSet,
    duration: Duration,
    reports: &mut Vec<Report>,
    lines: &mut Vec<String>,
) -> anyhow::Result<()> {
    let url = |path: String| reqwest::Url::parse(&format!("{}{path}", s.base));
    let backlog: Vec<reqwest::Url> = data
        .teams
        .iter()
        .map(|t| url(format!("/v1/tickets?team_id={t}&status=open&sort=sla_due&limit=50")))
        .collect::<Result<_, _>>()?;
    let codes: Vec<String> = (0..20).map(|k| format!("ord{:04}", 421 + k * 37)).collect();
    let narrow: Vec<reqwest::Url> =
        codes.iter().map(|c| url(format!("/v1/tickets?q={c}&limit=50"))).collect::<Result<_, _>>()?;
    let broad = vec![url("/v1/tickets?q=refund&limit=50".to_owned())?];
    // What each query matches, as the service's search sees it (agents search `search_all`).
    let count = |q: String| {
        let raw = s.raw.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM tickets WHERE organization_id = $1 AND status <> 'merged' \
                   AND search_all @@ to_tsquery('english', $2)",
            )
            .bind(org)
            .bind(q)
            .fetch_one(&raw)
            .await
        }
    };
    let mut narrow_matches = 0;
    for c in &codes {
        narrow_matches += count(format!("{c}:*")).await?;
    }
    let open_per_team: f64 = sqlx::query_scalar(
        "SELECT avg(n)::float8 FROM (SELECT count(*) AS n FROM tickets WHERE organization_id = $1 \
           AND status = 'open' AND team_id IS NOT NULL GROUP BY team_id) t",
    )
    .bind(org)
    .fetch_one(&s.raw)
    .await?;
    lines.push(format!(
        "data set: {} open tickets per team on average; narrow searches match {:.0} tickets on average ({} codes), \
         q=refund matches {}",
        open_per_team.round(),
        narrow_matches as f64 / codes.len() as f64,
        codes.len(),
        count("refund:*".to_owned()).await?
    ));
    let backlog = Arc::new(backlog);
    let (narrow, broad) = (Arc::new(narrow), Arc::new(broad));
    for (name, urls, concurrency) in [
        ("a team's open tickets by SLA due (200k), c=64", backlog.clone(), 64),
        ("search, ~100 of 200k match, c=64", narrow.clone(), 64),
        ("search, ~100 of 200k match, c=8", narrow.clone(), 8),
        ("search, 20,000 (10%) of 200k match, c=64", broad.clone(), 64),
        ("search, 20,000 (10%) of 200k match, c=2", broad.clone(), 2),
    ] {
        reports.push(get_loop(name, s, token, urls, concurrency, duration).await);
    }
    Ok(())
}
