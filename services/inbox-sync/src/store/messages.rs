//! Messages, exactly one row per platform message (`messages_external`), with a delivery status
//! that only moves forward.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

pub const COLUMNS: &str = "id, organization_id, conversation_id, connection_id, external_id, direction, content_type, \
    content, media, location, reply_to, reaction_to, status, errors, sent_by_user_id, source_id, template, \
    platform_timestamp, created_at, updated_at";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub connection_id: Uuid,
    /// The platform's id; `null` until an outbound message is sent.
    pub external_id: Option<String>,
    /// `inbound` (from the contact) or `outbound` (from the business).
    pub direction: String,
    /// `text`, `image`, `video`, `audio`, `file`, `sticker`, `location`, `reaction` or `template`.
    pub content_type: String,
    pub content: String,
    #[schema(value_type = Option<Object>)]
    pub media: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub location: Option<serde_json::Value>,
    /// The platform id of the message this one answers.
    pub reply_to: Option<String>,
    /// The platform id of the message a reaction is about.
    pub reaction_to: Option<String>,
    /// `pending`, `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    /// The platform's errors of a failed message, as it gave them.
    #[schema(value_type = Option<Object>)]
    pub errors: Option<serde_json::Value>,
    pub sent_by_user_id: Option<Uuid>,
    /// The sender's idempotency id (ticketing's comment id).
    pub source_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub template: Option<serde_json::Value>,
    pub platform_timestamp: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewMessage<'a> {
    pub org: Uuid,
    pub conversation: Uuid,
    pub connection: Uuid,
    pub external_id: Option<&'a str>,
    pub outbound: bool,
    pub content_type: &'a str,
    pub content: &'a str,
    pub media: Option<serde_json::Value>,
    pub location: Option<serde_json::Value>,
    pub reply_to: Option<&'a str>,
    pub reaction_to: Option<&'a str>,
    pub status: &'a str,
    pub status_rank: i16,
    pub sent_by: Option<Uuid>,
    pub source_id: Option<&'a str>,
    pub template: Option<serde_json::Value>,
    pub at: Option<DateTime<Utc>>,
}

/// Inserts the message unless the platform message (or the sender's `source_id`) is stored
/// already: `None` then. A concurrent insert of the same message waits on the unique index
/// and then finds it there.
pub async fn insert(conn: &mut PgConnection, m: &NewMessage<'_>) -> sqlx::Result<Option<Message>> {
    sqlx::query_as(&format!(
        "INSERT INTO messages (id, organization_id, conversation_id, connection_id, external_id, direction, \
           content_type, content, media, location, reply_to, reaction_to, status, status_rank, sent_by_user_id, \
           source_id, template, platform_timestamp, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
           CASE WHEN $13 = 'pending' THEN now() END) \
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(m.org)
    .bind(m.conversation)
    .bind(m.connection)
    .bind(m.external_id)
    .bind(if m.outbound { "outbound" } else { "inbound" })
    .bind(m.content_type)
    .bind(m.content)
    .bind(&m.media)
    .bind(&m.location)
    .bind(m.reply_to)
    .bind(m.reaction_to)
    .bind(m.status)
    .bind(m.status_rank)
    .bind(m.sent_by)
    .bind(m.source_id)
    .bind(&m.template)
    .bind(m.at)
    .fetch_optional(conn)
    .await
}

/// Inserts customers' messages (no sender, source or template) in one statement, in their
/// order; the rows inserted (a platform message stored already is skipped, as by [`insert`]).
pub async fn insert_inbound(conn: &mut PgConnection, rows: &[NewMessage<'_>]) -> sqlx::Result<Vec<Message>> {
    let col = |f: fn(&NewMessage<'_>) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    sqlx::query_as(&format!(
        "INSERT INTO messages (id, organization_id, conversation_id, connection_id, external_id, direction, \
           content_type, content, media, location, reply_to, reaction_to, status, status_rank, platform_timestamp) \
         SELECT id, org, conversation, connection, external, 'inbound', content_type, content, media, location, \
           reply_to, reaction_to, status, rank, at \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], \
           $8::jsonb[], $9::jsonb[], $10::text[], $11::text[], $12::text[], $13::int2[], $14::timestamptz[]) \
           WITH ORDINALITY AS m(id, org, conversation, connection, external, content_type, content, media, location, \
             reply_to, reaction_to, status, rank, at, n) \
         ORDER BY n \
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(rows.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.org).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.conversation).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.connection).collect::<Vec<_>>())
    .bind(col(|m| m.external_id.map(str::to_owned)))
    .bind(rows.iter().map(|m| m.content_type).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.content).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.media.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.location.clone()).collect::<Vec<_>>())
    .bind(col(|m| m.reply_to.map(str::to_owned)))
    .bind(col(|m| m.reaction_to.map(str::to_owned)))
    .bind(rows.iter().map(|m| m.status).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.status_rank).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.at).collect::<Vec<_>>())
    .fetch_all(conn)
    .await
}

