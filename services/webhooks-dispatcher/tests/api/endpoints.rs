use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn endpoints_are_managed_and_their_secret_shown_once() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    let r = app
        .post("/v1/webhooks", &json!({"url": rx.url, "events": ["feedback.*"], "description": "CRM"}), &owner.token)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let created: Value = r.json().await.unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = created["id"].as_str().unwrap();
    let got = app.get_json(&format!("/v1/webhooks/{id}"), &owner.token).await;
    assert!(got.get("secret").is_none());
    assert_eq!(got["events"], json!(["feedback.*"]));
    let list = app.get_json("/v1/webhooks", &owner.token).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("whsec_"));

    let r = app
        .http
        .patch(app.url(&format!("/v1/webhooks/{id}")))
        .bearer_auth(&owner.token)
        .json(&json!({"events": ["ticket.*", "feedback.created"], "rate_limit_per_second": 10}))
        .send()
        .await
        .unwrap();
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["rate_limit_per_second"], 10);
    let d: Value =
        app.post(&format!("/v1/webhooks/{id}/disable"), &json!({}), &owner.token).await.json().await.unwrap();
    assert_eq!((d["enabled"].as_bool(), d["disabled_reason"].as_str()), (Some(false), Some("disabled by a user")));
    let e: Value = app.post(&format!("/v1/webhooks/{id}/enable"), &json!({}), &owner.token).await.json().await.unwrap();
    assert_eq!(e["enabled"], true);

    // Another tenant sees none of it.
    let eve = app.owner("eve@example.com", "Evil").await;
    let r = app.http.get(app.url(&format!("/v1/webhooks/{id}"))).bearer_auth(&eve.token).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert_problem(
        app.post(&format!("/v1/webhooks/{id}/rotate-secret"), &json!({}), &eve.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(app.get_json("/v1/webhooks", &eve.token).await["data"].as_array().unwrap().is_empty());
    let r = app.http.delete(app.url(&format!("/v1/webhooks/{id}"))).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    app.stop();
}

#[tokio::test]
async fn bad_urls_and_filters_are_refused_at_creation() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    for url in [
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/",
        "http://[::ffff:192.168.0.1]/",
        "http://100.64.1.1/",
        "ftp://example.com/",
        "http://user:pw@127.0.0.1/",
        "nonsense",
    ] {
        let r = app.post("/v1/webhooks", &json!({"url": url, "events": ["*"]}), &owner.token).await;
        let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "url", "{url}");
    }
    for events in [json!([]), json!(["mail.send"]), json!(["internal.*"]), json!(["tick*"])] {
        let r =
            app.post("/v1/webhooks", &json!({"url": "http://127.0.0.1:9/hook", "events": events}), &owner.token).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM endpoints").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0);
    app.stop();
}

#[tokio::test]
async fn without_an_allow_list_loopback_is_refused() {
    let app = spawn_app_with(&[("WEBHOOK_ALLOW_CIDRS", "")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    for url in ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/"] {
        let r = app.post("/v1/webhooks", &json!({"url": url, "events": ["*"]}), &owner.token).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    app.stop();
}

#[tokio::test]
async fn health_and_openapi() {
    let app = spawn_app().await;
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    for path in ["/v1/webhooks", "/v1/webhooks/{id}/rotate-secret", "/v1/deliveries/{id}", "/v1/notifications"] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    app.stop();
}

#[tokio::test]
async fn secrets_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (_, secret) = app.endpoint(&owner, json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})).await;
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT secret FROM endpoint_secrets").fetch_all(&app.pool).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("v1:dev:"));
    assert!(!stored[0].contains(secret.trim_start_matches("whsec_")));
    app.stop();
}
