//! Replies going out as an agent and ticketing see them: queued `pending`, sent through the
//! Graph API stand-in, their status only moving forward (a report that came before its message
//! applies when it is sent), retried on 5xx and never on a refusal, WhatsApp's 24-hour window,
//! `inbox.send` exactly once per `source_id`, and a refused token expiring the connection.

use async_nats::jetstream::consumer::pull;
use platform::bus::CloudEvent;
use proto::events::InboxSend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

const TEXT: &str = "whatsapp/inbound_text.json";
/// The fixture customer's `wa_id`: the conversation's contact, whom replies go to.
const CONTACT: &str = "16505551234";

/// An organization with the fixtures' WhatsApp number connected, and the conversation the
/// fixture's inbound message creates: the owner, the connection and the conversation's id.
async fn setup(app: &TestApp) -> (User, Value, String) {
    let owner = app.owner("ada@example.com", "Acme").await;
    let connection = app.connect_whatsapp(&owner).await;
    let body = fixture(TEXT);
    let signature = manifest_header(TEXT, "X-Hub-Signature-256");
    let r = app.meta("/webhooks/whatsapp", &body, Some(signature.as_str())).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);
    let conversation = conversation_id(app, &owner).await;
    (owner, connection, conversation)
}

/// The id of the organization's only conversation.
async fn conversation_id(app: &TestApp, owner: &User) -> String {
    let page = app.get_json("/v1/conversations", &owner.token).await;
    let list = page["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{page}");
    list[0]["id"].as_str().unwrap().to_owned()
}

/// The fixture's message carries its platform timestamp, from 2025, and the conversation's
/// `last_inbound_at` (where WhatsApp's 24-hour window starts) is that time: the window is long
/// closed. Tests that reply with free text move the customer's last message to now.
async fn open_window(app: &TestApp) {
    sqlx::query("UPDATE conversations SET last_inbound_at = now()").execute(&app.pool).await.unwrap();
}

/// The conversation's outbound messages, newest first.
async fn outbound_messages(app: &TestApp, owner: &User, conversation: &str) -> Vec<Value> {
    let page = app.get_json(&format!("/v1/conversations/{conversation}/messages"), &owner.token).await;
    page["data"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").cloned().collect()
}

/// Queues a reply; the 202's message (still `pending`).
async fn reply(app: &TestApp, owner: &User, conversation: &str, body: Value) -> Value {
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &body, &owner.token).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["status"], "pending");
    assert_eq!(m["direction"], "outbound");
    assert_eq!(m["conversation_id"], conversation);
    m
}

/// Waits until message `id` has left `pending` (sent, or failed for good); the message then.
async fn settled(app: &TestApp, owner: &User, conversation: &str, id: &str) -> Value {
    until_some(&format!("message {id} to leave pending"), || async {
        outbound_messages(app, owner, conversation)
            .await
            .into_iter()
            .find(|m| m["id"] == id && m["status"] != "pending")
    })
    .await
}

/// A WhatsApp status report of `id`, shaped like the fixture's (`statuses[0]` of a change of
/// the fixtures' number), with the platform's `errors` if given.
fn status_body(id: &str, status: &str, errors: Option<Value>) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&fixture("whatsapp/status_delivered.json")).unwrap();
    let value = &mut body["entry"][0]["changes"][0]["value"];
    assert_eq!(value["metadata"]["phone_number_id"], PHONE_ID);
    let s = &mut value["statuses"][0];
    s["id"] = json!(id);
    s["status"] = json!(status);
    s["recipient_id"] = json!(CONTACT);
    s["timestamp"] = json!(chrono::Utc::now().timestamp().to_string());
    if let Some(errors) = errors {
        s["errors"] = errors;
    }
    serde_json::to_vec(&body).unwrap()
}

/// Posts a WhatsApp body signed with the app secret, as Meta would; the receipt.
async fn post_signed(app: &TestApp, body: &[u8]) -> Value {
    let signature = sign(body);
    let r = app.meta("/webhooks/whatsapp", body, Some(signature.as_str())).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The `inbox.message.status_changed` events of message `id`, in order, once one of them is
/// `marker`: every event written before the marker was relayed before it.
async fn status_events(app: &TestApp, id: &str, marker: &str) -> Vec<Value> {
    until_some(&format!("a status_changed event {marker} of message {id}"), || async {
        let events: Vec<Value> = app
            .messages("EVENTS", "events.inbox.message.status_changed", 1)
            .await
            .into_iter()
            .filter(|e| e["data"]["message_id"] == id)
            .collect();
        if events.iter().any(|e| e["data"]["status"] == marker) {
            Some(events)
        } else {
            None
        }
    })
    .await
}

fn statuses(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["data"]["status"].as_str().unwrap()).collect()
}