/// Serializes, until the transaction ends, everyone who writes the status of platform message
/// `external` of `connection`: a report that finds no message and the send that is recording
/// it then cannot pass each other (the report would be kept as early after the send looked for
/// early reports, and lost).
pub async fn lock_external(conn: &mut PgConnection, connection: Uuid, external: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2, 7))")
        .bind(connection)
        .bind(external)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes platform id `external` from the message an unmatched echo created for it (the echo
/// came before our send recorded the id, and its text did not match ours), so that our message
/// can have it; the echo row's status, rank and errors, to carry over.
pub async fn take_from_echo(
    conn: &mut PgConnection,
    org: Uuid,
    connection: Uuid,
    ours: Uuid,
    external: &str,
) -> sqlx::Result<Option<(String, i16, Option<serde_json::Value>)>> {
    sqlx::query_as(
        "DELETE FROM messages WHERE connection_id = $1 AND external_id = $2 AND organization_id = $3 AND id <> $4 \
           AND direction = 'outbound' AND source_id IS NULL AND sent_by_user_id IS NULL \
         RETURNING status, status_rank, errors",
    )
    .bind(connection)
    .bind(external)
    .bind(org)
    .bind(ours)
    .fetch_optional(conn)
    .await
}

/// An echo of a message we sent: gives its platform id to our outbound message of the same
/// text in the conversation that has none yet (its send is answering right now); whether there
/// was one.
pub async fn attach_echo(
    conn: &mut PgConnection,
    org: Uuid,
    conversation: Uuid,
    external: &str,
    text: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE messages SET external_id = $3 WHERE id = (SELECT id FROM messages \
           WHERE conversation_id = $1 AND organization_id = $2 AND direction = 'outbound' AND external_id IS NULL \
             AND content = $4 AND created_at > now() - interval '1 hour' ORDER BY created_at LIMIT 1 FOR UPDATE) \
           AND NOT EXISTS (SELECT 1 FROM messages WHERE connection_id = (SELECT connection_id FROM conversations \
             WHERE id = $1 AND organization_id = $2) AND external_id = $3)",
    )
    .bind(conversation)
    .bind(org)
    .bind(external)
    .bind(text)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Message>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM messages WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

pub async fn by_source(conn: &mut PgConnection, org: Uuid, source: &str) -> sqlx::Result<Option<Message>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM messages WHERE organization_id = $1 AND source_id = $2"))
        .bind(org)
        .bind(source)
        .fetch_optional(conn)
        .await
}

pub async fn by_external(
    conn: &mut PgConnection,
    org: Uuid,
    connection: Uuid,
    external: &str,
) -> sqlx::Result<Option<Message>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM messages WHERE connection_id = $1 AND external_id = $2 AND organization_id = $3"
    ))
    .bind(connection)
    .bind(external)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Raises the status of the message with platform id `external` to `status` (rank `rank`);
/// the message if it moved. A lower or equal report changes nothing.
pub async fn advance(
    conn: &mut PgConnection,
    org: Uuid,
    connection: Uuid,
    external: &str,
    status: &str,
    rank: i16,
    errors: Option<&serde_json::Value>,
) -> sqlx::Result<Option<Message>> {
    sqlx::query_as(&format!(
        "UPDATE messages SET status = $4, status_rank = $5, errors = COALESCE($6, errors) \
         WHERE connection_id = $1 AND external_id = $2 AND organization_id = $3 AND status_rank < $5 \
         RETURNING {COLUMNS}"
    ))
    .bind(connection)
    .bind(external)
    .bind(org)
    .bind(status)
    .bind(rank)
    .bind(errors)
    .fetch_optional(conn)
    .await
}

/// A watermark: every outbound message of the conversation sent up to `until` (and not failed)
/// reaches at least `status`; the messages that moved.
pub async fn advance_until(
    conn: &mut PgConnection,
    org: Uuid,
    conversation: Uuid,
    until: DateTime<Utc>,
    status: &str,
    rank: i16,
) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(&format!(
        "UPDATE messages SET status = $4, status_rank = $5 \
         WHERE conversation_id = $1 AND organization_id = $2 AND direction = 'outbound' \
           AND platform_timestamp <= $3 AND status_rank < $5 AND status <> 'failed' AND status <> 'pending' \
         RETURNING {COLUMNS}"
    ))
    .bind(conversation)
    .bind(org)
    .bind(until)
    .bind(status)
    .bind(rank)
    .fetch_all(conn)
    .await
}

