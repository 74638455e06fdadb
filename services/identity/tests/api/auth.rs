use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn signup_answers_tokens_user_and_organization() {
    let app = spawn_app().await;
    let body = app.signup("Ada@Example.com", "Acme, Inc.").await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().unwrap().starts_with("sbat_"));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("sbrt_"));
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["email_verified"], false);
    assert_eq!(body["organization"]["slug"], "acme-inc");
    assert_eq!(body["organization"]["plan"], "free");
    assert_eq!(body["role"], "owner");
    assert!(body["user"].get("password_hash").is_none());

    let me: Value = app.get("/v1/me", &token(&body)).await.json().await.unwrap();
    assert_eq!(me["user"]["id"], body["user"]["id"]);
    assert_eq!(me["organization"]["id"], body["organization"]["id"]);
    assert_eq!(me["role"], "owner");
    assert_eq!(me["memberships"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn signup_rejects_bad_input_and_changes_nothing() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/auth/signup",
            &json!({"email": "nope", "password": "short", "name": "", "organization_name": "Acme"}),
            None,
        )
        .await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "password", "name"]);

    let r = app
        .http
        .post(app.url("/v1/auth/signup"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;

    let r = app.http.post(app.url("/v1/auth/signup")).body("email=a").send().await.unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let r = app.post("/v1/auth/signup", &json!({"email": 42}), None).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["field"], "email");

    let huge = "x".repeat(2 * 1024 * 1024);
    let r = app.post("/v1/auth/signup", &json!({"email": huge}), None).await;
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;

    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&app.pool).await.unwrap();
    assert_eq!((users, orgs), (0, 0));
    app.stop().await;
}

#[tokio::test]
async fn duplicate_email_and_slug_are_conflicts() {
    let app = spawn_app().await;
    app.signup("ada@example.com", "Acme").await;
    let r = app
        .post(
            "/v1/auth/signup",
            &json!({"email": "ADA@example.com", "password": PASSWORD, "name": "Other", "organization_name": "Other"}),
            None,
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let r = app
        .post(
            "/v1/auth/signup",
            &json!({"email": "bob@example.com", "password": PASSWORD, "name": "Bob",
                    "organization_name": "Acme two", "organization_slug": "acme"}),
            None,
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT).await;
    // A derived slug that is taken gets a suffix instead.
    let body = app.signup("carol@example.com", "Acme").await;
    assert!(body["organization"]["slug"].as_str().unwrap().starts_with("acme-"));
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orgs, 2);
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.signup("ada@example.com", "Acme").await;
    let wrong = app.login("ada@example.com", "not the password").await;
    let unknown = app.login("nobody@example.com", "not the password").await;
    let a = assert_problem(wrong, StatusCode::UNAUTHORIZED).await;
    let b = assert_problem(unknown, StatusCode::UNAUTHORIZED).await;
    assert_eq!(a, b);
    let ok = app.login("ADA@example.com", PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["organization"]["slug"], "acme");
    app.stop().await;
}

