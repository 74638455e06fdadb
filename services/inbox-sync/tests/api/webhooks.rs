//! Inbound webhooks as Meta and TikTok send them: the handshake, signatures over the raw bytes,
//! batches, redeliveries and concurrent duplicates, echoes and watermarks, and what a body that
//! does not parse leaves behind.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const TEXT: &str = "whatsapp/inbound_text.json";

async fn handshake(app: &TestApp, path: &str, mode: &str, token: &str) -> reqwest::Response {
    let url = app.url(&format!("{path}?hub.mode={mode}&hub.verify_token={token}&hub.challenge=1158201444"));
    app.http.get(url).send().await.unwrap()
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
    let app = spawn_app().await;
    for path in ["/webhooks/meta", "/webhooks/whatsapp", "/webhooks/messenger", "/webhooks/instagram"] {
        let ok = handshake(&app, path, "subscribe", VERIFY_TOKEN).await;
        assert_eq!(ok.status(), StatusCode::OK, "{path}");
        assert!(ok.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert_eq!(ok.text().await.unwrap(), "1158201444");
        let wrong = handshake(&app, path, "subscribe", "WRONG").await;
        assert_ne!(assert_problem(wrong, StatusCode::FORBIDDEN).await["detail"], "1158201444");
        assert_problem(handshake(&app, path, "unsubscribe", VERIFY_TOKEN).await, StatusCode::FORBIDDEN).await;
    }
    app.stop().await;
}

async fn conversations(app: &TestApp, owner: &User) -> Vec<Value> {
    app.get_json("/v1/conversations", &owner.token).await["data"].as_array().unwrap().clone()
}

async fn messages_of(app: &TestApp, owner: &User, conversation: &str) -> Vec<Value> {
    let page = app.get_json(&format!("/v1/conversations/{conversation}/messages"), &owner.token).await;
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_signed_message_is_stored_with_its_conversation_and_published_once() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let connection = app.connect_whatsapp(&owner).await;
    let body = fixture(TEXT);
    let signature = manifest_header(TEXT, "X-Hub-Signature-256");
    let r = app.meta("/webhooks/whatsapp", &body, Some(&signature)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);

    let list = conversations(&app, &owner).await;
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(c["platform"], "whatsapp");
    assert_eq!(c["external_id"], "16505551234");
    assert_eq!(c["contact_name"], "João Custódio");
    assert_eq!(c["unread_count"], 1);
    assert_eq!(c["last_message_preview"], "Olá! Meu pedido #123 não chegou 😞");
    assert_eq!(c["connection_id"], connection["id"]);
    let id = c["id"].as_str().unwrap();
    let m = &messages_of(&app, &owner, id).await[0];
    assert_eq!(m["direction"], "inbound");
    assert_eq!(m["content"], "Olá! Meu pedido #123 não chegou 😞");
    assert_eq!(m["external_id"], "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFBQkJCQ0NDRERERUVFRkZGAA==");
    assert_eq!(m["platform_timestamp"], "2025-06-08T20:59:43Z");

    // What ticketing needs, without asking back.
    let received = app.messages("EVENTS", "events.inbox.message.received", 1).await;
    let data = &received[0]["data"];
    assert_eq!(data["organization_id"], owner.org.as_str());
    assert_eq!(data["conversation_id"], id);
    assert_eq!(data["message_id"], m["id"]);
    assert_eq!(data["platform"], "whatsapp");
    assert_eq!(data["contact"], json!({"external_id": "16505551234", "name": "João Custódio", "username": null}));
    assert_eq!(data["text"], "Olá! Meu pedido #123 não chegou 😞");
    assert_eq!(app.messages("EVENTS", "events.inbox.conversation.created", 1).await.len(), 1);

    // Redelivered, and ten copies at once: nothing new, nothing published again.
    let again = app.meta("/webhooks/whatsapp", &body, Some(&signature)).await;
    assert_eq!(again.json::<Value>().await.unwrap()["duplicates"], 1);
    let copies = join_all((0..10).map(|_| app.meta("/webhooks/meta", &body, Some(&signature)))).await;
    assert!(copies.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM conversations").await, 1);
    // The body kept once (the copies are the same bytes); the outbox held one message event and
    // one conversation event.
    assert_eq!(app.count("SELECT count(*) FROM inbound_payloads").await, 1);
    let answers: Vec<Value> =
        join_all(copies.into_iter().map(|r| r.json::<Value>())).await.into_iter().map(Result::unwrap).collect();
    assert!(answers.iter().all(|a| a["duplicates"] == 1 && a["stored"] == 0), "{answers:?}");
    let marker = fixture("whatsapp/inbound_image.json");
    let r = app
        .meta(
            "/webhooks/whatsapp",
            &marker,
            Some(&manifest_header("whatsapp/inbound_image.json", "X-Hub-Signature-256")),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);
    let all = app.messages("EVENTS", "events.inbox.message.received", 2).await;
    assert_eq!(all.len(), 2, "the repeats published nothing");
    assert_eq!(all[1]["data"]["content_type"], "image");
    assert_eq!(all[1]["data"]["media"]["id"], "1234567890123456");
    assert_eq!(conversations(&app, &owner).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_missing_or_reserialized_signature_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let body = fixture(TEXT);
    let good = manifest_header(TEXT, "X-Hub-Signature-256");
    let reserialized = serde_json::to_vec(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let other_secret = inbox_sync::platforms::signature::meta_sign(b"another app's secret", &body);
    for (what, bytes, signature) in [
        ("no signature", body.clone(), None),
        ("another secret", body.clone(), Some(other_secret.as_str())),
        ("not sha256=", body.clone(), Some(good.trim_start_matches("sha256="))),
        ("re-serialized JSON", reserialized.clone(), Some(good.as_str())),
    ] {
        let r = app.meta("/webhooks/whatsapp", &bytes, signature).await;
        let problem = assert_problem(r, StatusCode::UNAUTHORIZED).await;
        assert_eq!(problem["type"].as_str().unwrap().rsplit('/').next(), Some("invalid-signature"), "{what}");
    }
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM inbound_payloads").await, 0);
    // Then the real thing: its event is the only one there is.
    assert_eq!(app.meta("/webhooks/whatsapp", &body, Some(&good)).await.status(), StatusCode::OK);
    let received = app.messages("EVENTS", "events.inbox.message.received", 1).await;
    assert_eq!(received.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_signed_body_that_does_not_parse_is_kept_and_answered_400() {
    let app = spawn_app().await;
    for body in
        [&b"{\"object\": \"whatsapp_business_account\", \"entry\": 7}"[..], b"not json", b"{\"object\":\"user\"}"]
    {
        let r = app.meta("/webhooks/meta", body, Some(&sign(body))).await;
        assert_problem(r, StatusCode::BAD_REQUEST).await;
    }
    let kept: Vec<(Vec<u8>, Option<String>)> =
        sqlx::query_as("SELECT body, error FROM inbound_payloads ORDER BY received_at")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[1].0, b"not json");
    assert!(kept.iter().all(|(_, e)| e.is_some()));
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 0);
    // A Messenger body on the WhatsApp endpoint is not WhatsApp's.
    let messenger = fixture("messenger/inbound_text.json");
    let r = app.meta("/webhooks/whatsapp", &messenger, Some(&sign(&messenger))).await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    app.stop().await;
}

/// PostgreSQL's text and jsonb cannot hold U+0000, and a platform's signed body must be taken
/// (refused, Meta would retry it forever): a NUL in a message, a JSON escape as Meta sends it, is
/// stored, read and announced as U+FFFD REPLACEMENT CHARACTER; the raw body is kept byte for byte.
#[tokio::test]
async fn a_nul_in_a_signed_message_is_stored_as_a_replacement_character() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let customer = "5511999990000";
    let body =
        serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Ana\u{0}"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": "wamid.NUL", "timestamp": "1749416383", "type": "text",
                "text": {"body": "hi\u{0}there"}}]}}]}]}))
        .unwrap();
    assert!(body.windows(6).any(|w| w == br"\u0000"), "the JSON escape, as Meta sends it");
    let r = app.meta("/webhooks/whatsapp", &body, Some(&sign(&body))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 1);
    let kept: Vec<u8> = sqlx::query_scalar("SELECT body FROM inbound_payloads").fetch_one(&app.pool).await.unwrap();
    assert_eq!(kept, body, "the raw body, byte for byte");

    let list = conversations(&app, &owner).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["contact_name"], "Ana\u{FFFD}");
    assert_eq!(list[0]["last_message_preview"], "hi\u{FFFD}there");
    let stored = messages_of(&app, &owner, list[0]["id"].as_str().unwrap()).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["external_id"], "wamid.NUL");
    assert_eq!(stored[0]["content"], "hi\u{FFFD}there");

    // Announced once, as stored, and nothing left in the outbox.
    let received = app.messages("EVENTS", "events.inbox.message.received", 1).await;
    assert_eq!(received.len(), 1);
    let data = &received[0]["data"];
    assert_eq!(data["message_id"], stored[0]["id"]);
    assert_eq!(data["text"], "hi\u{FFFD}there");
    assert_eq!(data["contact"]["name"], "Ana\u{FFFD}");
    until_some("the outbox to be relayed", || async {
        (app.count("SELECT count(*) FROM outbox").await == 0).then_some(())
    })
    .await;

    // Meta's retry of the same bytes is the duplicate it is.
    let again = app.meta("/webhooks/whatsapp", &body, Some(&sign(&body))).await;
    assert_eq!(again.json::<Value>().await.unwrap()["duplicates"], 1);
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM inbound_payloads").await, 1);
    app.stop().await;
}

