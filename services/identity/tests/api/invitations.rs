use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn an_invitation_creates_the_account_on_acceptance() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let r =
        app.post("/v1/invitations", &json!({"email": "Bob@Example.com", "role": "agent"}), Some(&token(&owner))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let inv: Value = r.json().await.unwrap();
    assert_eq!(inv["status"], "pending");
    assert!(inv.get("token").is_none());
    let hours = (chrono::DateTime::parse_from_rfc3339(inv["expires_at"].as_str().unwrap()).unwrap()
        - chrono::Utc::now().fixed_offset())
    .num_hours();
    assert!((71..=72).contains(&hours));

    let t = app.token_from_mail("bob@example.com", "invitation").await;
    let r = app.post("/v1/invitations/accept", &json!({"token": t, "name": "Bob", "password": PASSWORD}), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bob: Value = r.json().await.unwrap();
    assert_eq!(bob["role"], "agent");
    assert_eq!(bob["organization"]["id"], owner["organization"]["id"]);
    assert_eq!(bob["user"]["email_verified"], true);
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status(), StatusCode::OK);

    let again =
        app.post("/v1/invitations/accept", &json!({"token": t, "name": "Bob", "password": PASSWORD}), None).await;
    assert_problem(again, StatusCode::BAD_REQUEST).await;
    let list: Value = app.get("/v1/invitations?status=accepted", &token(&owner)).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_invitation_links_an_existing_account_with_its_password() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    app.signup("bob@example.com", "Bobs").await;
    app.post("/v1/invitations", &json!({"email": "bob@example.com", "role": "manager"}), Some(&token(&owner))).await;
    let t = app.token_from_mail("bob@example.com", "invitation").await;
    let wrong = app.post("/v1/invitations/accept", &json!({"token": t, "password": "not bobs password"}), None).await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED).await;
    let r = app.post("/v1/invitations/accept", &json!({"token": t, "password": PASSWORD}), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bob: Value = r.json().await.unwrap();
    assert_eq!(bob["role"], "manager");
    let me: Value = app.get("/v1/me", &token(&bob)).await.json().await.unwrap();
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn invitation_rules() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let r = app.post("/v1/invitations", &json!({"email": "x@example.com", "role": "owner"}), Some(&t)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.post("/v1/invitations", &json!({"email": "bad", "role": "wizard"}), Some(&t)).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    let r = app.post("/v1/invitations", &json!({"email": "ada@example.com", "role": "agent"}), Some(&t)).await;
    assert_problem(r, StatusCode::CONFLICT).await;

    let inv: Value = app
        .post("/v1/invitations", &json!({"email": "carl@example.com", "role": "agent"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    let id = inv["id"].as_str().unwrap();
    // Another organization cannot see or cancel it.
    let other = app.signup("eve@example.com", "Evil").await;
    assert_problem(app.delete(&format!("/v1/invitations/{id}"), &token(&other)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.delete(&format!("/v1/invitations/{id}"), &t).await.status(), StatusCode::NO_CONTENT);
    let mail = app.token_from_mail("carl@example.com", "invitation").await;
    let r =
        app.post("/v1/invitations/accept", &json!({"token": mail, "name": "Carl", "password": PASSWORD}), None).await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    app.stop().await;
}

#[tokio::test]
async fn expired_invitations_are_refused() {
    let app = spawn_app_with(&[("INVITATION_TTL_SECS", "0.5")]).await;
    let owner = app.signup("ada@example.com", "Acme").await;
    app.post("/v1/invitations", &json!({"email": "bob@example.com", "role": "agent"}), Some(&token(&owner))).await;
    let t = app.token_from_mail("bob@example.com", "invitation").await;
    app.until_db("(SELECT bool_and(expires_at < now()) FROM invitations)").await;
    let r = app.post("/v1/invitations/accept", &json!({"token": t, "name": "Bob", "password": PASSWORD}), None).await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    app.stop().await;
}

#[tokio::test]
async fn an_invitation_is_accepted_once_even_by_concurrent_requests() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    app.post("/v1/invitations", &json!({"email": "bob@example.com", "role": "agent"}), Some(&token(&owner))).await;
    let t = app.token_from_mail("bob@example.com", "invitation").await;
    let body = json!({"token": t, "name": "Bob", "password": PASSWORD});
    let (a, b) =
        tokio::join!(app.post("/v1/invitations/accept", &body, None), app.post("/v1/invitations/accept", &body, None));
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    let bobs: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'bob@example.com'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let members: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships").fetch_one(&app.pool).await.unwrap();
    assert_eq!((bobs, members), (1, 2));
    app.stop().await;
}

#[tokio::test]
async fn hashing_a_password_holds_no_database_connection() {
    // Two connections and a slow hash: were argon2 run inside the acceptance's transaction, two
    // acceptances would hold both connections while they hash, and every other request would
    // wait for one.
    let app = spawn_app_with(&[
        ("DATABASE_MAX_CONNECTIONS", "2"),
        ("ARGON2_MEMORY_KIB", "32768"),
        ("ARGON2_ITERATIONS", "3"),
    ])
    .await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let mut accepts = Vec::new();
    for who in ["bob", "carl"] {
        let email = format!("{who}@example.com");
        let r = app.post("/v1/invitations", &json!({"email": email, "role": "agent"}), Some(&token(&owner))).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let t = app.token_from_mail(&email, "invitation").await;
        let (url, body) = (app.url("/v1/invitations/accept"), json!({"token": t, "name": who, "password": PASSWORD}));
        accepts.push(async move { reqwest::Client::new().post(url).json(&body).send().await.unwrap().status() });
    }
    let accepts = tokio::spawn(futures::future::join_all(accepts));

    let mut answered_meanwhile = 0;
    while !accepts.is_finished() {
        let asked = std::time::Instant::now();
        let r = app.get("/v1/invitations?status=pending", &token(&owner)).await;
        assert_eq!(r.status(), StatusCode::OK, "answered while the passwords hash");
        assert!(
            asked.elapsed() < std::time::Duration::from_millis(1500),
            "waited {:?} for a connection",
            asked.elapsed()
        );
        if !accepts.is_finished() {
            answered_meanwhile += 1;
        }
    }
    assert_eq!(accepts.await.unwrap(), [StatusCode::OK, StatusCode::OK]);
    assert!(answered_meanwhile > 0, "the hashing took no time: this run shows nothing");
    app.stop().await;
}
