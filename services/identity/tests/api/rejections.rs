//! Every endpoint's rejections, as a client meets them: malformed JSON, invalid fields, unknown
//! ids, missing credentials, the wrong role. Each answers problem+json and changes nothing.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::members::org_with_member;

/// Every route identity serves: (method, path, needs credentials, takes a JSON body).
const ROUTES: &[(&str, &str, bool, bool)] = &[
    ("POST", "/v1/auth/signup", false, true),
    ("POST", "/v1/auth/login", false, true),
    ("POST", "/v1/auth/refresh", false, true),
    ("POST", "/v1/auth/logout", true, false),
    ("POST", "/v1/auth/password-reset", false, true),
    ("POST", "/v1/auth/password-reset/confirm", false, true),
    ("POST", "/v1/auth/verify-email", false, true),
    ("POST", "/v1/auth/verify-email/resend", true, false),
    ("GET", "/v1/me", true, false),
    ("GET", "/v1/sessions", true, false),
    ("DELETE", "/v1/sessions/{id}", true, false),
    ("GET", "/v1/orgs", true, false),
    ("POST", "/v1/orgs", true, true),
    ("GET", "/v1/orgs/current", true, false),
    ("PATCH", "/v1/orgs/current", true, true),
    ("GET", "/v1/members", true, false),
    ("GET", "/v1/members/{user_id}", true, false),
    ("PATCH", "/v1/members/{user_id}", true, true),
    ("DELETE", "/v1/members/{user_id}", true, false),
    ("GET", "/v1/invitations", true, false),
    ("POST", "/v1/invitations", true, true),
    ("POST", "/v1/invitations/accept", false, true),
    ("DELETE", "/v1/invitations/{id}", true, false),
    ("GET", "/v1/teams", true, false),
    ("POST", "/v1/teams", true, true),
    ("GET", "/v1/teams/{id}", true, false),
    ("PATCH", "/v1/teams/{id}", true, true),
    ("DELETE", "/v1/teams/{id}", true, false),
    ("PUT", "/v1/teams/{id}/members/{user_id}", true, true),
    ("DELETE", "/v1/teams/{id}/members/{user_id}", true, false),
    ("GET", "/v1/departments", true, false),
    ("POST", "/v1/departments", true, true),
    ("GET", "/v1/departments/{id}", true, false),
    ("PATCH", "/v1/departments/{id}", true, true),
    ("DELETE", "/v1/departments/{id}", true, false),
    ("GET", "/v1/api-keys", true, false),
    ("POST", "/v1/api-keys", true, true),
    ("DELETE", "/v1/api-keys/{id}", true, false),
];