fn wa_message(phone: &str, from: &str, id: &str, text: &str) -> (String, Value) {
    (
        phone.to_owned(),
        json!({"from": from, "id": id, "timestamp": "1749416383", "type": "text", "text": {"body": text}}),
    )
}

/// A WhatsApp body with one entry per phone number, all messages of each in one change.
fn wa_batch(messages: &[(String, Value)]) -> Vec<u8> {
    let mut by_phone: Vec<(String, Vec<Value>)> = Vec::new();
    for (phone, m) in messages {
        match by_phone.iter_mut().find(|(p, _)| p == phone) {
            Some((_, list)) => list.push(m.clone()),
            None => by_phone.push((phone.clone(), vec![m.clone()])),
        }
    }
    let entries: Vec<Value> = by_phone
        .into_iter()
        .map(|(phone, list)| {
            let contacts: Vec<Value> = list
                .iter()
                .map(|m| json!({"wa_id": m["from"], "profile": {"name": format!("Contact {}", m["from"].as_str().unwrap())}}))
                .collect();
            json!({"id": WABA_ID, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": {"phone_number_id": phone},
                "contacts": contacts, "messages": list}}]})
        })
        .collect();
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": entries})).unwrap()
}

#[tokio::test]
async fn every_entry_of_a_batch_is_stored_and_unknown_accounts_are_acknowledged() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let mut items: Vec<(String, Value)> = (0..40)
        .map(|i| wa_message(PHONE_ID, &format!("3361234{:04}", i % 8), &format!("wamid.B{i}"), &format!("message {i}")))
        .collect();
    // The platform may carry one message twice in a body.
    items.push(items[3].clone());
    items.push(wa_message("999999999999", "33600000000", "wamid.NOBODY", "for an account nobody connected"));
    let body = wa_batch(&items);
    let r = app.meta("/webhooks/whatsapp", &body, Some(&sign(&body))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt: Value = r.json().await.unwrap();
    assert_eq!(
        (receipt["stored"].as_u64(), receipt["duplicates"].as_u64(), receipt["unknown"].as_u64()),
        (Some(40), Some(1), Some(1))
    );
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 40);
    let list = conversations(&app, &owner).await;
    assert_eq!(list.len(), 8);
    assert!(list.iter().all(|c| c["unread_count"] == 5));
    // Each conversation shows its latest message, and every message and conversation is told.
    let first = list.iter().find(|c| c["external_id"] == "33612340000").unwrap();
    assert_eq!(first["last_message_preview"], "message 32");
    assert_eq!(first["contact_name"], "Contact 33612340000");
    let received = app.messages("EVENTS", "events.inbox.message.received", 40).await;
    let mut ids: Vec<&str> = received.iter().map(|e| e["data"]["external_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((received.len(), ids.len()), (40, 40));
    assert_eq!(app.messages("EVENTS", "events.inbox.conversation.created", 8).await.len(), 8);
    // Marking one read resets its count.
    let id = list[0]["id"].as_str().unwrap();
    let read: Value =
        app.post(&format!("/v1/conversations/{id}/read"), &json!({}), &owner.token).await.json().await.unwrap();
    assert_eq!(read["unread_count"], 0);
    let unread = app.get_json("/v1/conversations?unread=true", &owner.token).await;
    assert_eq!(unread["data"].as_array().unwrap().len(), 7);
    app.stop().await;
}

#[tokio::test]
async fn messenger_echoes_are_outbound_and_watermarks_cover_earlier_messages() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    // A Messenger page, connected as WhatsApp is: the row as an OAuth connect would write it.
    let page = "104200000000001";
    let token = {
        let id = uuid::Uuid::now_v7();
        let keys = platform::crypto::KeyRing::parse(&platform::crypto::DEVELOPMENT_KEYS.to_owned().into()).unwrap();
        let sealed = keys.encrypt("page-token", &inbox_sync::sealed_for(id, "access_token")).unwrap();
        sqlx::query(
            "INSERT INTO connections (id, organization_id, platform, account_id, access_token) VALUES ($1, $2, 'messenger', $3, $4)",
        )
        .bind(id)
        .bind(owner.org.parse::<uuid::Uuid>().unwrap())
        .bind(page)
        .bind(sealed)
        .execute(&app.pool)
        .await
        .unwrap();
        id
    };
    let _ = token;
    let event = |m: Value| json!({"object": "page", "entry": [{"id": page, "time": 1, "messaging": [m]}]});
    let customer = "6543210987654321";
    let post = |v: Value| {
        let body = serde_json::to_vec(&v).unwrap();
        let signature = sign(&body);
        let app = &app;
        async move {
            let r = app.meta("/webhooks/messenger", &body, Some(&signature)).await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let inbound = fixture("messenger/inbound_text.json");
    let r = app
        .meta(
            "/webhooks/messenger",
            &inbound,
            Some(&manifest_header("messenger/inbound_text.json", "X-Hub-Signature-256")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Two messages the page sent from Facebook's own inbox, echoed to us.
    for (mid, at) in [("m_echo1", 1_749_416_800_000_i64), ("m_echo2", 1_749_416_900_000)] {
        let echo = json!({"sender": {"id": page}, "recipient": {"id": customer}, "timestamp": at,
            "message": {"mid": mid, "is_echo": true, "text": format!("from the page {mid}")}});
        assert_eq!(post(event(echo)).await["stored"], 1);
    }
    let c = &conversations(&app, &owner).await[0];
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["unread_count"], 1, "echoes are not unread");
    let msgs = messages_of(&app, &owner, id).await;
    let outbound: Vec<&Value> = msgs.iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(outbound.len(), 2);
    assert!(outbound.iter().all(|m| m["status"] == "sent"));
    // Delivered up to the first; read up to both; a late delivery watermark changes nothing.
    let delivery = |w: i64| json!({"sender": {"id": customer}, "recipient": {"id": page}, "timestamp": w, "delivery": {"watermark": w}});
    let read = |w: i64| json!({"sender": {"id": customer}, "recipient": {"id": page}, "timestamp": w, "read": {"watermark": w}});
    assert_eq!(post(event(delivery(1_749_416_850_000))).await["statuses"], 1);
    assert_eq!(post(event(read(1_749_416_950_000))).await["statuses"], 2);
    assert_eq!(post(event(delivery(1_749_416_960_000))).await["statuses"], 0);
    let msgs = messages_of(&app, &owner, id).await;
    assert!(msgs.iter().filter(|m| m["direction"] == "outbound").all(|m| m["status"] == "read"), "{msgs:?}");
    let changed = app.messages("EVENTS", "events.inbox.message.status_changed", 3).await;
    assert_eq!(changed.iter().filter(|e| e["data"]["status"] == "read").count(), 2);
    app.stop().await;
}

#[tokio::test]
async fn tiktok_bodies_are_checked_with_their_timestamp() {
    let app = spawn_app().await;
    let fixture_body = fixture("tiktok/im_receive_msg.json");
    // The fixture was signed in 2025: outside the five-minute window now.
    let stale = manifest_header("tiktok/im_receive_msg.json", "TikTok-Signature");
    let post = |body: Vec<u8>, signature: String| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/webhooks/tiktok"))
                .header("tiktok-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(fixture_body.clone(), stale).await;
    let problem = assert_problem(r, StatusCode::UNAUTHORIZED).await;
    assert!(problem["detail"].as_str().unwrap().contains("window"));
    let now = chrono::Utc::now().timestamp();
    let fresh = inbox_sync::platforms::signature::tiktok_sign(TIKTOK_SECRET.as_bytes(), &fixture_body, now);
    let r = post(fixture_body.clone(), fresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    // No connection has this business account: acknowledged, so TikTok stops retrying.
    assert_eq!(r.json::<Value>().await.unwrap()["unknown"], 1);
    let wrong = inbox_sync::platforms::signature::tiktok_sign(b"wrong", &fixture_body, now);
    assert_problem(post(fixture_body, wrong).await, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn every_content_type_replies_and_reactions_are_stored_as_agents_read_them() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let customer = "5511999990000";
    let at = chrono::Utc::now().timestamp();
    let m = |id: &str, kind: &str, extra: Value| {
        let mut v = json!({"from": customer, "id": id, "timestamp": (at).to_string(), "type": kind});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let messages = vec![
        m("wamid.T", "text", json!({"text": {"body": "Hello"}})),
        m(
            "wamid.I",
            "image",
            json!({"image": {"id": "m-img", "mime_type": "image/jpeg", "sha256": "aa", "caption": "the box"}}),
        ),
        m("wamid.V", "video", json!({"video": {"id": "m-vid", "mime_type": "video/mp4"}})),
        m("wamid.A", "audio", json!({"audio": {"id": "m-aud", "mime_type": "audio/ogg; codecs=opus"}})),
        m(
            "wamid.F",
            "document",
            json!({"document": {"id": "m-doc", "mime_type": "application/pdf", "filename": "invoice.pdf"}}),
        ),
        m("wamid.S", "sticker", json!({"sticker": {"id": "m-stk", "mime_type": "image/webp"}})),
        m(
            "wamid.L",
            "location",
            json!({"location": {"latitude": 48.8566, "longitude": 2.3522, "name": "Acme Paris", "address": "1 Rue de Rivoli"}}),
        ),
        m(
            "wamid.R",
            "text",
            json!({"text": {"body": "It is this one"}, "context": {"from": PHONE_ID, "id": "wamid.T"}}),
        ),
        m("wamid.X", "reaction", json!({"reaction": {"message_id": "wamid.T", "emoji": "👍"}})),
    ];
    let body =
        serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": customer}], "messages": messages}}]}]}))
        .unwrap();
    let r = app.meta("/webhooks/whatsapp", &body, Some(&sign(&body))).await;
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 9);

    let list = app.get_json("/v1/conversations", &owner.token).await;
    let conversation = list["data"][0]["id"].as_str().unwrap();
    let page = app.get_json(&format!("/v1/conversations/{conversation}/messages"), &owner.token).await;
    let by = |id: &str| page["data"].as_array().unwrap().iter().find(|m| m["external_id"] == id).unwrap().clone();
    assert_eq!(
        (by("wamid.T")["content_type"].as_str(), by("wamid.T")["content"].as_str()),
        (Some("text"), Some("Hello"))
    );
    let image = by("wamid.I");
    assert_eq!((image["content_type"].as_str(), image["content"].as_str()), (Some("image"), Some("the box")));
    assert_eq!(image["media"]["id"], "m-img");
    assert_eq!(image["media"]["mime_type"], "image/jpeg");
    assert_eq!(by("wamid.V")["content_type"], "video");
    assert_eq!(by("wamid.A")["content_type"], "audio");
    let file = by("wamid.F");
    assert_eq!(
        (file["content_type"].as_str(), file["media"]["filename"].as_str()),
        (Some("file"), Some("invoice.pdf"))
    );
    assert_eq!(by("wamid.S")["content_type"], "sticker");
    let location = by("wamid.L");
    assert_eq!(location["content_type"], "location");
    assert_eq!(location["location"]["latitude"], 48.8566);
    assert_eq!(location["content"], "Acme Paris, 1 Rue de Rivoli");
    assert_eq!(by("wamid.R")["reply_to"], "wamid.T");
    let reaction = by("wamid.X");
    assert_eq!((reaction["content_type"].as_str(), reaction["content"].as_str()), (Some("reaction"), Some("👍")));
    assert_eq!(reaction["reaction_to"], "wamid.T");
    // Each was announced once, with its kind, for ticketing.
    let events = app.messages("EVENTS", "events.inbox.message.received", 9).await;
    let mut kinds: Vec<String> =
        events.iter().map(|e| e["data"]["content_type"].as_str().unwrap().to_owned()).collect();
    kinds.sort();
    assert_eq!(kinds, ["audio", "file", "image", "location", "reaction", "sticker", "text", "text", "video"]);
    app.stop().await;
}

/// What another replica (or this one after a restart) sees of a redelivery: no memory of it,
/// only the database, whose unique raw body stops the copy before it writes anything.
#[tokio::test]
async fn a_redelivery_to_another_replica_stops_at_the_stored_body() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let body = fixture("whatsapp/inbound_text.json");
    let store = || async {
        let (platform, parsed) = inbox_sync::platforms::meta::parse(&body).unwrap();
        let mut tx = app.pool.begin().await.unwrap();
        let receipt = inbox_sync::inbound::store(&mut tx, platform, None, parsed, &body).await.unwrap();
        tx.commit().await.unwrap();
        receipt
    };
    let (first, second) = (store().await, store().await);
    assert_eq!((first.stored, first.duplicates), (1, 0));
    assert_eq!((second.stored, second.duplicates), (0, 1));
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM inbound_payloads").await, 1);
    until_some("the outbox to be relayed", || async {
        (app.count("SELECT count(*) FROM outbox").await == 0).then_some(())
    })
    .await;
    assert_eq!(app.messages("EVENTS", "events.inbox.message.received", 1).await.len(), 1);
    app.stop().await;
}
