//! How complex a ticket is, 0–100, from the factors of seed 003's complexity scores; at
//! [`ESCALATION_THRESHOLD`] or above, escalation is recommended.
//!
//! # Factors (points, adding up to at most 100)
//!
//! | factor | points |
//! | --- | --- |
//! | `description_length` | 1 per 100 characters, at most 15 |
//! | `technical_terms` (distinct words of [`TECHNICAL_TERMS`] in subject and description) | 4 each, at most 20 |
//! | `priority` | low 0, normal 3, high 7, urgent 10 |
//! | `severity` | minor 0, normal 5, major 10, critical 15 |
//! | `attachments` | 2 each, at most 5 |
//! | `customer_tier` | none or free 0, starter 1, pro 3, enterprise 5 |
//! | `reopen_count` | 5 per reopen, at most 10 |
//! | `sentiment` (negative only) | 10 × −sentiment, at most 10 |
//! | `comments` | 1 each, at most 10 |
//!
//! `factors` records, per factor, the observed `value`, the `points` given and their `max`.

use serde_json::{json, Map, Value};
use sqlx::PgConnection;

use crate::domain::ticket::{Priority, Severity, Ticket};
use crate::store::suggestions as store;

/// Scores at or above this recommend an escalation.
pub const ESCALATION_THRESHOLD: i32 = 60;

/// Words that mark a technical problem (lowercase; matched as whole words).
pub const TECHNICAL_TERMS: &[&str] = &[
    "api",
    "endpoint",
    "database",
    "sql",
    "query",
    "server",
    "timeout",
    "latency",
    "ssl",
    "tls",
    "certificate",
    "dns",
    "webhook",
    "webhooks",
    "integration",
    "oauth",
    "sso",
    "saml",
    "token",
    "authentication",
    "encryption",
    "error",
    "exception",
    "crash",
    "crashes",
    "bug",
    "stacktrace",
    "stack",
    "trace",
    "logs",
    "500",
    "502",
    "503",
    "504",
    "http",
    "https",
    "json",
    "xml",
    "csv",
    "import",
    "export",
    "sync",
    "cache",
    "cdn",
    "deploy",
    "deployment",
    "migration",
    "backup",
    "restore",
    "firewall",
    "proxy",
    "vpn",
    "port",
    "cors",
    "javascript",
    "browser",
    "ios",
    "android",
    "sdk",
    "plugin",
    "configuration",
    "config",
    "permissions",
    "memory",
    "cpu",
    "performance",
    "outage",
    "downtime",
    "corrupted",
    "regression",
    "smtp",
    "imap",
    "redirect",
];

/// What the ticket row does not carry.
#[derive(Debug, Clone, Default)]
pub struct Signals<'a> {
    pub comments: usize,
    pub attachments: usize,
    pub customer_tier: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Complexity {
    pub score: i32,
    pub factors: Value,
    pub escalation_recommended: bool,
}

fn capped(n: usize, each: i64, max: i64) -> i64 {
    (i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(each)).min(max)
}

/// The distinct technical terms of `text`, in the vocabulary's order.
pub fn technical_terms(text: &str) -> Vec<&'static str> {
    let words: std::collections::HashSet<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    TECHNICAL_TERMS.iter().copied().filter(|t| words.contains(*t)).collect()
}

pub fn score(ticket: &Ticket, signals: &Signals<'_>) -> Complexity {
    let mut factors = Map::new();
    let mut total = 0;
    let mut add = |name: &str, value: Value, points: i64, max: i64| {
        total += points;
        factors.insert(name.to_owned(), json!({"value": value, "points": points, "max": max}));
    };
    let length = ticket.description.chars().count();
    add("description_length", json!(length), capped(length / 100, 1, 15), 15);
    let terms = technical_terms(&format!("{} {}", ticket.subject, ticket.description));
    add("technical_terms", json!(terms), capped(terms.len(), 4, 20), 20);
    let priority = match ticket.priority {
        Priority::Low => 0,
        Priority::Normal => 3,
        Priority::High => 7,
        Priority::Urgent => 10,
    };
    add("priority", json!(ticket.priority), priority, 10);
    let severity = match ticket.severity {
        Severity::Minor => 0,
        Severity::Normal => 5,
        Severity::Major => 10,
        Severity::Critical => 15,
    };
    add("severity", json!(ticket.severity), severity, 15);
    add("attachments", json!(signals.attachments), capped(signals.attachments, 2, 5), 5);
    let tier = match signals.customer_tier {
        Some("starter") => 1,
        Some("pro") => 3,
        Some("enterprise") => 5,
        _ => 0,
    };
    add("customer_tier", json!(signals.customer_tier), tier, 5);
    let reopens = usize::try_from(ticket.reopen_count).unwrap_or(0);
    add("reopen_count", json!(ticket.reopen_count), capped(reopens, 5, 10), 10);
    let sentiment = ticket.sentiment.map_or(0, |s| (f64::from(-s) * 10.0).round().clamp(0.0, 10.0) as i64);
    add("sentiment", json!(ticket.sentiment), sentiment, 10);
    add("comments", json!(signals.comments), capped(signals.comments, 1, 10), 10);
    let score = i32::try_from(total.clamp(0, 100)).unwrap_or(100);
    Complexity { score, factors: Value::Object(factors), escalation_recommended: score >= ESCALATION_THRESHOLD }
}