/// `path` with every parameter replaced by a fresh id nobody has.
fn concrete(path: &str) -> String {
    path.replace("{id}", &uuid::Uuid::now_v7().to_string()).replace("{user_id}", &uuid::Uuid::now_v7().to_string())
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> reqwest::Response {
    let mut r = app.http.request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.header("content-type", "application/json").body(b.to_owned());
    }
    r.send().await.unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn the_document_lists_every_route_the_router_serves() {
    let app = spawn_app().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/v1/"))
        .flat_map(|(path, ops)| {
            ops.as_object().unwrap().keys().filter(|m| *m != "parameters").map(|m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected);
    // And the router serves each: no route is unknown (404 with no credentials) or refuses the method.
    for (method, path, auth, _) in ROUTES {
        let r = send(&app, method, &concrete(path), None, None).await;
        assert!(
            ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&r.status()),
            "{method} {path}: {}",
            r.status()
        );
        assert!(r.status().is_client_error(), "{method} {path}: {}", r.status());
        if *auth {
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
    let mut ids = BTreeSet::new();
    for (method, path, _, _) in ROUTES {
        let id = doc["paths"][path][method.to_lowercase()]["operationId"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "operationId {id} is unique");
    }
    // Each operation documents its path parameters, and every authenticated one its 401.
    for (method, path, auth, body) in ROUTES {
        let op = &doc["paths"][path][method.to_lowercase()];
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|a| a.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        for name in ["id", "user_id"] {
            assert_eq!(
                path.contains(&format!("{{{name}}}")),
                params.contains(&name),
                "{method} {path} documents {name}"
            );
        }
        assert_eq!(op.get("requestBody").is_some(), *body, "{method} {path} request body");
        if *auth {
            assert!(op["responses"].get("401").is_some(), "{method} {path} documents 401");
        } else {
            assert_eq!(op["security"], json!([{}]), "{method} {path} is public");
        }
        assert!(op["responses"].as_object().unwrap().keys().any(|s| s.starts_with('2')), "{method} {path} success");
    }
    app.stop().await;
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    for (method, path, _, body) in ROUTES.iter().filter(|r| r.2) {
        let body = body.then_some("{}");
        for token in [None, Some("sbat_not-a-real-token"), Some("sbk_bad")] {
            let r = send(&app, method, &concrete(path), token, body).await;
            let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            assert!(challenge.as_deref().is_some_and(|c| c.starts_with("Bearer")), "{method} {path}: {challenge:?}");
            assert_problem(r, StatusCode::UNAUTHORIZED).await;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_400_on_every_route_with_a_body() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    for (method, path, auth, _) in ROUTES.iter().filter(|r| r.3) {
        let token = auth.then_some(t.as_str());
        for malformed in ["{,", "not json", "{\"unterminated"] {
            let r = send(&app, method, &concrete(path), token, Some(malformed)).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {path} {malformed}");
            assert_problem(r, StatusCode::BAD_REQUEST).await;
        }
    }
    assert_eq!((count(&app, "users").await, count(&app, "teams").await, count(&app, "invitations").await), (1, 0, 0));
    app.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let some = uuid::Uuid::now_v7();
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/v1/auth/signup".into(),
            json!({"email": "ada2@example.com", "password": "long enough pass", "name": "   ", "organization_name": "X"}),
            "name",
        ),
        (
            "POST",
            "/v1/auth/signup".into(),
            json!({"email": "ada2@example.com", "password": "long enough pass", "name": "A", "organization_name": "X", "organization_slug": " padded "}),
            "organization_slug",
        ),
        ("POST", "/v1/auth/login".into(), json!({"email": 5, "password": "x"}), "email"),
        ("POST", "/v1/auth/login".into(), json!({"email": "x".repeat(255), "password": "x"}), "email"),
        ("POST", "/v1/auth/refresh".into(), json!({"refresh_token": 5}), "refresh_token"),
        ("POST", "/v1/auth/password-reset".into(), json!({"email": "nope"}), "email"),
        ("POST", "/v1/auth/password-reset/confirm".into(), json!({"token": "x", "password": "short"}), "password"),
        ("POST", "/v1/auth/verify-email".into(), json!({"token": ["x"]}), "token"),
        ("POST", "/v1/invitations/accept".into(), json!({"token": 5, "password": "x"}), "token"),
        ("POST", "/v1/orgs".into(), json!({"name": ""}), "name"),
        ("POST", "/v1/orgs".into(), json!({"name": "Two", "slug": "-bad-"}), "slug"),
        ("PATCH", "/v1/orgs/current".into(), json!({"website_url": "ftp://example.com"}), "website_url"),
        ("PATCH", "/v1/orgs/current".into(), json!({"name": null}), "name"),
        ("PATCH", "/v1/orgs/current".into(), json!({"description": "x".repeat(2001)}), "description"),
        ("PATCH", "/v1/orgs/current".into(), json!({"settings": null}), "settings"),
        ("PATCH", format!("/v1/members/{some}"), json!({"role": "emperor"}), "role"),
        ("POST", "/v1/invitations".into(), json!({"email": "bad", "role": "agent"}), "email"),
        (
            "POST",
            "/v1/invitations".into(),
            json!({"email": "bob@example.com", "role": "agent", "department_id": some}),
            "department_id",
        ),
        ("POST", "/v1/teams".into(), json!({"name": "x".repeat(201)}), "name"),
        ("POST", "/v1/teams".into(), json!({"name": "Support", "manager_id": some}), "manager_id"),
        ("PATCH", format!("/v1/teams/{some}"), json!({"name": null}), "name"),
        ("PUT", format!("/v1/teams/{some}/members/{some}"), json!({"role": "boss"}), "role"),
        ("POST", "/v1/departments".into(), json!({"name": "Sales", "description": "x".repeat(2001)}), "description"),
        ("PATCH", format!("/v1/departments/{some}"), json!({"is_active": null}), "is_active"),
        ("POST", "/v1/api-keys".into(), json!({"name": "CI", "scopes": []}), "scopes"),
        ("POST", "/v1/api-keys".into(), json!({"name": "CI", "scopes": ["*"], "role": "root"}), "role"),
    ];
    for (method, path, body, field) in cases {
        // Public routes ignore the credential.
        let r = send(&app, method, &path, Some(&t), Some(&body.to_string())).await;
        let problem = assert_invalid(r, field).await;
        assert!(problem["detail"].is_string() || problem["errors"].is_array(), "{method} {path}");
    }
    for query in ["/v1/members?limit=0", "/v1/invitations?limit=201", "/v1/members?cursor=zzz"] {
        assert_invalid(app.get(query, &t).await, if query.contains("cursor") { "cursor" } else { "limit" }).await;
    }
    assert_invalid(app.get("/v1/invitations?status=weird", &t).await, "status").await;
    assert_invalid(app.get("/v1/members?role=emperor", &t).await, "role").await;
    let org: Value = app.get("/v1/orgs/current", &t).await.json().await.unwrap();
    assert_eq!((org["name"].as_str(), org["website_url"].is_null()), (Some("Acme"), true));
    assert_eq!((count(&app, "users").await, count(&app, "organizations").await), (1, 1));
    assert_eq!(
        (count(&app, "teams").await, count(&app, "departments").await, count(&app, "api_keys").await),
        (0, 0, 0)
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let bodies = [
        ("PATCH", "/v1/members/{user_id}", json!({"role": "agent"})),
        ("PATCH", "/v1/teams/{id}", json!({"name": "x"})),
        ("PATCH", "/v1/departments/{id}", json!({"name": "x"})),
        ("PUT", "/v1/teams/{id}/members/{user_id}", json!({})),
    ];
    for (method, path, _, _) in ROUTES.iter().filter(|r| r.1.contains('{')) {
        let body = bodies.iter().find(|b| b.0 == *method && b.1 == *path).map(|b| b.2.to_string());
        let r = send(&app, method, &concrete(path), Some(&t), body.as_deref()).await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
        // An id that is no id names nothing either.
        let r =
            send(&app, method, &path.replace("{id}", "not-an-id").replace("{user_id}", "x"), Some(&t), body.as_deref())
                .await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    // Another organization's team member is not found, nor is the owner's own team's stranger.
    let eve = app.signup("eve@example.com", "Evil").await;
    let team: Value = app.post("/v1/teams", &json!({"name": "Support"}), Some(&t)).await.json().await.unwrap();
    let tid = team["id"].as_str().unwrap();
    let eve_id = eve["user"]["id"].as_str().unwrap();
    let r = app.delete(&format!("/v1/teams/{tid}/members/{eve_id}"), &token(&eve)).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let r = app.delete(&format!("/v1/teams/{tid}/members/{eve_id}"), &t).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let dept: Value = app.post("/v1/departments", &json!({"name": "Sales"}), Some(&t)).await.json().await.unwrap();
    let did = dept["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/departments/{did}"), &json!({"name": "Mine"}), &token(&eve)).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&format!("/v1/departments/{did}"), &token(&eve)).await, StatusCode::NOT_FOUND).await;
    let got: Value = app.get(&format!("/v1/departments/{did}"), &t).await.json().await.unwrap();
    assert_eq!(got["name"], "Sales");
    app.stop().await;
}

#[tokio::test]
async fn the_wrong_role_or_credential_is_403() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let (t, agent) = (token(&owner), token(&member));
    let owner_id = owner["user"]["id"].as_str().unwrap().to_owned();
    let team: Value = app.post("/v1/teams", &json!({"name": "Support"}), Some(&t)).await.json().await.unwrap();
    let tid = team["id"].as_str().unwrap().to_owned();
    let some = uuid::Uuid::now_v7().to_string();
    let for_agents: Vec<(&str, String, Option<Value>)> = vec![
        ("PATCH", "/v1/orgs/current".into(), Some(json!({"name": "Mine"}))),
        ("GET", "/v1/invitations".into(), None),
        ("POST", "/v1/invitations".into(), Some(json!({"email": "x@example.com", "role": "agent"}))),
        ("DELETE", format!("/v1/invitations/{some}"), None),
        ("PATCH", format!("/v1/members/{owner_id}"), Some(json!({"role": "agent"}))),
        ("DELETE", format!("/v1/members/{owner_id}"), None),
        ("POST", "/v1/teams".into(), Some(json!({"name": "Mine"}))),
        ("PATCH", format!("/v1/teams/{tid}"), Some(json!({"name": "Mine"}))),
        ("DELETE", format!("/v1/teams/{tid}"), None),
        ("PUT", format!("/v1/teams/{tid}/members/{owner_id}"), Some(json!({}))),
        ("DELETE", format!("/v1/teams/{tid}/members/{owner_id}"), None),
        ("POST", "/v1/departments".into(), Some(json!({"name": "Mine"}))),
        ("PATCH", format!("/v1/departments/{some}"), Some(json!({"name": "Mine"}))),
        ("DELETE", format!("/v1/departments/{some}"), None),
        ("GET", "/v1/api-keys".into(), None),
        ("POST", "/v1/api-keys".into(), Some(json!({"name": "x", "scopes": ["*"]}))),
        ("DELETE", format!("/v1/api-keys/{some}"), None),
    ];
    for (method, path, body) in &for_agents {
        let body = body.as_ref().map(Value::to_string);
        assert_problem(send(&app, method, path, Some(&agent), body.as_deref()).await, StatusCode::FORBIDDEN).await;
    }
    // Customers do not read the directory.
    let member_id = member["user"]["id"].as_str().unwrap();
    app.patch(&format!("/v1/members/{member_id}"), &json!({"role": "customer"}), &t).await;
    let (owner_path, team_path) = (format!("/v1/members/{owner_id}"), format!("/v1/teams/{tid}"));
    for path in ["/v1/members", "/v1/teams", "/v1/departments", owner_path.as_str(), team_path.as_str()] {
        assert_problem(app.get(path, &agent).await, StatusCode::FORBIDDEN).await;
    }
    // What only a signed-in user can do, an API key cannot.
    let key: Value = app
        .post("/v1/api-keys", &json!({"name": "k", "scopes": ["*"], "role": "admin"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap();
    let session_path = format!("/v1/sessions/{some}");
    for (method, path, body) in [
        ("POST", "/v1/auth/logout", None),
        ("POST", "/v1/auth/verify-email/resend", None),
        ("GET", "/v1/sessions", None),
        ("DELETE", session_path.as_str(), None),
        ("POST", "/v1/orgs", Some(json!({"name": "Keyed"}).to_string())),
    ] {
        assert_problem(send(&app, method, path, Some(key), body.as_deref()).await, StatusCode::FORBIDDEN).await;
    }
    // Nothing changed.
    let org: Value = app.get("/v1/orgs/current", &t).await.json().await.unwrap();
    assert_eq!(org["name"], "Acme");
    let got: Value = app.get(&format!("/v1/teams/{tid}"), &t).await.json().await.unwrap();
    assert_eq!((got["name"].as_str(), got["members"].as_array().unwrap().len()), (Some("Support"), 0));
    assert_eq!(
        (count(&app, "teams").await, count(&app, "organizations").await, count(&app, "api_keys").await),
        (1, 1, 1)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_nul_character_is_422_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let r = app.post("/v1/auth/login", &json!({"email": "ada\u{0}@example.com", "password": PASSWORD}), None).await;
    assert_invalid(r, "email").await;
    let r = app.patch("/v1/orgs/current", &json!({"description": "before\u{0}after"}), &t).await;
    assert_invalid(r, "description").await;
    let r = app
        .post(
            "/v1/auth/signup",
            &json!({"email": "bob@example.com", "password": PASSWORD, "name": "B\u{0}b", "organization_name": "Bobs"}),
            None,
        )
        .await;
    assert_invalid(r, "name").await;
    assert_invalid(app.post("/v1/teams", &json!({"name": "Sup\u{0}port"}), Some(&t)).await, "name").await;
    assert_invalid(
        app.put(
            &format!("/v1/teams/{}/members/{}", uuid::Uuid::now_v7(), uuid::Uuid::now_v7()),
            &json!({"role": "\u{0}"}),
            &t,
        )
        .await,
        "role",
    )
    .await;

    let org: Value = app.get("/v1/orgs/current", &t).await.json().await.unwrap();
    assert!(org["description"].is_null());
    assert_eq!((count(&app, "users").await, count(&app, "teams").await), (1, 0));
    let throttled: i64 = sqlx::query_scalar("SELECT count(*) FROM login_throttle").fetch_one(&app.pool).await.unwrap();
    assert_eq!(throttled, 0, "the refused sign-in never reached the throttle");
    // The sign-in still works with the real address.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
    app.stop().await;
}
