//! Creating tickets and adding comments: the transactions that call the hooks of the plan.
//!
//! Callers (HTTP handlers, the inbox consumer) open the transaction, call one of these, and
//! commit. Network lookups (identity, billing) happen before the transaction, never inside.

use chrono::{DateTime, Utc};
use platform::{ApiResult, Problem};
use proto::events as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use super::actions;
use super::change::{self, How, Who};
use super::comments::{self as posting, Duplicate, Posted};
use crate::domain::ticket::{Actor, AuthorKind, Category, Priority, Severity, Source, Status, Ticket};
use crate::rules::Trigger;
use crate::store::comments::Comment;
use crate::store::{attachments, history, tickets};
use crate::{events, Services};

/// A ticket to create. Validate with [`NewTicket::validate`] (the HTTP layer does) before
/// calling [`create`]; ids in it (project, customer) must be the organization's.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub organization_id: Uuid,
    pub subject: String,
    pub description: String,
    pub priority: Priority,
    pub severity: Severity,
    pub category: Category,
    pub tags: Vec<String>,
    pub project_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub requester_user_id: Option<Uuid>,
    pub requester_email: Option<String>,
    pub requester_name: Option<String>,
    /// Checked with identity (agent or above) by the caller, before the transaction.
    pub assignee_id: Option<Uuid>,
    /// Checked with identity's GetTeam by the caller, before the transaction.
    pub team_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    pub estimated_hours: Option<f64>,
    pub source: Source,
    pub conversation_id: Option<Uuid>,
    /// The closed ticket a reply to which opens this one.
    pub follow_up_of_id: Option<Uuid>,
}

/// A comment to add: a public reply or an internal note.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub body: String,
    /// An internal note (agents only; never shown to customers, never in events' bodies).
    pub is_internal: bool,
    pub author_kind: AuthorKind,
    /// The customer profile of a customer's message (the inbox sets it).
    pub customer_id: Option<Uuid>,
    pub source: Source,
    /// The inbox message this comment is: exactly once per message id.
    pub inbox_message_id: Option<Uuid>,
}

/// Where a comment landed.
#[derive(Debug, Clone)]
pub struct CommentOutcome {
    /// The ticket it is on after the change: the one named, its merge target, or the follow-up
    /// opened because the named one was closed.
    pub ticket: Ticket,
    pub comment: Comment,
    /// Whether `ticket` is a follow-up opened by this comment.
    pub opened_follow_up: bool,
}

/// How many merges a reply follows to find the ticket it lands on (a target is never merged
/// itself when the merge happens, so chains stay short; this only bounds a corrupt one).
const MAX_MERGE_HOPS: usize = 16;

/// Creates a ticket in the caller's transaction: numbers it from the counter row (locked until
/// commit), writes history, runs SLA, the `created` rules, routing and the complexity score, and
/// emits `ticket.created` (and `ticket.assigned` with a notification when it has an assignee).
pub async fn create(tx: &mut PgConnection, services: &Services, new: NewTicket, actor: Actor) -> ApiResult<Ticket> {
    let ticket = insert(tx, new, actor).await?;
    let ticket = change::after_write(tx, None, &ticket, true, false).await?;
    let ticket = actions::run(tx, services, Trigger::Created, ticket, false).await?;
    // Routing once, after the rules had their say about team and assignee.
    let ticket = change::after_write(tx, None, &ticket, false, true).await?;
    crate::assist::complexity::assess(tx, &ticket, None).await?;
    events::ticket_event(tx, ev::TICKET_CREATED, &ticket, actor, &[]).await?;
    if let Some(agent) = ticket.assignee_id {
        change::assigned(tx, services, &ticket, agent, actor).await?;
    }
    Ok(ticket)
}

