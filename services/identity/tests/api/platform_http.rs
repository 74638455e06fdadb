use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["checks"]["migrations"], true);

    app.signup("ada@example.com", "Acme").await;
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("switchboard_http_requests_total{method=\"POST\",route=\"/v1/auth/signup\",status=\"201\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("switchboard_outbox_backlog"));
    assert!(metrics.contains("switchboard_db_pool_connections"));

    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/v1/auth/signup", "/v1/auth/login", "/v1/me", "/v1/api-keys", "/v1/teams/{id}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    app.stop().await;
}

#[tokio::test]
async fn request_ids_and_trace_context_come_back() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "req-123")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-123");
    let tp = r.headers()["traceparent"].to_str().unwrap();
    assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "same trace: {tp}");
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(!r.headers()["x-request-id"].is_empty());
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_problems() {
    let app = spawn_app().await;
    assert_problem(app.http.get(app.url("/v1/nothing")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    assert_problem(app.http.delete(app.url("/v1/auth/login")).send().await.unwrap(), StatusCode::METHOD_NOT_ALLOWED)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_cleanly_and_flushes_the_outbox() {
    let app = spawn_app().await;
    app.signup("ada@example.com", "Acme").await;
    let (addr, grpc, pool) = (app.addr, app.grpc_addr, app.pool.clone());
    app.stop_result().await.expect("clean stop");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "HTTP listener closed");
    assert!(tokio::net::TcpStream::connect(grpc).await.is_err(), "gRPC listener closed");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 0, "the relay flushed before stopping");
}
