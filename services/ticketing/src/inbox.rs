//! Replies back to the customer's platform: an agent's public reply on a ticket that came from
//! an inbox conversation is handed to inbox-sync as an `inbox.send` command, and the comment's
//! `delivery_status` follows it (`pending` until inbox-sync reports, see `consumers::inbox`).

use platform::bus::CloudEvent;
use proto::events::{InboxSend, INBOX_SEND};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ticket::Ticket;
use crate::store;

/// CloudEvents `source` of what ticketing sends.
const SOURCE: &str = "switchboard/ticketing";

/// Called in the transaction that wrote an agent's public reply: sends it to the ticket's
/// conversation, if it has one. The command goes through the outbox, so it leaves exactly when
/// the reply commits; `source_id` (the comment id) lets inbox-sync drop a repeat.
pub async fn on_public_agent_reply(
    tx: &mut PgConnection,
    ticket: &Ticket,
    comment_id: Uuid,
    body: &str,
    author: Option<Uuid>,
) -> anyhow::Result<()> {
    let Some(conversation_id) = ticket.conversation_id else {
        return Ok(());
    };
    let org = ticket.organization_id;
    let command = CloudEvent::new(
        SOURCE,
        INBOX_SEND,
        Some(org),
        Some(comment_id.to_string()),
        InboxSend {
            organization_id: org,
            conversation_id,
            content: body.to_owned(),
            sent_by_user_id: author,
            source_id: comment_id.to_string(),
        },
    );
    platform::outbox::enqueue(tx, INBOX_SEND, &command).await?;
    store::inbox::mark_pending(tx, org, comment_id).await?;
    Ok(())
}
