//! The inbox flow as inbox-sync and an agent see it: messages published on the bus become
//! tickets and customer comments exactly once, agents' public replies go back as `inbox.send`
//! commands, and delivery reports show on the replies.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;
use platform::bus::CloudEvent;
use proto::events::{InboxContact, InboxMessageReceived, InboxMessageStatusChanged};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

/// One conversation of a WhatsApp contact, as inbox-sync would describe its messages.
pub struct Conversation {
    org: Uuid,
    pub id: Uuid,
    contact: String,
}

impl Conversation {
    pub fn new(org: &str, contact: &str) -> Self {
        Self { org: org.parse().unwrap(), id: Uuid::now_v7(), contact: contact.to_owned() }
    }

    pub fn message(&self, message_id: Uuid, text: &str) -> CloudEvent<InboxMessageReceived> {
        CloudEvent::new(
            "switchboard/inbox-sync",
            proto::events::INBOX_MESSAGE_RECEIVED,
            Some(self.org),
            Some(message_id.to_string()),
            InboxMessageReceived {
                organization_id: self.org,
                connection_id: Uuid::nil(),
                platform: "whatsapp".into(),
                conversation_id: self.id,
                message_id,
                external_id: format!("wamid.{}", message_id.simple()),
                contact: InboxContact {
                    external_id: self.contact.clone(),
                    name: Some("Ada Lovelace".into()),
                    username: None,
                },
                content_type: "text".into(),
                text: text.into(),
                media: None,
                platform_timestamp: chrono::Utc::now(),
            },
        )
    }

    fn status(&self, comment: &str, status: &str, error: Option<&str>) -> CloudEvent<InboxMessageStatusChanged> {
        CloudEvent::new(
            "switchboard/inbox-sync",
            proto::events::INBOX_MESSAGE_STATUS_CHANGED,
            Some(self.org),
            None,
            InboxMessageStatusChanged {
                organization_id: self.org,
                conversation_id: self.id,
                message_id: Uuid::now_v7(),
                source_id: Some(comment.to_owned()),
                status: status.into(),
                error: error.map(str::to_owned),
            },
        )
    }
}

/// Publishes `event` on its subject without a `Nats-Msg-Id`, so that a repeat reaches the
/// consumer (the stream's duplicate window would drop it otherwise); its stream sequence.
pub async fn publish<T: Serialize>(app: &TestApp, event: &CloudEvent<T>) -> u64 {
    let js = async_nats::jetstream::new(app.nats.clone());
    let subject = format!("{}.events.{}", app.prefix, event.event_type);
    let ack = js.publish(subject, serde_json::to_vec(event).unwrap().into()).await.unwrap().await.unwrap();
    ack.sequence
}

