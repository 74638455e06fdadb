//! Flow 5 (DESIGN.md §4): a customer writes on WhatsApp and an agent answers, through inbox-sync,
//! as Meta and the desk's people do it. The owner connects the desk's WhatsApp number; Meta posts
//! the customer's message to inbox-sync's webhook, signed with the app secret; it becomes a
//! ticket with the customer's comment. Each public reply of the agent reaches Meta's Graph API
//! (the stand-in) as one send and an internal note never leaves; the endpoint hears of every
//! comment, the note without its text; Meta's delivery report shows on the reply, in ticketing
//! and in the inbox.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::client::{eventually, expect, DEADLINE};
use crate::desk::delivery;
use crate::graph::{Sent, GOOD_TOKEN};
use crate::helpers::{Stack, META_SECRET};
use crate::receiver::Receiver;

const NOTE: &str = "The carrier says the van was stolen; do not tell the customer yet.";
const NOTE_WORDS: &str = "van was stolen";
/// The desk's WhatsApp Cloud number (its phone number id) and business account.
const PHONE_NUMBER_ID: &str = "106540352242922";
const BUSINESS_ACCOUNT_ID: &str = "102290129340398";
/// The customer: their WhatsApp id (the number, digits only) and profile name.
const WA_ID: &str = "33612345678";
const CUSTOMER: &str = "Ada Lovelace";
const MESSAGE: &str = "My parcel is late\nIt was due on Monday.";
const REPLY: &str = "It ships tomorrow.";
const LATER: &str = "Tracking number: 42.";

/// A WhatsApp Cloud webhook body for the desk's number whose change's value also holds `fields`
/// (`contacts` and `messages`, or `statuses`), as bytes: what Meta signs and posts.
fn whatsapp(fields: Value) -> Vec<u8> {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
    });
    if let (Some(value), Some(fields)) = (value.as_object_mut(), fields.as_object()) {
        value.extend(fields.clone());
    }
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": BUSINESS_ACCOUNT_ID, "changes": [{"field": "messages", "value": value}]}],
    });
    serde_json::to_vec(&body).expect("JSON")
}

/// Now, as Meta writes its timestamps: a string of unix seconds.
fn meta_now() -> String {
    chrono::Utc::now().timestamp().to_string()
}

/// Meta posts `body` to inbox-sync's WhatsApp webhook, signed over these very bytes; what
/// inbox-sync stored (it answers 200 only once everything is committed).
async fn meta_posts(stack: &Stack, body: &[u8]) -> Value {
    let signature = inbox_sync::platforms::signature::meta_sign(META_SECRET.as_bytes(), body);
    let r = stack
        .http
        .post(format!("{}/webhooks/whatsapp", stack.inbox))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK, "Meta's webhook").await
}

/// The one send of `text` the Graph stand-in got.
fn the_send_of<'a>(sends: &'a [Sent], text: &str) -> &'a Sent {
    let of: Vec<&Sent> = sends.iter().filter(|s| s.body["text"]["body"] == text).collect();
    assert_eq!(of.len(), 1, "one send of {text:?}: {sends:?}");
    of[0]
}

