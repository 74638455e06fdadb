//! Flow 5 (DESIGN.md §4): a customer writes on WhatsApp and an agent answers, as far as it goes
//! without inbox-sync. Its part is played by `InboxSync` — the suite's only steps that are not
//! HTTP, gone once inbox-sync lands. The message becomes a ticket with the customer's comment; the
//! agent's public reply goes back as one `inbox.send` and an internal note never leaves; the
//! endpoint hears of both comments, the note without its text; the platform's delivery report
//! shows on the reply.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::client::{eventually, DEADLINE};
use crate::desk::delivery;
use crate::helpers::Stack;
use crate::inbox_standin::{Chat, InboxSync};
use crate::receiver::Receiver;

const NOTE: &str = "The carrier says the van was stolen; do not tell the customer yet.";
const NOTE_WORDS: &str = "van was stolen";

#[tokio::test]
async fn a_whatsapp_message_becomes_a_ticket_whose_reply_goes_back_and_whose_note_stays() {
    let stack = Stack::start().await;
    let rx = Receiver::start().await;
    let desk = stack.support_desk(&rx).await;
    let inbox = InboxSync::start(&stack).await;
    let chat = Chat { org: desk.org.parse().unwrap(), id: Uuid::now_v7(), contact: "+33612345678".into() };
    let agent = &desk.agent.token;

    // Stand-in: inbox-sync announces the customer's message.
    inbox.receive(&chat, "My parcel is late\nIt was due on Monday.").await;
    let ticket = eventually("the ticket among the search results", DEADLINE, || async {
        stack.ticketing_get("/v1/tickets?q=parcel", agent).await["data"].get(0).cloned()
    })
    .await;
    assert_eq!(ticket["source"], "whatsapp");
    assert_eq!(ticket["subject"], "My parcel is late");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["conversation_id"], chat.id.to_string());
    assert!(ticket["customer_id"].is_string(), "a customer profile for the contact: {ticket}");
    let id = ticket["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/tickets/{id}/comments");
    let customer = stack.ticketing_get(&path, agent).await["data"][0].clone();
    assert_eq!(customer["body"], "My parcel is late\nIt was due on Monday.");
    assert_eq!((customer["author_kind"].as_str(), customer["source"].as_str()), (Some("customer"), Some("whatsapp")));
    assert_eq!(customer["is_internal"], false);

    let post = |body: Value| {
        let path = path.clone();
        let stack = &stack;
        async move { stack.ticketing_post(&path, agent, body).await["comment"].clone() }
    };
    let reply = post(json!({"body": "It ships tomorrow."})).await;
    assert_eq!(reply["delivery_status"], "pending");
    let note = post(json!({"body": NOTE, "is_internal": true})).await;
    assert!(note["delivery_status"].is_null(), "a note is not sent anywhere: {note}");
    let later = post(json!({"body": "Tracking number: 42."})).await;
    let (reply_id, later_id) = (reply["id"].as_str().unwrap(), later["id"].as_str().unwrap());

    // Stand-in: inbox-sync takes the commands ticketing sent it. The relay publishes in the order
    // of writing, so once the later reply's command is here, one for the note would be too.
    let sends = inbox
        .sends_until("the later reply's inbox.send", |got| got.iter().any(|c| c["data"]["source_id"] == later_id))
        .await;
    let sources: Vec<&str> = sends.iter().filter_map(|c| c["data"]["source_id"].as_str()).collect();
    assert_eq!(sources, [reply_id, later_id], "one command per public reply, none for the note");
    let send = &sends[0];
    assert_eq!(send["type"], "inbox.send");
    assert_eq!(send["data"]["organization_id"], desk.org.as_str());
    assert_eq!(send["data"]["conversation_id"], chat.id.to_string());
    assert_eq!(send["data"]["content"], "It ships tomorrow.");
    assert_eq!(send["data"]["sent_by_user_id"], desk.agent.id.as_str());
    assert!(!json!(sends).to_string().contains(NOTE_WORDS), "the note reached the platform");

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
    assert_eq!(from_customer.json()["data"]["body"], "My parcel is late\nIt was due on Monday.");
    assert_eq!(answered.json()["data"]["body"], "It ships tomorrow.");
    let noted = noted.json();
    assert_eq!(
        (noted["data"]["is_internal"].as_bool(), noted["data"]["author_kind"].as_str()),
        (Some(true), Some("agent"))
    );
    assert!(noted["data"]["body"].is_null(), "a note's text is not delivered: {noted}");
    let leaked: Vec<Value> =
        rx.received().iter().map(|r| r.json()).filter(|b| b.to_string().contains(NOTE_WORDS)).collect();
    assert!(leaked.is_empty(), "the note's text left in a delivery: {leaked:?}");

    // Stand-in: the platform reports the reply delivered; the agent sees it on the reply.
    inbox.report(&chat, reply_id, "delivered").await;
    eventually("the reply shown delivered", DEADLINE, || async {
        let comments = stack.ticketing_get(&path, agent).await;
        let shown = comments["data"].as_array()?.iter().find(|c| c["id"] == reply_id)?.clone();
        (shown["delivery_status"] == "delivered").then_some(())
    })
    .await;
}
