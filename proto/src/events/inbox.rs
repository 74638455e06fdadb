//! The inbox contract (DESIGN.md §3): `inbox.*` events inbox-sync publishes and the
//! `inbox.send` command ticketing sends it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const INBOX_CONNECTION_CONNECTED: &str = "inbox.connection.connected";
pub const INBOX_CONNECTION_EXPIRED: &str = "inbox.connection.expired";
pub const INBOX_CONNECTION_DISCONNECTED: &str = "inbox.connection.disconnected";
pub const INBOX_CONVERSATION_CREATED: &str = "inbox.conversation.created";
pub const INBOX_CONVERSATION_UPDATED: &str = "inbox.conversation.updated";
pub const INBOX_MESSAGE_RECEIVED: &str = "inbox.message.received";
pub const INBOX_MESSAGE_SENT: &str = "inbox.message.sent";
pub const INBOX_MESSAGE_STATUS_CHANGED: &str = "inbox.message.status_changed";
/// Command subject (COMMANDS stream): ticketing → inbox-sync.
pub const INBOX_SEND: &str = "inbox.send";

/// Who wrote, as the platform names them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxContact {
    pub external_id: String,
    pub name: Option<String>,
    pub username: Option<String>,
}

/// A customer's message, stored by inbox-sync: everything a consumer needs without asking back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxMessageReceived {
    pub organization_id: Uuid,
    pub connection_id: Uuid,
    /// `whatsapp`, `messenger`, `instagram` or `tiktok`.
    pub platform: String,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    /// The platform's own id of the message.
    pub external_id: String,
    pub contact: InboxContact,
    /// `text`, `image`, `audio`, `video`, `file`, `sticker`, `location`, …
    pub content_type: String,
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<serde_json::Value>,
    pub platform_timestamp: DateTime<Utc>,
}

/// An outbound message recorded by inbox-sync; `source_id` is the sender's idempotency id (the
/// ticket comment id for ticketing's replies).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxMessageSent {
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub source_id: Option<String>,
    pub platform: String,
}

/// A delivery report of an outbound message: `sent`, `delivered`, `read` or `failed` (with
/// `error`). Status only moves forward: a late `sent` never overwrites `read`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxMessageStatusChanged {
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub source_id: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `inbox.send`: send `content` on the conversation's platform; `source_id` makes it idempotent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxSend {
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub content: String,
    pub sent_by_user_id: Option<Uuid>,
    pub source_id: String,
}

/// `inbox.connection.*`: a platform account connected, expired (its token was refused) or
/// disconnected. Never carries a token or secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxConnection {
    pub organization_id: Uuid,
    pub connection_id: Uuid,
    pub platform: String,
    /// The platform's id of the account (WhatsApp phone number id, page id, …).
    pub account_id: String,
    pub display_name: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `inbox.conversation.created` / `.updated`: a conversation as it is now; `changed` names the
/// fields that moved (empty on creation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxConversation {
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub connection_id: Uuid,
    pub platform: String,
    pub contact: InboxContact,
    pub status: String,
    pub assignee_id: Option<Uuid>,
    #[serde(default)]
    pub changed: Vec<String>,
}
