//! Commands on the `COMMANDS` stream: `mail.send`, `notify.send`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAIL_SEND: &str = "mail.send";
pub const NOTIFY_SEND: &str = "notify.send";

/// An email to send. `link` may hold a one-time token: the command stream keeps it no longer
/// than needed and it never reaches a customer's webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MailSend {
    pub to: String,
    /// `email_verification`, `password_reset` or `invitation`.
    pub template: String,
    pub subject: String,
    pub link: Option<String>,
    /// When `link`'s one-time token stops working: a mail parked undelivered is deleted then.
    #[serde(default)]
    pub link_expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
}

/// In-app notifications to deliver (`notify.send` on the command stream).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NotifySend {
    pub organization_id: Uuid,
    pub recipients: Vec<Uuid>,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    /// What caused it, e.g. `feedback.status_changed`.
    pub reason: String,
}