/// Keeps a report for a message not stored yet: the highest of those that came.
pub async fn keep_early(
    conn: &mut PgConnection,
    connection: Uuid,
    external: &str,
    status: &str,
    rank: i16,
    errors: Option<&serde_json::Value>,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO early_statuses (connection_id, external_id, status, status_rank, errors, reported_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (connection_id, external_id) DO UPDATE SET status = EXCLUDED.status, \
           status_rank = EXCLUDED.status_rank, errors = COALESCE(EXCLUDED.errors, early_statuses.errors), \
           reported_at = EXCLUDED.reported_at \
         WHERE early_statuses.status_rank < EXCLUDED.status_rank",
    )
    .bind(connection)
    .bind(external)
    .bind(status)
    .bind(rank)
    .bind(errors)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the kept report of a message that has just been stored, if any.
pub async fn take_early(
    conn: &mut PgConnection,
    connection: Uuid,
    external: &str,
) -> sqlx::Result<Option<(String, i16, Option<serde_json::Value>)>> {
    sqlx::query_as(
        "DELETE FROM early_statuses WHERE connection_id = $1 AND external_id = $2 \
         RETURNING status, status_rank, errors",
    )
    .bind(connection)
    .bind(external)
    .fetch_optional(conn)
    .await
}

/// A conversation's messages, newest first, after the `(created_at, id)` cursor.
pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    conversation: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND organization_id = $2 \
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(conversation)
    .bind(org)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// An outbound message a sender has claimed, with what sending it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub connection_id: Uuid,
    pub content_type: String,
    pub content: String,
    pub template: Option<serde_json::Value>,
    pub media: Option<serde_json::Value>,
    pub attempts: i32,
}

/// Claims up to `limit` pending outbound messages due now for `lease` (other replicas skip
/// them; a replica that dies gives them back when the lease ends). Only the oldest pending
/// message of a conversation is ever claimed, so replies leave in the order they were written,
/// also when one waits for a retry.
pub async fn claim(conn: &mut PgConnection, limit: i64, lease: std::time::Duration) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "WITH heads AS (SELECT DISTINCT ON (conversation_id) id, next_attempt_at, lease_until FROM messages \
                 WHERE status = 'pending' AND direction = 'outbound' ORDER BY conversation_id, created_at, id), \
              due AS (SELECT h.id FROM heads h WHERE h.next_attempt_at <= now() \
                 AND (h.lease_until IS NULL OR h.lease_until < now()) ORDER BY h.next_attempt_at LIMIT $1), \
              locked AS (SELECT m.id FROM messages m JOIN due ON due.id = m.id \
                 WHERE m.status = 'pending' AND (m.lease_until IS NULL OR m.lease_until < now()) \
                 FOR UPDATE OF m SKIP LOCKED) \
         UPDATE messages m SET lease_until = now() + make_interval(secs => $2), attempts = m.attempts + 1 \
         FROM locked WHERE m.id = locked.id \
         RETURNING m.id, m.organization_id, m.conversation_id, m.connection_id, m.content_type, m.content, m.template, \
                   m.media, m.attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(conn)
    .await
}

/// The platform took the message: its id (when it gave one) and `sent` (unless a report already
/// went further).
pub async fn sent(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    external: Option<&str>,
) -> sqlx::Result<Option<Message>> {
    sqlx::query_as(&format!(
        "UPDATE messages SET external_id = COALESCE(external_id, $3), status = CASE WHEN status_rank < 1 THEN 'sent' ELSE status END, \
           status_rank = GREATEST(status_rank, 1), platform_timestamp = COALESCE(platform_timestamp, now()), \
           lease_until = NULL, next_attempt_at = NULL \
         WHERE id = $1 AND organization_id = $2 AND status = 'pending' RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(external)
    .fetch_optional(conn)
    .await
}

/// Sending failed for good.
pub async fn failed(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    errors: &serde_json::Value,
) -> sqlx::Result<Option<Message>> {
    sqlx::query_as(&format!(
        "UPDATE messages SET status = 'failed', status_rank = 4, errors = $3, lease_until = NULL, next_attempt_at = NULL \
         WHERE id = $1 AND organization_id = $2 AND status = 'pending' RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(errors)
    .fetch_optional(conn)
    .await
}

/// Try again after `delay`.
pub async fn retry_later(conn: &mut PgConnection, org: Uuid, id: Uuid, delay: std::time::Duration) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET next_attempt_at = now() + make_interval(secs => $3), lease_until = NULL \
         WHERE id = $1 AND organization_id = $2 AND status = 'pending'",
    )
    .bind(id)
    .bind(org)
    .bind(delay.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(())
}

/// The soonest a pending message is due, for the sender to sleep until.
pub async fn next_due(conn: &mut PgConnection) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "SELECT min(GREATEST(next_attempt_at, COALESCE(lease_until, next_attempt_at))) FROM messages \
         WHERE status = 'pending' AND direction = 'outbound'",
    )
    .fetch_one(conn)
    .await
}
