//! Decision rules in the core transaction: evaluate once per trigger, then apply what matched as
//! a system change recorded with kind `rule`. Applying never evaluates rules again, so no action
//! can set off another rule, or the same one, without end.

use chrono::Utc;
use sqlx::PgConnection;

use super::change::{self, How, Who};
use super::comments::{self, Posted};
use crate::domain::ticket::{AuthorKind, Ticket};
use crate::rules::{Action, Context, Trigger};
use crate::store::{self, tickets};
use crate::Services;

/// Evaluates the rules for `trigger` on `ticket` and applies the actions; the ticket after them.
/// `route`: whether routing follows each change (creation routes once, afterwards).
pub async fn run(
    tx: &mut PgConnection,
    services: &Services,
    trigger: Trigger,
    ticket: Ticket,
    route: bool,
) -> anyhow::Result<Ticket> {
    let org = ticket.organization_id;
    let rules = crate::rules::enabled(tx, org, trigger).await?;
    if rules.is_empty() {
        return Ok(ticket);
    }
    let customer_tier = match ticket.customer_id {
        Some(c) => tickets::customer_tier(tx, org, c).await?,
        None => None,
    };
    let latest = store::comments::latest_customer_text(tx, ticket.id).await?.unwrap_or_default();
    let context = Context {
        customer_tier,
        text: format!("{}\n{}\n{}", ticket.subject, ticket.description, latest),
        hours_open: (Utc::now() - ticket.created_at).num_seconds().max(0) as f64 / 3600.0,
        channel: ticket.source,
    };
    let actions = crate::rules::evaluate(tx, rules, &ticket, &context).await?;
    let mut now = ticket;
    let how = How { kind: Some("rule"), route };
    for action in actions {
        now = match action {
            Action::AssignUser(user) => {
                change::apply(tx, &now, Who::SYSTEM, how, |t| t.assignee_id = Some(user)).await?
            }
            Action::AssignTeam(team) => change::apply(tx, &now, Who::SYSTEM, how, |t| t.team_id = Some(team)).await?,
            Action::RoundRobin(team) => {
                change::apply(tx, &now, Who::SYSTEM, how, |t| {
                    t.team_id = Some(team);
                    t.assignee_id = None;
                })
                .await?
            }
            Action::SetPriority(p) => change::apply(tx, &now, Who::SYSTEM, how, |t| t.priority = p).await?,
            Action::AddTag(tag) => {
                change::apply(tx, &now, Who::SYSTEM, how, |t| {
                    if !t.tags.contains(&tag) {
                        t.tags.push(tag);
                    }
                })
                .await?
            }
            Action::SetStatus(status) => {
                if change::check_move(&now, status).is_ok() {
                    change::apply(tx, &now, Who::SYSTEM, how, |t| change::move_now(t, status)).await?
                } else {
                    tracing::info!(ticket = %now.id, from = %now.status, to = %status, "a rule's status change does not fit the graph; skipped");
                    now
                }
            }
            Action::Escalate { reason, priority } => {
                escalate(tx, services, &now, reason, priority).await?;
                now
            }
            Action::ReplyWithArticle(article) => match store::articles::published(tx, org, article).await? {
                Some(a) => {
                    let posted = comments::insert(
                        tx,
                        services,
                        &now,
                        comments::Row {
                            body: format!("{}\n\n{}", a.title, a.content),
                            is_internal: false,
                            author_kind: AuthorKind::System,
                            customer_id: None,
                            source: now.source,
                            inbox_message_id: None,
                        },
                        Who::SYSTEM,
                    )
                    .await?;
                    let Posted { ticket, .. } = posted;
                    ticket
                }
                None => now,
            },
        };
    }
    Ok(now)
}

async fn escalate(
    tx: &mut PgConnection,
    services: &Services,
    t: &Ticket,
    reason: String,
    priority: String,
) -> anyhow::Result<()> {
    let new = store::escalations::NewEscalation {
        organization_id: t.organization_id,
        ticket_id: Some(t.id),
        conversation_id: t.conversation_id,
        customer_id: t.customer_id,
        reason,
        priority,
        origin: "rule".to_owned(),
        assignee_id: None,
        summary: Some(format!("Escalated by a rule: {}", t.subject)),
        created_by: None,
    };
    // Inserts it, emits `ticket.escalated` and tells its owner.
    crate::escalations::open(tx, new, &services.config.app_base_url).await?;
    Ok(())
}