/// Waits until the durable consumer `name` has handled (and acknowledged) everything up to
/// stream sequence `seq`: only then can a test say that something did not happen.
async fn drained(app: &TestApp, name: &str, seq: u64) {
    let js = async_nats::jetstream::new(app.nats.clone());
    let stream = js.get_stream(format!("{}_EVENTS", app.prefix)).await.unwrap();
    let durable = format!("{}_{name}", app.prefix);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(mut consumer) = stream.get_consumer::<pull::Config>(&durable).await {
            let info = consumer.info().await.unwrap();
            if info.ack_floor.stream_sequence >= seq && info.num_ack_pending == 0 {
                return;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} did not handle everything up to {seq}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The customer profile of a contact, once the inbox has created it.
pub async fn customer_of(app: &TestApp, agent: &User, contact: &str) -> Value {
    let path = format!("/v1/customers?q={}", urlencode(contact));
    until_some("the contact's customer profile", || async {
        app.get_json(&path, &agent.token).await["data"].get(0).cloned()
    })
    .await
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

pub async fn tickets_of(app: &TestApp, agent: &User, customer: &str) -> Vec<Value> {
    let page = app.get_json(&format!("/v1/customers/{customer}/tickets"), &agent.token).await;
    page["data"].as_array().unwrap().clone()
}

async fn comments(app: &TestApp, agent: &User, ticket: &str) -> Vec<Value> {
    let page = app.get_json(&format!("/v1/tickets/{ticket}/comments"), &agent.token).await;
    page["data"].as_array().unwrap().clone()
}

/// Waits until `ticket` has `n` comments; returns them.
async fn comments_eventually(app: &TestApp, agent: &User, ticket: &str, n: usize) -> Vec<Value> {
    until_some(&format!("{n} comments on {ticket}"), || async {
        Some(comments(app, agent, ticket).await).filter(|c| c.len() >= n)
    })
    .await
}

#[tokio::test]
async fn a_message_opens_a_ticket_and_the_next_one_joins_it() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let chat = Conversation::new(&owner.org, "+33612345678");
    publish(&app, &chat.message(Uuid::now_v7(), "My order is late\nIt was due on Monday.")).await;

    let customer = customer_of(&app, &owner, "+33612345678").await;
    assert_eq!(customer["contact_platform"], "whatsapp");
    assert_eq!(customer["contact_external_id"], "+33612345678");
    assert_eq!(customer["name"], "Ada Lovelace");
    let cid = customer["id"].as_str().unwrap();
    let tickets =
        until_some("the ticket", || async { Some(tickets_of(&app, &owner, cid).await).filter(|t| !t.is_empty()) })
            .await;
    let ticket = &tickets[0];
    assert_eq!(ticket["subject"], "My order is late");
    assert_eq!(ticket["source"], "whatsapp");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["conversation_id"], chat.id.to_string());
    assert_eq!(ticket["customer_id"], cid);
    let tid = ticket["id"].as_str().unwrap();
    let first = comments_eventually(&app, &owner, tid, 1).await;
    assert_eq!(first[0]["body"], "My order is late\nIt was due on Monday.");
    assert_eq!(first[0]["author_kind"], "customer");
    assert_eq!(first[0]["is_internal"], false);
    assert_eq!(first[0]["source"], "whatsapp");
    assert_eq!(first[0]["customer_id"], cid);

    publish(&app, &chat.message(Uuid::now_v7(), "Any news?")).await;
    let both = comments_eventually(&app, &owner, tid, 2).await;
    assert_eq!(both[1]["body"], "Any news?");
    assert_eq!(tickets_of(&app, &owner, cid).await.len(), 1, "the second message joins the open ticket");
    app.stop().await;
}

#[tokio::test]
async fn a_message_is_one_comment_however_often_it_is_delivered() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let chat = Conversation::new(&owner.org, "+33600000001");
    let message = Uuid::now_v7();
    let event = chat.message(message, "Hello?");
    publish(&app, &event).await;
    publish(&app, &event).await;
    // The same message again under a new event id (inbox-sync republishing it).
    publish(&app, &chat.message(message, "Hello?")).await;
    let last = publish(&app, &chat.message(Uuid::now_v7(), "Still there?")).await;
    drained(&app, "ticketing-inbox-messages", last).await;

    let customer = customer_of(&app, &owner, "+33600000001").await;
    let tickets = tickets_of(&app, &owner, customer["id"].as_str().unwrap()).await;
    assert_eq!(tickets.len(), 1);
    // The two messages may be handled in either order; each is there once.
    let mut bodies: Vec<String> = comments(&app, &owner, tickets[0]["id"].as_str().unwrap())
        .await
        .iter()
        .map(|c| c["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec!["Hello?", "Still there?"]);
    app.stop().await;
}

#[tokio::test]
async fn first_messages_arriving_together_open_one_ticket() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let chat = Conversation::new(&owner.org, "+33600000002");
    let mut last = 0;
    for i in 0..10 {
        last = publish(&app, &chat.message(Uuid::now_v7(), &format!("message {i}"))).await;
    }
    drained(&app, "ticketing-inbox-messages", last).await;
    let customer = customer_of(&app, &owner, "+33600000002").await;
    let tickets = tickets_of(&app, &owner, customer["id"].as_str().unwrap()).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(comments(&app, &owner, tickets[0]["id"].as_str().unwrap()).await.len(), 10);
    app.stop().await;
}

/// The `inbox.send` commands, read with a durable consumer until `done` holds; fails at the
/// deadline. COMMANDS is a work queue: each command is read once.
async fn sends_until(app: &TestApp, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let js = async_nats::jetstream::new(app.nats.clone());
    let stream = js.get_stream(format!("{}_COMMANDS", app.prefix)).await.unwrap();
    let config = pull::Config {
        durable_name: Some("test-inbox-send".into()),
        filter_subject: format!("{}.inbox.send", app.prefix),
        deliver_policy: DeliverPolicy::All,
        ..Default::default()
    };
    let consumer = stream.get_or_create_consumer("test-inbox-send", config).await.unwrap();
    let mut out: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(&out) {
        assert!(tokio::time::Instant::now() < deadline, "timed out reading inbox.send; got {out:?}");
        let mut batch = consumer.fetch().max_messages(10).expires(Duration::from_millis(200)).messages().await.unwrap();
        while let Some(Ok(msg)) = batch.next().await {
            msg.ack().await.unwrap();
            out.push(serde_json::from_slice(&msg.payload).unwrap());
        }
    }
    out
}

async fn reply(app: &TestApp, agent: &User, ticket: &str, body: Value) -> Value {
    let r = app.post(&format!("/v1/tickets/{ticket}/comments"), &body, &agent.token).await;
    assert_eq!(r.status(), StatusCode::CREATED, "reply {body}");
    r.json::<Value>().await.unwrap()["comment"].clone()
}

/// A ticket opened by a first message of `chat`; its id.
async fn ticket_from(app: &TestApp, agent: &User, chat: &Conversation) -> String {
    publish(app, &chat.message(Uuid::now_v7(), "Where is my parcel?")).await;
    let customer = customer_of(app, agent, &chat.contact).await;
    until_some("the ticket", || async {
        let tickets = tickets_of(app, agent, customer["id"].as_str().unwrap()).await;
        tickets.first().map(|t| t["id"].as_str().unwrap().to_owned())
    })
    .await
}

#[tokio::test]
async fn a_public_reply_goes_back_to_the_conversation_once_and_a_note_never() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let chat = Conversation::new(&owner.org, "+33600000003");
    let ticket = ticket_from(&app, &owner, &chat).await;

    let answer = reply(&app, &owner, &ticket, json!({"body": "It ships tomorrow."})).await;
    assert_eq!(answer["delivery_status"], "pending");
    let note = reply(&app, &owner, &ticket, json!({"body": "SECRET carrier issue", "is_internal": true})).await;
    assert!(note["delivery_status"].is_null());
    let marker = reply(&app, &owner, &ticket, json!({"body": "Tracking: 42."})).await;

    let marker_id = marker["id"].as_str().unwrap().to_owned();
    let sends = sends_until(&app, |got| got.iter().any(|c| c["data"]["source_id"] == marker_id.as_str())).await;
    let sources: Vec<&str> = sends.iter().map(|c| c["data"]["source_id"].as_str().unwrap()).collect();
    assert_eq!(sources, vec![answer["id"].as_str().unwrap(), marker_id.as_str()], "one command per public reply");
    let first = &sends[0];
    assert_eq!(first["type"], "inbox.send");
    assert_eq!(first["orgid"], owner.org.as_str());
    assert_eq!(first["data"]["organization_id"], owner.org.as_str());
    assert_eq!(first["data"]["conversation_id"], chat.id.to_string());
    assert_eq!(first["data"]["content"], "It ships tomorrow.");
    assert_eq!(first["data"]["sent_by_user_id"], owner.id.as_str());
    assert!(!json!(sends).to_string().contains("SECRET"), "a note left for the platform");
    app.stop().await;
}

