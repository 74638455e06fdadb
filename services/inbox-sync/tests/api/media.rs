//! Media as an agent opens it: fetched from the platform with the connection's token on first
//! read (WhatsApp: id → URL → file), checked against what the message says it is, kept, and
//! served from what was kept after that; refused when it is not what it claims or points where
//! downloads may not go; another organization's message is a 404.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const IMAGE: &str = "whatsapp/inbound_image.json";
const MEDIA_ID: &str = "1234567890123456";

/// The image fixture delivered; the owner, the conversation and the message.
async fn image_message(app: &TestApp) -> (User, String, String) {
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let body = fixture(IMAGE);
    let r = app.meta("/webhooks/whatsapp", &body, Some(&manifest_header(IMAGE, "X-Hub-Signature-256"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list = app.get_json("/v1/conversations", &owner.token).await;
    let conversation = list["data"][0]["id"].as_str().unwrap().to_owned();
    let page = app.get_json(&format!("/v1/conversations/{conversation}/messages"), &owner.token).await;
    let m = &page["data"][0];
    assert_eq!(m["content_type"], "image");
    assert_eq!(m["media"]["id"], MEDIA_ID);
    (owner, conversation, m["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_image_is_fetched_with_the_token_on_first_read_and_kept() {
    let app = spawn_app().await;
    let jpeg: Vec<u8> = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 2048][..]].concat();
    app.graph.media.lock().unwrap().insert(MEDIA_ID.into(), ("image/jpeg".into(), "image/jpeg".into(), jpeg.clone()));
    let (owner, conversation, message) = image_message(&app).await;
    let path = format!("/v1/conversations/{conversation}/messages/{message}/media");

    for _ in 0..2 {
        let r = app.get(&path, &owner.token).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.bytes().await.unwrap().to_vec(), jpeg);
    }
    // Looked up and downloaded once; the second read came from what was kept.
    assert_eq!(*app.graph.media_calls.lock().unwrap(), [format!("lookup {MEDIA_ID}"), format!("download {MEDIA_ID}")]);
    assert_eq!(app.count("SELECT count(*) FROM message_media").await, 1);

    // Another organization: no such message.
    let other = app.owner("eve@example.com", "Evil").await;
    assert_problem(app.get(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn media_that_is_not_what_its_message_says_is_refused_and_not_kept() {
    let app = spawn_app().await;
    app.graph
        .media
        .lock()
        .unwrap()
        .insert(MEDIA_ID.into(), ("image/jpeg".into(), "text/html".into(), b"<script>alert(1)</script>".to_vec()));
    let (owner, conversation, message) = image_message(&app).await;
    let path = format!("/v1/conversations/{conversation}/messages/{message}/media");
    let p = assert_problem(app.get(&path, &owner.token).await, StatusCode::BAD_GATEWAY).await;
    assert!(p["detail"].as_str().unwrap().contains("text/html"), "{p}");
    assert_eq!(app.count("SELECT count(*) FROM message_media").await, 0);

    // Gone from the platform: a 404 that says so.
    app.graph.media.lock().unwrap().clear();
    let p = assert_problem(app.get(&path, &owner.token).await, StatusCode::NOT_FOUND).await;
    assert!(p["type"].as_str().unwrap().ends_with("media-gone"), "{p}");
    // A text message has none.
    let page = app.get_json(&format!("/v1/conversations/{conversation}/messages"), &owner.token).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_media_url_into_the_cloud_metadata_service_is_never_fetched() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    // A Messenger page; its payloads name media by URL.
    let page = "104200000000009";
    let id = uuid::Uuid::now_v7();
    let keys = platform::crypto::KeyRing::parse(&platform::crypto::DEVELOPMENT_KEYS.to_owned().into()).unwrap();
    sqlx::query("INSERT INTO connections (id, organization_id, platform, account_id, access_token) VALUES ($1, $2, 'messenger', $3, $4)")
        .bind(id)
        .bind(owner.org.parse::<uuid::Uuid>().unwrap())
        .bind(page)
        .bind(keys.encrypt("page-token", &inbox_sync::sealed_for(id, "access_token")).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let body = serde_json::to_vec(&json!({"object": "page", "entry": [{"id": page, "time": 1, "messaging": [{
        "sender": {"id": "555"}, "recipient": {"id": page}, "timestamp": 1_750_000_000_000u64,
        "message": {"mid": "m_IMG", "attachments": [{"type": "image", "payload": {"url": "http://169.254.169.254/latest/meta-data/iam"}}]}}]}]}))
    .unwrap();
    let r = app.meta("/webhooks/messenger", &body, Some(&sign(&body))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list = app.get_json("/v1/conversations", &owner.token).await;
    let conversation = list["data"][0]["id"].as_str().unwrap().to_owned();
    let messages = app.get_json(&format!("/v1/conversations/{conversation}/messages"), &owner.token).await;
    let m: &Value = &messages["data"][0];
    assert_eq!(m["content_type"], "image", "{m}");
    let path = format!("/v1/conversations/{conversation}/messages/{}/media", m["id"].as_str().unwrap());
    let p = assert_problem(app.get(&path, &owner.token).await, StatusCode::BAD_GATEWAY).await;
    assert!(p["detail"].as_str().unwrap().contains("link-local"), "{p}");
    app.stop().await;
}
