//! A ticket, its vocabularies (status, priority, severity, category, source) and the status graph.
//!
//! # Status graph
//!
//! ```text
//! open        → in_progress, waiting, resolved, closed
//! in_progress → open, waiting, resolved, closed
//! waiting     → open, in_progress, resolved, closed
//! resolved    → open, in_progress (a reopen: reopen_count + 1), closed
//! closed      → (none: a reply to a closed ticket opens a follow-up ticket instead)
//! merged      → (none: set only by a merge)
//! ```
//!
//! `merged` is never a target of a status change: only a merge sets it. A customer's public
//! reply to a resolved ticket moves it back to `open` (a reopen).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares a closed vocabulary stored as text: snake_case on the wire and in the database.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Every value, for error messages: `a, b, c`.
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", Self::names())),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// Where a ticket is in its life; moves follow the graph in this module's documentation.
    Status {
        Open => "open",
        InProgress => "in_progress",
        Waiting => "waiting",
        Resolved => "resolved",
        Closed => "closed",
        Merged => "merged",
    }
);

vocabulary!(
    #[derive(Default)]
    Priority { Low => "low", #[default] Normal => "normal", High => "high", Urgent => "urgent" }
);

vocabulary!(
    #[derive(Default)]
    Severity { Minor => "minor", #[default] Normal => "normal", Major => "major", Critical => "critical" }
);

vocabulary!(
    /// The union of the seeds' categories: seed 001 (technical_issue, billing_payment,
    /// account_management, feature_request, general), seed 002 (bug, support, question,
    /// feature_request) and seed 003 (incident, question, other).
    #[derive(Default)]
    Category {
        #[default]
        General => "general",
        TechnicalIssue => "technical_issue",
        BillingPayment => "billing_payment",
        AccountManagement => "account_management",
        FeatureRequest => "feature_request",
        Bug => "bug",
        Support => "support",
        Question => "question",
        Incident => "incident",
        Other => "other",
    }
);

vocabulary!(
    /// The channel a ticket came from.
    #[derive(Default)]
    Source {
        #[default]
        Web => "web",
        Api => "api",
        Email => "email",
        Whatsapp => "whatsapp",
        Messenger => "messenger",
        Instagram => "instagram",
        Tiktok => "tiktok",
    }
);

vocabulary!(
    /// Who wrote a comment.
    AuthorKind { Customer => "customer", Agent => "agent", System => "system" }
);

impl Priority {
    /// Sort rank: urgent first.
    pub fn rank(self) -> i16 {
        match self {
            Self::Urgent => 0,
            Self::High => 1,
            Self::Normal => 2,
            Self::Low => 3,
        }
    }
}

impl Status {
    /// The statuses a ticket in `self` may move to by a status change.
    pub fn allowed_moves(self) -> &'static [Status] {
        use Status::*;
        match self {
            Open => &[InProgress, Waiting, Resolved, Closed],
            InProgress => &[Open, Waiting, Resolved, Closed],
            Waiting => &[Open, InProgress, Resolved, Closed],
            Resolved => &[Open, InProgress, Closed],
            Closed | Merged => &[],
        }
    }

    pub fn can_move_to(self, to: Status) -> bool {
        self == to || self.allowed_moves().contains(&to)
    }

    /// Open-ish: the ticket occupies its assignee and its SLA runs (unless paused).
    pub fn is_active(self) -> bool {
        matches!(self, Status::Open | Status::InProgress | Status::Waiting)
    }

    /// Leaving `resolved` for an active status is a reopen.
    pub fn is_reopen(from: Status, to: Status) -> bool {
        from == Status::Resolved && to.is_active()
    }
}

/// Who makes a change: a user (agent or customer), or the system (rules, routing, the inbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    System,
}

impl Actor {
    pub fn user_id(self) -> Option<Uuid> {
        match self {
            Actor::User(id) => Some(id),
            Actor::System => None,
        }
    }
}

/// A ticket row (`store::tickets::COLUMNS`: every column but the search vectors).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Ticket {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// `<PREFIX>-<YYYY>-<NNNNNN>`, unique in the organization.
    pub number: String,
    pub subject: String,
    pub description: String,
    pub status: Status,
    pub priority: Priority,
    pub severity: Severity,
    pub category: Category,
    pub tags: Vec<String>,
    pub project_id: Option<Uuid>,
    /// The customer profile.
    pub customer_id: Option<Uuid>,
    pub requester_user_id: Option<Uuid>,
    pub requester_email: Option<String>,
    pub requester_name: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    pub estimated_hours: Option<f64>,
    /// The sum of the time entries.
    pub actual_minutes: i64,
    pub source: Source,
    pub conversation_id: Option<Uuid>,
    /// The latest customer message's sentiment, −1 (negative) to 1 (positive).
    pub sentiment: Option<f32>,
    pub csat_rating: Option<i16>,
    pub csat_comment: Option<String>,
    pub csat_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub last_replied_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: i32,
    pub merged_into_id: Option<Uuid>,
    /// The closed ticket a reply to which opened this one.
    pub follow_up_of_id: Option<Uuid>,
    pub sla_policy_id: Option<Uuid>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub sla_paused_at: Option<DateTime<Utc>>,
    pub first_response_breached_at: Option<DateTime<Utc>>,
    pub resolution_breached_at: Option<DateTime<Utc>>,
    /// Waiting in its team's queue for an agent with free capacity.
    pub queued_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    /// Actual hours from the time entries, to the hundredth.
    pub fn actual_hours(&self) -> f64 {
        (self.actual_minutes as f64 / 60.0 * 100.0).round() / 100.0
    }
}

/// A ticket number: `<PREFIX>-<YYYY>-<NNNNNN>` (more digits past 999,999 in a year).
pub fn number(prefix: &str, year: i32, n: i64) -> String {
    format!("{prefix}-{year:04}-{n:06}")
}

/// A ticket number prefix: an upper-case letter then up to nine upper-case letters or digits
/// (the `desk_settings` check says the same).
pub fn prefix(raw: &str) -> Result<String, platform::FieldError> {
    let ok = (1..=10).contains(&raw.len())
        && raw.as_bytes()[0].is_ascii_uppercase()
        && raw.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(platform::FieldError::new(
            "ticket_prefix",
            "must be 1 to 10 upper-case letters or digits, starting with a letter",
        ))
    }
}

/// The pattern of [`prefix`], for the OpenAPI document.
pub const PREFIX_PATTERN: &str = "^[A-Z][A-Z0-9]{0,9}$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_has_no_way_out_of_closed_or_merged_and_never_into_merged() {
        for s in Status::ALL {
            assert!(!s.allowed_moves().contains(&Status::Merged), "{s}");
        }
        assert!(Status::Closed.allowed_moves().is_empty());
        assert!(Status::Merged.allowed_moves().is_empty());
        assert!(Status::is_reopen(Status::Resolved, Status::Open));
        assert!(!Status::is_reopen(Status::Waiting, Status::Open));
        assert_eq!("in_progress".parse::<Status>(), Ok(Status::InProgress));
        assert!("bogus".parse::<Status>().unwrap_err().contains("open, in_progress"));
    }

    #[test]
    fn numbers_are_zero_padded_and_prefixes_upper_case() {
        assert_eq!(number("TKT", 2026, 42), "TKT-2026-000042");
        assert_eq!(number("HELP", 2026, 1_234_567), "HELP-2026-1234567");
        assert!(prefix("SUP2").is_ok());
        for bad in ["", "sup", "2SUP", "TOOLONGPREFIX", "A-B"] {
            assert!(prefix(bad).is_err(), "{bad}");
        }
    }
}