/// The `inbox.message.sent` events of message `id`, once there is one.
async fn sent_events(app: &TestApp, id: &str) -> Vec<Value> {
    until_some(&format!("an inbox.message.sent event of message {id}"), || async {
        let events: Vec<Value> = app
            .messages("EVENTS", "events.inbox.message.sent", 1)
            .await
            .into_iter()
            .filter(|e| e["data"]["message_id"] == id)
            .collect();
        if events.is_empty() {
            None
        } else {
            Some(events)
        }
    })
    .await
}

#[tokio::test]
async fn a_reply_goes_out_and_its_status_only_moves_forward() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;

    let queued = reply(&app, &owner, &conversation, json!({"text": "On its way!"})).await;
    let id = queued["id"].as_str().unwrap();
    assert_eq!(queued["content"], "On its way!");
    assert_eq!(queued["external_id"], Value::Null);
    assert_eq!(queued["sent_by_user_id"], owner.id.as_str());
    let sent = settled(&app, &owner, &conversation, id).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["external_id"], "wamid.OUT1");

    // One send, to the number's endpoint, with the connection's token, to the contact.
    let sends = app.graph.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    let (path, authorization, body) = &sends[0];
    assert_eq!(path, &format!("/v21.0/{PHONE_ID}/messages"));
    assert_eq!(authorization, &format!("Bearer {GOOD_TOKEN}"));
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["to"], CONTACT);
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "On its way!");
    let sent_event = sent_events(&app, id).await;
    assert_eq!(sent_event.len(), 1);
    assert_eq!(sent_event[0]["data"]["conversation_id"], conversation.as_str());
    assert_eq!(sent_event[0]["data"]["platform"], "whatsapp");

    // Reports out of order: `read` first; the late `delivered` and `sent` move nothing.
    assert_eq!(post_signed(&app, &status_body("wamid.OUT1", "read", None)).await["statuses"], 1);
    assert_eq!(post_signed(&app, &status_body("wamid.OUT1", "delivered", None)).await["statuses"], 0);
    assert_eq!(post_signed(&app, &status_body("wamid.OUT1", "sent", None)).await["statuses"], 0);
    let now = outbound_messages(&app, &owner, &conversation).await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["status"], "read");

    // `failed` is final and the highest: it still applies, with the platform's errors.
    let errors = json!([{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
        "error_data": {"details": "Message failed to send because of an unknown error."}}]);
    assert_eq!(post_signed(&app, &status_body("wamid.OUT1", "failed", Some(errors.clone()))).await["statuses"], 1);
    let now = outbound_messages(&app, &owner, &conversation).await;
    assert_eq!(now[0]["status"], "failed");
    assert_eq!(now[0]["errors"], errors);

    // The failed event is the marker: everything before it has been published, and the late
    // reports published nothing (one `read`, no `delivered`, no second `sent`).
    let events = status_events(&app, id, "failed").await;
    assert_eq!(statuses(&events), ["sent", "read", "failed"]);
    assert!(events[2]["data"]["error"].as_str().unwrap().contains("131026"), "{}", events[2]);
    assert_eq!(events[0]["data"]["error"], Value::Null);
    assert_eq!(app.graph.sends().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_status_that_arrives_before_its_message_applies_when_it_is_sent() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    app.graph.ids.lock().unwrap().push_back("wamid.EARLY".to_owned());

    // Meta reports `delivered` before our send has its answer: nothing to move yet.
    let receipt = post_signed(&app, &status_body("wamid.EARLY", "delivered", None)).await;
    assert_eq!(receipt["statuses"], 0);
    assert_eq!(receipt["unknown"], 0);

    let queued = reply(&app, &owner, &conversation, json!({"text": "On its way!"})).await;
    let id = queued["id"].as_str().unwrap();
    let m = settled(&app, &owner, &conversation, id).await;
    assert_eq!(m["external_id"], "wamid.EARLY");
    assert_eq!(m["status"], "delivered", "{m}");
    assert_eq!(app.count("SELECT count(*) FROM early_statuses").await, 0, "the kept report was used up");

    // Ticketing hears it sent, and delivered: the status it has, not a `sent` behind it.
    assert_eq!(sent_events(&app, id).await.len(), 1);
    let events = status_events(&app, id, "delivered").await;
    assert_eq!(statuses(&events), ["delivered"]);
    assert_eq!(app.graph.sends().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_send_answered_5xx_is_retried_until_it_goes_out() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    app.graph.answer(500, json!({"error": {"message": "boom"}}));
    app.graph.answer(500, json!({"error": {"message": "boom"}}));

    let queued = reply(&app, &owner, &conversation, json!({"text": "On its way!"})).await;
    let id = queued["id"].as_str().unwrap();
    let m = settled(&app, &owner, &conversation, id).await;
    assert_eq!(m["status"], "sent", "{m}");
    assert_eq!(m["external_id"], "wamid.OUT3");
    assert_eq!(m["errors"], Value::Null);

    let sends = app.graph.sends();
    assert_eq!(sends.len(), 3, "{sends:?}");
    assert!(
        sends
            .iter()
            .all(|(path, _, body)| path == &format!("/v21.0/{PHONE_ID}/messages")
                && body["text"]["body"] == "On its way!")
    );
    let events = status_events(&app, id, "sent").await;
    assert_eq!(statuses(&events), ["sent"]);
    app.stop().await;
}

#[tokio::test]
async fn a_send_refused_4xx_fails_at_once_with_the_platforms_error() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    let error = json!({"message": "(#131030) Recipient phone number not in allowed list", "code": 131030});
    app.graph.answer(400, json!({"error": error}));

    let queued = reply(&app, &owner, &conversation, json!({"text": "On its way!"})).await;
    let id = queued["id"].as_str().unwrap();
    let m = settled(&app, &owner, &conversation, id).await;
    assert_eq!(m["status"], "failed", "{m}");
    assert_eq!(m["errors"], error);
    assert_eq!(m["external_id"], Value::Null);
    assert_eq!(app.graph.sends().len(), 1);

    let events = status_events(&app, id, "failed").await;
    assert_eq!(statuses(&events), ["failed"]);
    assert_eq!(events[0]["data"]["conversation_id"], conversation.as_str());
    assert!(events[0]["data"]["error"]
        .as_str()
        .unwrap()
        .contains("(#131030) Recipient phone number not in allowed list"));

    // A later reply goes out after it: the sender kept working, and never tried the failed one
    // again.
    let later = reply(&app, &owner, &conversation, json!({"text": "Are you there?"})).await;
    let later = settled(&app, &owner, &conversation, later["id"].as_str().unwrap()).await;
    assert_eq!(later["status"], "sent", "{later}");
    let sends = app.graph.sends();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert_eq!(sends[1].2["text"]["body"], "Are you there?");
    let failed = outbound_messages(&app, &owner, &conversation).await.into_iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(failed["status"], "failed");
    app.stop().await;
}

