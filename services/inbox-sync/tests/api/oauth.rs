//! Connecting by OAuth as an admin and the platforms see it: the consent URL with a sealed,
//! single-use, expiring `state`; the callback exchanging the code for long-lived tokens and
//! connecting every page of the grant (subscribed to webhooks); tokens sealed at rest, absent
//! from answers and logs; refresh ahead of expiry (Instagram's, and TikTok's rotating refresh
//! token), a refusal expiring the connection; secrets of an older key moved to the newest.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

/// Asks for the consent URL of `platform`; the URL's query and the `state` in it.
async fn authorize(app: &TestApp, owner: &User, platform: &str) -> (Vec<(String, String)>, String) {
    let r = app.post(&format!("/v1/connections/oauth/{platform}/authorize"), &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    let url = reqwest::Url::parse(a["authorize_url"].as_str().unwrap()).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let state = query.iter().find(|(k, _)| k == "state").unwrap().1.clone();
    assert_eq!(a["redirect_uri"], "http://127.0.0.1:8080/v1/connections/oauth/callback");
    (query, state)
}

/// The platform sends the browser back (no credentials of ours: the state says who asked).
async fn callback(app: &TestApp, query: &[(&str, &str)]) -> reqwest::Response {
    app.http.get(app.url("/v1/connections/oauth/callback")).query(query).send().await.unwrap()
}

fn keys() -> platform::crypto::KeyRing {
    platform::crypto::KeyRing::parse(&platform::crypto::DEVELOPMENT_KEYS.to_owned().into()).unwrap()
}

/// The plaintext of a connection's sealed `field`, as only the service can read it.
async fn opened(app: &TestApp, id: Uuid, field: &str) -> String {
    let sealed: String = sqlx::query_scalar(&format!("SELECT {field} FROM connections WHERE id = $1"))
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    keys().decrypt(&sealed, &inbox_sync::sealed_for(id, field)).unwrap()
}

/// Everything the process logs, at the level a deployment logs.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures this test process's logs (nextest runs each test in its own process).
    fn capture() -> Self {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,hyper=info,h2=info,tower=info,async_nats=info"))
            .with_writer(move || writer.clone())
            .try_init()
            .ok();
        logs
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn messenger_pages_connect_through_oauth_and_their_tokens_never_show() {
    let logs = Logs::capture();
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (query, state) = authorize(&app, &owner, "messenger").await;
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("client_id").as_deref(), Some(META_APP_ID));
    assert_eq!(get("response_type").as_deref(), Some("code"));
    assert!(get("scope").unwrap().contains("pages_messaging"));

    let r = callback(&app, &[("code", GOOD_CODE), ("state", &state)]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    let connected = body["connected"].as_array().unwrap();
    assert_eq!(connected.len(), 2, "{body}");
    for (c, (page, name, _)) in connected.iter().zip(PAGES) {
        assert_eq!((c["platform"].as_str(), c["account_id"].as_str()), (Some("messenger"), Some(page)));
        assert_eq!(c["display_name"], name);
        assert_eq!(c["status"], "active");
        assert_eq!(c["created_by"], owner.id.as_str());
    }
    // The short-lived user token was exchanged for a long-lived one, which listed the pages.
    let calls = app.graph.oauth.lock().unwrap().calls.clone();
    assert!(calls[1].contains("fb_exchange_token") && calls[1].contains("EAAtestShortLivedUserToken"), "{calls:?}");
    assert!(calls[2].contains("Bearer EAAtestLongLivedUserToken"), "{calls:?}");
    assert_eq!(app.graph.oauth.lock().unwrap().subscribed, [PAGES[0].0, PAGES[1].0]);

    // A state is good once.
    let again = callback(&app, &[("code", GOOD_CODE), ("state", &state)]).await;
    assert_problem(again, StatusCode::BAD_REQUEST).await;

    // The page's messages arrive and replies go out with the page's own token.
    let page = PAGES[0].0;
    let customer = "6543210987654321";
    let now = chrono::Utc::now().timestamp_millis();
    let inbound = serde_json::to_vec(&json!({"object": "page", "entry": [{"id": page, "time": now, "messaging": [{
        "sender": {"id": customer}, "recipient": {"id": page}, "timestamp": now,
        "message": {"mid": "m_IN1", "text": "Do you ship to Lyon?"}}]}]}))
    .unwrap();
    let r = app.meta("/webhooks/messenger", &inbound, Some(&sign(&inbound))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list = app.get_json("/v1/conversations?platform=messenger", &owner.token).await;
    let conversation = list["data"][0]["id"].as_str().unwrap().to_owned();
    let r =
        app.post(&format!("/v1/conversations/{conversation}/messages"), &json!({"text": "We do!"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let send = until_some("the reply to be sent", || async { app.graph.sends().into_iter().next() }).await;
    assert_eq!(send.0, "/v21.0/me/messages");
    assert_eq!(send.1, "Bearer EAApageToken1");
    assert_eq!(send.2["recipient"]["id"], customer);

    // Tokens: sealed in the database, in no answer, in no log line.
    let id: Uuid = connected[0]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(opened(&app, id, "access_token").await, "EAApageToken1");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT access_token FROM connections").fetch_all(&app.pool).await.unwrap();
    assert!(stored.iter().all(|s| s.starts_with("v1:") && !s.contains("EAA")), "{stored:?}");
    let listed = app.get("/v1/connections", &owner.token).await.text().await.unwrap();
    let logged = logs.text();
    assert!(logged.contains("inbox"), "the capture works");
    for secret in
        ["EAApageToken1", "EAApageToken2", "EAAtestLongLivedUserToken", "EAAtestShortLivedUserToken", META_SECRET]
    {
        assert!(!text.contains(secret) && !listed.contains(secret), "{secret} in an answer");
        assert!(!logged.contains(secret), "{secret} in the logs");
    }
    let events = app.messages("EVENTS", "events.inbox.connection.connected", 2).await;
    assert!(events.iter().all(|e| !e.to_string().contains("EAA")));
    app.stop().await;
}

#[tokio::test]
async fn forged_expired_declined_or_refused_authorizations_connect_nothing() {
    let app = spawn_app_with(&[("OAUTH_STATE_TTL_SECS", "1")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (_, state) = authorize(&app, &owner, "instagram").await;

    // Not ours, tampered with, missing.
    for forged in ["hello", &state.replacen("v1:", "v1:x", 1), &format!("{}A", &state[..state.len() - 1])] {
        assert_problem(callback(&app, &[("code", GOOD_CODE), ("state", forged)]).await, StatusCode::BAD_REQUEST).await;
    }
    assert_problem(callback(&app, &[("code", GOOD_CODE)]).await, StatusCode::BAD_REQUEST).await;
    // A code the platform refuses.
    let p =
        assert_problem(callback(&app, &[("code", "stolen"), ("state", &state)]).await, StatusCode::BAD_REQUEST).await;
    assert!(p["detail"].as_str().unwrap().contains("Invalid authorization code"), "{p}");
    // The admin declined.
    let (_, declined) = authorize(&app, &owner, "instagram").await;
    let p =
        callback(&app, &[("error", "access_denied"), ("error_description", "The user denied"), ("state", &declined)])
            .await;
    let p = assert_problem(p, StatusCode::BAD_REQUEST).await;
    assert!(p["detail"].as_str().unwrap().contains("The user denied"), "{p}");
    // Expired: a state lives a second here.
    let r = app.post("/v1/connections/oauth/instagram/authorize", &json!({}), &owner.token).await;
    let a: Value = r.json().await.unwrap();
    let url = reqwest::Url::parse(a["authorize_url"].as_str().unwrap()).unwrap();
    let old = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let expires: chrono::DateTime<chrono::Utc> = a["expires_at"].as_str().unwrap().parse().unwrap();
    until_some("the state to expire", || async {
        (chrono::Utc::now().timestamp() > expires.timestamp()).then_some(())
    })
    .await;
    assert_problem(callback(&app, &[("code", GOOD_CODE), ("state", &old)]).await, StatusCode::BAD_REQUEST).await;

    assert_eq!(app.count("SELECT count(*) FROM connections").await, 0);
    // WhatsApp connects with what Meta's console gives, not by OAuth.
    let r = app.post("/v1/connections/oauth/whatsapp/authorize", &json!({}), &owner.token).await;
    assert!(r.status().is_client_error());
    app.stop().await;
}

#[tokio::test]
async fn instagram_is_refreshed_ahead_of_expiry_and_a_refusal_expires_it() {
    let app = spawn_app_with(&[("MAINTENANCE_INTERVAL_SECS", "0.2")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (query, state) = authorize(&app, &owner, "instagram").await;
    assert!(query.iter().any(|(k, v)| k == "scope" && v.contains("instagram_business_manage_messages")));
    let r = callback(&app, &[("code", GOOD_CODE), ("state", &state)]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    let c = &c["connected"][0];
    assert_eq!((c["platform"].as_str(), c["account_id"].as_str()), (Some("instagram"), Some(IG_ACCOUNT)));
    assert_eq!(c["username"], "acme.shop");
    let id: Uuid = c["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(opened(&app, id, "access_token").await, "IGtestLongLivedToken");
    // Three days left, but Instagram refreshes no token younger than a day: not yet.
    let calls = app.graph.oauth.lock().unwrap().calls.len();

    // A day later.
    sqlx::query("UPDATE connections SET token_issued_at = now() - interval '2 days'").execute(&app.pool).await.unwrap();
    until_some("the token to be refreshed", || async {
        (app.graph.oauth.lock().unwrap().instagram_refreshes == 1).then_some(())
    })
    .await;
    until_some("the refreshed token to be saved", || async {
        let expires: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT token_expires_at FROM connections").fetch_one(&app.pool).await.unwrap();
        (expires > chrono::Utc::now() + chrono::TimeDelta::days(50)).then_some(())
    })
    .await;
    assert_eq!(opened(&app, id, "access_token").await, "IGtestRefreshedLongLivedToken");
    assert!(app.graph.oauth.lock().unwrap().calls[calls..].iter().all(|c| c.contains("ig_refresh_token")));

    // The grant is revoked: the next refresh is refused and the connection expires.
    app.graph.oauth.lock().unwrap().instagram_refuses = true;
    sqlx::query("UPDATE connections SET token_expires_at = now() + interval '1 day', token_issued_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let expired = app.messages("EVENTS", "events.inbox.connection.expired", 1).await;
    assert_eq!(expired[0]["data"]["connection_id"], id.to_string());
    let c = app.get_json(&format!("/v1/connections/{id}"), &owner.token).await;
    assert_eq!(c["status"], "expired");
    assert!(c["last_error"].as_str().unwrap().contains("has not authorized"), "{c}");
    app.stop().await;
}

#[tokio::test]
async fn tiktok_refresh_tokens_rotate_and_each_is_saved_with_its_access_token() {
    let app = spawn_app_with(&[("MAINTENANCE_INTERVAL_SECS", "0.2")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (query, state) = authorize(&app, &owner, "tiktok").await;
    assert!(query.iter().any(|(k, v)| k == "client_key" && v == TIKTOK_CLIENT_KEY));
    let r = callback(&app, &[("code", GOOD_CODE), ("state", &state)]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    let id: Uuid = c["connected"][0]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(c["connected"][0]["account_id"], TIKTOK_ACCOUNT);
    assert_eq!(opened(&app, id, "refresh_token").await, "rft.testBizRefreshToken");

    // An hour before expiry it is refreshed; each new token lives an hour, so it keeps rotating,
    // and every rotation is spent with the refresh token saved last.
    sqlx::query("UPDATE connections SET token_expires_at = now() + interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    until_some("three rotations", || async { (app.graph.oauth.lock().unwrap().tiktok_rotations >= 3).then_some(()) })
        .await;
    let calls = app.graph.oauth.lock().unwrap().calls.clone();
    let refreshes: Vec<&String> = calls.iter().filter(|c| c.contains("tiktok refresh")).collect();
    assert!(refreshes[0].contains("rft.testBizRefreshToken") && refreshes[1].contains("rft.rotated1"), "{refreshes:?}");
    assert!(refreshes[2].contains("rft.rotated2"), "{refreshes:?}");

    // The platform revokes the grant: refused, expired, and said so.
    app.graph.oauth.lock().unwrap().tiktok_refresh = "revoked".into();
    let expired = app.messages("EVENTS", "events.inbox.connection.expired", 1).await;
    assert_eq!(expired[0]["data"]["connection_id"], id.to_string());
    let c = app.get_json(&format!("/v1/connections/{id}"), &owner.token).await;
    assert_eq!(c["status"], "expired");
    // What was saved last is what the platform handed out last.
    let current = app.graph.oauth.lock().unwrap().calls.iter().filter(|c| c.contains("tiktok refresh")).count();
    assert_eq!(opened(&app, id, "refresh_token").await, format!("rft.rotated{}", current - 1));
    app.stop().await;
}

#[tokio::test]
async fn secrets_sealed_with_an_older_key_move_to_the_newest_and_still_work() {
    let newest = "k2:bmV3ZXN0LWtleS1mb3Itcm90YXRpb24tdGVzdHMxMjM=";
    let dev = platform::crypto::DEVELOPMENT_KEYS;
    let ring = format!("{newest},{dev}");
    let app = spawn_app_with(&[("SECRETS_KEYS", &ring), ("MAINTENANCE_INTERVAL_SECS", "0.2")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    // A connection written before the rotation: sealed with the old (development) key.
    let id = Uuid::now_v7();
    let old = keys();
    sqlx::query(
        "INSERT INTO connections (id, organization_id, platform, account_id, business_account_id, access_token, app_secret) \
         VALUES ($1, $2, 'whatsapp', $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(owner.org.parse::<Uuid>().unwrap())
    .bind(PHONE_ID)
    .bind(WABA_ID)
    .bind(old.encrypt(GOOD_TOKEN, &inbox_sync::sealed_for(id, "access_token")).unwrap())
    .bind(old.encrypt("own-app-secret", &inbox_sync::sealed_for(id, "app_secret")).unwrap())
    .execute(&app.pool)
    .await
    .unwrap();

    until_some("the secrets to be sealed with the newest key", || async {
        let (a, s): (String, String) = sqlx::query_as("SELECT access_token, app_secret FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        (a.starts_with("v1:k2:") && s.starts_with("v1:k2:")).then_some(())
    })
    .await;
    // The old key alone cannot read them any more; the service still can.
    let sealed: String = sqlx::query_scalar("SELECT access_token FROM connections").fetch_one(&app.pool).await.unwrap();
    assert!(old.decrypt(&sealed, &inbox_sync::sealed_for(id, "access_token")).is_err());
    let body = fixture("whatsapp/inbound_text.json");
    let r = app.meta("/webhooks/whatsapp", &body, Some(&sign(&body))).await;
    assert_eq!(r.status(), StatusCode::OK);
    sqlx::query("UPDATE conversations SET last_inbound_at = now()").execute(&app.pool).await.unwrap();
    let list = app.get_json("/v1/conversations", &owner.token).await;
    let conversation = list["data"][0]["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &json!({"text": "Hi"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let send = until_some("the reply to be sent", || async { app.graph.sends().into_iter().next() }).await;
    assert_eq!(send.1, format!("Bearer {GOOD_TOKEN}"));
    // Its own app's webhooks still verify with the resealed app secret.
    let signed = |b: &[u8]| {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"own-app-secret").unwrap();
        mac.update(b);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let r = app.meta(&format!("/webhooks/meta/{id}"), &body, Some(&signed(&body))).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_reply_on_tiktok_goes_to_its_conversation_within_48_hours() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (_, state) = authorize(&app, &owner, "tiktok").await;
    assert_eq!(callback(&app, &[("code", GOOD_CODE), ("state", &state)]).await.status(), StatusCode::CREATED);
    let body = fixture("tiktok/im_receive_msg.json");
    let signature =
        inbox_sync::platforms::signature::tiktok_sign(TIKTOK_SECRET.as_bytes(), &body, chrono::Utc::now().timestamp());
    let r = app
        .http
        .post(app.url("/webhooks/tiktok"))
        .header("tiktok-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);
    let list = app.get_json("/v1/conversations?platform=tiktok", &owner.token).await;
    let c = &list["data"][0];
    assert_eq!(c["thread_id"], "0:1:111:222", "{c}");
    let conversation = c["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/conversations/{conversation}/messages");

    // The fixture's message is from 2025: the window is closed, and TikTok has no templates.
    let p = assert_problem(app.post(&path, &json!({"text": "Hello"}), &owner.token).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("48-hour"), "{p}");

    sqlx::query("UPDATE conversations SET last_inbound_at = now() - interval '47 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.post(&path, &json!({"text": "Hello from Acme"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let (send_path, token, sent) =
        until_some("the reply to reach TikTok", || async { app.graph.sends().into_iter().next() }).await;
    assert_eq!(send_path, "/open_api/v1.3/business/message/send/");
    assert_eq!(token, "act.testBizAccessToken");
    assert_eq!(sent["business_id"], TIKTOK_ACCOUNT);
    assert_eq!(
        (sent["recipient_type"].as_str(), sent["recipient"].as_str()),
        (Some("CONVERSATION"), Some("0:1:111:222"))
    );
    assert_eq!(sent["text"]["body"], "Hello from Acme");
    let m = until_some("the reply to be sent", || async {
        let page = app.get_json(&path, &owner.token).await;
        page["data"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str() && m["status"] == "sent").cloned()
    })
    .await;
    assert_eq!(m["external_id"], "tt_OUT1");
    app.stop().await;
}

/// Signs and delivers a Messenger or Instagram webhook; how many messages it stored.
async fn deliver_meta(app: &TestApp, path: &str, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).unwrap();
    let r = app.meta(path, &bytes, Some(&sign(&bytes))).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()
}

/// The organization's only conversation on `platform`.
async fn only_conversation(app: &TestApp, owner: &User, platform: &str) -> String {
    let list = app.get_json(&format!("/v1/conversations?platform={platform}"), &owner.token).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    list["data"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn instagram_replies_and_attachments_go_through_instagrams_api_to_the_contact() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (_, state) = authorize(&app, &owner, "instagram").await;
    assert_eq!(callback(&app, &[("code", GOOD_CODE), ("state", &state)]).await.status(), StatusCode::CREATED);
    let now = chrono::Utc::now().timestamp_millis();
    let inbound = json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": now, "messaging": [
        {"sender": {"id": "IGSID-customer-1"}, "recipient": {"id": IG_ACCOUNT}, "timestamp": now,
         "message": {"mid": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", "text": "Do you ship to Lisbon?"}}]}]});
    assert_eq!(deliver_meta(&app, "/webhooks/instagram", &inbound).await["stored"], 1);
    let conversation = only_conversation(&app, &owner, "instagram").await;
    let path = format!("/v1/conversations/{conversation}/messages");

    let r = app.post(&path, &json!({"text": "We do!"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let photo = json!({"media": {"kind": "image", "url": "https://cdn.example.com/lisbon.jpg"}});
    assert_eq!(app.post(&path, &photo, &owner.token).await.status(), StatusCode::ACCEPTED);
    // Instagram sends an attachment without a caption: asked for one, nothing is queued.
    let captioned = json!({"media": {"kind": "image", "url": "https://cdn.example.com/a.jpg", "caption": "Look"}});
    let p = assert_problem(app.post(&path, &captioned, &owner.token).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("caption"), "{p}");

    let sends = until_some("both replies to reach Instagram", || async {
        let s = app.graph.sends();
        (s.len() >= 2).then_some(s)
    })
    .await;
    let (send_path, auth, text) = &sends[0];
    assert_eq!(send_path, "/v21.0/me/messages");
    assert_eq!(auth, "Bearer IGtestLongLivedToken");
    assert_eq!(text["recipient"]["id"], "IGSID-customer-1");
    assert_eq!(text["message"], json!({"text": "We do!"}));
    assert_eq!(
        sends[1].2["message"],
        json!({"attachment": {"type": "image", "payload": {"url": "https://cdn.example.com/lisbon.jpg", "is_reusable": true}}})
    );
    let sent = until_some("both replies to be sent", || async {
        let page = app.get_json(&path, &owner.token).await;
        let out: Vec<Value> =
            page["data"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").cloned().collect();
        (out.len() == 2 && out.iter().all(|m| m["status"] == "sent")).then_some(out)
    })
    .await;
    assert!(sent.iter().all(|m| m["external_id"].as_str().is_some_and(|id| id.starts_with("m_OUT"))), "{sent:?}");
    assert_eq!(app.graph.sends().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_tiktok_image_is_fetched_from_its_link_and_a_tiktok_file_reply_is_refused() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (_, state) = authorize(&app, &owner, "tiktok").await;
    assert_eq!(callback(&app, &[("code", GOOD_CODE), ("state", &state)]).await.status(), StatusCode::CREATED);
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n"[..], &[3u8; 512][..]].concat();
    app.graph.media.lock().unwrap().insert("tt-img-1".into(), ("image/png".into(), "image/png".into(), png.clone()));
    let base = app.graph.base.lock().unwrap().clone();
    let now = chrono::Utc::now();
    let content = json!({"conversation_id": "0:1:111:333", "message_id": "7500000000000000009",
        "timestamp": now.timestamp_millis(), "type": "image", "image": {"url": format!("{base}/cdn/tt-img-1")},
        "from": "customer_handle", "from_user": {"id": "-000CUSTOMEROPENID"},
        "to": "brand_handle", "to_user": {"id": TIKTOK_ACCOUNT}});
    let body = serde_json::to_vec(&json!({"client_key": "aw1234567890abcd", "event": "im_receive_msg",
        "create_time": now.timestamp(), "user_openid": TIKTOK_ACCOUNT, "content": content.to_string()}))
    .unwrap();
    let signature = inbox_sync::platforms::signature::tiktok_sign(TIKTOK_SECRET.as_bytes(), &body, now.timestamp());
    let r = app.http.post(app.url("/webhooks/tiktok")).header("tiktok-signature", signature).body(body).send().await;
    assert_eq!(r.unwrap().json::<Value>().await.unwrap()["stored"], 1);
    let conversation = only_conversation(&app, &owner, "tiktok").await;
    let page = app.get_json(&format!("/v1/conversations/{conversation}/messages"), &owner.token).await;
    let m = &page["data"][0];
    assert_eq!(m["content_type"], "image", "{m}");
    let media = format!("/v1/conversations/{conversation}/messages/{}/media", m["id"].as_str().unwrap());
    for _ in 0..2 {
        let r = app.get(&media, &owner.token).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    }
    // Downloaded once, without the token (TikTok's links carry their own authorization).
    assert_eq!(*app.graph.media_calls.lock().unwrap(), ["public tt-img-1"]);

    let file = json!({"media": {"kind": "image", "url": "https://cdn.example.com/a.jpg"}});
    let path = format!("/v1/conversations/{conversation}/messages");
    let p = assert_problem(app.post(&path, &file, &owner.token).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("TikTok"), "{p}");
    assert!(app.graph.sends().is_empty());
    app.stop().await;
}
