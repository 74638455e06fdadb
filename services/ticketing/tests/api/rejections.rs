//! Bad requests get a clear problem+json answer and change nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_problem, invalid_fields, spawn_app};

#[tokio::test]
async fn no_credential_is_a_401_with_a_challenge() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let t = app.create(&owner, json!({"subject": "Private"})).await;
    let id = t["id"].as_str().unwrap();
    let paths = [
        ("GET", "/v1/tickets".to_owned()),
        ("POST", "/v1/tickets".to_owned()),
        ("GET", format!("/v1/tickets/{id}")),
        ("PATCH", format!("/v1/tickets/{id}")),
        ("GET", format!("/v1/tickets/{id}/comments")),
        ("POST", format!("/v1/tickets/{id}/comments")),
        ("GET", format!("/v1/tickets/{id}/history")),
        ("POST", format!("/v1/tickets/{id}/merge")),
        ("POST", format!("/v1/tickets/{id}/csat")),
        ("GET", "/v1/tickets/settings".to_owned()),
    ];
    for (m, path) in &paths {
        for token in [None, Some("not-a-token")] {
            let mut req = app.http.request(m.parse().unwrap(), app.url(path)).json(&json!({}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{m} {path}");
            assert_eq!(r.headers()["www-authenticate"], "Bearer", "{m} {path}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
    }
    app.stop().await;
}

/// Walks the served document rather than a list kept by hand: a route added later is covered.
#[tokio::test]
async fn every_documented_operation_needs_a_valid_credential() {
    let app = spawn_app().await;
    // Ticketing has no public operation: each takes a session or an API key; a ticket is named by id or number.
    platform::testing::assert_every_secured_operation_needs_a_credential(
        &app.http,
        &app.url(""),
        |_, _| false,
        Some("TKT-2026-000001"),
        40,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_refused_naming_each_field() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r = app
        .http
        .post(app.url("/v1/tickets"))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{\"subject\":")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    let r = app
        .post(
            "/v1/tickets",
            &json!({"subject": " ", "description": "x".repeat(20_001), "priority": "asap", "severity": "bad",
                    "category": "nope", "source": "fax", "tags": ["has space"], "estimated_hours": -1,
                    "requester": {"email": "not-an-email"}}),
            &owner.token,
        )
        .await;
    let mut fields = invalid_fields(r).await;
    fields.sort();
    let mut expected = vec![
        "category",
        "description",
        "estimated_hours",
        "priority",
        "requester.email",
        "severity",
        "source",
        "subject",
        "tags",
    ];
    expected.sort();
    assert_eq!(fields, expected);
    let r = app.post("/v1/tickets", &json!({"subject": "x", "colour": "red"}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // A NUL (which PostgreSQL's text cannot hold) is refused naming the field, in a body or a query.
    let r = app.post("/v1/tickets", &json!({"subject": "nul\u{0}here"}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["subject"]);
    let r = app.post("/v1/tickets", &json!({"subject": "ok", "tags": ["a", "b\u{0}"]}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["tags[1]"]);
    assert_eq!(invalid_fields(app.get("/v1/tickets?status=open%00", &owner.token).await).await, ["status"]);

    let t = app.create(&owner, json!({"subject": "Valid"})).await;
    let id = t["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/v1/tickets/{id}"),
            &json!({"subject": "", "tags": ["ok", "not ok"], "status": "later"}),
            &owner.token,
        )
        .await;
    let mut fields = invalid_fields(r).await;
    fields.sort();
    assert_eq!(fields, ["status", "subject", "tags"]);
    let r = app.post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "   "}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["body"]);
    for q in [
        "limit=0",
        "limit=500",
        "sort=oldest",
        "sla=late",
        "status=done",
        "priority=meh",
        "cursor=garbage",
        "assignee_id=nope",
    ] {
        let r = app.get(&format!("/v1/tickets?{q}"), &owner.token).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // A cursor of one sort does not fit another.
    app.create(&owner, json!({"subject": "Another"})).await;
    let page = app.get_json("/v1/tickets?limit=1", &owner.token).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let r = app.get(&format!("/v1/tickets?limit=1&sort=priority&cursor={cursor}"), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["cursor"]);
    // Nothing changed.
    let again = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert_eq!(again["subject"], "Valid");
    assert!(app.get_json(&format!("/v1/tickets/{id}/comments"), &owner.token).await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(app.get_json("/v1/tickets", &owner.token).await["data"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn api_keys_need_the_ticket_scopes_and_are_never_requesters() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let reader = app.api_key(&owner, "agent", &["tickets:read"]).await;
    let writer = app.api_key(&owner, "agent", &["tickets:read", "tickets:write"]).await;
    let none = app.api_key(&owner, "agent", &["feedback:read"]).await;
    assert_problem(app.get("/v1/tickets", &none).await, StatusCode::FORBIDDEN).await;
    assert_eq!(app.get("/v1/tickets", &reader).await.status(), StatusCode::OK);
    assert_problem(app.post("/v1/tickets", &json!({"subject": "x"}), &reader).await, StatusCode::FORBIDDEN).await;
    let r = app.post("/v1/tickets", &json!({"subject": "From the API"}), &writer).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t: serde_json::Value = r.json().await.unwrap();
    assert_eq!(t["source"], "api");
    assert_eq!(t["requester_user_id"], serde_json::Value::Null);
    assert_eq!(t["created_by"], serde_json::Value::Null);
    app.stop().await;
}