#[tokio::test]
async fn outside_whatsapps_24_hour_window_only_a_template_goes_out() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    // The customer last wrote more than 24 hours ago (the fixture's own time is older still;
    // set explicitly so the test does not depend on it).
    sqlx::query("UPDATE conversations SET last_inbound_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();

    let path = format!("/v1/conversations/{conversation}/messages");
    let r = app.post(&path, &json!({"text": "hi"}), &owner.token).await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("24-hour"), "{problem}");
    assert_eq!(problem["type"].as_str().unwrap().rsplit('/').next(), Some("messaging-window-closed"));
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'").await, 0);
    assert!(outbound_messages(&app, &owner, &conversation).await.is_empty());
    assert!(app.graph.sends().is_empty());

    let template = json!({"template": {"name": "order_update", "language": "en_US", "parameters": ["#123"]}});
    let queued = reply(&app, &owner, &conversation, template).await;
    assert_eq!(queued["content_type"], "template");
    assert_eq!(queued["template"], json!({"name": "order_update", "language": "en_US", "parameters": ["#123"]}));
    let m = settled(&app, &owner, &conversation, queued["id"].as_str().unwrap()).await;
    assert_eq!(m["status"], "sent", "{m}");

    let sends = app.graph.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    let (path, _, body) = &sends[0];
    assert_eq!(path, &format!("/v21.0/{PHONE_ID}/messages"));
    assert_eq!(body["to"], CONTACT);
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "order_update");
    assert_eq!(body["template"]["language"]["code"], "en_US");
    assert_eq!(body["template"]["components"][0]["parameters"][0]["text"], "#123");
    assert_eq!(body["text"], Value::Null);
    app.stop().await;
}

