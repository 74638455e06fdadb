//! `ticket.*` events of ticketing. An internal note's text never appears in any of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const TICKET_CREATED: &str = "ticket.created";
pub const TICKET_UPDATED: &str = "ticket.updated";
pub const TICKET_STATUS_CHANGED: &str = "ticket.status_changed";
pub const TICKET_ASSIGNED: &str = "ticket.assigned";
pub const TICKET_COMMENT_CREATED: &str = "ticket.comment.created";
pub const TICKET_MERGED: &str = "ticket.merged";
pub const TICKET_ESCALATED: &str = "ticket.escalated";
pub const TICKET_SLA_BREACHED: &str = "ticket.sla.breached";
pub const TICKET_CSAT_SUBMITTED: &str = "ticket.csat.submitted";
pub const TICKET_DELETED: &str = "ticket.deleted";

/// A ticket as webhook consumers see it (created, updated, status changed, assigned, deleted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    pub organization_id: Uuid,
    pub ticket_id: Uuid,
    pub number: String,
    pub subject: String,
    pub status: String,
    /// Set on `ticket.status_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_before: Option<String>,
    pub priority: String,
    pub severity: String,
    pub category: String,
    pub tags: Vec<String>,
    pub source: String,
    pub customer_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    /// Names of the fields a `ticket.updated` changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Who did it: a user, or `None` for the system (rules, routing, the inbox).
    pub actor_id: Option<Uuid>,
    /// The ticket's own clock, so analytics never depends on the order events arrive in.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub first_response_at: Option<DateTime<Utc>>,
    /// Cleared when the ticket is reopened.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reopen_count: i32,
}

/// A reply or a note; `body` is `None` for notes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketComment {
    pub organization_id: Uuid,
    pub ticket_id: Uuid,
    pub number: String,
    pub comment_id: Uuid,
    pub is_internal: bool,
    /// `customer`, `agent` or `system`.
    pub author_kind: String,
    pub author_id: Option<Uuid>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketMerged {
    pub organization_id: Uuid,
    pub source_id: Uuid,
    pub source_number: String,
    pub target_id: Uuid,
    pub target_number: String,
    pub actor_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketEscalated {
    pub organization_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub escalation_id: Uuid,
    pub reason: String,
    pub priority: String,
    /// `manual`, `rule` or `sla_breach`.
    pub origin: String,
    pub assignee_id: Option<Uuid>,
}

/// Emitted once per target and ticket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketSlaBreached {
    pub organization_id: Uuid,
    pub ticket_id: Uuid,
    pub number: String,
    /// `first_response` or `resolution`.
    pub target: String,
    pub due_at: DateTime<Utc>,
    pub policy_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketCsatSubmitted {
    pub organization_id: Uuid,
    pub ticket_id: Uuid,
    pub number: String,
    pub rating: i16,
    pub comment: Option<String>,
    pub assignee_id: Option<Uuid>,
}