#[tokio::test]
async fn a_whatsapp_message_becomes_a_ticket_whose_reply_goes_back_and_whose_note_stays() {
    let stack = Stack::start().await;
    let rx = Receiver::start().await;
    let desk = stack.support_desk(&rx).await;
    let agent = &desk.agent.token;

    // The owner connects the number with what Meta's console gives; inbox-sync checks the token
    // against the Graph API first.
    let url = format!("{}/v1/connections/whatsapp", stack.inbox);
    let body = json!({
        "phone_number_id": PHONE_NUMBER_ID,
        "business_account_id": BUSINESS_ACCOUNT_ID,
        "access_token": GOOD_TOKEN,
    });
    let connection = stack.call(Method::POST, &url, &desk.owner.token, Some(body), StatusCode::CREATED).await;
    assert_eq!((connection["platform"].as_str(), connection["status"].as_str()), (Some("whatsapp"), Some("active")));
    assert_eq!(connection["account_id"], PHONE_NUMBER_ID);
    assert_eq!(connection["display_name"], "Acme Support");
    assert!(!connection.to_string().contains(GOOD_TOKEN), "the token is never shown again: {connection}");

    // Meta posts the customer's message, just written: WhatsApp's 24-hour window is open.
    let wamid = format!("wamid.{}", Uuid::new_v4().simple());
    let message = whatsapp(json!({
        "contacts": [{"profile": {"name": CUSTOMER}, "wa_id": WA_ID}],
        "messages": [{"from": WA_ID, "id": wamid, "timestamp": meta_now(), "type": "text", "text": {"body": MESSAGE}}],
    }));
    let receipt = meta_posts(&stack, &message).await;
    assert_eq!(receipt["stored"], 1, "{receipt}");
    // Stored before the 200: the agent sees the conversation at once.
    let conversations = stack.inbox_get("/v1/conversations", agent).await;
    assert_eq!(conversations["data"].as_array().map(Vec::len), Some(1), "{conversations}");
    let conversation = conversations["data"][0].clone();
    assert_eq!(conversation["platform"], "whatsapp");
    assert_eq!(conversation["connection_id"], connection["id"]);
    assert_eq!(conversation["external_id"], WA_ID);
    assert_eq!(conversation["contact_name"], CUSTOMER);
    assert_eq!(conversation["status"], "open");
    let conversation_id = conversation["id"].as_str().expect("the conversation's id").to_owned();
    let messages_path = format!("/v1/conversations/{conversation_id}/messages");

    let ticket = eventually("the ticket among the search results", DEADLINE, || async {
        stack.ticketing_get("/v1/tickets?q=parcel", agent).await["data"].get(0).cloned()
    })
    .await;
    assert_eq!(ticket["source"], "whatsapp");
    assert_eq!(ticket["subject"], "My parcel is late");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["conversation_id"], conversation_id.as_str());
    assert!(ticket["customer_id"].is_string(), "a customer profile for the contact: {ticket}");
    let id = ticket["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/tickets/{id}/comments");
    let customer = stack.ticketing_get(&path, agent).await["data"][0].clone();
    assert_eq!(customer["body"], MESSAGE);
    assert_eq!((customer["author_kind"].as_str(), customer["source"].as_str()), (Some("customer"), Some("whatsapp")));
    assert_eq!(customer["is_internal"], false);

    let post = |body: Value| {
        let path = path.clone();
        let stack = &stack;
        async move { stack.ticketing_post(&path, agent, body).await["comment"].clone() }
    };
    let reply = post(json!({"body": REPLY})).await;
    assert_eq!(reply["delivery_status"], "pending");
    let note = post(json!({"body": NOTE, "is_internal": true})).await;
    assert!(note["delivery_status"].is_null(), "a note is not sent anywhere: {note}");
    let later = post(json!({"body": LATER})).await;
    let (reply_id, later_id) = (reply["id"].as_str().unwrap(), later["id"].as_str().unwrap());

    // inbox-sync sends both replies through the Graph API; each outbound message gets the id Meta
    // gave it once sent.
    let outbound = eventually("both replies sent by inbox-sync", DEADLINE, || async {
        let page = stack.inbox_get(&messages_path, agent).await;
        let outbound: Vec<Value> =
            page["data"].as_array()?.iter().filter(|m| m["direction"] == "outbound").cloned().collect();
        let sent = |source: &str| outbound.iter().any(|m| m["source_id"] == source && m["external_id"].is_string());
        let both = sent(reply_id) && sent(later_id);
        both.then_some(outbound)
    })
    .await;
    let sends = stack.graph.sends();
    assert_eq!(sends.len(), 2, "one send per public reply, none for the note: {sends:?}");
    let (first, second) = (the_send_of(&sends, REPLY), the_send_of(&sends, LATER));
    for send in [first, second] {
        assert!(send.path.ends_with(&format!("/{PHONE_NUMBER_ID}/messages")), "from the desk's number: {send:?}");
        assert_eq!(send.authorization, format!("Bearer {GOOD_TOKEN}"));
        let kind = (send.body["messaging_product"].as_str(), send.body["type"].as_str());
        assert_eq!(kind, (Some("whatsapp"), Some("text")), "a text message: {send:?}");
        assert_eq!(send.body["to"], WA_ID, "to the customer: {send:?}");
    }
    assert!(!sends.iter().any(|s| s.body.to_string().contains(NOTE_WORDS)), "the note reached the platform");
    assert_eq!(outbound.len(), 2, "the note is no message of the conversation: {outbound:?}");
    let sent = outbound.iter().find(|m| m["source_id"] == reply_id).expect("the reply's message").clone();
    assert_eq!(sent["content"], REPLY);
    assert_eq!(sent["organization_id"], desk.org.as_str());
    assert_eq!(sent["conversation_id"], conversation_id.as_str());
    assert_eq!(sent["sent_by_user_id"], desk.agent.id.as_str());
    assert_eq!(sent["external_id"], first.id.as_str(), "the id Meta gave the reply");
    let later_sent = outbound.iter().find(|m| m["source_id"] == later_id).expect("the later reply's message");
    assert_eq!(later_sent["external_id"], second.id.as_str());
    // inbox-sync reports both sent; the agent sees it on the replies.
    eventually("both replies shown sent", DEADLINE, || async {
        let comments = stack.ticketing_get(&path, agent).await;
        let all = comments["data"].as_array()?;
        let status = |c: &str| all.iter().find(|x| x["id"] == c).map(|x| x["delivery_status"].clone());
        (status(reply_id) == Some(json!("sent")) && status(later_id) == Some(json!("sent"))).then_some(())
    })
    .await;

    let created = delivery(&rx, "ticket.created", |d| d["ticket_id"] == id.as_str()).await;
    assert_eq!(created.json()["data"]["source"], "whatsapp");
    let comment = |c: &Value| {
        let c = c["id"].clone();
        move |d: &Value| d["comment_id"] == c
    };
    let from_customer = delivery(&rx, "ticket.comment.created", comment(&customer)).await;
    let answered = delivery(&rx, "ticket.comment.created", comment(&reply)).await;
    let noted = delivery(&rx, "ticket.comment.created", comment(&note)).await;
    delivery(&rx, "ticket.comment.created", comment(&later)).await;
    for d in [&created, &from_customer, &answered, &noted] {
        d.verify(&desk.secret).expect("signed with the endpoint's secret");
    }
    assert_eq!(from_customer.json()["data"]["author_kind"], "customer");
    assert_eq!(from_customer.json()["data"]["body"], MESSAGE);
    assert_eq!(answered.json()["data"]["body"], REPLY);
    let noted = noted.json();
    assert_eq!(
        (noted["data"]["is_internal"].as_bool(), noted["data"]["author_kind"].as_str()),
        (Some(true), Some("agent"))
    );
    assert!(noted["data"]["body"].is_null(), "a note's text is not delivered: {noted}");
    let leaked: Vec<Value> =
        rx.received().iter().map(|r| r.json()).filter(|b| b.to_string().contains(NOTE_WORDS)).collect();
    assert!(leaked.is_empty(), "the note's text left in a delivery: {leaked:?}");

    // Meta reports the reply delivered, by the id it gave it; the agent sees it on the reply.
    let external = sent["external_id"].as_str().expect("the reply's platform id");
    let report = whatsapp(json!({
        "statuses": [{
            "id": external, "status": "delivered", "timestamp": meta_now(), "recipient_id": WA_ID,
            "pricing": {"billable": true, "pricing_model": "PMP", "category": "service"},
        }],
    }));
    let receipt = meta_posts(&stack, &report).await;
    assert_eq!(receipt["statuses"], 1, "the report moved the reply: {receipt}");
    eventually("the reply shown delivered", DEADLINE, || async {
        let comments = stack.ticketing_get(&path, agent).await;
        let shown = comments["data"].as_array()?.iter().find(|c| c["id"] == reply_id)?.clone();
        (shown["delivery_status"] == "delivered").then_some(())
    })
    .await;

    // The inbox shows the conversation as it went: the customer's message, the two replies (the
    // first delivered, the later sent), no note; and Meta was asked for nothing more.
    let page = stack.inbox_get(&messages_path, agent).await;
    let messages = page["data"].as_array().expect("the messages");
    assert_eq!(messages.len(), 3, "{page}");
    let inbound = messages.iter().find(|m| m["direction"] == "inbound").expect("the customer's message");
    assert_eq!(inbound["content"], MESSAGE);
    assert_eq!(inbound["external_id"], wamid.as_str());
    let status_of = |source: &str| messages.iter().find(|m| m["source_id"] == source).map(|m| m["status"].clone());
    assert_eq!(status_of(reply_id), Some(json!("delivered")), "{page}");
    assert_eq!(status_of(later_id), Some(json!("sent")), "{page}");
    assert!(!page.to_string().contains(NOTE_WORDS), "the note is in the inbox: {page}");
    let shown = stack.inbox_get(&format!("/v1/conversations/{conversation_id}"), agent).await;
    assert_eq!((shown["status"].as_str(), shown["external_id"].as_str()), (Some("open"), Some(WA_ID)));
    assert_eq!(stack.graph.sends().len(), 2, "nothing else was sent: {:?}", stack.graph.sends());
}