/// Publishes an `inbox.send` command as ticketing does, without a `Nats-Msg-Id` (so the
/// COMMANDS stream's duplicate window drops nothing); its stream sequence.
async fn command(app: &TestApp, event: &CloudEvent<InboxSend>) -> u64 {
    let js = async_nats::jetstream::new(app.nats.clone());
    let subject = format!("{}.{}", app.prefix, proto::events::INBOX_SEND);
    let ack = js.publish(subject, serde_json::to_vec(event).unwrap().into()).await.unwrap().await.unwrap();
    ack.sequence
}

/// Waits until inbox-sync's `inbox.send` consumer has handled and acknowledged everything up to
/// stream sequence `seq`: only then can a test say a command did not do something.
async fn drained(app: &TestApp, seq: u64) {
    let js = async_nats::jetstream::new(app.nats.clone());
    let stream = js.get_stream(format!("{}_COMMANDS", app.prefix)).await.unwrap();
    let durable = format!("{}_inbox-sync-send", app.prefix);
    until_some(&format!("inbox-sync-send to handle the commands up to {seq}"), || async {
        let Ok(mut consumer) = stream.get_consumer::<pull::Config>(&durable).await else { return None };
        let Ok(info) = consumer.info().await else { return None };
        if info.ack_floor.stream_sequence >= seq && info.num_ack_pending == 0 {
            Some(())
        } else {
            None
        }
    })
    .await
}

#[tokio::test]
async fn inbox_send_from_ticketing_goes_out_once_per_source_id() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    let org: Uuid = owner.org.parse().unwrap();
    let send = InboxSend {
        organization_id: org,
        conversation_id: conversation.parse().unwrap(),
        content: "Your order ships today.".into(),
        sent_by_user_id: None,
        source_id: "comment-1".into(),
    };
    // Two commands for one comment. Each envelope has its own id: a repeat of the same envelope
    // would be dropped by the consumer's record of handled event ids, before `source_id` is
    // ever looked at; a fresh envelope (ticketing sending the comment again) reaches it.
    let first = CloudEvent::new("switchboard/ticketing", proto::events::INBOX_SEND, Some(org), None, send.clone());
    let second = CloudEvent::new("switchboard/ticketing", proto::events::INBOX_SEND, Some(org), None, send);
    assert_ne!(first.id, second.id);
    command(&app, &first).await;
    let last = command(&app, &second).await;

    let m = until_some("the comment's message to be sent", || async {
        outbound_messages(&app, &owner, &conversation)
            .await
            .into_iter()
            .find(|m| m["source_id"] == "comment-1" && m["status"] != "pending")
    })
    .await;
    assert_eq!(m["status"], "sent", "{m}");
    assert_eq!(m["content"], "Your order ships today.");
    assert_eq!(m["external_id"], "wamid.OUT1");
    assert_eq!(m["sent_by_user_id"], Value::Null);
    // Both commands handled: one message, sent once.
    drained(&app, last).await;
    let all = outbound_messages(&app, &owner, &conversation).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE source_id = 'comment-1'").await, 1);
    let sends = app.graph.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].2["to"], CONTACT);
    assert_eq!(sends[0].2["text"]["body"], "Your order ships today.");

    // Ticketing learns it went out, by its comment id.
    let id = m["id"].as_str().unwrap();
    let sent = sent_events(&app, id).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["data"]["source_id"], "comment-1");
    assert_eq!(sent[0]["data"]["conversation_id"], conversation.as_str());
    assert_eq!(sent[0]["orgid"], owner.org.as_str());
    let events = status_events(&app, id, "sent").await;
    assert_eq!(statuses(&events), ["sent"]);
    assert_eq!(events[0]["data"]["source_id"], "comment-1");
    app.stop().await;
}