#[tokio::test]
async fn a_ticket_without_a_conversation_sends_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let web = app.create(&owner, json!({"subject": "Web form", "description": "From the site"})).await;
    let answer = reply(&app, &owner, web["id"].as_str().unwrap(), json!({"body": "Thanks"})).await;
    assert!(answer["delivery_status"].is_null());
    let chat = Conversation::new(&owner.org, "+33600000004");
    let ticket = ticket_from(&app, &owner, &chat).await;
    let marker = reply(&app, &owner, &ticket, json!({"body": "Marker"})).await;
    let marker_id = marker["id"].as_str().unwrap().to_owned();
    let sends = sends_until(&app, |got| got.iter().any(|c| c["data"]["source_id"] == marker_id.as_str())).await;
    assert_eq!(sends.len(), 1, "{sends:?}");
    app.stop().await;
}

#[tokio::test]
async fn delivery_reports_move_a_reply_forward_only() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let chat = Conversation::new(&owner.org, "+33600000005");
    let ticket = ticket_from(&app, &owner, &chat).await;
    let read = reply(&app, &owner, &ticket, json!({"body": "First"})).await;
    let failed = reply(&app, &owner, &ticket, json!({"body": "Second"})).await;
    let (read_id, failed_id) = (read["id"].as_str().unwrap(), failed["id"].as_str().unwrap());
    let status_of = |id: &str| {
        let (app, owner, ticket, id) = (&app, &owner, ticket.clone(), id.to_owned());
        async move {
            let all = comments(app, owner, &ticket).await;
            all.into_iter().find(|c| c["id"] == id.as_str()).unwrap()
        }
    };

    publish(&app, &chat.status(read_id, "delivered", None)).await;
    eventually("delivered", || async { status_of(read_id).await["delivery_status"] == "delivered" }).await;
    publish(&app, &chat.status(read_id, "read", None)).await;
    eventually("read", || async { status_of(read_id).await["delivery_status"] == "read" }).await;
    // Late reports: neither a `sent` nor a `failed` takes a read reply back.
    publish(&app, &chat.status(read_id, "sent", None)).await;
    publish(&app, &chat.status(read_id, "failed", Some("late"))).await;
    publish(&app, &chat.status(failed_id, "sent", None)).await;
    let last = publish(&app, &chat.status(failed_id, "failed", Some("131047: re-engagement window closed"))).await;
    drained(&app, "ticketing-inbox-statuses", last).await;

    let r = status_of(read_id).await;
    assert_eq!((r["delivery_status"].as_str(), r["delivery_error"].as_str()), (Some("read"), None));
    let f = status_of(failed_id).await;
    assert_eq!(f["delivery_status"], "failed");
    assert_eq!(f["delivery_error"], "131047: re-engagement window closed");
    // A report naming no comment of this organization changes nothing and is not retried.
    let other = Conversation::new(&Uuid::now_v7().to_string(), "+1");
    let last = publish(&app, &other.status(read_id, "delivered", None)).await;
    drained(&app, "ticketing-inbox-statuses", last).await;
    assert_eq!(status_of(read_id).await["delivery_status"], "read");
    app.stop().await;
}

