//! Connecting WhatsApp Cloud numbers: the token is checked with Meta first, stored only as
//! ciphertext bound to its row and column, never shown; one live connection per number;
//! disconnecting erases the secrets; other organizations see nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_number_connects_with_a_token_meta_accepts_and_the_token_never_shows() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let c = app.connect_whatsapp(&owner).await;
    assert_eq!(c["platform"], "whatsapp");
    assert_eq!(c["account_id"], PHONE_ID);
    assert_eq!(c["display_name"], "Acme Support");
    assert_eq!(c["status"], "active");
    let id = c["id"].as_str().unwrap();
    for shown in [
        c.clone(),
        app.get_json(&format!("/v1/connections/{id}"), &owner.token).await,
        app.get_json("/v1/connections", &owner.token).await,
    ] {
        let text = shown.to_string();
        assert!(!text.contains(GOOD_TOKEN) && !text.contains("access_token"), "{text}");
    }
    // At rest: a ciphertext of the development key ring, bound to this row and column.
    let stored: String = sqlx::query_scalar("SELECT access_token FROM connections").fetch_one(&app.pool).await.unwrap();
    assert!(stored.starts_with("v1:dev:") && !stored.contains(GOOD_TOKEN));
    let keys = platform::crypto::KeyRing::parse(&platform::crypto::DEVELOPMENT_KEYS.to_owned().into()).unwrap();
    let row: uuid::Uuid = id.parse().unwrap();
    assert_eq!(keys.decrypt(&stored, &inbox_sync::sealed_for(row, "access_token")).unwrap(), GOOD_TOKEN);
    assert!(keys.decrypt(&stored, &inbox_sync::sealed_for(row, "app_secret")).is_err(), "another column");
    assert!(
        keys.decrypt(&stored, &inbox_sync::sealed_for(uuid::Uuid::now_v7(), "access_token")).is_err(),
        "another row"
    );
    // The event says what connected, and nothing secret.
    let connected = app.messages("EVENTS", "events.inbox.connection.connected", 1).await;
    assert_eq!(connected[0]["data"]["account_id"], PHONE_ID);
    assert!(!connected[0].to_string().contains(GOOD_TOKEN));

    // The same number again: here or in another organization.
    let again = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA_ID, "access_token": GOOD_TOKEN});
    assert_problem(app.post("/v1/connections/whatsapp", &again, &owner.token).await, StatusCode::CONFLICT).await;
    let other = app.owner("bob@example.com", "Other").await;
    let p =
        assert_problem(app.post("/v1/connections/whatsapp", &again, &other.token).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("another organization"));
    // Other organizations see nothing of it.
    assert_problem(app.get(&format!("/v1/connections/{id}"), &other.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_json("/v1/connections", &other.token).await["data"], json!([]));
    let r = app.http.delete(app.url(&format!("/v1/connections/{id}"))).bearer_auth(&other.token).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;

    // Disconnected: secrets erased, the event sent; then the other organization may have it.
    let r = app.http.delete(app.url(&format!("/v1/connections/{id}"))).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "disconnected");
    let left: String = sqlx::query_scalar("SELECT access_token FROM connections").fetch_one(&app.pool).await.unwrap();
    assert_eq!(left, "");
    app.messages("EVENTS", "events.inbox.connection.disconnected", 1).await;
    let r = app.post("/v1/connections/whatsapp", &again, &other.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_and_refused_tokens_change_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let refused = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA_ID, "access_token": "EAAG-revoked"});
    let r = app.post("/v1/connections/whatsapp", &refused, &owner.token).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "access_token");
    let bad = json!({"phone_number_id": "+1 555", "business_account_id": "", "access_token": "with space"});
    let p = assert_problem(
        app.post("/v1/connections/whatsapp", &bad, &owner.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["phone_number_id", "business_account_id", "access_token"]);
    let r = app
        .http
        .post(app.url("/v1/connections/whatsapp"))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.count("SELECT count(*) FROM connections").await, 0);
    // Without a credential, nothing.
    let r = app.http.get(app.url("/v1/connections")).send().await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn a_connection_with_its_own_meta_app_verifies_with_its_secret_on_its_own_path() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let body = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA_ID, "access_token": GOOD_TOKEN,
        "app_secret": "own-app-secret-42", "verify_token": "own-verify"});
    let r = app.post("/v1/connections/whatsapp", &body, &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["own_app"], true);
    let path = format!("/webhooks/meta/{}", c["id"].as_str().unwrap());
    let hs = app
        .http
        .get(app.url(&format!("{path}?hub.mode=subscribe&hub.verify_token=own-verify&hub.challenge=42")))
        .send()
        .await
        .unwrap();
    assert_eq!(hs.text().await.unwrap(), "42");
    let wrong = app
        .http
        .get(app.url(&format!("{path}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let inbound = fixture("whatsapp/inbound_text.json");
    // The platform app's signature is not this app's.
    let platform_signed = manifest_header("whatsapp/inbound_text.json", "X-Hub-Signature-256");
    assert_problem(app.meta(&path, &inbound, Some(&platform_signed)).await, StatusCode::UNAUTHORIZED).await;
    let own = inbox_sync::platforms::signature::meta_sign(b"own-app-secret-42", &inbound);
    let r = app.meta(&path, &inbound, Some(&own)).await;
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);
    let unknown = format!("/webhooks/meta/{}", uuid::Uuid::now_v7());
    assert_problem(app.meta(&unknown, &inbound, Some(&own)).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

/// Walks the served document rather than a list kept by hand: a route added later is covered.
#[tokio::test]
async fn every_documented_operation_but_the_public_ones_needs_a_valid_credential() {
    let app = spawn_app().await;
    // Public: the platforms' signed webhooks and the OAuth callback (its signed state).
    platform::testing::assert_every_secured_operation_needs_a_credential(
        &app.http,
        &app.url(""),
        |method, template| {
            template.starts_with("/webhooks/") || (method == "GET" && template == "/v1/connections/oauth/callback")
        },
        None,
        15,
    )
    .await;
    app.stop().await;
}
