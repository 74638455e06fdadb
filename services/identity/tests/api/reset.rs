use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn password_reset_sets_the_password_and_ends_every_session() {
    let app = spawn_app().await;
    let body = app.signup("ada@example.com", "Acme").await;
    let r = app.post("/v1/auth/password-reset", &json!({"email": "ada@example.com"}), None).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Unknown addresses get the same answer.
    let r = app.post("/v1/auth/password-reset", &json!({"email": "nobody@example.com"}), None).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    let reset = app.token_from_mail("ada@example.com", "password_reset").await;
    let new_password = "a brand new passphrase";
    let r = app.post("/v1/auth/password-reset/confirm", &json!({"token": reset, "password": new_password}), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", &token(&body)).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("ada@example.com", new_password).await.status(), StatusCode::OK);

    // Single use: the same token is refused, as is a made-up one, with the same answer.
    let used = app
        .post("/v1/auth/password-reset/confirm", &json!({"token": reset, "password": "yet another passphrase"}), None)
        .await;
    let made_up = app
        .post("/v1/auth/password-reset/confirm", &json!({"token": "nope", "password": "yet another passphrase"}), None)
        .await;
    assert_eq!(
        assert_problem(used, StatusCode::BAD_REQUEST).await,
        assert_problem(made_up, StatusCode::BAD_REQUEST).await
    );
    // Nothing for the unknown address, checked after a later request's mail went out.
    app.post("/v1/auth/password-reset", &json!({"email": "ada@example.com"}), None).await;
    app.token_from_mail("ada@example.com", "password_reset").await;
    let users: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM password_resets r JOIN users u ON u.id = r.user_id ORDER BY r.created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(users, ["ada@example.com", "ada@example.com"]);
    let to: Vec<Value> = app.seen_mails.lock().unwrap().iter().map(|m| m["data"]["to"].clone()).collect();
    assert!(!to.contains(&json!("nobody@example.com")), "{to:?}");
    app.stop().await;
}

#[tokio::test]
async fn expired_reset_tokens_are_refused() {
    let app = spawn_app_with(&[("PASSWORD_RESET_TTL_SECS", "0.5")]).await;
    app.signup("ada@example.com", "Acme").await;
    app.post("/v1/auth/password-reset", &json!({"email": "ada@example.com"}), None).await;
    let reset = app.token_from_mail("ada@example.com", "password_reset").await;
    app.until_db("(SELECT bool_and(expires_at < now()) FROM password_resets)").await;
    let r = app
        .post("/v1/auth/password-reset/confirm", &json!({"token": reset, "password": "a brand new passphrase"}), None)
        .await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn password_reset_works_while_locked_out() {
    let app = spawn_app_with(&[("LOCKOUT_THRESHOLD", "2"), ("LOCKOUT_DURATION_SECS", "600")]).await;
    app.signup("ada@example.com", "Acme").await;
    app.login("ada@example.com", "wrong one").await;
    app.login("ada@example.com", "wrong two").await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    app.post("/v1/auth/password-reset", &json!({"email": "ada@example.com"}), None).await;
    let reset = app.token_from_mail("ada@example.com", "password_reset").await;
    let r = app
        .post("/v1/auth/password-reset/confirm", &json!({"token": reset, "password": "a brand new passphrase"}), None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login("ada@example.com", "a brand new passphrase").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn email_verification_through_the_mailed_link() {
    let app = spawn_app().await;
    let body = app.signup("ada@example.com", "Acme").await;
    let verify = app.token_from_mail("ada@example.com", "email_verification").await;
    let r = app.post("/v1/auth/verify-email", &json!({"token": verify}), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let me: Value = app.get("/v1/me", &token(&body)).await.json().await.unwrap();
    assert_eq!(me["user"]["email_verified"], true);
    let again = app.post("/v1/auth/verify-email", &json!({"token": verify}), None).await;
    assert_problem(again, StatusCode::BAD_REQUEST).await;
    let resend = app.post("/v1/auth/verify-email/resend", &json!({}), Some(&token(&body))).await;
    assert_problem(resend, StatusCode::CONFLICT).await;
    app.stop().await;
}

#[tokio::test]
async fn a_new_verification_mail_can_be_asked_for() {
    let app = spawn_app().await;
    let body = app.signup("ada@example.com", "Acme").await;
    let first = app.token_from_mail("ada@example.com", "email_verification").await;
    let r = app.post("/v1/auth/verify-email/resend", &json!({}), Some(&token(&body))).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let second = app.token_from_mail("ada@example.com", "email_verification").await;
    assert_ne!(first, second);
    assert_eq!(
        app.post("/v1/auth/verify-email", &json!({"token": second}), None).await.status(),
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}