#[tokio::test]
async fn a_message_reopens_a_resolved_ticket_and_follows_up_a_closed_one() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let chat = Conversation::new(&owner.org, "+33600000006");
    let ticket = ticket_from(&app, &owner, &chat).await;
    let r = app.patch(&format!("/v1/tickets/{ticket}"), &json!({"status": "resolved"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    publish(&app, &chat.message(Uuid::now_v7(), "It came back broken")).await;
    eventually("the reopen", || async {
        app.get_json(&format!("/v1/tickets/{ticket}"), &owner.token).await["status"] == "open"
    })
    .await;
    comments_eventually(&app, &owner, &ticket, 2).await;

    let r = app.patch(&format!("/v1/tickets/{ticket}"), &json!({"status": "closed"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    publish(&app, &chat.message(Uuid::now_v7(), "Hello again")).await;
    let customer = customer_of(&app, &owner, &chat.contact).await;
    let tickets = until_some("the follow-up", || async {
        Some(tickets_of(&app, &owner, customer["id"].as_str().unwrap()).await).filter(|t| t.len() == 2)
    })
    .await;
    let follow_up = &tickets[0];
    assert_eq!(follow_up["follow_up_of_id"], ticket.as_str());
    assert_eq!(follow_up["conversation_id"], chat.id.to_string());
    let fid = follow_up["id"].as_str().unwrap();
    assert_eq!(comments_eventually(&app, &owner, fid, 1).await[0]["body"], "Hello again");
    // The next message joins the follow-up, not the closed ticket.
    publish(&app, &chat.message(Uuid::now_v7(), "And one more")).await;
    comments_eventually(&app, &owner, fid, 2).await;
    assert_eq!(comments(&app, &owner, &ticket).await.len(), 2);
    app.stop().await;
}
