//! The inbox flow (DESIGN.md §4): a customer's message from inbox-sync becomes a public customer
//! comment on its conversation's ticket, or opens one; delivery reports of the replies sent back
//! move those replies' `delivery_status` forward.
//!
//! Exactly once per message: the platform consumer records each event id as processed in the
//! handler's transaction, and a message redelivered under another event id finds the comment it
//! already became (`ticket_comments_inbox_key`) under the conversation's lock.

use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use platform::bus::{CloudEvent, EVENTS_STREAM};
use platform::consumer::{Consumer, ConsumerSpec, Delivery, Handler};
use platform::metrics::Metrics;
use proto::events::{InboxMessageReceived, InboxMessageStatusChanged};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::customer::ContactPlatform;
use crate::domain::ticket::{Actor, AuthorKind, Source};
use crate::service::tickets::{self, NewComment, NewTicket};
use crate::{store, AppState, Services};

/// Longest subject taken from a message.
const SUBJECT_CHARS: usize = 80;
/// Messages per consumer transaction, at most.
const INBOX_BATCH: usize = 16;
/// Longest delivery error kept from a report.
const ERROR_CHARS: usize = 500;

/// Runs both inbox consumers until `shutdown`.
pub async fn run(state: AppState, metrics: Arc<Metrics>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let consumer = |name: &str, event_type: &str, handler: Arc<dyn Handler>| Consumer {
        // Messages applied a batch per transaction, a conversation's in the order they came.
        spec: ConsumerSpec::new(name, EVENTS_STREAM, &format!("events.{event_type}")).batched(INBOX_BATCH, 8),
        pool: state.pool.clone(),
        bus: state.bus.clone(),
        metrics: metrics.clone(),
        handler,
    };
    let messages = consumer(
        "ticketing-inbox-messages",
        proto::events::INBOX_MESSAGE_RECEIVED,
        Arc::new(MessageReceived { state: state.clone() }),
    );
    let statuses =
        consumer("ticketing-inbox-statuses", proto::events::INBOX_MESSAGE_STATUS_CHANGED, Arc::new(StatusChanged));
    tokio::join!(messages.run(shutdown.clone()), statuses.run(shutdown));
    Ok(())
}

/// `inbox.message.received` → a customer comment (and perhaps a new ticket).
pub struct MessageReceived {
    state: AppState,
}

impl Handler for MessageReceived {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let event: CloudEvent<InboxMessageReceived> =
                serde_json::from_slice(&d.payload).context("not an inbox.message.received CloudEvent")?;
            receive(tx, &self.state, event.data).await
        })
    }

    /// A batch in conversation order (stable: a conversation's messages keep theirs), with all
    /// its conversations locked before anything else.
    fn handle_batch<'a>(&'a self, tx: &'a mut PgConnection, ds: &'a [Delivery]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut events = Vec::with_capacity(ds.len());
            for d in ds {
                let event: CloudEvent<InboxMessageReceived> =
                    serde_json::from_slice(&d.payload).context("not an inbox.message.received CloudEvent")?;
                events.push(event.data);
            }
            events.sort_by_key(|m| (m.organization_id, m.conversation_id));
            // Every conversation's lock first, in that order: a batch then waits for another
            // only before it holds anything else (a ticket counter, a routing lock), so two
            // batches cannot wait for each other.
            let mut conversations: Vec<(Uuid, Uuid)> =
                events.iter().map(|m| (m.organization_id, m.conversation_id)).collect();
            conversations.dedup();
            for (org, conversation) in conversations {
                store::inbox::lock_conversation(tx, org, conversation).await?;
            }
            for m in events {
                receive(tx, &self.state, m).await?;
            }
            Ok(())
        })
    }

    fn committed<'a>(&'a self, touched: platform::cache::Touched) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.state.changed(&touched).await })
    }
}

/// `inbox.message.status_changed` → the reply's delivery status.
pub struct StatusChanged;

impl Handler for StatusChanged {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let event: CloudEvent<InboxMessageStatusChanged> =
                serde_json::from_slice(&d.payload).context("not an inbox.message.status_changed CloudEvent")?;
            status_changed(tx, event.data).await
        })
    }
}