/// The row and its `created` history entry.
async fn insert(tx: &mut PgConnection, new: NewTicket, actor: Actor) -> anyhow::Result<Ticket> {
    let number = tickets::next_number(tx, new.organization_id).await?;
    let now = Utc::now();
    let draft = Ticket {
        id: Uuid::now_v7(),
        organization_id: new.organization_id,
        number,
        subject: new.subject,
        description: new.description,
        status: Status::Open,
        priority: new.priority,
        severity: new.severity,
        category: new.category,
        tags: new.tags,
        project_id: new.project_id,
        customer_id: new.customer_id,
        requester_user_id: new.requester_user_id,
        requester_email: new.requester_email,
        requester_name: new.requester_name,
        assignee_id: new.assignee_id,
        team_id: new.team_id,
        due_at: new.due_at,
        estimated_hours: new.estimated_hours,
        actual_minutes: 0,
        source: new.source,
        conversation_id: new.conversation_id,
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
        follow_up_of_id: new.follow_up_of_id,
        sla_policy_id: None,
        first_response_due_at: None,
        resolution_due_at: None,
        sla_paused_at: None,
        first_response_breached_at: None,
        resolution_breached_at: None,
        queued_at: None,
        created_by: actor.user_id(),
        created_at: now,
        updated_at: now,
    };
    let t = tickets::insert(tx, &draft).await?;
    let entry = history::Change {
        field: "ticket",
        before: None,
        after: Some(serde_json::json!({
            "number": t.number, "subject": t.subject, "status": t.status, "priority": t.priority,
            "severity": t.severity, "category": t.category, "assignee_id": t.assignee_id, "team_id": t.team_id,
            "follow_up_of_id": t.follow_up_of_id,
        })),
        kind: "created",
    };
    let kind = if actor == Actor::System { AuthorKind::System } else { AuthorKind::Agent };
    history::record(tx, t.organization_id, t.id, actor.user_id(), kind.as_str(), &[entry]).await?;
    Ok(t)
}

/// The ticket a comment on `id` lands on, locked: `id` itself, or the ticket it was merged into.
async fn landing(tx: &mut PgConnection, org: Uuid, id: Uuid) -> ApiResult<Ticket> {
    let mut t = tickets::lock(tx, org, id).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    for _ in 0..MAX_MERGE_HOPS {
        match (t.status, t.merged_into_id) {
            (Status::Merged, Some(target)) => {
                t = tickets::lock(tx, org, target).await?.ok_or_else(|| Problem::not_found("ticket"))?;
            }
            _ => return Ok(t),
        }
    }
    Err(anyhow::anyhow!("merge chain of ticket {id} is longer than {MAX_MERGE_HOPS}").into())
}

/// Adds a comment to ticket `ticket_id` of `org` in the caller's transaction.
///
/// A reply to a merged ticket lands on the ticket it was merged into. A customer's reply to a
/// closed ticket opens a follow-up (`follow_up_of_id`) carrying it; an agent's public reply to
/// a closed ticket is a 409 (notes are fine). A customer's reply to a resolved ticket reopens it
/// and runs the `customer_reply` rules. Whether an inbox message was recorded already is the
/// caller's to check, under its conversation's lock; the unique key refuses a second copy (409).
pub async fn add_comment(
    tx: &mut PgConnection,
    services: &Services,
    org: Uuid,
    ticket_id: Uuid,
    new: NewComment,
    actor: Actor,
) -> ApiResult<CommentOutcome> {
    let first = landing(tx, org, ticket_id).await?;
    let who = Who { actor, kind: new.author_kind };
    let customer_reply = new.author_kind == AuthorKind::Customer && !new.is_internal;
    let (target, opened_follow_up) = if first.status == Status::Closed && !new.is_internal {
        if !customer_reply {
            return Err(Problem::conflict(
                "the ticket is closed: it takes internal notes; a customer's reply opens a follow-up",
            )
            .into());
        }
        (follow_up(tx, services, &first, &new).await?, true)
    } else {
        (first.clone(), false)
    };
    let Posted { ticket, comment } = match posting::insert(tx, services, &target, new, who).await {
        Ok(posted) => posted,
        Err(e) if e.is::<Duplicate>() => {
            return Err(Problem::conflict("this inbox message is being recorded by another request").into())
        }
        Err(e) => return Err(e.into()),
    };
    let ticket =
        if customer_reply { actions::run(tx, services, Trigger::CustomerReply, ticket, true).await? } else { ticket };
    let start = if opened_follow_up { &target } else { &first };
    change::finish(tx, services, start, &ticket, actor).await?;
    Ok(CommentOutcome { ticket, comment, opened_follow_up })
}

