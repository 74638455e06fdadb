//! Comments of tickets: public replies and internal notes.

use chrono::{DateTime, Utc};
use platform::pagination::Cursor;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ticket::{AuthorKind, Source};

/// A comment as agents see it (customers never receive internal ones).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub ticket_id: Uuid,
    pub author_kind: AuthorKind,
    pub author_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub body: String,
    pub is_internal: bool,
    pub source: Source,
    pub inbox_message_id: Option<Uuid>,
    /// An outbound reply's delivery: `pending`, `sent`, `delivered`, `read` or `failed`.
    pub delivery_status: Option<String>,
    pub delivery_error: Option<String>,
    /// Set when a merge moved this comment here.
    pub merged_from_ticket_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const COLUMNS: &str = "id, organization_id, ticket_id, author_kind, author_id, customer_id, body, is_internal, \
    source, inbox_message_id, delivery_status, delivery_error, merged_from_ticket_id, created_at, updated_at";

/// A comment to insert.
pub struct NewRow<'a> {
    pub org: Uuid,
    pub ticket: Uuid,
    pub author_kind: AuthorKind,
    pub author_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub body: &'a str,
    pub is_internal: bool,
    pub source: Source,
    pub inbox_message_id: Option<Uuid>,
}

/// Inserts a comment; `None` when its inbox message was already recorded (exactly once).
pub async fn insert(conn: &mut PgConnection, c: NewRow<'_>) -> sqlx::Result<Option<Comment>> {
    sqlx::query_as(&format!(
        "INSERT INTO ticket_comments (id, organization_id, ticket_id, author_kind, author_id, customer_id, body, \
           is_internal, source, inbox_message_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (organization_id, inbox_message_id) WHERE inbox_message_id IS NOT NULL DO NOTHING \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(c.org)
    .bind(c.ticket)
    .bind(c.author_kind)
    .bind(c.author_id)
    .bind(c.customer_id)
    .bind(c.body)
    .bind(c.is_internal)
    .bind(c.source.as_str())
    .bind(c.inbox_message_id)
    .fetch_optional(conn)
    .await
}

/// One page of a ticket's comments, oldest first, after `cursor`; notes only when `internal`.
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    internal: bool,
    limit: i64,
    cursor: Option<Cursor>,
) -> sqlx::Result<Vec<Comment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM ticket_comments WHERE organization_id = $1 AND ticket_id = $2 \
           AND ($3 OR NOT is_internal) \
           AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5)) \
         ORDER BY created_at, id LIMIT $6"
    ))
    .bind(org)
    .bind(ticket)
    .bind(internal)
    .bind(cursor.map(|c| c.time))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}

/// One comment of the ticket, whatever it is.
pub async fn get(conn: &mut PgConnection, org: Uuid, ticket: Uuid, id: Uuid) -> sqlx::Result<Option<Comment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM ticket_comments WHERE organization_id = $1 AND ticket_id = $2 AND id = $3"
    ))
    .bind(org)
    .bind(ticket)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// How many comments the ticket has (for complexity).
pub async fn count(conn: &mut PgConnection, ticket: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM ticket_comments WHERE ticket_id = $1").bind(ticket).fetch_one(conn).await
}

/// The latest customer message's text, for rules.
pub async fn latest_customer_text(conn: &mut PgConnection, ticket: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT body FROM ticket_comments WHERE ticket_id = $1 AND author_kind = 'customer' \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(ticket)
    .fetch_optional(conn)
    .await
}

/// Moves every comment (and attachment) of `source` to `target`, remembering where it came from.
pub async fn move_all(conn: &mut PgConnection, org: Uuid, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    let moved = sqlx::query(
        "UPDATE ticket_comments SET ticket_id = $3, merged_from_ticket_id = COALESCE(merged_from_ticket_id, $2) \
         WHERE organization_id = $1 AND ticket_id = $2",
    )
    .bind(org)
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE ticket_attachments SET ticket_id = $3 WHERE organization_id = $1 AND ticket_id = $2")
        .bind(org)
        .bind(source)
        .bind(target)
        .execute(conn)
        .await?;
    Ok(moved.rows_affected())
}
