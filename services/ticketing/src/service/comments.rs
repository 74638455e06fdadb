//! Writing a comment on a ticket: the row, its words in the search vectors, the ticket's clocks
//! (first response, last reply, a customer's reopen), history, the event, the reply back to the
//! customer's channel and the notifications.

use chrono::Utc;
use proto::events as ev;
use sqlx::PgConnection;

use super::change::{self, How, Who};
use super::tickets::NewComment;
use crate::domain::ticket::{AuthorKind, Status, Ticket};
use crate::events::{self, Notice};
use crate::store::comments::{self, Comment};
use crate::store::{history, tickets, watchers};
use crate::Services;

pub use super::tickets::NewComment as Row;

/// A written comment and the ticket after it.
pub struct Posted {
    pub ticket: Ticket,
    pub comment: Comment,
}

/// Why a comment was not written.
#[derive(Debug, thiserror::Error)]
#[error("inbox message already recorded")]
pub struct Duplicate;

/// Writes `new` on `ticket` (locked by the caller), without evaluating rules.
pub async fn insert(
    tx: &mut PgConnection,
    services: &Services,
    ticket: &Ticket,
    new: NewComment,
    who: Who,
) -> anyhow::Result<Posted> {
    let org = ticket.organization_id;
    let row = comments::NewRow {
        org,
        ticket: ticket.id,
        author_kind: new.author_kind,
        author_id: who.actor.user_id(),
        customer_id: new.customer_id,
        body: &new.body,
        is_internal: new.is_internal,
        source: new.source,
        inbox_message_id: new.inbox_message_id,
    };
    let comment = comments::insert(tx, row).await?.ok_or(Duplicate)?;
    tickets::index_comment(tx, ticket.id, &comment.body, comment.is_internal).await?;
    let public = !comment.is_internal;
    let customer = comment.author_kind == AuthorKind::Customer;
    let sentiment = customer.then(|| crate::assist::sentiment::score(&comment.body));
    let now = Utc::now();
    let after = change::apply(tx, ticket, who, How::EDIT, |t| {
        if public {
            t.last_replied_at = Some(now);
        }
        if public && comment.author_kind == AuthorKind::Agent && t.first_response_at.is_none() {
            t.first_response_at = Some(now);
        }
        if let Some(s) = sentiment {
            t.sentiment = Some(s.clamp(-1.0, 1.0));
        }
        // A customer writing again wants an answer: a resolved ticket reopens, a waiting one
        // (waiting on them) is open again.
        if public && customer && matches!(t.status, Status::Resolved | Status::Waiting) {
            change::move_now(t, Status::Open);
        }
    })
    .await?;
    let entry = history::Change {
        field: "comment",
        before: None,
        after: Some(serde_json::json!({
            "comment_id": comment.id,
            "is_internal": comment.is_internal,
            "author_kind": comment.author_kind,
        })),
        kind: "commented",
    };
    history::record(tx, org, after.id, who.actor.user_id(), who.kind.as_str(), &[entry]).await?;
    events::comment_created(tx, &after, &comment).await?;
    let reply_back = public && !customer;
    if reply_back {
        crate::inbox::on_public_agent_reply(tx, &after, comment.id, &comment.body, who.actor.user_id()).await?;
    }
    let recipients: Vec<_> = watchers::ids(tx, org, after.id).await?.into_iter().chain(after.assignee_id).collect();
    let what = if comment.is_internal { "internal note" } else { "reply" };
    let notice = Notice {
        reason: ev::TICKET_COMMENT_CREATED,
        title: format!("New {what} on {}", after.number),
        body: comment.body.chars().take(200).collect(),
    };
    events::notify(tx, &after, recipients, who.actor, notice, &services.config.app_base_url).await?;
    // The inbox hook may have marked the reply pending delivery: answer it as it is now.
    let comment =
        if reply_back { comments::get(tx, org, after.id, comment.id).await?.unwrap_or(comment) } else { comment };
    Ok(Posted { ticket: after, comment })
}
