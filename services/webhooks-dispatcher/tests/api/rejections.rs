//! Every route refuses what it must, in problem+json, changing nothing: no credential (401 with
//! a Bearer challenge), too little authority (403), ids that are unknown or another tenant's
//! (404), malformed bodies (400) and invalid fields (422, naming them).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const NIL: &str = "00000000-0000-7000-8000-000000000000";

/// Every route with `{id}` filled in.
fn routes(endpoint: &str, delivery: &str, notification: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/v1/webhooks".into()),
        (Method::POST, "/v1/webhooks".into()),
        (Method::GET, format!("/v1/webhooks/{endpoint}")),
        (Method::PATCH, format!("/v1/webhooks/{endpoint}")),
        (Method::DELETE, format!("/v1/webhooks/{endpoint}")),
        (Method::POST, format!("/v1/webhooks/{endpoint}/enable")),
        (Method::POST, format!("/v1/webhooks/{endpoint}/disable")),
        (Method::POST, format!("/v1/webhooks/{endpoint}/rotate-secret")),
        (Method::POST, format!("/v1/webhooks/{endpoint}/test")),
        (Method::GET, format!("/v1/webhooks/{endpoint}/deliveries")),
        (Method::POST, format!("/v1/webhooks/{endpoint}/recover")),
        (Method::GET, format!("/v1/deliveries/{delivery}")),
        (Method::POST, format!("/v1/deliveries/{delivery}/retry")),
        (Method::GET, "/v1/notifications".into()),
        (Method::GET, "/v1/notifications/unread-count".into()),
        (Method::POST, "/v1/notifications/read-all".into()),
        (Method::POST, format!("/v1/notifications/{notification}/read")),
    ]
}

/// A body each route accepts, so only the credential decides.
fn body(method: &Method, path: &str) -> Option<Value> {
    match (method.as_str(), path) {
        ("POST", "/v1/webhooks") => Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
        ("PATCH", _) => Some(json!({"description": "x"})),
        ("POST", p) if p.ends_with("/recover") => Some(json!({"since": "2024-01-01T00:00:00Z"})),
        ("POST", _) => Some(json!({})),
        _ => None,
    }
}