#[tokio::test]
async fn login_can_choose_the_organization() {
    let app = spawn_app().await;
    let first = app.signup("ada@example.com", "Acme").await;
    let r = app.post("/v1/orgs", &json!({"name": "Second", "slug": "second-org"}), Some(&token(&first))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD, "organization": "second-org"}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["organization"]["slug"], "second-org");
    assert_eq!(body["role"], "owner");
    let me: Value = app.get("/v1/me", &token(&body)).await.json().await.unwrap();
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
    let r = app
        .post(
            "/v1/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD, "organization": "not-mine"}),
            None,
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_until_it_unlocks_by_itself() {
    let app = spawn_app_with(&[("LOCKOUT_THRESHOLD", "3"), ("LOCKOUT_DURATION_SECS", "2")]).await;
    app.signup("ada@example.com", "Acme").await;
    for _ in 0..3 {
        assert_eq!(app.login("ada@example.com", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused, with a Retry-After.
    let r = app.login("ada@example.com", PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry));
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    // Other accounts are not affected.
    app.signup("bob@example.com", "Bobs").await;
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status(), StatusCode::OK);

    // The lock lifts by itself: the right password gets in again before a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match app.login("ada@example.com", PASSWORD).await.status() {
            StatusCode::OK => break,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "still locked out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let first = app.signup("ada@example.com", "Acme").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": r1}), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second: Value = r.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_ne!(token(&first), token(&second));
    assert_eq!(second["user"]["email"], "ada@example.com");
    // The old access token no longer works, the new one does.
    assert_eq!(app.get("/v1/me", &token(&first)).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/v1/me", &token(&second)).await.status(), StatusCode::OK);

    // Reusing the rotated token revokes the whole family: the newest tokens die too.
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": r1}), None).await;
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(app.get("/v1/me", &token(&second)).await.status(), StatusCode::UNAUTHORIZED);
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": r2}), None).await;
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": "sbrt_made_up"}), None).await;
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn access_tokens_expire() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL_SECS", "1")]).await;
    let body = app.signup("ada@example.com", "Acme").await;
    assert_eq!(app.get("/v1/me", &token(&body)).await.status(), StatusCode::OK);
    app.until_db("(SELECT bool_and(access_expires_at < now()) FROM sessions)").await;
    assert_problem(app.get("/v1/me", &token(&body)).await, StatusCode::UNAUTHORIZED).await;
    // The refresh token still gets a new one.
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": body["refresh_token"]}), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn idle_sessions_end() {
    let app = spawn_app_with(&[("SESSION_IDLE_TIMEOUT_SECS", "1")]).await;
    let body = app.signup("ada@example.com", "Acme").await;
    app.until_db("(SELECT bool_and(expires_at < now()) FROM refresh_tokens)").await;
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": body["refresh_token"]}), None).await;
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn logout_and_session_revocation() {
    let app = spawn_app().await;
    let a = app.signup("ada@example.com", "Acme").await;
    let b: Value = app.login("ada@example.com", PASSWORD).await.json().await.unwrap();
    let list: Value = app.get("/v1/sessions", &token(&a)).await.json().await.unwrap();
    let sessions = list["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();

    assert_eq!(app.delete(&format!("/v1/sessions/{other}"), &token(&a)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", &token(&b)).await.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(app.post("/v1/auth/logout", &json!({}), Some(&token(&a))).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/v1/me", &token(&a)).await, StatusCode::UNAUTHORIZED).await;
    // Refresh tokens of a logged-out session are dead too.
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": a["refresh_token"]}), None).await;
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn another_users_session_is_not_found() {
    let app = spawn_app().await;
    let a = app.signup("ada@example.com", "Acme").await;
    let b = app.signup("bob@example.com", "Bobs").await;
    let list: Value = app.get("/v1/sessions", &token(&b)).await.json().await.unwrap();
    let bobs = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_problem(app.delete(&format!("/v1/sessions/{bobs}"), &token(&a)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get("/v1/me", &token(&b)).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn missing_or_garbage_credentials_are_401() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/v1/me")).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"].to_str().unwrap().split_whitespace().next(), Some("Bearer"));
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_problem(app.get("/v1/me", "sbat_garbage").await, StatusCode::UNAUTHORIZED).await;
    assert_problem(app.get("/v1/me", "sbk_garbage").await, StatusCode::UNAUTHORIZED).await;
    let r = app.http.get(app.url("/v1/me")).header("authorization", "Basic YTpi").send().await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_is_cut_at_the_threshold() {
    let app = spawn_app_with(&[("LOCKOUT_THRESHOLD", "3")]).await;
    app.signup("ada@example.com", "Acme").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (http, url) = (app.http.clone(), app.url("/v1/auth/login"));
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .json(&json!({"email": "ada@example.com", "password": format!("guess {i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut verified = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => verified += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(verified, 3, "only the threshold's worth of guesses reach the password check");
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}
