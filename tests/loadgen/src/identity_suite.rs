//! Identity: `GET /v1/me` (auth cached) against the raw select-by-pk ceiling, a write endpoint
//! against its raw inserts, uncached gRPC `Authenticate`, login throughput, and other requests'
//! p99 during a login flood.

use std::collections::HashMap;
use std::time::Duration;

use axum::routing::get;
use identity::{Application, Config};
use platform::config::Env;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::runner::{self, closed_loop, open_loop, Report};

const PASSWORD: &str = "correct horse battery staple";

pub async fn run(duration: Duration) -> anyhow::Result<()> {
    let db = platform::testing::fresh_database("bench_identity").await?;
    let prefix = platform::testing::unique_prefix();
    let vars: HashMap<String, String> = [
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("NATS_PREFIX", prefix.as_str()),
        ("NATS_URL", platform::testing::nats_url().as_str()),
        ("SWITCHBOARD_ENV", "development"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::from_env(Env::from_map(vars))?;
    let service_token = config.common.service_token();
    let pool_size = config.common.database_max_connections;
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.http_addr());
    let grpc_url = format!("http://{}", app.grpc_addr());
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));

    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let signup: Value = http
        .post(format!("{base}/v1/auth/signup"))
        .json(
            &json!({"email": "bench@example.com", "password": PASSWORD, "name": "Bench", "organization_name": "Bench"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let token = signup["access_token"].as_str().unwrap_or_default().to_owned();
    let user_id: Uuid = signup["user"]["id"].as_str().unwrap_or_default().parse()?;
    let org_id: Uuid = signup["organization"]["id"].as_str().unwrap_or_default().parse()?;
    let mut reports: Vec<Report> = Vec::new();

    // Ceiling: a bare axum handler behind the same client.
    let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = reqwest::Url::parse(&format!("http://{}/ping", bare.local_addr()?))?;
    tokio::spawn(async move {
        let router = axum::Router::new().route("/ping", get(|| async { axum::Json(json!({"ok": true})) }));
        let _ = axum::serve(bare, router).await;
    });
    reports.push({
        let (http, url) = (http.clone(), bare_url.clone());
        closed_loop("ceiling: bare axum handler, c=64", 64, duration, move |_| {
            let (http, url) = (http.clone(), url.clone());
            async move { http.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await
    });

    // Ceiling: the raw select-by-pk with a pool of the service's size.
    let raw = platform::db::pool(&db, pool_size)?;
    reports.push({
        let raw = raw.clone();
        closed_loop("ceiling: raw sqlx select-by-pk, c=64", 64, duration, move |_| {
            let raw = raw.clone();
            async move {
                sqlx::query_as::<_, (Uuid, String, String)>("SELECT id, email, name FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_one(&raw)
                    .await
                    .is_ok()
            }
        })
        .await
    });

    reports.push({
        let (http, url, token) = (http.clone(), reqwest::Url::parse(&format!("{base}/v1/me"))?, token.clone());
        closed_loop("GET /v1/me (auth cached), c=64", 64, duration, move |_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move { http.get(url).bearer_auth(&token).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await
    });

    // Ceiling: the insert POST /v1/teams does, in one transaction.
    reports.push({
        let raw = raw.clone();
        closed_loop("ceiling: raw insert of a team in a tx, c=64", 64, duration, move |i| {
            let raw = raw.clone();
            async move {
                let Ok(mut tx) = raw.begin().await else { return false };
                let ok = sqlx::query("INSERT INTO teams (id, organization_id, name) VALUES ($1, $2, $3)")
                    .bind(Uuid::now_v7())
                    .bind(org_id)
                    .bind(format!("raw-{i}"))
                    .execute(&mut *tx)
                    .await
                    .is_ok();
                ok && tx.commit().await.is_ok()
            }
        })
        .await
    });
    reports.push({
        let (http, url, token) = (http.clone(), reqwest::Url::parse(&format!("{base}/v1/teams"))?, token.clone());
        closed_loop("POST /v1/teams, c=64", 64, duration, move |i| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                http.post(url)
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("team-{i}")}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    });

    // Uncached gRPC Authenticate: every call reaches the database.
    let channel = tonic::transport::Endpoint::from_shared(grpc_url)?.connect().await?;
    reports.push({
        let token = token.clone();
        let service_token = service_token.clone();
        closed_loop("gRPC Authenticate (uncached), c=64", 64, duration, move |_| {
            let mut client = proto::identity::identity_client::IdentityClient::new(channel.clone());
            let mut request = tonic::Request::new(proto::identity::AuthenticateRequest { credential: token.clone() });
            service_token.attach(&mut request);
            async move { client.authenticate(request).await.is_ok() }
        })
        .await
    });

    // Login: argon2id with OWASP parameters, bounded to PASSWORD_HASH_CONCURRENCY at once. The
    // flood comes from many accounts, as a morning rush or credential stuffing does (one account
    // alone would be cut by its lockout reservation after five attempts in flight).
    let accounts = 64;
    for a in 0..accounts {
        http.post(format!("{base}/v1/auth/signup"))
            .json(&json!({"email": format!("user{a}@example.com"), "password": PASSWORD, "name": "User", "organization_name": format!("Org {a}")}))
            .send()
            .await?;
    }
    let login_url = reqwest::Url::parse(&format!("{base}/v1/auth/login"))?;
    let login = {
        let (http, url) = (http.clone(), login_url.clone());
        move |i: u64| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.post(url)
                    .json(&json!({"email": format!("user{}@example.com", i % accounts), "password": PASSWORD}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }
    };
    reports.push(closed_loop("POST /v1/auth/login, c=16", 16, duration, login.clone()).await);

    // Other requests during a login flood, against the same requests without one.
    let me = {
        let (http, url, token) = (http.clone(), reqwest::Url::parse(&format!("{base}/v1/me"))?, token.clone());
        move |_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move { http.get(url).bearer_auth(&token).send().await.is_ok_and(|r| r.status().is_success()) }
        }
    };
    // Rounds of baseline and flood alternate, so both meet the same machine; each side's p99 is
    // taken over all its rounds (thousands of samples rather than one run's fifty worst).
    let (mut quiet, mut loud, mut floods) = (Vec::new(), Vec::new(), Vec::new());
    let round = duration / 2;
    for _ in 0..4 {
        quiet.push(open_loop("baseline round", 500, round, me.clone()).await);
        let flood = tokio::spawn(closed_loop("flood round", 64, round, login.clone()));
        loud.push(open_loop("flood round", 500, round, me.clone()).await);
        floods.push(flood.await?);
    }
    let baseline = runner::pool("GET /v1/me at 500/s, no flood (baseline, 4 rounds)", quiet);
    let flood = runner::pool("login flood, 64 accounts, c=64 (4 rounds)", floods);
    let during = runner::pool("GET /v1/me at 500/s during a login flood (4 rounds)", loud);
    reports.push(baseline.clone());
    reports.push(flood);
    reports.push(during.clone());

    println!("\n{}", runner::header());
    for r in &reports {
        println!("{}", r.line());
    }
    let by = |prefix: &str| reports.iter().find(|r| r.name.starts_with(prefix)).cloned();
    if let (Some(me), Some(pk)) = (by("GET /v1/me (auth cached)"), by("ceiling: raw sqlx select")) {
        println!(
            "\nGET /v1/me / raw select-by-pk = {:.0}% (target >= 75%), p99 {:.2} ms (target < 10 ms)",
            100.0 * me.throughput() / pk.throughput(),
            me.p99.as_secs_f64() * 1000.0
        );
    }
    if let (Some(w), Some(c)) = (by("POST /v1/teams"), by("ceiling: raw insert")) {
        println!("POST /v1/teams / raw insert = {:.0}%", 100.0 * w.throughput() / c.throughput());
    }
    println!(
        "p99 of GET /v1/me during the login flood / baseline = {:.2} (target <= 1.20)",
        during.p99.as_secs_f64() / baseline.p99.as_secs_f64().max(1e-9)
    );
    stop.cancel();
    Ok(())
}
