//! Evaluating the decision rules on a ticket change, inside the change's transaction: the
//! actions of every enabled rule of the trigger whose conditions hold, in rule order (priority,
//! then age), each matching rule's `last_triggered_at` and `trigger_count` counted.
//!
//! The core applies the actions as a system change and does not evaluate the rules again for
//! it, so an action can never set off another rule (or its own) in a loop: one change, one
//! evaluation.

use chrono::Utc;
use sqlx::PgConnection;

use crate::domain::rules::{matches, Facts};
pub use crate::domain::rules::{Action, Trigger};
use crate::domain::ticket::{Source, Ticket};
use crate::store::rules as store;

/// What the conditions see beyond the ticket row.
#[derive(Debug, Clone)]
pub struct Context {
    /// The customer profile's tier, if the ticket has a customer.
    pub customer_tier: Option<String>,
    /// Subject, description and the latest customer message.
    pub text: String,
    pub hours_open: f64,
    pub channel: Source,
}

impl Context {
    pub fn new(ticket: &Ticket, customer_tier: Option<String>, latest_customer_message: Option<&str>) -> Self {
        let mut text = format!("{}\n{}", ticket.subject, ticket.description);
        if let Some(m) = latest_customer_message {
            text.push('\n');
            text.push_str(m);
        }
        let hours_open = ((Utc::now() - ticket.created_at).num_seconds().max(0) as f64) / 3600.0;
        Self { customer_tier, text, hours_open, channel: ticket.source }
    }
}

fn facts<'a>(ticket: &'a Ticket, ctx: &'a Context) -> Facts<'a> {
    Facts {
        priority: ticket.priority,
        severity: ticket.severity,
        category: ticket.category,
        status: ticket.status,
        tags: &ticket.tags,
        channel: ctx.channel,
        subject: &ticket.subject,
        description: &ticket.description,
        text: &ctx.text,
        sentiment: ticket.sentiment.map(f64::from),
        customer_tier: ctx.customer_tier.as_deref(),
        hours_open: ctx.hours_open,
        assignee_id: ticket.assignee_id,
        team_id: ticket.team_id,
    }
}

/// The enabled rules of `trigger`, in order: when there are none, nothing else need be read.
pub async fn enabled(tx: &mut PgConnection, org: uuid::Uuid, trigger: Trigger) -> sqlx::Result<Vec<store::Rule>> {
    store::for_trigger(tx, org, trigger).await
}

/// The actions of those of `rules` matching `ticket`, in order; counts each matching rule.
pub async fn evaluate(
    tx: &mut PgConnection,
    rules: Vec<store::Rule>,
    ticket: &Ticket,
    ctx: &Context,
) -> anyhow::Result<Vec<Action>> {
    let facts = facts(ticket, ctx);
    let mut matched = Vec::new();
    let mut actions = Vec::new();
    for rule in rules {
        if matches(rule.match_how, &rule.conditions, &facts) {
            matched.push(rule.id);
            actions.extend(rule.actions.into_iter().map(Action::from));
        }
    }
    if !matched.is_empty() {
        store::triggered(tx, ticket.organization_id, &matched).await?;
    }
    Ok(actions)
}
