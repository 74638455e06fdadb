//! A stand-in for inbox-sync, which does not exist yet: it publishes the `inbox.*` events
//! inbox-sync would publish and reads the `inbox.send` commands it would consume, on the stack's
//! NATS prefix, exactly as the contract of DESIGN.md §3 has them. These are the suite's only
//! steps that are not HTTP; they go away when inbox-sync lands, and the flow then starts at its
//! platform webhook and ends at its platform stand-in.

use std::sync::Mutex;

use async_nats::jetstream::consumer::{pull, DeliverPolicy, PullConsumer};
use futures::StreamExt;
use platform::bus::{Bus, CloudEvent, COMMANDS_STREAM};
use proto::events::{self as ev, InboxContact, InboxMessageReceived, InboxMessageStatusChanged};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::client::{eventually, DEADLINE};
use crate::helpers::Stack;

const SOURCE: &str = "switchboard/inbox-sync";

/// One WhatsApp conversation of one contact.
pub struct Chat {
    pub org: Uuid,
    pub id: Uuid,
    pub contact: String,
}

pub struct InboxSync {
    bus: Bus,
    sends: PullConsumer,
    /// Every `inbox.send` read so far (each is read once: COMMANDS is a work queue).
    seen: Mutex<Vec<Value>>,
}

impl InboxSync {
    pub async fn start(stack: &Stack) -> Self {
        let bus = Bus::connect(&stack.nats_url, &stack.prefix, "e2e-inbox-sync").await.expect("NATS");
        let stream = bus.jetstream.get_stream(bus.stream_name(COMMANDS_STREAM)).await.expect("the COMMANDS stream");
        let name = bus.stream_name("inbox-sync-sends");
        let config = pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: bus.subject(ev::INBOX_SEND),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        };
        let sends = stream.get_or_create_consumer(&name, config).await.expect("a consumer of inbox.send");
        Self { bus, sends, seen: Mutex::new(Vec::new()) }
    }

    /// Publishes `event` on its subject as the outbox of a service does: JetStream, with the
    /// event id as `Nats-Msg-Id`.
    async fn publish<T: Serialize>(&self, event: &CloudEvent<T>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, event.id.to_string().as_str());
        let payload = serde_json::to_vec(event).expect("JSON").into();
        let subject = self.bus.event_subject(&event.event_type);
        let ack = self.bus.jetstream.publish_with_headers(subject, headers, payload).await.expect("published");
        ack.await.expect("stored by the stream");
    }

    /// `text` from the chat's contact, as inbox-sync announces it once it has verified and
    /// stored the platform's webhook: `inbox.message.received`. The message's id.
    pub async fn receive(&self, chat: &Chat, text: &str) -> Uuid {
        let message_id = Uuid::now_v7();
        let data = InboxMessageReceived {
            organization_id: chat.org,
            connection_id: Uuid::now_v7(),
            platform: "whatsapp".into(),
            conversation_id: chat.id,
            message_id,
            external_id: format!("wamid.{}", message_id.simple()),
            contact: InboxContact {
                external_id: chat.contact.clone(),
                name: Some("Ada Lovelace".into()),
                username: None,
            },
            content_type: "text".into(),
            text: text.into(),
            media: None,
            platform_timestamp: chrono::Utc::now(),
        };
        let subject = Some(message_id.to_string());
        self.publish(&CloudEvent::new(SOURCE, ev::INBOX_MESSAGE_RECEIVED, Some(chat.org), subject, data)).await;
        message_id
    }

    /// The platform's delivery report of the reply `source_id` (a comment id), as inbox-sync
    /// relays it: `inbox.message.status_changed`.
    pub async fn report(&self, chat: &Chat, source_id: &str, status: &str) {
        let data = InboxMessageStatusChanged {
            organization_id: chat.org,
            conversation_id: chat.id,
            message_id: Uuid::now_v7(),
            source_id: Some(source_id.to_owned()),
            status: status.into(),
            error: None,
        };
        self.publish(&CloudEvent::new(SOURCE, ev::INBOX_MESSAGE_STATUS_CHANGED, Some(chat.org), None, data)).await;
    }

    /// Every `inbox.send` command read so far, once `done` accepts them; each is acked, as
    /// inbox-sync would after sending it.
    pub async fn sends_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        eventually(what, DEADLINE, || async {
            let fetch = self.sends.fetch().max_messages(10).expires(std::time::Duration::from_millis(200));
            let mut messages = fetch.messages().await.expect("a fetch");
            let mut got = Vec::new();
            while let Some(Ok(msg)) = messages.next().await {
                msg.ack().await.expect("acked");
                got.push(serde_json::from_slice(&msg.payload).expect("a JSON command"));
            }
            let mut seen = self.seen.lock().unwrap();
            seen.extend(got);
            done(&seen).then(|| seen.clone())
        })
        .await
    }
}
