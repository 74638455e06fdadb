//! The common HTTP stack as a client sees it: boundary rejections, an unreachable database,
//! problem+json for what the router itself answers, CORS and `/metrics`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;

use crate::app::App;
use crate::support::{self, client, setup, ALICE};

/// A problem of `status`, quoting the request id the response carries.
async fn problem(r: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    body
}

#[tokio::test]
async fn a_nul_character_is_refused_at_the_boundary_naming_the_field() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool, bus)).await;
    let http = client();

    let body = r#"{"name":"ok","tags":["a","b\u0000"]}"#;
    let r = http.post(format!("{}/echo", server.url)).header("content-type", "application/json").body(body);
    let p = problem(r.send().await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "tags[1]");
    let body = r#"{"name":"a\u0000b","tags":[]}"#;
    let r = http.post(format!("{}/echo", server.url)).header("content-type", "application/json").body(body);
    let p = problem(r.send().await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "name");

    let r = http.get(format!("{}/tags?tag=%00", server.url)).send().await.unwrap();
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "tag");

    let r = http.get(format!("{}/items/a%00b", server.url)).send().await.unwrap();
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "name");
    assert_eq!(app.runs(), 0, "no handler ran");

    // The same requests without the NUL reach the handlers.
    assert_eq!(http.get(format!("{}/tags?tag=a", server.url)).send().await.unwrap().status(), 204);
    assert_eq!(http.get(format!("{}/items/ab", server.url)).send().await.unwrap().status(), 204);
    assert_eq!(app.runs(), 2);
}

#[tokio::test]
async fn an_unreachable_database_answers_503_within_the_pool_wait() {
    let (_, bus) = setup().await;
    let url = SecretString::from("postgres://postgres@127.0.0.1:1/x");
    let dead = platform::db::pool_with(&url, 2, Duration::from_millis(500)).unwrap();
    let app = App::new(dead.clone());
    let server = app.serve(&support::runtime(dead, bus)).await;
    let http = client();

    // A handler's query, and the idempotency layer's own claim.
    let requests = [
        http.get(format!("{}/db", server.url)),
        http.post(format!("{}/things", server.url))
            .bearer_auth(ALICE)
            .header("idempotency-key", "k")
            .json(&serde_json::json!({"name": "x"})),
    ];
    for request in requests {
        let start = Instant::now();
        let r = request.send().await.unwrap();
        let elapsed = start.elapsed();
        assert!(r.headers().contains_key("retry-after"));
        let p = problem(r, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(p["type"].as_str().unwrap().ends_with("/service-unavailable"), "{p}");
        assert!(elapsed < Duration::from_secs(2), "answered after {elapsed:?}");
    }
}

#[tokio::test]
async fn a_lost_connection_or_a_conflict_to_retry_is_503_and_a_bug_is_500() {
    use platform::error::{internal_error, is_unavailable};
    let (pool, _) = setup().await;
    let raise = |code: &str| format!("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{code}'; END $$");
    // The server ending our session (an operator, a failover): 57P01 or a closed socket.
    let mut victim = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *victim).await.unwrap();
    // Waits (up to 5 s) until the session is gone.
    sqlx::query("SELECT pg_terminate_backend($1, 5000)").bind(pid).execute(&pool).await.unwrap();
    let mut lost = vec![sqlx::query("SELECT 1").execute(&mut *victim).await.unwrap_err()];
    for code in ["08006", "57P01", "57P03", "53300", "40001", "40P01"] {
        lost.push(sqlx::query(&raise(code)).execute(&pool).await.unwrap_err());
    }
    for err in lost {
        assert!(is_unavailable(&err), "{err:?}");
        assert_eq!(internal_error(&anyhow::Error::new(err)).status, 503);
    }
    for bug in ["SELECT 1/0", "SELECT nothing FROM nowhere", &raise("23505")] {
        let err = sqlx::query(bug).execute(&pool).await.unwrap_err();
        assert!(!is_unavailable(&err), "{err:?}");
        assert_eq!(internal_error(&anyhow::Error::new(err)).status, 500);
    }
}