async fn send(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = app.http.request(method.clone(), app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body(&method, path) {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn every_route_needs_a_valid_credential() {
    let app = spawn_app().await;
    for (method, path) in routes(NIL, NIL, NIL) {
        for token in [None, Some("sbat_not-a-token")] {
            let r = send(&app, method.clone(), &path, token).await;
            assert_eq!(
                r.headers().get("www-authenticate").map(|v| v.to_str().unwrap()),
                Some("Bearer"),
                "{method} {path}"
            );
            assert_problem(r, StatusCode::UNAUTHORIZED).await;
        }
    }
    app.stop();
}

#[tokio::test]
async fn keys_without_the_scope_and_keys_for_user_routes_are_forbidden() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (endpoint, _) = app.endpoint(&owner, json!({"url": "http://127.0.0.1:9/hook", "events": ["ticket.*"]})).await;
    let unscoped = app.api_key(&owner, &["feedback:read"]).await;
    for (method, path) in routes(&endpoint, NIL, NIL) {
        let r = send(&app, method.clone(), &path, Some(unscoped.as_str())).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_problem(r, StatusCode::FORBIDDEN).await;
    }
    // Reading is not writing.
    let reader = app.api_key(&owner, &["webhooks:read"]).await;
    let r = app.http.get(app.url(&format!("/v1/webhooks/{endpoint}"))).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for (method, path) in
        routes(&endpoint, NIL, NIL).into_iter().filter(|(m, p)| *m != Method::GET && p.starts_with("/v1/webhooks"))
    {
        let r = send(&app, method.clone(), &path, Some(reader.as_str())).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    let e = app.get_json(&format!("/v1/webhooks/{endpoint}"), &owner.token).await;
    assert!(e["description"].is_null() && e["enabled"] == true, "nothing changed: {e}");
    app.stop();
}

#[tokio::test]
async fn unknown_and_other_tenants_ids_are_not_found() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let eve = app.owner("eve@example.com", "Evil").await;
    let rx = Receiver::start().await;
    let (endpoint, _) = app.endpoint(&owner, json!({"url": rx.url, "events": ["ticket.*"]})).await;
    app.publish(owner.org, "ticket.created", json!({})).await;
    let delivery = rx.wait_for(1).await[0].id.clone();
    app.command(
        "notify.send",
        Some(owner.org),
        proto::events::NotifySend {
            organization_id: owner.org,
            recipients: vec![owner.id],
            title: "t".into(),
            body: "b".into(),
            link: None,
            reason: "test".into(),
        },
    )
    .await;
    let notification = eventually("the notification", || async {
        let list = app.get_json("/v1/notifications", &owner.token).await;
        list["data"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    for (endpoint, delivery, notification, token) in
        [(NIL, NIL, NIL, &owner.token), (endpoint.as_str(), delivery.as_str(), notification.as_str(), &eve.token)]
    {
        for (method, path) in routes(endpoint, delivery, notification)
            .into_iter()
            .filter(|(_, p)| p.matches('/').count() > 2 && !p.ends_with("-count") && !p.ends_with("read-all"))
        {
            let r = send(&app, method.clone(), &path, Some(token.as_str())).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
            assert_problem(r, StatusCode::NOT_FOUND).await;
        }
    }
    // Not ids at all: nothing they could name.
    for path in ["/v1/webhooks/not-an-id", "/v1/deliveries/42"] {
        let r = app.http.get(app.url(path)).bearer_auth(&owner.token).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    // Eve changed nothing of Ada's.
    let e = app.get_json(&format!("/v1/webhooks/{endpoint}"), &owner.token).await;
    assert!(e["description"].is_null() && e["enabled"] == true);
    assert_eq!(app.get_json("/v1/notifications/unread-count", &owner.token).await["unread"], 1);
    app.stop();
}

#[tokio::test]
async fn malformed_and_invalid_bodies_and_queries_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (id, _) = app.endpoint(&owner, json!({"url": "http://127.0.0.1:9/hook", "events": ["ticket.*"]})).await;
    let raw = |method: Method, path: String, text: &'static str| {
        app.http
            .request(method, app.url(&path))
            .bearer_auth(&owner.token)
            .header("content-type", "application/json")
            .body(text)
            .send()
    };
    for (method, path) in [
        (Method::POST, "/v1/webhooks".to_owned()),
        (Method::PATCH, format!("/v1/webhooks/{id}")),
        (Method::POST, format!("/v1/webhooks/{id}/recover")),
        (Method::POST, format!("/v1/webhooks/{id}/rotate-secret")),
    ] {
        let r = raw(method.clone(), path.clone(), "{not json").await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {path}");
        assert_problem(r, StatusCode::BAD_REQUEST).await;
    }
    let patch = |body: Value| {
        app.http.patch(app.url(&format!("/v1/webhooks/{id}"))).bearer_auth(&owner.token).json(&body).send()
    };
    let cases: Vec<(reqwest::Response, &str)> = vec![
        (app.post("/v1/webhooks", &json!({"events": ["*"]}), &owner.token).await, "url"),
        (app.post("/v1/webhooks", &json!({"url": "http://127.0.0.1:9/"}), &owner.token).await, "events"),
        (
            app.post("/v1/webhooks", &json!({"url": "http://127.0.0.1:9/\u{0}", "events": ["*"]}), &owner.token).await,
            "url",
        ),
        (
            app.post(
                "/v1/webhooks",
                &json!({"url": "http://127.0.0.1:9/", "events": ["*"], "description": "a\u{0}b"}),
                &owner.token,
            )
            .await,
            "description",
        ),
        (
            app.post(
                "/v1/webhooks",
                &json!({"url": "http://127.0.0.1:9/", "events": ["*"], "max_concurrency": 0}),
                &owner.token,
            )
            .await,
            "max_concurrency",
        ),
        (patch(json!({"description": "x".repeat(501)})).await.unwrap(), "description"),
        (patch(json!({"description": "\u{0}"})).await.unwrap(), "description"),
        (patch(json!({"url": "http://10.0.0.1/"})).await.unwrap(), "url"),
        (patch(json!({"rate_limit_per_second": 0})).await.unwrap(), "rate_limit_per_second"),
        (patch(json!({"events": []})).await.unwrap(), "events"),
        (app.post(&format!("/v1/webhooks/{id}/recover"), &json!({}), &owner.token).await, "since"),
        (app.post(&format!("/v1/webhooks/{id}/recover"), &json!({"since": "yesterday"}), &owner.token).await, "since"),
        (
            app.post(&format!("/v1/webhooks/{id}/rotate-secret"), &json!({"overlap_seconds": 99999999}), &owner.token)
                .await,
            "overlap_seconds",
        ),
    ];
    for (r, field) in cases {
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.iter().any(|f| f.starts_with(field)), "{field}: {problem}");
    }
    for (query, field) in [
        ("status=lost", "status"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=a%00b", "cursor"),
    ] {
        let r = app
            .http
            .get(app.url(&format!("/v1/webhooks/{id}/deliveries?{query}")))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem["errors"][0]["field"].as_str().unwrap().starts_with(field), "{query}: {problem}");
    }
    for query in ["limit=201", "cursor=nope"] {
        let r = app
            .http
            .get(app.url(&format!("/v1/notifications?{query}")))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // Nothing changed.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM endpoints").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
    let e = app.get_json(&format!("/v1/webhooks/{id}"), &owner.token).await;
    assert!(e["description"].is_null() && e["url"] == "http://127.0.0.1:9/hook" && e["events"] == json!(["ticket.*"]));
    app.stop();
}
