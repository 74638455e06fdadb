//! Retention deletes what outlived its use and keeps everything still in use.

use serde_json::json;

use crate::helpers::*;

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(&app.pool).await.unwrap();
}

async fn labels(app: &TestApp, sql: &str) -> Vec<String> {
    let mut v: Vec<String> = sqlx::query_scalar(sql).fetch_all(&app.pool).await.unwrap();
    v.sort();
    v
}

const HASH: &str = "decode(md5(random()::text), 'hex')";

#[tokio::test]
async fn retention_removes_old_rows_and_keeps_fresh_ones() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let (user, org) = (owner["user"]["id"].as_str().unwrap(), owner["organization"]["id"].as_str().unwrap());
    app.login("someone@example.com", "wrong password").await;
    app.post("/v1/invitations", &json!({"email": "fresh@example.com", "role": "agent"}), Some(&token(&owner))).await;

    exec(
        &app,
        "INSERT INTO login_throttle (email, window_started_at) VALUES ('old@example.com', now() - interval '2 days')",
    )
    .await;
    exec(
        &app,
        "INSERT INTO login_throttle (email, window_started_at, locked_until) \
         VALUES ('locked@example.com', now() - interval '2 days', now() + interval '1 hour')",
    )
    .await;
    for (label, absolute, revoked) in [
        ("expired", "now() - interval '8 days'", "NULL"),
        ("revoked", "now() + interval '1 day'", "now() - interval '8 days'"),
        ("recently-revoked", "now() + interval '1 day'", "now() - interval '1 hour'"),
    ] {
        exec(
            &app,
            &format!(
                "INSERT INTO sessions (id, user_id, organization_id, access_token_hash, access_expires_at, \
                 absolute_expires_at, revoked_at, user_agent) \
                 VALUES (gen_random_uuid(), '{user}', '{org}', {HASH}, now(), {absolute}, {revoked}, '{label}')"
            ),
        )
        .await;
    }
    // An old rotated refresh token of the live session, and one of the expired session.
    exec(
        &app,
        &format!(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at, rotated_at) \
             SELECT gen_random_uuid(), id, {HASH}, now() - interval '2 days', now() - interval '3 days' \
             FROM sessions WHERE user_agent IS NULL OR user_agent = 'expired'"
        ),
    )
    .await;
    for table in ["password_resets", "email_verifications"] {
        exec(
            &app,
            &format!(
                "INSERT INTO {table} (id, user_id, token_hash, expires_at, used_at) VALUES \
                 (gen_random_uuid(), '{user}', {HASH}, now() - interval '2 days', NULL), \
                 (gen_random_uuid(), '{user}', {HASH}, now() + interval '1 hour', now() - interval '2 days'), \
                 (gen_random_uuid(), '{user}', {HASH}, now() + interval '1 hour', NULL)"
            ),
        )
        .await;
    }
    for (email, status) in
        [("cancelled@example.com", "cancelled"), ("lapsed@example.com", "pending"), ("joined@example.com", "accepted")]
    {
        exec(
            &app,
            &format!(
                "INSERT INTO invitations (id, organization_id, email, role, token_hash, status, expires_at) \
                 VALUES (gen_random_uuid(), '{org}', '{email}', 'agent', {HASH}, '{status}', now() - interval '31 days')"
            ),
        )
        .await;
    }

    let deleted = identity::retention::rules(app.pool.clone()).run_once().await.unwrap();
    assert_eq!(deleted, 10, "1 throttle row, 2 sessions, 1 refresh token, 2 + 2 one-time tokens, 2 invitations");

    assert_eq!(labels(&app, "SELECT email FROM login_throttle").await, ["locked@example.com", "someone@example.com"]);
    assert_eq!(
        labels(&app, "SELECT COALESCE(user_agent, 'signup') FROM sessions").await,
        ["recently-revoked", "signup"]
    );
    // The live session keeps its current refresh token and loses the old one.
    assert_eq!(labels(&app, "SELECT (expires_at > now())::text FROM refresh_tokens").await, ["true"]);
    for table in ["password_resets", "email_verifications"] {
        let left: Vec<bool> =
            sqlx::query_scalar(&format!("SELECT used_at IS NULL AND expires_at > now() FROM {table}"))
                .fetch_all(&app.pool)
                .await
                .unwrap();
        assert!(!left.is_empty() && left.iter().all(|fresh| *fresh), "{table}: {left:?}");
    }
    assert_eq!(labels(&app, "SELECT email FROM invitations").await, ["fresh@example.com", "joined@example.com"]);
    // What is still in use still works.
    assert_eq!(app.get("/v1/me", &token(&owner)).await.status(), reqwest::StatusCode::OK);
    let r = app.post("/v1/auth/refresh", &json!({"refresh_token": owner["refresh_token"]}), None).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    app.stop().await;
}