/// Scores `ticket` with its comments, attachments and customer's tier (looked up when not
/// given) and records the score; in the caller's transaction.
pub async fn assess(tx: &mut PgConnection, ticket: &Ticket, customer_tier: Option<&str>) -> anyhow::Result<Complexity> {
    let (comments, attachments) = store::activity(tx, ticket.organization_id, ticket.id).await?;
    let looked_up = match (customer_tier, ticket.customer_id) {
        (None, Some(customer)) => store::customer_tier(tx, ticket.organization_id, customer).await?,
        _ => None,
    };
    let signals = Signals { comments, attachments, customer_tier: customer_tier.or(looked_up.as_deref()) };
    let complexity = score(ticket, &signals);
    store::record_complexity(tx, ticket.organization_id, ticket.id, &complexity).await?;
    Ok(complexity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        let now = chrono::Utc::now();
        Ticket {
            id: uuid::Uuid::nil(),
            organization_id: uuid::Uuid::nil(),
            number: "TKT-2025-000001".into(),
            subject: "Hello".into(),
            description: String::new(),
            status: crate::domain::ticket::Status::Open,
            priority: Priority::Low,
            severity: Severity::Minor,
            category: Default::default(),
            tags: Vec::new(),
            project_id: None,
            customer_id: None,
            requester_user_id: None,
            requester_email: None,
            requester_name: None,
            assignee_id: None,
            team_id: None,
            due_at: None,
            estimated_hours: None,
            actual_minutes: 0,
            source: Default::default(),
            conversation_id: None,
            sentiment: None,
            csat_rating: None,
            csat_comment: None,
            csat_at: None,
            first_response_at: None,
            last_replied_at: None,
            resolved_at: None,
            closed_at: None,
            reopen_count: 0,
            merged_into_id: None,
            follow_up_of_id: None,
            sla_policy_id: None,
            first_response_due_at: None,
            resolution_due_at: None,
            sla_paused_at: None,
            first_response_breached_at: None,
            resolution_breached_at: None,
            queued_at: None,
            created_by: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_simple_question_scores_low_and_a_hard_outage_recommends_escalation() {
        let simple = score(&ticket(), &Signals::default());
        assert_eq!(simple.score, 0);
        assert!(!simple.escalation_recommended);

        let mut hard = ticket();
        hard.subject = "API outage: 503 errors on every webhook".into();
        hard.description =
            "Our integration gets timeout and SSL certificate errors; the database sync crashes. ".repeat(20);
        hard.priority = Priority::Urgent;
        hard.severity = Severity::Critical;
        hard.reopen_count = 1;
        hard.sentiment = Some(-0.8);
        let c = score(&hard, &Signals { comments: 4, attachments: 1, customer_tier: Some("enterprise") });
        assert!(c.score >= ESCALATION_THRESHOLD, "{}", c.score);
        assert!(c.escalation_recommended);
        assert!(c.score <= 100);
        assert_eq!(c.factors["severity"]["points"], 15);
        assert_eq!(c.factors["technical_terms"]["points"], 20);
        assert_eq!(c.factors["sentiment"]["points"], 8);
        let max: i64 = c.factors.as_object().unwrap().values().map(|f| f["max"].as_i64().unwrap()).sum();
        assert_eq!(max, 100);
    }

    #[test]
    fn terms_are_whole_words() {
        assert_eq!(technical_terms("The APIs... no: the API, and api again"), ["api"]);
        assert!(technical_terms("rapid").is_empty());
    }
}
