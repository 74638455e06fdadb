//! Every endpoint refuses what it must, with problem+json, and changes nothing: no credentials
//! (401 with a Bearer challenge), the wrong role or scope (403), unknown and other tenants' ids
//! (404), malformed bodies (400), invalid fields (422 naming them), NUL characters, and identity
//! being down (503: authentication fails closed).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// Every operation of the API; `/openapi.json` must document exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/categories"),
    ("POST", "/v1/categories"),
    ("GET", "/v1/categories/{id}"),
    ("PATCH", "/v1/categories/{id}"),
    ("DELETE", "/v1/categories/{id}"),
    ("GET", "/v1/feedback"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/feedback/similar"),
    ("GET", "/v1/feedback/settings"),
    ("PUT", "/v1/feedback/settings"),
    ("GET", "/v1/feedback/{id}"),
    ("PATCH", "/v1/feedback/{id}"),
    ("DELETE", "/v1/feedback/{id}"),
    ("POST", "/v1/feedback/{id}/status"),
    ("POST", "/v1/feedback/{id}/merge"),
    ("PUT", "/v1/feedback/{id}/vote"),
    ("DELETE", "/v1/feedback/{id}/vote"),
    ("PUT", "/v1/feedback/{id}/subscription"),
    ("DELETE", "/v1/feedback/{id}/subscription"),
    ("GET", "/v1/feedback/{id}/comments"),
    ("POST", "/v1/feedback/{id}/comments"),
    ("PATCH", "/v1/feedback/{id}/comments/{comment_id}"),
    ("DELETE", "/v1/feedback/{id}/comments/{comment_id}"),
    ("GET", "/v1/feedback/{id}/attachments"),
    ("POST", "/v1/feedback/{id}/attachments"),
    ("GET", "/v1/feedback/{id}/attachments/{attachment_id}"),
    ("DELETE", "/v1/feedback/{id}/attachments/{attachment_id}"),
    ("GET", "/v1/public/{slug}/feedback"),
    ("POST", "/v1/public/{slug}/feedback"),
    ("GET", "/v1/public/{slug}/feedback/{id}"),
    ("GET", "/v1/public/{slug}/feedback/{id}/comments"),
    ("PUT", "/v1/public/{slug}/feedback/{id}/vote"),
    ("DELETE", "/v1/public/{slug}/feedback/{id}/vote"),
];

/// A route's path with its parameters filled in.
fn fill(path: &str, id: &str, slug: &str) -> String {
    path.replace("{id}", id).replace("{comment_id}", id).replace("{attachment_id}", id).replace("{slug}", slug)
}

fn method(m: &str) -> Method {
    m.parse().unwrap()
}

/// A body that would pass the JSON extractor, so that authentication is what answers.
fn plausible_body(path: &str) -> Value {
    match path {
        p if p.ends_with("/vote") => json!({"type": "up"}),
        p if p.ends_with("/status") => json!({"status": "planned"}),
        p if p.ends_with("/merge") => json!({"into": uuid::Uuid::now_v7()}),
        p if p.contains("/comments") => json!({"content": "hello"}),
        p if p.starts_with("/v1/categories") => json!({"name": "Name"}),
        _ => json!({"title": "A fine title"}),
    }
}