async fn receive(tx: &mut PgConnection, services: &Services, m: InboxMessageReceived) -> anyhow::Result<()> {
    let org = m.organization_id;
    // Under the conversation's lock, a repeat of this message (another event id) finds the
    // comment it became, and two first messages of a conversation open one ticket.
    store::inbox::lock_conversation(tx, org, m.conversation_id).await?;
    if store::inbox::comment_of_message(tx, org, m.message_id).await?.is_some() {
        return Ok(());
    }
    let platform = ContactPlatform::parse("platform", &m.platform)
        .map_err(|_| anyhow::anyhow!("message {} from unknown platform {:?}", m.message_id, m.platform))?;
    let source: Source = platform.as_str().parse().map_err(anyhow::Error::msg)?;
    let name = contact_name(&m);
    let external_id = clean(&m.contact.external_id);
    anyhow::ensure!(!external_id.trim().is_empty(), "message {} has no contact id", m.message_id);
    // Most messages come from a known contact: read it, and write only for a new contact or a
    // name learnt for one that had none.
    let known = store::customers::by_contact(tx, org, platform, external_id.trim()).await?;
    let customer = match known {
        Some(c) if c.name.is_some() || name.is_none() => c,
        _ => store::customers::upsert_contact(tx, org, platform, external_id.trim(), name.as_deref()).await?,
    };
    let body = body(&m);
    let comment = NewComment {
        body: body.clone(),
        is_internal: false,
        author_kind: AuthorKind::Customer,
        customer_id: Some(customer.id),
        source,
        inbox_message_id: Some(m.message_id),
    };
    let ticket_id = match store::inbox::ticket_of_conversation(tx, org, m.conversation_id).await? {
        Some(id) => id,
        None => {
            let new = NewTicket {
                organization_id: org,
                subject: subject(&m, name.as_deref()),
                description: body,
                customer_id: Some(customer.id),
                requester_name: customer.name.clone(),
                source,
                conversation_id: Some(m.conversation_id),
                ..NewTicket::default()
            };
            tickets::create(tx, services, new, Actor::System).await?.id
        }
    };
    // The comment rules decide where it lands: a resolved ticket reopens, a closed one gets a
    // follow-up, a merged one forwards to its target.
    tickets::add_comment(tx, services, org, ticket_id, comment, Actor::System).await?;
    Ok(())
}

async fn status_changed(tx: &mut PgConnection, s: InboxMessageStatusChanged) -> anyhow::Result<()> {
    // Only ticketing's replies carry a comment id as their source id; anything else is not ours.
    let Some(comment) = s.source_id.as_deref().and_then(|id| id.parse::<Uuid>().ok()) else {
        return Ok(());
    };
    if !matches!(s.status.as_str(), "sent" | "delivered" | "read" | "failed") {
        tracing::warn!(status = %s.status, %comment, "unknown delivery status; ignored");
        return Ok(());
    }
    let error = s.error.as_deref().map(|e| clean(e).chars().take(ERROR_CHARS).collect::<String>());
    store::inbox::advance_delivery(tx, s.organization_id, comment, &s.status, error.as_deref()).await?;
    Ok(())
}

/// PostgreSQL text cannot hold U+0000; a message carrying it is stored without it.
fn clean(s: &str) -> String {
    s.replace('\0', "")
}

/// The name the platform gives the contact, else their username.
fn contact_name(m: &InboxMessageReceived) -> Option<String> {
    [m.contact.name.as_deref(), m.contact.username.as_deref()]
        .into_iter()
        .flatten()
        .map(|n| clean(n).trim().chars().take(200).collect::<String>())
        .find(|n| !n.is_empty())
}

/// The message's text, or what it carries when it has none (`[image]`).
fn body(m: &InboxMessageReceived) -> String {
    let text = clean(&m.text);
    if text.trim().is_empty() {
        format!("[{}]", clean(&m.content_type).trim())
    } else {
        text
    }
}

/// The first line of the text, at most 80 characters; for a message without text, what it is
/// and who sent it.
fn subject(m: &InboxMessageReceived, name: Option<&str>) -> String {
    let text = clean(&m.text);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let subject = match line {
        Some(line) => line.chars().filter(|c| !c.is_control()).take(SUBJECT_CHARS).collect::<String>(),
        None => format!("{} message from {}", clean(&m.content_type).trim(), name.unwrap_or("a customer")),
    };
    subject.trim().chars().take(SUBJECT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> InboxMessageReceived {
        InboxMessageReceived {
            organization_id: Uuid::nil(),
            connection_id: Uuid::nil(),
            platform: "whatsapp".into(),
            conversation_id: Uuid::nil(),
            message_id: Uuid::nil(),
            external_id: "wamid.1".into(),
            contact: proto::events::InboxContact {
                external_id: "+33600000000".into(),
                name: None,
                username: Some("ada".into()),
            },
            content_type: "text".into(),
            text: text.into(),
            media: None,
            platform_timestamp: chrono::Utc::now(),
        }
    }

    #[test]
    fn subjects_come_from_the_first_line_or_what_the_message_is() {
        assert_eq!(subject(&message("\n  My order is late  \nIt was due Monday"), None), "My order is late");
        let long = "x".repeat(200);
        assert_eq!(subject(&message(&long), None).chars().count(), 80);
        let mut image = message("");
        image.content_type = "image".into();
        assert_eq!(subject(&image, contact_name(&image).as_deref()), "image message from ada");
        assert_eq!(body(&image), "[image]");
        assert_eq!(body(&message("a\0b")), "ab");
    }
}
