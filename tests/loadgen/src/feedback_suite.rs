//! Feedback: `POST /v1/feedback` against the same inserts in one transaction, `GET
//! /v1/feedback/{id}` against the raw select-by-pk, the top list and a search over an
//! organization of 100,000 posts, and 1,000 concurrent votes on one post.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use platform::bus::CloudEvent;
use platform::config::Env;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::runner::{self, closed_loop, Report};

const PASSWORD: &str = "correct horse battery staple";
const POSTS: i64 = 100_000;

/// The variables given, in development mode (the services' default secrets).
fn env(pairs: &[(&str, &str)]) -> Env {
    let mut vars = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>();
    vars.entry("SWITCHBOARD_ENV".to_owned()).or_insert_with(|| "development".to_owned());
    Env::from_map(vars)
}

pub async fn run(duration: Duration) -> anyhow::Result<()> {
    let prefix = platform::testing::unique_prefix();
    let nats = platform::testing::nats_url();
    let stop = CancellationToken::new();
    let identity_db = platform::testing::fresh_database("bench_fb_identity").await?;
    let identity = identity::Application::build(identity::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", identity_db.expose_secret()),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
    ]))?)
    .await?;
    let identity_base = format!("http://{}", identity.http_addr());
    let identity_grpc = format!("http://{}", identity.grpc_addr());
    tokio::spawn(identity.run_until_stopped(stop.clone()));
    let db = platform::testing::fresh_database("bench_feedback").await?;
    let dir = std::env::temp_dir().join(format!("bench-attachments-{}", Uuid::new_v4().simple()));
    let config = feedback::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
        ("IDENTITY_GRPC_URL", &identity_grpc),
        ("ATTACHMENTS_DIR", &dir.to_string_lossy()),
        ("PUBLIC_RATE_PER_MINUTE", "1000000"),
    ]))?;
    let pool_size = config.common.database_max_connections;
    let app = feedback::Application::build(config).await?;
    let base = format!("http://{}", app.http_addr());
    tokio::spawn(app.run_until_stopped(stop.clone()));

    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let signup: Value = http
        .post(format!("{identity_base}/v1/auth/signup"))
        .json(&json!({"email": "bench@example.com", "password": PASSWORD, "name": "Bench", "organization_name": "Bench Co"}))
        .send()
        .await?
        .json()
        .await?;
    let token = signup["access_token"].as_str().unwrap_or_default().to_owned();
    let org: Uuid = signup["organization"]["id"].as_str().unwrap_or_default().parse()?;
    let slug = signup["organization"]["slug"].as_str().unwrap_or_default().to_owned();
    let user: Uuid = signup["user"]["id"].as_str().unwrap_or_default().parse()?;

    let raw = platform::db::pool(&db, pool_size)?;
    let seeded = Instant::now();
    seed(&raw, org, user).await?;
    println!("seeded {POSTS} posts in {:.1} s", seeded.elapsed().as_secs_f64());
    let sample: Uuid = sqlx::query_scalar("SELECT id FROM feedback WHERE organization_id = $1 LIMIT 1")
        .bind(org)
        .fetch_one(&raw)
        .await?;
    let mut reports: Vec<Report> = Vec::new();

    // Ceiling: what POST /v1/feedback writes (post, author's subscription, outbox event) in one
    // transaction, without HTTP, auth or validation.
    reports.push({
        let raw = raw.clone();
        closed_loop("ceiling: the create's inserts in one tx, c=64", 64, duration, move |i| {
            let raw = raw.clone();
            async move { raw_create(&raw, org, user, i).await.is_ok() }
        })
        .await
    });
    reports.push({
        let (http, url, token) = (http.clone(), reqwest::Url::parse(&format!("{base}/v1/feedback"))?, token.clone());
        closed_loop("POST /v1/feedback, c=64", 64, duration, move |i| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                http.post(url)
                    .bearer_auth(&token)
                    .json(
                        &json!({"title": format!("Benchmark idea {i}"), "description": "Measured", "tags": ["bench"]}),
                    )
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    });
    reports.push({
        let raw = raw.clone();
        closed_loop("ceiling: raw sqlx select-by-pk of a post, c=64", 64, duration, move |_| {
            let raw = raw.clone();
            async move {
                sqlx::query_as::<_, feedback::store::Feedback>(&format!(
                    "SELECT {} FROM feedback WHERE id = $1",
                    feedback::store::COLUMNS
                ))
                .bind(sample)
                .fetch_one(&raw)
                .await
                .is_ok()
            }
        })
        .await
    });
    // Searches: a selective one (about 100 of the 100,000 posts match, as most real queries)
    // and a broad one (10,000 match: every match is ranked), at two concurrencies.
    for (name, path, concurrency) in [
        ("GET /v1/feedback/{id} (auth cached), c=64", format!("/v1/feedback/{sample}"), 64),
        ("GET /v1/feedback?sort=top&limit=20 (100k posts), c=64", "/v1/feedback?sort=top&limit=20".to_owned(), 64),
        ("search, ~100 of 100k match, c=64", "/v1/feedback?q=feature421&limit=20".to_owned(), 64),
        ("search, ~100 of 100k match, c=8", "/v1/feedback?q=feature421&limit=20".to_owned(), 8),
        ("search, 10,000 of 100k match, c=64", "/v1/feedback?q=dark%20mode&limit=20".to_owned(), 64),
        ("search, 10,000 of 100k match, c=2", "/v1/feedback?q=dark%20mode&limit=20".to_owned(), 2),
    ] {
        let (http, url, token) = (http.clone(), reqwest::Url::parse(&format!("{base}{path}"))?, token.clone());
        reports.push(
            closed_loop(name, concurrency, duration, move |_| {
                let (http, url, token) = (http.clone(), url.clone(), token.clone());
                async move { http.get(url).bearer_auth(&token).send().await.is_ok_and(|r| r.status().is_success()) }
            })
            .await,
        );
    }

    // 1,000 distinct voters at once on one post (anonymous visitors of the public board: each
    // user agent is another voter).
    http.put(format!("{base}/v1/feedback/settings"))
        .bearer_auth(&token)
        .json(&json!({"allow_anonymous_votes": true}))
        .send()
        .await?;
    let target: Value = http
        .post(format!("{base}/v1/feedback"))
        .bearer_auth(&token)
        .json(&json!({"title": "The one everybody votes on"}))
        .send()
        .await?
        .json()
        .await?;
    let target_id = target["id"].as_str().unwrap_or_default().to_owned();
    let vote_url = format!("{base}/v1/public/{slug}/feedback/{target_id}/vote");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let (http, url) = (http.clone(), vote_url.clone());
        tasks.push(tokio::spawn(async move {
            let t = if i % 4 == 0 { "down" } else { "up" };
            http.put(&url)
                .header("user-agent", format!("voter-{i}"))
                .json(&json!({"type": t}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            ok += 1;
        }
    }
    let took = started.elapsed();
    let after: Value =
        http.get(format!("{base}/v1/feedback/{target_id}")).bearer_auth(&token).send().await?.json().await?;

    println!("\n{}", runner::header());
    for r in &reports {
        println!("{}", r.line());
    }
    let by = |p: &str| reports.iter().find(|r| r.name.starts_with(p)).cloned();
    if let (Some(w), Some(c)) = (by("POST /v1/feedback"), by("ceiling: the create")) {
        println!(
            "\nPOST /v1/feedback / its inserts in one tx = {:.0}% (target >= 50%)",
            100.0 * w.throughput() / c.throughput()
        );
    }
    if let (Some(g), Some(c)) = (by("GET /v1/feedback/{id}"), by("ceiling: raw sqlx select-by-pk")) {
        println!(
            "GET /v1/feedback/{{id}} / raw select-by-pk = {:.0}% (target >= 75%), p99 {:.2} ms (target < 10 ms)",
            100.0 * g.throughput() / c.throughput(),
            g.p99.as_secs_f64() * 1000.0
        );
    }
    println!(
        "1,000 concurrent votes: {ok} answered 200 in {:.2} s; vote_count {} upvotes {} downvotes {} (expected 500, 750, 250)",
        took.as_secs_f64(),
        after["vote_count"],
        after["upvotes"],
        after["downvotes"]
    );
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// 100,000 posts in one organization: titles and texts from a small vocabulary so searches have
/// realistic selectivity, votes and comments spread like a real board's (a few popular posts).
async fn seed(pool: &sqlx::PgPool, org: Uuid, author: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO feedback (id, organization_id, title, description, author_id, vote_count, upvotes, comment_count, \
           tags, created_at, status) \
         SELECT gen_random_uuid(), $1, \
           (ARRAY['Dark mode','Export','Mobile app','Slack integration','Calendar sync','Keyboard shortcuts', \
                  'Bulk edit','API access','Custom fields','SSO login'])[1 + i % 10] || ' ' || \
           (ARRAY['for reports','in dashboards','on tablets','for teams','with filters','per project','for admins', \
                  'in emails','everywhere','please'])[1 + (i / 10) % 10] || ' feature' || (i % 997), \
           'Request number ' || i || ': ' || \
           (ARRAY['would save time','customers ask for it','blocks our rollout','nice to have','competitors have it'])[1 + i % 5], \
           $2, (i * 7919) % 1000 / (1 + i % 50), (i * 7919) % 1000 / (1 + i % 50), i % 37, \
           ARRAY[(ARRAY['ui','api','mobile','billing','reports'])[1 + i % 5]], \
           now() - make_interval(secs => i * 30), \
           (ARRAY['open','under_review','planned','in_progress','completed'])[1 + i % 5] \
         FROM generate_series(1, $3) AS i",
    )
    .bind(org)
    .bind(author)
    .bind(POSTS)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE feedback").execute(pool).await?;
    Ok(())
}

async fn raw_create(pool: &sqlx::PgPool, org: Uuid, user: Uuid, i: u64) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO feedback (id, organization_id, title, description, author_id, tags) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(org)
        .bind(format!("Raw idea {i}"))
        .bind("Measured")
        .bind(user)
        .bind(vec!["bench".to_owned()])
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO subscriptions (feedback_id, user_id) VALUES ($1, $2)")
        .bind(id)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let event =
        CloudEvent::new("bench", "feedback.created", Some(org), Some(id.to_string()), json!({"feedback_id": id}));
    platform::outbox::emit(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}