#[tokio::test]
async fn every_private_route_needs_credentials() {
    let app = spawn_app().await;
    let id = uuid::Uuid::now_v7().to_string();
    for (m, path) in ROUTES.iter().filter(|(_, p)| !p.starts_with("/v1/public")) {
        let url = app.url(&fill(path, &id, "acme"));
        for auth in [None, Some("Bearer "), Some("Bearer sbat_not-a-token"), Some("Basic dXNlcjpwYXNz")] {
            let mut request = app.http.request(method(m), &url).json(&plausible_body(path));
            if let Some(a) = auth {
                request = request.header("authorization", a);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{m} {path} with {auth:?}");
            assert_eq!(r.headers()["www-authenticate"], "Bearer", "{m} {path}");
            assert_problem(r, StatusCode::UNAUTHORIZED).await;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn authentication_fails_closed_when_identity_is_down() {
    // Nothing listens on the discard port: feedback cannot ask identity who is calling.
    let app = spawn_app_with(&[("IDENTITY_GRPC_URL", "http://127.0.0.1:9")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    for (m, path) in [("GET", "/v1/feedback"), ("POST", "/v1/feedback"), ("GET", "/v1/categories")] {
        let r = app
            .http
            .request(method(m), app.url(path))
            .bearer_auth(&owner.token)
            .json(&plausible_body(path))
            .send()
            .await
            .unwrap();
        assert!(r.headers().contains_key("retry-after"), "{m} {path}");
        assert_problem(r, StatusCode::SERVICE_UNAVAILABLE).await;
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM feedback").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0);
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Exists"})).await;
    let real = post["id"].as_str().unwrap();
    let unknown = uuid::Uuid::now_v7().to_string();
    for (m, path) in ROUTES.iter().filter(|(_, p)| p.contains("{id}")) {
        for id in [unknown.as_str(), "not-an-id"] {
            let mut filled = fill(path, id, &owner.slug);
            // Children of an existing post, so that the child's id is what is unknown.
            if path.contains("_id}") {
                filled = filled.replacen(id, real, 1);
            }
            let r = app
                .http
                .request(method(m), app.url(&filled))
                .bearer_auth(&owner.token)
                .json(&plausible_body(path))
                .send()
                .await
                .unwrap();
            // The public board refuses anonymous votes before looking (403), as it should.
            if path.ends_with("/vote") && path.starts_with("/v1/public") && id == unknown {
                assert_problem(r, StatusCode::FORBIDDEN).await;
                continue;
            }
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m} {filled}");
            assert_problem(r, StatusCode::NOT_FOUND).await;
        }
    }
    let r = app.http.get(app.url("/v1/public/no-such-board/feedback")).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_children_are_not_found() {
    let app = spawn_app().await;
    let acme = app.owner("ada@example.com", "Acme").await;
    let evil = app.owner("eve@example.com", "Evil").await;
    let post = app.create(&acme, json!({"title": "Acme's post"})).await;
    let id = post["id"].as_str().unwrap();
    let c: Value = app
        .post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "ours"}), &acme.token)
        .await
        .json()
        .await
        .unwrap();
    let cid = c["id"].as_str().unwrap();
    let a: Value = app.upload(id, &acme.token, b"notes\n", "n.txt", "text/plain").await.json().await.unwrap();
    let aid = a["id"].as_str().unwrap();
    let cat: Value = app.post("/v1/categories", &json!({"name": "Ours"}), &acme.token).await.json().await.unwrap();
    let cat = cat["id"].as_str().unwrap();
    // Evil's own post, to try Acme's children under it too.
    let theirs = app.create(&evil, json!({"title": "Evil's post"})).await;
    let tid = theirs["id"].as_str().unwrap();
    for r in [
        app.patch(&format!("/v1/feedback/{id}/comments/{cid}"), &json!({"content": "x"}), &evil.token).await,
        app.delete(&format!("/v1/feedback/{id}/comments/{cid}"), &evil.token).await,
        app.patch(&format!("/v1/feedback/{tid}/comments/{cid}"), &json!({"content": "x"}), &evil.token).await,
        app.delete(&format!("/v1/feedback/{tid}/comments/{cid}"), &evil.token).await,
        app.get(&format!("/v1/feedback/{id}/attachments"), &evil.token).await,
        app.get(&format!("/v1/feedback/{tid}/attachments/{aid}"), &evil.token).await,
        app.delete(&format!("/v1/feedback/{id}/attachments/{aid}"), &evil.token).await,
        app.delete(&format!("/v1/feedback/{tid}/attachments/{aid}"), &evil.token).await,
        app.upload(id, &evil.token, b"x\n", "x.txt", "text/plain").await,
        app.put(&format!("/v1/feedback/{id}/subscription"), &json!({}), &evil.token).await,
        app.delete(&format!("/v1/feedback/{id}/subscription"), &evil.token).await,
        app.delete(&format!("/v1/feedback/{id}/vote"), &evil.token).await,
        app.post(&format!("/v1/feedback/{tid}/merge"), &json!({"into": id}), &evil.token).await,
        app.patch(&format!("/v1/categories/{cat}"), &json!({"name": "Evil's"}), &evil.token).await,
        app.delete(&format!("/v1/categories/{cat}"), &evil.token).await,
    ] {
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    // Acme's public post is not on Evil's public board either.
    let r = app.http.get(app.url(&format!("/v1/public/{}/feedback/{id}", evil.slug))).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let r = app.http.get(app.url(&format!("/v1/public/{}/feedback/{id}/comments", evil.slug))).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    // A comment of another post is no parent, and no place for a file.
    let r = app
        .post(&format!("/v1/feedback/{tid}/comments"), &json!({"content": "x", "parent_id": cid}), &evil.token)
        .await;
    assert_eq!(invalid_fields(r).await, ["parent_id"]);
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}/comments"), &acme.token).await["data"][0]["content"], "ours");
    assert_eq!(app.get_json(&format!("/v1/categories/{cat}"), &acme.token).await["name"], "Ours");
    app.stop().await;
}

#[tokio::test]
async fn wrong_roles_and_scopes_are_forbidden() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let agent = app.member(&owner, "a@example.com", "agent").await;
    let reader = app.api_key(&owner, "admin", &["feedback:read"]).await;
    let other_scope = app.api_key(&owner, "admin", &["identity:read"]).await;
    let post = app.create(&customer, json!({"title": "A customer's idea"})).await;
    let id = post["id"].as_str().unwrap();
    let other = app.create(&owner, json!({"title": "An owner's idea"})).await;
    let oid = other["id"].as_str().unwrap();
    let c: Value = app
        .post(&format!("/v1/feedback/{oid}/comments"), &json!({"content": "agent words"}), &agent.token)
        .await
        .json()
        .await
        .unwrap();
    let cid = c["id"].as_str().unwrap();
    let cat: Value = app.post("/v1/categories", &json!({"name": "UI"}), &owner.token).await.json().await.unwrap();
    let cat = cat["id"].as_str().unwrap();
    let a: Value = app.upload(oid, &agent.token, b"log\n", "log.txt", "text/plain").await.json().await.unwrap();
    let aid = a["id"].as_str().unwrap();

    let forbidden = [
        // Customers
        app.post(&format!("/v1/feedback/{oid}/merge"), &json!({"into": id}), &customer.token).await,
        app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned"}), &customer.token).await,
        app.patch(&format!("/v1/categories/{cat}"), &json!({"name": "Mine"}), &customer.token).await,
        app.delete(&format!("/v1/categories/{cat}"), &customer.token).await,
        app.put("/v1/feedback/settings", &json!({"public_enabled": false}), &customer.token).await,
        app.patch(&format!("/v1/feedback/{oid}"), &json!({"title": "Not mine"}), &customer.token).await,
        app.delete(&format!("/v1/feedback/{oid}"), &customer.token).await,
        app.patch(&format!("/v1/feedback/{oid}/comments/{cid}"), &json!({"content": "x"}), &customer.token).await,
        app.delete(&format!("/v1/feedback/{oid}/comments/{cid}"), &customer.token).await,
        app.delete(&format!("/v1/feedback/{oid}/attachments/{aid}"), &customer.token).await,
        // Agents are not managers or admins
        app.post("/v1/categories", &json!({"name": "Agents'"}), &agent.token).await,
        app.put("/v1/feedback/settings", &json!({"public_enabled": false}), &agent.token).await,
        app.delete(&format!("/v1/feedback/{id}"), &agent.token).await,
        // A read-only key writes nothing; a key without feedback scopes reads nothing
        app.post("/v1/feedback", &json!({"title": "From a reader"}), &reader).await,
        app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "x"}), &reader).await,
        app.upload(id, &reader, b"x\n", "x.txt", "text/plain").await,
        app.delete(&format!("/v1/categories/{cat}"), &reader).await,
        app.get("/v1/feedback", &other_scope).await,
        app.get(&format!("/v1/feedback/{id}"), &other_scope).await,
        app.get("/v1/categories", &other_scope).await,
        app.get("/v1/feedback/settings", &other_scope).await,
        // Keys are nobody: they neither vote nor follow
        app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "up"}), &reader).await,
        app.put(&format!("/v1/feedback/{id}/subscription"), &json!({}), &reader).await,
    ];
    for (i, r) in forbidden.into_iter().enumerate() {
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "case {i}");
        assert_problem(r, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(app.get_json(&format!("/v1/feedback/{oid}"), &owner.token).await["title"], "An owner's idea");
    assert_eq!(app.get_json("/v1/categories", &owner.token).await["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Exists"})).await;
    let id = post["id"].as_str().unwrap();
    let c: Value = app
        .post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "x"}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    let cat: Value = app.post("/v1/categories", &json!({"name": "UI"}), &owner.token).await.json().await.unwrap();
    let real = |path: &str| {
        path.replace("{id}", id).replace("{comment_id}", c["id"].as_str().unwrap()).replace("{slug}", &owner.slug)
    };
    let json_routes = ROUTES.iter().filter(|(m, p)| *m != "GET" && *m != "DELETE" && !p.ends_with("/attachments"));
    for (m, path) in json_routes {
        let path = if path.starts_with("/v1/categories/") {
            format!("/v1/categories/{}", cat["id"].as_str().unwrap())
        } else {
            real(path)
        };
        if m == &"PUT" && path.ends_with("/subscription") {
            continue; // no body
        }
        let r = app
            .http
            .request(method(m), app.url(&path))
            .bearer_auth(&owner.token)
            .header("content-type", "application/json")
            .body("{,}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{m} {path}");
        assert_problem(r, StatusCode::BAD_REQUEST).await;
    }
    // A multipart body cut short is a bad request too.
    let r = app
        .http
        .post(app.url(&format!("/v1/feedback/{id}/attachments")))
        .bearer_auth(&owner.token)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nabc")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await["title"], "Exists");
    app.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_named() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.put(
        "/v1/feedback/settings",
        &json!({"allow_anonymous_posts": true, "allow_anonymous_votes": true}),
        &owner.token,
    )
    .await;
    let post = app.create(&owner, json!({"title": "Exists"})).await;
    let id = post["id"].as_str().unwrap();
    let c: Value = app
        .post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "x"}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    let cid = c["id"].as_str().unwrap();
    let cat: Value = app.post("/v1/categories", &json!({"name": "UI"}), &owner.token).await.json().await.unwrap();
    let cat = cat["id"].as_str().unwrap();
    let public = format!("/v1/public/{}/feedback", owner.slug);
    let cases: Vec<(reqwest::Response, &[&str])> = vec![
        (
            app.post("/v1/categories", &json!({"name": "  ", "color": "red", "icon": "x".repeat(51)}), &owner.token)
                .await,
            &["name", "color", "icon"],
        ),
        (
            app.patch(&format!("/v1/categories/{cat}"), &json!({"description": "d".repeat(1001)}), &owner.token).await,
            &["description"],
        ),
        (
            app.patch(&format!("/v1/feedback/{id}"), &json!({"title": "x", "tags": ["a b"]}), &owner.token).await,
            &["title", "tags"],
        ),
        (
            app.patch(&format!("/v1/feedback/{id}"), &json!({"category_id": uuid::Uuid::now_v7()}), &owner.token).await,
            &["category_id"],
        ),
        (
            app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "duplicate"}), &owner.token).await,
            &["status"],
        ),
        (
            app.post(
                &format!("/v1/feedback/{id}/status"),
                &json!({"status": "planned", "note": "n".repeat(5001)}),
                &owner.token,
            )
            .await,
            &["note"],
        ),
        (app.post(&format!("/v1/feedback/{id}/merge"), &json!({"into": id}), &owner.token).await, &["into"]),
        (app.post(&format!("/v1/feedback/{id}/merge"), &json!({"into": "nope"}), &owner.token).await, &["into"]),
        (app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "sideways"}), &owner.token).await, &["type"]),
        (
            app.patch(&format!("/v1/feedback/{id}/comments/{cid}"), &json!({"content": " "}), &owner.token).await,
            &["content"],
        ),
        (app.put("/v1/feedback/settings", &json!({"public_enabled": "yes"}), &owner.token).await, &["public_enabled"]),
        (
            app.post(&public, &json!({"title": "x", "author_name": "n".repeat(101)}), "").await,
            &["title", "author_name"],
        ),
        (
            app.http.put(app.url(&format!("{public}/{id}/vote"))).json(&json!({"type": "left"})).send().await.unwrap(),
            &["type"],
        ),
        (app.get("/v1/feedback?limit=101", &owner.token).await, &["limit"]),
        (app.get(&format!("{public}?sort=hot"), "").await, &["sort"]),
    ];
    for (i, (r, fields)) in cases.into_iter().enumerate() {
        assert_eq!(invalid_fields(r).await, *fields, "case {i}");
    }
    let r = app.get("/v1/feedback/similar", &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // A file attached to a comment of another post, or to no comment at all.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x\n".to_vec()).file_name("x.txt").mime_str("text/plain").unwrap(),
        )
        .text("comment_id", uuid::Uuid::now_v7().to_string());
    let r = app.http.post(app.url(&format!("/v1/feedback/{id}/attachments"))).bearer_auth(&owner.token).multipart(form);
    assert_eq!(invalid_fields(r.send().await.unwrap()).await, ["comment_id"]);
    let form = reqwest::multipart::Form::new().text("comment_id", cid.to_owned());
    let r = app.http.post(app.url(&format!("/v1/feedback/{id}/attachments"))).bearer_auth(&owner.token).multipart(form);
    assert_eq!(invalid_fields(r.send().await.unwrap()).await, ["file"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM feedback").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
    app.stop().await;
}

#[tokio::test]
async fn nul_characters_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Exists"})).await;
    let id = post["id"].as_str().unwrap();
    let r = app.post("/v1/categories", &json!({"name": "bad\u{0}name"}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["name"]);
    let r = app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "a\u{0}b"}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["content"]);
    let r = app.get("/v1/feedback?tag=ui%00x", &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["tag"]);
    let r = app.post("/v1/feedback", &json!({"title": "Fine", "tags": ["a\u{0}"]}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x\n".to_vec()).file_name("x.txt").mime_str("text/plain").unwrap(),
        )
        .text("comment_id", format!("{}\u{0}", uuid::Uuid::now_v7()));
    let r = app.http.post(app.url(&format!("/v1/feedback/{id}/attachments"))).bearer_auth(&owner.token).multipart(form);
    assert_eq!(invalid_fields(r.send().await.unwrap()).await, ["comment_id"]);
    // A NUL in a part's headers (the file name) is refused by the multipart parser itself.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x\n".to_vec()).file_name("x\u{0}.txt").mime_str("text/plain").unwrap(),
    );
    let r = app.http.post(app.url(&format!("/v1/feedback/{id}/attachments"))).bearer_auth(&owner.token).multipart(form);
    assert_problem(r.send().await.unwrap(), StatusCode::BAD_REQUEST).await;
    let categories: i64 = sqlx::query_scalar("SELECT count(*) FROM categories").fetch_one(&app.pool).await.unwrap();
    let files: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments").fetch_one(&app.pool).await.unwrap();
    assert_eq!((categories, files), (0, 0));
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await["comment_count"], 0);
    app.stop().await;
}
