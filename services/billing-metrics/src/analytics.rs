//! Support and inbox analytics (seeds 001 and 004): what each `ticket.*` and `inbox.*` event
//! tells ([`Fact`]), the periods figures are grouped by ([`Granularity`]), and the rules of the
//! figures (rates, trends). Pure: the metering consumer applies facts through the store, the
//! HTTP layer reads the figures.
//!
//! Definitions (also in docs/decisions.md):
//! - created: tickets created in the period; resolved: tickets whose latest resolution is in
//!   it (a reopened ticket counts when resolved again; one closed without being resolved counts
//!   at its close).
//! - first-response time: created → first public agent reply, over tickets first answered in
//!   the period; resolution time: created → resolution, over tickets resolved in it. Average
//!   and p90 (linear interpolation), in seconds.
//! - first-contact resolution: resolved tickets never reopened and with at most one public
//!   agent reply; automated resolution: resolved by the system (a rule, the assistant) before
//!   any public agent reply; escalation rate: tickets created in the period that were escalated.
//! - CSAT: the average rating (1–5) of ratings given in the period.
//! - Team: per agent, tickets handled (assigned to them and created or resolved in the period),
//!   resolved, resolution rate, average first response (theirs), CSAT of their tickets; the trend
//!   compares tickets resolved with the previous period of the same length.
//! - Inbox, per UTC day: messages received and sent, new conversations, and the average time
//!   from a customer's earliest unanswered message to our next reply in that conversation
//!   (read from the messages' own times, whatever order their events were consumed in).

use chrono::{DateTime, Utc};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// What an event adds to analytics.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// The ticket as it is now, by its own clock.
    Snapshot(Snapshot),
    /// A public agent reply.
    AgentReply {
        ticket: Uuid,
        author: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Escalated {
        ticket: Uuid,
        at: DateTime<Utc>,
    },
    Rated {
        ticket: Uuid,
        rating: i16,
        assignee: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Deleted {
        ticket: Uuid,
    },
    /// A customer's message; `since` is when they sent it.
    Received {
        message: Uuid,
        conversation: Uuid,
        at: DateTime<Utc>,
        since: DateTime<Utc>,
    },
    Sent {
        message: Uuid,
        conversation: Uuid,
        at: DateTime<Utc>,
    },
    ConversationNew {
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub ticket: Uuid,
    pub created_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub status: String,
    pub assignee: Option<Uuid>,
    pub team: Option<Uuid>,
    pub reopen_count: i32,
    /// On a move to `resolved`: whether the system made it (no acting user).
    pub resolved_by_system: Option<bool>,
    /// The event's time: a newer snapshot wins.
    pub as_of: DateTime<Utc>,
}

fn uuid(data: &Value, field: &str) -> Option<Uuid> {
    data.get(field).and_then(Value::as_str).and_then(|s| s.parse().ok())
}

/// The fact an event of `event_type`, published at `at` with `data`, tells; `None` for events
/// analytics does not use (or payloads it cannot read).
pub fn fact(event_type: &str, at: DateTime<Utc>, data: &Value) -> Option<Fact> {
    match event_type {
        ev::TICKET_CREATED | ev::TICKET_UPDATED | ev::TICKET_STATUS_CHANGED | ev::TICKET_ASSIGNED => {
            let t: ev::Ticket = serde_json::from_value(data.clone()).ok()?;
            let created_at = t.created_at.or((event_type == ev::TICKET_CREATED).then_some(at));
            let resolved_at = t.resolved_at.or(if t.status == "closed" { t.closed_at } else { None });
            let resolved_by_system =
                (event_type == ev::TICKET_STATUS_CHANGED && t.status == "resolved").then_some(t.actor_id.is_none());
            Some(Fact::Snapshot(Snapshot {
                ticket: t.ticket_id,
                created_at,
                first_response_at: t.first_response_at,
                resolved_at,
                status: t.status,
                assignee: t.assignee_id,
                team: t.team_id,
                reopen_count: t.reopen_count,
                resolved_by_system,
                as_of: at,
            }))
        }
        ev::TICKET_COMMENT_CREATED => {
            let public = data.get("is_internal").and_then(Value::as_bool) == Some(false);
            let agent = data.get("author_kind").and_then(Value::as_str) == Some("agent");
            (public && agent).then(|| uuid(data, "ticket_id")).flatten().map(|ticket| Fact::AgentReply {
                ticket,
                author: uuid(data, "author_id"),
                at,
            })
        }
        ev::TICKET_ESCALATED => uuid(data, "ticket_id").map(|ticket| Fact::Escalated { ticket, at }),
        ev::TICKET_CSAT_SUBMITTED => {
            let rating = data.get("rating").and_then(Value::as_i64).filter(|r| (1..=5).contains(r))?;
            Some(Fact::Rated {
                ticket: uuid(data, "ticket_id")?,
                rating: i16::try_from(rating).ok()?,
                assignee: uuid(data, "assignee_id"),
                at,
            })
        }
        ev::TICKET_DELETED => uuid(data, "ticket_id").map(|ticket| Fact::Deleted { ticket }),
        ev::INBOX_MESSAGE_RECEIVED => {
            let sent = data
                .get("platform_timestamp")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<DateTime<Utc>>().ok())
                .map_or(at, |t| t.min(at));
            Some(Fact::Received {
                message: uuid(data, "message_id")?,
                conversation: uuid(data, "conversation_id")?,
                at,
                since: sent,
            })
        }
        ev::INBOX_MESSAGE_SENT => {
            Some(Fact::Sent { message: uuid(data, "message_id")?, conversation: uuid(data, "conversation_id")?, at })
        }
        ev::INBOX_CONVERSATION_CREATED => Some(Fact::ConversationNew { at }),
        _ => None,
    }
}

/// How figures are grouped: the periods of seed 001's `performance_metrics` (UTC; weeks start
/// on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Granularity {
    /// The `date_trunc` field.
    pub fn field(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }

    /// One period as a PostgreSQL interval.
    pub fn interval(self) -> &'static str {
        match self {
            Self::Hour => "1 hour",
            Self::Day => "1 day",
            Self::Week => "7 days",
            Self::Month => "1 month",
            Self::Quarter => "3 months",
            Self::Year => "1 year",
        }
    }

    /// Roughly how long a period is, to bound how many a request may ask for.
    pub fn approx_seconds(self) -> i64 {
        match self {
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 28 * 86_400,
            Self::Quarter => 89 * 86_400,
            Self::Year => 365 * 86_400,
        }
    }
}