#[tokio::test]
async fn the_router_answers_problems_itself() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool, bus)).await;
    let http = client();

    let r = http.get(format!("{}/me", server.url)).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(r, StatusCode::UNAUTHORIZED).await;
    let r = http.get(format!("{}/me", server.url)).bearer_auth("forged").send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(r, StatusCode::UNAUTHORIZED).await;
    let r = http.get(format!("{}/me", server.url)).bearer_auth(ALICE).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = http.get(format!("{}/nowhere", server.url)).send().await.unwrap();
    problem(r, StatusCode::NOT_FOUND).await;
    // The client's own id is kept and quoted.
    let r = http.get(format!("{}/nowhere", server.url)).header("x-request-id", "ticket-4711").send().await.unwrap();
    assert_eq!(problem(r, StatusCode::NOT_FOUND).await["request_id"], "ticket-4711");
    let r = http.delete(format!("{}/me", server.url)).send().await.unwrap();
    problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
}

fn preflight(http: &reqwest::Client, url: &str, origin: &str) -> reqwest::RequestBuilder {
    http.request(Method::OPTIONS, format!("{url}/things"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type, idempotency-key")
}

#[tokio::test]
async fn cors_answers_preflights_of_configured_origins_only() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let runtime = support::runtime(pool, bus);
    let common = support::common_config(&[("CORS_ALLOWED_ORIGINS", "https://app.example")]);
    let server = support::serve(app.router(&runtime, &common)).await;
    let http = client();

    let r = preflight(&http, &server.url, "https://app.example").send().await.unwrap();
    assert!(matches!(r.status().as_u16(), 200 | 204), "{}", r.status());
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example");
    let methods = r.headers()["access-control-allow-methods"].to_str().unwrap().to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let headers = r.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(headers.contains("idempotency-key"), "{headers}");
    assert_eq!(app.runs(), 0);

    let r = preflight(&http, &server.url, "https://evil.example").send().await.unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));

    let r = http.get(format!("{}/me", server.url)).header("origin", "https://app.example").bearer_auth(ALICE);
    let r = r.send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example");
    let exposed = r.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");

    // Nothing configured: no CORS at all, so browsers keep every other origin out.
    let plain = app.serve(&runtime).await;
    let r = preflight(&http, &plain.url, "https://app.example").send().await.unwrap();
    let cors: Vec<_> = r.headers().keys().filter(|k| k.as_str().starts_with("access-control-")).collect();
    assert!(cors.is_empty(), "{cors:?}");
}

#[tokio::test]
async fn metrics_speak_prometheus_text_when_asked_and_bound_the_method_label() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool, bus)).await;
    let http = client();

    let r = http.request(Method::from_bytes(b"FOOBAR").unwrap(), format!("{}/me", server.url));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);

    let r = http.get(format!("{}/metrics", server.url)).header("accept", "text/plain").send().await.unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();
    assert!(!text.contains("# EOF"), "{text}");
    assert!(text.contains("# TYPE switchboard_http_requests_total counter"), "{text}");

    let r = http.get(format!("{}/metrics", server.url)).send().await.unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let open = r.text().await.unwrap();
    assert!(open.trim_end().ends_with("# EOF"), "{open}");
    let other =
        open.lines().find(|l| l.starts_with("switchboard_http_requests_total{") && l.contains("method=\"OTHER\""));
    assert!(other.is_some_and(|l| l.ends_with(" 1")), "{open}");
    assert!(!open.contains("FOOBAR"), "{open}");
}

#[tokio::test]
async fn an_inactive_subscription_reads_and_its_writes_answer_402_before_any_handler() {
    let (pool, bus) = setup().await;
    let app = App::new(pool.clone());
    let server = app.serve(&support::runtime(pool, bus)).await;
    let http = client();
    let r = http.get(format!("{}/me", server.url)).bearer_auth(support::LAPSED).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(format!("{}/things", server.url))
        .bearer_auth(support::LAPSED)
        .header("idempotency-key", "lapsed")
        .json(&serde_json::json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    let p = problem(r, StatusCode::PAYMENT_REQUIRED).await;
    assert!(p["type"].as_str().unwrap().ends_with("/subscription-inactive"), "{p}");
    assert_eq!(app.runs(), 0, "no handler ran");
    // An active organization's writes go through.
    let r = http.post(format!("{}/things", server.url)).bearer_auth(ALICE).json(&serde_json::json!({"name": "x"}));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::CREATED);
}
