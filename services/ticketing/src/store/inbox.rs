//! What the inbox flow reads and writes besides tickets and comments: the conversation lock, the
//! message-to-comment key, and the delivery status of replies sent to a platform.

use sqlx::PgConnection;
use uuid::Uuid;

/// Serialises the messages of one conversation until the transaction ends, so two first messages
/// arriving together open one ticket, not two (a hash collision only makes two conversations
/// wait for each other).
pub async fn lock_conversation(conn: &mut PgConnection, org: Uuid, conversation: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text, 8083))")
        .bind(org)
        .bind(conversation)
        .execute(conn)
        .await?;
    Ok(())
}

/// The comment an inbox message already became, if any.
pub async fn comment_of_message(conn: &mut PgConnection, org: Uuid, message: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM ticket_comments WHERE organization_id = $1 AND inbox_message_id = $2")
        .bind(org)
        .bind(message)
        .fetch_optional(conn)
        .await
}

/// The conversation's most recent ticket, whatever its status (the comment rules decide whether
/// a message reopens it, follows a merge or opens a follow-up).
pub async fn ticket_of_conversation(
    conn: &mut PgConnection,
    org: Uuid,
    conversation: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM tickets WHERE organization_id = $1 AND conversation_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(org)
    .bind(conversation)
    .fetch_optional(conn)
    .await
}

/// Marks a reply as handed to the inbox, not yet reported by the platform.
pub async fn mark_pending(conn: &mut PgConnection, org: Uuid, comment: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE ticket_comments SET delivery_status = 'pending', delivery_error = NULL \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(comment)
    .bind(org)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a reply's delivery status forward to `status` (`sent`, `delivered`, `read`, `failed`);
/// whether it moved. Reports arrive out of order, so the statement only ever advances
/// (pending < sent < delivered < read) and `failed` is taken only before delivery; a late `sent`
/// never overwrites `read`. Only comments that were sent to a platform (with a status) change.
pub async fn advance_delivery(
    conn: &mut PgConnection,
    org: Uuid,
    comment: Uuid,
    status: &str,
    error: Option<&str>,
) -> sqlx::Result<bool> {
    let moved = sqlx::query(
        "UPDATE ticket_comments SET delivery_status = $3, \
         delivery_error = CASE WHEN $3 = 'failed' THEN $4 ELSE NULL END \
         WHERE id = $1 AND organization_id = $2 AND delivery_status IS NOT NULL AND CASE $3 \
             WHEN 'failed' THEN delivery_status IN ('pending', 'sent') \
             ELSE array_position(ARRAY['pending', 'sent', 'delivered', 'read'], delivery_status) \
                  < array_position(ARRAY['pending', 'sent', 'delivered', 'read'], $3) END",
    )
    .bind(comment)
    .bind(org)
    .bind(status)
    .bind(error)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(moved == 1)
}
