//! The `inbox.*` events (DESIGN.md §3), written to the outbox in the caller's transaction.
//! None carries a token, a secret or a note.

use platform::bus::CloudEvent;
use proto::events as ev;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::connections::Connection;
use crate::store::conversations::Conversation;
use crate::store::messages::Message;

pub const SOURCE: &str = "switchboard/inbox-sync";

async fn emit<T: Serialize>(
    conn: &mut PgConnection,
    event_type: &str,
    org: Uuid,
    subject: Uuid,
    data: T,
) -> anyhow::Result<()> {
    let event = CloudEvent::new(SOURCE, event_type, Some(org), Some(subject.to_string()), data);
    platform::outbox::emit(conn, &event).await?;
    Ok(())
}

pub async fn connection(conn: &mut PgConnection, event_type: &str, c: &Connection) -> anyhow::Result<()> {
    let data = ev::InboxConnection {
        organization_id: c.organization_id,
        connection_id: c.id,
        platform: c.platform.clone(),
        account_id: c.account_id.clone(),
        display_name: c.display_name.clone(),
        status: c.status.clone(),
        error: c.last_error.clone(),
    };
    emit(conn, event_type, c.organization_id, c.id, data).await
}

fn contact(c: &Conversation) -> ev::InboxContact {
    ev::InboxContact {
        external_id: c.external_id.clone(),
        name: c.contact_name.clone(),
        username: c.contact_username.clone(),
    }
}

pub async fn conversation(
    conn: &mut PgConnection,
    event_type: &str,
    c: &Conversation,
    changed: &[&str],
) -> anyhow::Result<()> {
    let data = ev::InboxConversation {
        organization_id: c.organization_id,
        conversation_id: c.id,
        connection_id: c.connection_id,
        platform: c.platform.clone(),
        contact: contact(c),
        status: c.status.clone(),
        assignee_id: c.assignee_id,
        changed: changed.iter().map(|s| (*s).to_owned()).collect(),
    };
    emit(conn, event_type, c.organization_id, c.id, data).await
}

/// `inbox.message.received`: everything ticketing needs without asking back.
pub async fn received(conn: &mut PgConnection, c: &Conversation, m: &Message) -> anyhow::Result<()> {
    emit(conn, ev::INBOX_MESSAGE_RECEIVED, m.organization_id, m.id, received_data(c, m)).await
}

/// `inbox.message.received` of each `(conversation, message)`, in one statement.
pub async fn received_all(conn: &mut PgConnection, stored: &[(&Conversation, &Message)]) -> anyhow::Result<()> {
    let events: Vec<_> = stored
        .iter()
        .map(|(c, m)| {
            CloudEvent::new(
                SOURCE,
                ev::INBOX_MESSAGE_RECEIVED,
                Some(m.organization_id),
                Some(m.id.to_string()),
                received_data(c, m),
            )
        })
        .collect();
    platform::outbox::emit_all(conn, &events).await
}

fn received_data(c: &Conversation, m: &Message) -> ev::InboxMessageReceived {
    ev::InboxMessageReceived {
        organization_id: m.organization_id,
        connection_id: m.connection_id,
        platform: c.platform.clone(),
        conversation_id: c.id,
        message_id: m.id,
        external_id: m.external_id.clone().unwrap_or_default(),
        contact: contact(c),
        content_type: m.content_type.clone(),
        text: m.content.clone(),
        media: m.media.clone(),
        platform_timestamp: m.platform_timestamp.unwrap_or(m.created_at),
    }
}

pub async fn sent(conn: &mut PgConnection, platform: &str, m: &Message) -> anyhow::Result<()> {
    let data = ev::InboxMessageSent {
        organization_id: m.organization_id,
        conversation_id: m.conversation_id,
        message_id: m.id,
        source_id: m.source_id.clone(),
        platform: platform.to_owned(),
    };
    emit(conn, ev::INBOX_MESSAGE_SENT, m.organization_id, m.id, data).await
}

pub async fn status_changed(conn: &mut PgConnection, m: &Message) -> anyhow::Result<()> {
    let error = m.errors.as_ref().map(|e| match e {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let data = ev::InboxMessageStatusChanged {
        organization_id: m.organization_id,
        conversation_id: m.conversation_id,
        message_id: m.id,
        source_id: m.source_id.clone(),
        status: m.status.clone(),
        error: if m.status == "failed" { error } else { None },
    };
    emit(conn, ev::INBOX_MESSAGE_STATUS_CHANGED, m.organization_id, m.id, data).await
}
