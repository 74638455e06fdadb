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
        "http://198.18.0.1/",
        "http://198.19.255.254/",
        "http://192.0.2.10/",
        "http://198.51.100.7/",
        "http://203.0.113.200/",
        "http://[fec0::1]/",
        "http://[100::1]/",
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
    // A name is refused without saying where it resolved: the API is no resolver of internal names.
    let r =
        app.post("/v1/webhooks", &json!({"url": "http://localhost:8080/hook", "events": ["*"]}), &owner.token).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await.to_string();
    assert!(body.contains("loopback") && !body.contains("127.0.0.1") && !body.contains("::1"), "{body}");
    app.stop();
}

/// Every route, as (method, path) of the document.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/webhooks"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks/{id}"),
    ("patch", "/v1/webhooks/{id}"),
    ("delete", "/v1/webhooks/{id}"),
    ("post", "/v1/webhooks/{id}/enable"),
    ("post", "/v1/webhooks/{id}/disable"),
    ("post", "/v1/webhooks/{id}/rotate-secret"),
    ("post", "/v1/webhooks/{id}/test"),
    ("get", "/v1/webhooks/{id}/deliveries"),
    ("post", "/v1/webhooks/{id}/recover"),
    ("get", "/v1/deliveries/{id}"),
    ("post", "/v1/deliveries/{id}/retry"),
    ("get", "/v1/notifications"),
    ("get", "/v1/notifications/unread-count"),
    ("post", "/v1/notifications/read-all"),
    ("post", "/v1/notifications/{id}/read"),
    ("get", "/v1/dev/mailbox"),
];

#[tokio::test]
async fn health_and_an_openapi_document_of_every_route() {
    let app = spawn_app().await;
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    if let Ok(path) = std::env::var("DUMP_OPENAPI") {
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    let documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.len(), "{}", doc["paths"]);
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} documented");
        assert!(op["responses"].as_object().unwrap().keys().any(|s| s.starts_with('2')), "{method} {path}: a 2xx");
        let mut params: Vec<(String, String)> = op["parameters"]
            .as_array()
            .map(|ps| ps.iter().map(|p| (p["name"].to_string(), p["in"].to_string())).collect())
            .unwrap_or_default();
        let n = params.len();
        params.sort();
        params.dedup();
        assert_eq!(params.len(), n, "{method} {path}: a parameter twice: {}", op["parameters"]);
        if path.contains("{id}") {
            let params = op["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == "id" && p["in"] == "path"), "{method} {path}: its id");
        }
    }
    let list = &doc["paths"]["/v1/webhooks/{id}/deliveries"]["get"]["parameters"];
    let mut names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["cursor", "id", "limit", "status"]);
    let status = list.as_array().unwrap().iter().find(|p| p["name"] == "status").unwrap();
    assert_eq!(status["schema"]["enum"], json!(["pending", "succeeded", "failed"]), "{status}");
    let create = doc.pointer("/paths/~1v1~1webhooks/post/requestBody/content/application~1json/schema").unwrap();
    assert!(create.is_object(), "the create body is described");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["CreateEndpoint"]["properties"]["url"]["format"], "uri", "{}", schemas["CreateEndpoint"]);
    assert_eq!(schemas["CreateEndpoint"]["properties"]["description"]["maxLength"], 500);
    let mut required: Vec<&str> =
        schemas["CreateEndpoint"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    required.sort();
    assert_eq!(required, ["events", "url"]);
    assert!(schemas["UpdateEndpoint"].get("required").is_none(), "PATCH fields are all optional");
    app.stop();
}

#[tokio::test]
async fn the_mailbox_route_is_not_documented_or_served_outside_the_development_mailbox() {
    let app = spawn_app_with(&[("DEV_MAILBOX", "false")]).await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"].get("/v1/dev/mailbox").is_none());
    assert!(doc["paths"].get("/v1/webhooks").is_some());
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

#[tokio::test]
async fn the_documented_example_creates_an_endpoint_whose_links_lead_to_it() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    // Loopback is allowed here as in development (and in deploy/fuzz.sh, which relies on it).
    let example = &doc["components"]["schemas"]["CreateEndpoint"]["example"];
    let (id, _) = app.endpoint(&owner, example.clone()).await;
    let links = doc.pointer("/paths/~1v1~1webhooks/post/responses/201/links").unwrap().as_object().unwrap();
    let mut targets: Vec<&str> = links.values().map(|l| l["operationId"].as_str().unwrap()).collect();
    targets.sort();
    let mut with_id: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, path)| path.starts_with("/v1/webhooks/{id}"))
        .map(|(method, path)| doc["paths"][path][method]["operationId"].as_str().unwrap())
        .collect();
    with_id.sort();
    assert_eq!(targets, with_id, "a link to every operation on the endpoint");
    assert!(links.values().all(|l| l["parameters"]["id"] == "$response.body#/id"));
    let got = app.get_json(&format!("/v1/webhooks/{id}"), &owner.token).await;
    assert_eq!(got["url"], example["url"]);
    app.stop();
}

#[tokio::test]
async fn a_rotation_body_may_be_left_out_null_or_empty() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (id, first) = app.endpoint(&owner, json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})).await;
    let path = app.url(&format!("/v1/webhooks/{id}/rotate-secret"));
    let json_body = |body: &'static str| {
        app.http.post(&path).bearer_auth(&owner.token).header("content-type", "application/json").body(body)
    };
    let mut secrets = vec![first];
    for request in [app.http.post(&path).bearer_auth(&owner.token), json_body("null"), json_body("{}")] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let rotated: Value = r.json().await.unwrap();
        let expires: chrono::DateTime<chrono::Utc> = rotated["previous_expires_at"].as_str().unwrap().parse().unwrap();
        let overlap = expires - chrono::Utc::now();
        assert!(overlap > chrono::Duration::hours(23) && overlap <= chrono::Duration::hours(24), "default overlap");
        secrets.push(rotated["secret"].as_str().unwrap().to_owned());
    }
    secrets.sort();
    secrets.dedup();
    assert_eq!(secrets.len(), 4, "a new secret each time");
    let problem = assert_problem(
        json_body(r#"{"overlap_seconds": 2592001}"#).send().await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "overlap_seconds", "{problem}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM endpoint_secrets").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, 4, "the refused rotation added no secret");
    app.stop();
}