#[tokio::test]
async fn a_token_meta_refuses_expires_the_connection() {
    let app = spawn_app().await;
    let (owner, connection, conversation) = setup(&app).await;
    open_window(&app).await;
    let connection_id = connection["id"].as_str().unwrap();
    app.graph.answer(401, json!({"error": {"message": "Error validating access token", "code": 190}}));

    let queued = reply(&app, &owner, &conversation, json!({"text": "On its way!"})).await;
    let id = queued["id"].as_str().unwrap();
    let m = settled(&app, &owner, &conversation, id).await;
    assert_eq!(m["status"], "failed", "{m}");
    assert!(m["errors"].as_str().unwrap().contains("Error validating access token"), "{m}");
    assert_eq!(app.graph.sends().len(), 1, "a refused token is not tried again");

    // The organization sees why, and that it has to connect the number again.
    let c = app.get_json(&format!("/v1/connections/{connection_id}"), &owner.token).await;
    assert_eq!(c["status"], "expired", "{c}");
    assert!(c["last_error"].as_str().unwrap().contains("access token"), "{c}");
    let expired = app.messages("EVENTS", "events.inbox.connection.expired", 1).await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["data"]["connection_id"], connection_id);
    assert_eq!(expired[0]["data"]["status"], "expired");
    assert!(!expired[0].to_string().contains(GOOD_TOKEN));
    let events = status_events(&app, id, "failed").await;
    assert_eq!(statuses(&events), ["failed"]);

    // Nothing more goes out on it.
    let r = app
        .post(&format!("/v1/conversations/{conversation}/messages"), &json!({"text": "Still there?"}), &owner.token)
        .await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"), "{problem}");
    assert_eq!(outbound_messages(&app, &owner, &conversation).await.len(), 1);
    assert_eq!(app.graph.sends().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn replies_leave_in_the_order_they_were_written_also_when_the_first_is_retried() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    app.graph.answer(500, json!({"error": {"message": "boom"}}));
    app.graph.answer(503, json!({"error": {"message": "busy"}}));

    let texts = ["first", "second", "third"];
    let mut ids = Vec::new();
    for text in texts {
        ids.push(reply(&app, &owner, &conversation, json!({ "text": text })).await["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        assert_eq!(settled(&app, &owner, &conversation, id).await["status"], "sent");
    }
    let sent: Vec<String> =
        app.graph.sends().iter().map(|(_, _, body)| body["text"]["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sent, ["first", "first", "first", "second", "third"]);
    app.stop().await;
}

#[tokio::test]
async fn a_send_the_platform_took_without_an_id_is_sent_and_never_sent_again() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    app.graph.answer(200, json!({"messaging_product": "whatsapp"}));

    let queued = reply(&app, &owner, &conversation, json!({"text": "Taken"})).await;
    let id = queued["id"].as_str().unwrap();
    let m = settled(&app, &owner, &conversation, id).await;
    assert_eq!(m["status"], "sent", "{m}");
    assert_eq!(m["external_id"], Value::Null);
    // A later reply goes out; the first was not tried again before it.
    let next = reply(&app, &owner, &conversation, json!({"text": "Next"})).await;
    settled(&app, &owner, &conversation, next["id"].as_str().unwrap()).await;
    let sent: Vec<Value> = app.graph.sends().iter().map(|(_, _, body)| body["text"]["body"].clone()).collect();
    assert_eq!(sent, [json!("Taken"), json!("Next")]);
    app.stop().await;
}

#[tokio::test]
async fn a_reply_is_the_conversations_latest_activity() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    let before = app.get_json(&format!("/v1/conversations/{conversation}"), &owner.token).await;
    reply(&app, &owner, &conversation, json!({"text": "We are on it"})).await;
    let after = app.get_json(&format!("/v1/conversations/{conversation}"), &owner.token).await;
    assert_eq!(after["last_message_preview"], "We are on it", "{after}");
    assert!(after["last_message_at"].as_str() > before["last_message_at"].as_str(), "{before} {after}");
    // The customer's unread messages are still unread.
    assert_eq!(after["unread_count"], before["unread_count"]);
    app.stop().await;
}

#[tokio::test]
async fn a_source_id_of_another_conversations_message_is_a_conflict() {
    let app = spawn_app().await;
    let (owner, _, first) = setup(&app).await;
    // A second customer writes.
    let mut body: Value = serde_json::from_slice(&fixture(TEXT)).unwrap();
    let value = &mut body["entry"][0]["changes"][0]["value"];
    value["contacts"][0]["wa_id"] = json!("16505550000");
    value["messages"][0]["from"] = json!("16505550000");
    value["messages"][0]["id"] = json!("wamid.SECOND");
    assert_eq!(post_signed(&app, &serde_json::to_vec(&body).unwrap()).await["stored"], 1);
    open_window(&app).await;
    let page = app.get_json("/v1/conversations", &owner.token).await;
    let second = page["data"].as_array().unwrap().iter().find(|c| c["id"] != first.as_str()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let m = reply(&app, &owner, &first, json!({"text": "Hello", "source_id": "comment-1"})).await;
    // The same source on the same conversation answers the first message.
    let again = app
        .post(
            &format!("/v1/conversations/{first}/messages"),
            &json!({"text": "Hello", "source_id": "comment-1"}),
            &owner.token,
        )
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], m["id"]);
    // On another conversation it is not that message.
    let other = app
        .post(
            &format!("/v1/conversations/{second}/messages"),
            &json!({"text": "Hello", "source_id": "comment-1"}),
            &owner.token,
        )
        .await;
    let problem = assert_problem(other, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("source_id"), "{problem}");
    assert!(outbound_messages(&app, &owner, &second).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_file_goes_out_by_link_with_its_caption_and_its_name() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;

    let image =
        json!({"media": {"kind": "image", "url": "https://cdn.example.com/receipt.jpg", "caption": "Your receipt"}});
    let queued = reply(&app, &owner, &conversation, image).await;
    assert_eq!(queued["content_type"], "image");
    assert_eq!(queued["content"], "Your receipt");
    assert_eq!(queued["media"]["url"], "https://cdn.example.com/receipt.jpg");
    let id = queued["id"].as_str().unwrap();
    assert_eq!(settled(&app, &owner, &conversation, id).await["status"], "sent");
    let file = json!({"media": {"kind": "file", "url": "https://cdn.example.com/i/42", "filename": "invoice-42.pdf"}});
    let second = reply(&app, &owner, &conversation, file).await;
    assert_eq!(settled(&app, &owner, &conversation, second["id"].as_str().unwrap()).await["status"], "sent");

    let sends = app.graph.sends();
    assert_eq!(sends.len(), 2, "{sends:?}");
    let (path, _, body) = &sends[0];
    assert_eq!(path, &format!("/v21.0/{PHONE_ID}/messages"));
    assert_eq!((body["type"].as_str(), body["to"].as_str()), (Some("image"), Some(CONTACT)));
    assert_eq!(body["image"], json!({"link": "https://cdn.example.com/receipt.jpg", "caption": "Your receipt"}));
    // WhatsApp calls a file a document.
    let body = &sends[1].2;
    assert_eq!(body["type"], "document");
    assert_eq!(body["document"], json!({"link": "https://cdn.example.com/i/42", "filename": "invoice-42.pdf"}));
    // The conversation shows the latest reply's kind when it has no caption.
    let c = app.get_json(&format!("/v1/conversations/{conversation}"), &owner.token).await;
    assert_eq!(c["last_message_preview"], "[file]", "{c}");
    app.stop().await;
}

#[tokio::test]
async fn a_file_that_cannot_be_sent_is_a_422_naming_it_and_nothing_is_queued() {
    let app = spawn_app().await;
    let (owner, _, conversation) = setup(&app).await;
    open_window(&app).await;
    let path = format!("/v1/conversations/{conversation}/messages");
    let cases = [
        (json!({"media": {"kind": "image", "url": "http://cdn.example.com/a.jpg"}}), "media.url"),
        (json!({"media": {"kind": "image", "url": "not a url"}}), "media.url"),
        (json!({"media": {"kind": "pdf", "url": "https://cdn.example.com/a.pdf"}}), "media.kind"),
        (
            json!({"media": {"kind": "audio", "url": "https://cdn.example.com/a.ogg", "caption": "listen"}}),
            "media.caption",
        ),
        (
            json!({"media": {"kind": "image", "url": "https://cdn.example.com/a.jpg", "filename": "a.jpg"}}),
            "media.filename",
        ),
        (
            json!({"media": {"kind": "file", "url": "https://cdn.example.com/a", "filename": "../etc/passwd"}}),
            "media.filename",
        ),
        (json!({"text": "hi", "media": {"kind": "image", "url": "https://cdn.example.com/a.jpg"}}), "text"),
    ];
    for (body, field) in cases {
        let p = assert_problem(app.post(&path, &body, &owner.token).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(p["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{body}: {p}");
    }
    // Outside the 24-hour window a file is free-form too: only a template goes.
    sqlx::query("UPDATE conversations SET last_inbound_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let image = json!({"media": {"kind": "image", "url": "https://cdn.example.com/a.jpg"}});
    let p = assert_problem(app.post(&path, &image, &owner.token).await, StatusCode::CONFLICT).await;
    assert_eq!(p["type"].as_str().unwrap().rsplit('/').next(), Some("messaging-window-closed"), "{p}");
    assert!(outbound_messages(&app, &owner, &conversation).await.is_empty());
    assert!(app.graph.sends().is_empty());
    app.stop().await;
}
