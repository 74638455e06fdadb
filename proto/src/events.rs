//! Payloads of events (`events.<type>`) and commands (`mail.send`, `notify.send`), shared by
//! producers and consumers so both compile against the same type. Each travels inside a
//! CloudEvents 1.0 envelope whose `type` is the constant beside it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ORG_CREATED: &str = "identity.org.created";
pub const USER_CREATED: &str = "identity.user.created";
pub const MEMBER_ADDED: &str = "identity.member.added";
pub const MEMBER_REMOVED: &str = "identity.member.removed";
pub const MEMBER_ROLE_CHANGED: &str = "identity.member.role_changed";
pub const INVITATION_CREATED: &str = "identity.invitation.created";
pub const INVITATION_ACCEPTED: &str = "identity.invitation.accepted";
pub const MAIL_SEND: &str = "mail.send";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgCreated {
    pub organization_id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub created_by: Option<Uuid>,
}

/// Never carries the password hash or any token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserCreated {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberAdded {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberRemoved {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub actor_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberRoleChanged {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role_before: String,
    pub role_after: String,
    pub actor_id: Option<Uuid>,
}

/// The invitation's token is in the mail command only, never in this event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationCreated {
    pub invitation_id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationAccepted {
    pub invitation_id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
}

/// An email to send. `link` may hold a one-time token: the command stream keeps it no longer
/// than needed and it never reaches a customer's webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MailSend {
    pub to: String,
    /// `email_verification`, `password_reset` or `invitation`.
    pub template: String,
    pub subject: String,
    pub link: Option<String>,
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
}