impl Granularity {
    /// `n` periods before `at`.
    pub fn back(self, at: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let months = |k: u32| at.checked_sub_months(chrono::Months::new(k * n)).unwrap_or(at);
        match self {
            Self::Month => months(1),
            Self::Quarter => months(3),
            Self::Year => months(12),
            _ => at - chrono::Duration::seconds(self.approx_seconds() * i64::from(n)),
        }
    }
}

/// At most this many periods in one answer.
pub const MAX_PERIODS: i64 = 1_000;

/// `part` of `whole` in percent to a tenth; `None` when there is nothing to divide.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

/// Rounded to a tenth.
pub fn tenth(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 10.0).round() / 10.0)
}

/// Against the previous period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Up,
    Down,
    Stable,
}

/// Tickets resolved now against before: `stable` within 5% of before (or both none).
pub fn trend(now: i64, before: i64) -> Trend {
    let band = (before as f64 * 0.05).max(0.0);
    let delta = (now - before) as f64;
    if delta.abs() <= band {
        Trend::Stable
    } else if delta > 0.0 {
        Trend::Up
    } else {
        Trend::Down
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn ticket_events_become_snapshots_with_the_tickets_clock() {
        let t = Uuid::now_v7();
        let data = json!({"organization_id": Uuid::now_v7(), "ticket_id": t, "number": "TKT-2026-000001",
            "subject": "s", "status": "resolved", "status_before": "open", "priority": "normal",
            "severity": "normal", "category": "general", "tags": [], "source": "web", "customer_id": null,
            "assignee_id": null, "team_id": null, "project_id": null, "conversation_id": null, "actor_id": null,
            "created_at": "2026-03-01T10:00:00Z", "resolved_at": "2026-03-01T12:00:00Z", "reopen_count": 0});
        let Some(Fact::Snapshot(s)) = fact("ticket.status_changed", at("2026-03-01T12:00:01Z"), &data) else {
            panic!("a snapshot")
        };
        assert_eq!(s.created_at, Some(at("2026-03-01T10:00:00Z")));
        assert_eq!(s.resolved_at, Some(at("2026-03-01T12:00:00Z")));
        assert_eq!(s.resolved_by_system, Some(true));
        // A note is not a reply; a customer's message is not an agent's.
        let note = json!({"ticket_id": t, "is_internal": true, "author_kind": "agent"});
        assert_eq!(fact("ticket.comment.created", at("2026-03-01T11:00:00Z"), &note), None);
        let customer = json!({"ticket_id": t, "is_internal": false, "author_kind": "customer"});
        assert_eq!(fact("ticket.comment.created", at("2026-03-01T11:00:00Z"), &customer), None);
        assert_eq!(
            fact("ticket.csat.submitted", at("2026-03-01T11:00:00Z"), &json!({"ticket_id": t, "rating": 9})),
            None
        );
        assert_eq!(fact("feedback.created", at("2026-03-01T11:00:00Z"), &json!({})), None);
    }

    #[test]
    fn a_customer_waits_from_when_they_wrote() {
        let (c, m) = (Uuid::now_v7(), Uuid::now_v7());
        let data = json!({"conversation_id": c, "message_id": m, "platform_timestamp": "2026-03-01T09:59:00Z"});
        assert_eq!(
            fact("inbox.message.received", at("2026-03-01T10:00:00Z"), &data),
            Some(Fact::Received {
                message: m,
                conversation: c,
                at: at("2026-03-01T10:00:00Z"),
                since: at("2026-03-01T09:59:00Z")
            })
        );
    }

    #[test]
    fn rates_and_trends() {
        assert_eq!(rate(1, 3), Some(33.3));
        assert_eq!(rate(0, 0), None);
        assert_eq!(trend(10, 10), Trend::Stable);
        assert_eq!(trend(0, 0), Trend::Stable);
        assert_eq!(trend(21, 20), Trend::Stable);
        assert_eq!(trend(22, 20), Trend::Up);
        assert_eq!(trend(1, 0), Trend::Up);
        assert_eq!(trend(3, 5), Trend::Down);
    }
}