/// A new ticket continuing closed `closed` for the customer who wrote again.
async fn follow_up(
    tx: &mut PgConnection,
    services: &Services,
    closed: &Ticket,
    reply: &NewComment,
) -> ApiResult<Ticket> {
    let new = NewTicket {
        organization_id: closed.organization_id,
        subject: closed.subject.clone(),
        description: format!("Follow-up of {}", closed.number),
        priority: closed.priority,
        severity: closed.severity,
        category: closed.category,
        tags: closed.tags.clone(),
        project_id: closed.project_id,
        customer_id: reply.customer_id.or(closed.customer_id),
        requester_user_id: closed.requester_user_id,
        requester_email: closed.requester_email.clone(),
        requester_name: closed.requester_name.clone(),
        assignee_id: closed.assignee_id,
        team_id: closed.team_id,
        due_at: None,
        estimated_hours: None,
        source: reply.source,
        conversation_id: closed.conversation_id,
        follow_up_of_id: Some(closed.id),
    };
    create(tx, services, new, Actor::System).await
}

/// What a PATCH changes; `None` leaves a field alone, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub severity: Option<Severity>,
    pub category: Option<Category>,
    pub tags: Option<Vec<String>>,
    pub project_id: Option<Option<Uuid>>,
    pub customer_id: Option<Option<Uuid>>,
    pub assignee_id: Option<Option<Uuid>>,
    pub team_id: Option<Option<Uuid>>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub estimated_hours: Option<Option<f64>>,
}

/// Changes ticket `id` of `org`: 404 unknown, 409 for a merged or closed ticket and for a status
/// move outside the graph. Then the `updated` rules run, and the events describe it all.
pub async fn update(
    tx: &mut PgConnection,
    services: &Services,
    org: Uuid,
    id: Uuid,
    patch: Patch,
    who: Who,
) -> ApiResult<Ticket> {
    let first = tickets::lock(tx, org, id).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    if let Some(to) = patch.status {
        change::check_move(&first, to)?;
    } else if matches!(first.status, Status::Closed | Status::Merged) {
        return Err(Problem::conflict(format!("a {} ticket cannot change", first.status)).into());
    }
    let edited = change::apply(tx, &first, who, How::EDIT, |t| {
        if let Some(v) = patch.subject {
            t.subject = v;
        }
        if let Some(v) = patch.description {
            t.description = v;
        }
        if let Some(v) = patch.priority {
            t.priority = v;
        }
        if let Some(v) = patch.severity {
            t.severity = v;
        }
        if let Some(v) = patch.category {
            t.category = v;
        }
        if let Some(v) = patch.tags {
            t.tags = v;
        }
        if let Some(v) = patch.project_id {
            t.project_id = v;
        }
        if let Some(v) = patch.customer_id {
            t.customer_id = v;
        }
        if let Some(v) = patch.assignee_id {
            t.assignee_id = v;
        }
        if let Some(v) = patch.team_id {
            t.team_id = v;
        }
        if let Some(v) = patch.due_at {
            t.due_at = v;
        }
        if let Some(v) = patch.estimated_hours {
            t.estimated_hours = v;
        }
        if let Some(to) = patch.status {
            change::move_now(t, to);
        }
    })
    .await?;
    let last = if edited != first { actions::run(tx, services, Trigger::Updated, edited, true).await? } else { edited };
    change::finish(tx, services, &first, &last, who.actor).await?;
    Ok(last)
}

/// Deletes ticket `id` of `org`; the files of its attachments, to remove after commit.
/// 409 while other tickets are merged into it (their replies land on it).
pub async fn delete(tx: &mut PgConnection, org: Uuid, id: Uuid, actor: Actor) -> ApiResult<Vec<String>> {
    let t = tickets::lock(tx, org, id).await?.ok_or_else(|| Problem::not_found("ticket"))?;
    if tickets::has_merged_sources(tx, t.id).await? {
        return Err(Problem::conflict("other tickets are merged into this one; it cannot be deleted").into());
    }
    let files = attachments::keys_of_ticket(tx, org, t.id).await?;
    tickets::delete(tx, org, t.id).await?;
    if let Some(agent) = t.assignee_id.filter(|_| t.status.is_active()) {
        crate::routing::drain(tx, org, agent).await?;
    }
    events::ticket_event(tx, ev::TICKET_DELETED, &t, actor, &[]).await?;
    Ok(files)
}
