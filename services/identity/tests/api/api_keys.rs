use std::sync::Arc;
use std::time::{Duration, Instant};

use platform::auth::{AuthClient, AuthFailure, GrpcAuthenticator};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

#[tokio::test]
async fn api_keys_are_shown_once_and_listed_by_prefix() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let r =
        app.post("/v1/api-keys", &json!({"name": "CI", "scopes": ["feedback:read", "identity:read"]}), Some(&t)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("sbk_"));
    assert_eq!(created["prefix"].as_str().unwrap(), &key[..12]);
    assert_eq!(created["role"], "agent");

    let list: Value = app.get("/v1/api-keys", &t).await.json().await.unwrap();
    let listed = &list["data"][0];
    assert_eq!(listed["prefix"], created["prefix"]);
    assert!(listed.get("key").is_none());
    assert!(!list.to_string().contains(key));

    // The key authenticates as the organization, with its scopes.
    let me: Value = app.get("/v1/me", key).await.json().await.unwrap();
    assert_eq!(me["organization"]["id"], owner["organization"]["id"]);
    assert_eq!(me["credential"], "api_key");
    assert!(me["user"].is_null());
    assert_eq!(app.get("/v1/members", key).await.status(), StatusCode::OK);
    // It lacks identity:write and cannot manage keys at all.
    assert_problem(app.post("/v1/teams", &json!({"name": "x"}), Some(key)).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get("/v1/api-keys", key).await, StatusCode::FORBIDDEN).await;
    // A key with a broken checksum is refused without a lookup.
    let mut broken = key.to_owned();
    broken.replace_range(8..9, if &key[8..9] == "A" { "B" } else { "A" });
    assert_problem(app.get("/v1/me", &broken).await, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn api_key_rules() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let r = app.post("/v1/api-keys", &json!({"name": "", "scopes": []}), Some(&t)).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    let r = app.post("/v1/api-keys", &json!({"name": "x", "scopes": ["DROP TABLE"]}), Some(&t)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.post("/v1/api-keys", &json!({"name": "x", "scopes": ["*"], "role": "owner"}), Some(&t)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app
        .post("/v1/api-keys", &json!({"name": "x", "scopes": ["*"], "expires_at": "2001-01-01T00:00:00Z"}), Some(&t))
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let eve = app.signup("eve@example.com", "Evil").await;
    let created: Value =
        app.post("/v1/api-keys", &json!({"name": "x", "scopes": ["*"]}), Some(&t)).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_problem(app.delete(&format!("/v1/api-keys/{id}"), &token(&eve)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get("/v1/me", created["key"].as_str().unwrap()).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_other_instances_caches_within_a_second() {
    // Long cache TTL: only the revocation broadcast can explain a refusal.
    let ttl = [("AUTH_CACHE_TTL_SECS", "600")];
    let a = spawn_app_with(&ttl).await;
    let b = spawn_on(&a.database_url, &a.prefix, &ttl).await;
    let owner = a.signup("ada@example.com", "Acme").await;
    let created: Value = a
        .post("/v1/api-keys", &json!({"name": "x", "scopes": ["*"]}), Some(&token(&owner)))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();

    // Another service authenticates through identity's gRPC with its own cache and listener.
    let bus = platform::bus::Bus::connect(&platform::testing::nats_url(), &a.prefix, "other-service").await.unwrap();
    let grpc = GrpcAuthenticator::new(&format!("http://{}", a.grpc_addr), a.service_token.clone()).unwrap();
    let other = AuthClient::new(Arc::new(grpc), Duration::from_secs(600));
    let stop = CancellationToken::new();
    other.listen(bus.clone(), stop.clone());
    wait_until_listening(&a, &owner, &other, &bus).await;

    assert_eq!(b.get("/v1/me", &key).await.status(), StatusCode::OK);
    assert!(other.authenticate(&key).await.is_ok());

    let id = created["id"].as_str().unwrap();
    assert_eq!(a.delete(&format!("/v1/api-keys/{id}"), &token(&owner)).await.status(), StatusCode::NO_CONTENT);
    let revoked_at = Instant::now();
    loop {
        let b_refuses = b.get("/v1/me", &key).await.status() == StatusCode::UNAUTHORIZED;
        let other_refuses = matches!(other.authenticate(&key).await, Err(AuthFailure::Invalid));
        if b_refuses && other_refuses {
            break;
        }
        assert!(revoked_at.elapsed() < Duration::from_secs(1), "revoked key still accepted after a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    b.stop().await;
    a.stop().await;
}

/// Waits until `other`'s revocation listener is subscribed: a probe key, cached by `other` and
/// then revoked, is announced again and again until `other` refuses it.
async fn wait_until_listening(app: &TestApp, owner: &Value, other: &AuthClient, bus: &platform::bus::Bus) {
    let probe: Value = app
        .post("/v1/api-keys", &json!({"name": "probe", "scopes": ["*"]}), Some(&token(owner)))
        .await
        .json()
        .await
        .unwrap();
    let key = probe["key"].as_str().unwrap();
    assert!(other.authenticate(key).await.is_ok());
    let id = probe["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/api-keys/{id}"), &token(owner)).await.status(), StatusCode::NO_CONTENT);
    let revocation = platform::auth::Revocation {
        credential_hashes: vec![hex::encode(platform::auth::credential_hash(key))],
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while other.authenticate(key).await.is_ok() {
        assert!(Instant::now() < deadline, "the listener never subscribed");
        platform::auth::broadcast_revocation(bus, &revocation).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_admin_api_key_cannot_manage_members_invitations_or_keys() {
    let app = spawn_app().await;
    let (owner, member) = crate::members::org_with_member(&app, "agent").await;
    let t = token(&owner);
    let created: Value = app
        .post("/v1/api-keys", &json!({"name": "admin", "scopes": ["*"], "role": "admin"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    let pending: Value = app
        .post("/v1/invitations", &json!({"email": "carl@example.com", "role": "agent"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    let member_id = member["user"]["id"].as_str().unwrap();
    let refused = [
        app.post("/v1/invitations", &json!({"email": "mallory@example.com", "role": "admin"}), Some(key)).await,
        app.delete(&format!("/v1/invitations/{}", pending["id"].as_str().unwrap()), key).await,
        app.patch(&format!("/v1/members/{member_id}"), &json!({"role": "admin"}), key).await,
        app.delete(&format!("/v1/members/{member_id}"), key).await,
        app.post("/v1/api-keys", &json!({"name": "child", "scopes": ["*"]}), Some(key)).await,
        app.delete(&format!("/v1/api-keys/{}", created["id"].as_str().unwrap()), key).await,
        app.get("/v1/api-keys", key).await,
    ];
    for r in refused {
        let body = assert_problem(r, StatusCode::FORBIDDEN).await;
        assert!(body["detail"].as_str().unwrap().contains("user session"), "{body}");
    }
    // Nothing changed.
    let invitations: Value = app.get("/v1/invitations?status=pending", &t).await.json().await.unwrap();
    let emails: Vec<&str> =
        invitations["data"].as_array().unwrap().iter().map(|i| i["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["carl@example.com"]);
    let got: Value = app.get(&format!("/v1/members/{member_id}"), &t).await.json().await.unwrap();
    assert_eq!(got["role"], "agent");
    let keys: Value = app.get("/v1/api-keys", &t).await.json().await.unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn responses_with_credentials_are_never_stored_for_idempotent_replays() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let send = || {
        app.http
            .post(app.url("/v1/api-keys"))
            .bearer_auth(token(&owner))
            .header("idempotency-key", "key-1")
            .json(&json!({"name": "CI", "scopes": ["*"]}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let key = first.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    assert_problem(send().await.unwrap(), StatusCode::CONFLICT).await;
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT body FROM idempotency_keys").fetch_all(&app.pool).await.unwrap();
    assert!(stored.iter().all(|b| !String::from_utf8_lossy(b).contains(&key)));
    // Exactly one key was made.
    let keys: Value = app.get("/v1/api-keys", &token(&owner)).await.json().await.unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}
