//! Conversations: one per connection and contact, created on first contact.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

pub const COLUMNS: &str = "c.id, c.organization_id, c.connection_id, c.platform, c.external_id, c.contact_name, \
    c.contact_username, c.contact_avatar_url, c.last_message_preview, c.last_message_at, c.last_inbound_at, \
    c.unread_count, c.status, c.assignee_id, c.thread_id, c.created_at, c.updated_at, c.activity_at, \
    COALESCE((SELECT array_agg(l.name ORDER BY l.name) FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id \
      WHERE cl.conversation_id = c.id AND cl.organization_id = c.organization_id), '{}') AS labels";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub connection_id: Uuid,
    pub platform: String,
    /// The contact's id on the platform.
    pub external_id: String,
    pub contact_name: Option<String>,
    pub contact_username: Option<String>,
    pub contact_avatar_url: Option<String>,
    pub last_message_preview: Option<String>,
    pub last_message_at: Option<DateTime<Utc>>,
    /// The contact's last message (WhatsApp's 24-hour window runs from it).
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub unread_count: i32,
    /// `open`, `closed` or `archived`.
    pub status: String,
    pub assignee_id: Option<Uuid>,
    /// The platform's id of the conversation, where it has one apart from the contact (TikTok).
    pub thread_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Last activity: lists are ordered by it, newest first.
    pub activity_at: DateTime<Utc>,
    pub labels: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Contact<'a> {
    pub external_id: &'a str,
    pub name: Option<&'a str>,
    pub username: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    /// The platform's conversation id (TikTok's `conversation_id`), which sending needs.
    pub thread_id: Option<&'a str>,
}

/// The conversations of the contacts `externals` on connection `connection` of `org` that
/// exist, by contact: one statement for a batch.
pub async fn known(
    conn: &mut PgConnection,
    org: Uuid,
    connection: Uuid,
    externals: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, Uuid>> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT external_id, id FROM conversations \
         WHERE connection_id = $1 AND external_id = ANY($2) AND organization_id = $3",
    )
    .bind(connection)
    .bind(externals)
    .bind(org)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The conversation of `contact` on connection `connection` of `org`, created if new; whether
/// it was created. Looked up first (a known contact, the common case, costs one statement).
/// Concurrent first messages of one contact find one conversation (the insert waits on the
/// unique key and then finds the row).
pub async fn find_or_create(
    conn: &mut PgConnection,
    org: Uuid,
    connection: Uuid,
    platform: &str,
    contact: &Contact<'_>,
) -> sqlx::Result<(Uuid, bool)> {
    let known: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE connection_id = $1 AND external_id = $2 AND organization_id = $3",
    )
    .bind(connection)
    .bind(contact.external_id)
    .bind(org)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = known {
        return Ok((id, false));
    }
    let created: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO conversations (id, organization_id, connection_id, platform, external_id, contact_name, \
           contact_username, contact_avatar_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (connection_id, external_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(connection)
    .bind(platform)
    .bind(contact.external_id)
    .bind(contact.name)
    .bind(contact.username)
    .bind(contact.avatar_url)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = created {
        return Ok((id, true));
    }
    let id = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE connection_id = $1 AND external_id = $2 AND organization_id = $3",
    )
    .bind(connection)
    .bind(contact.external_id)
    .bind(org)
    .fetch_one(conn)
    .await?;
    Ok((id, false))
}

/// What newly stored messages do to their conversation (`inbound` of them from the customer;
/// `preview` and `at` of the latest): preview, times, unread count, a closed conversation
/// reopening on a customer's message, and a name learnt. The conversation after it, and
/// whether it reopened.
pub async fn on_message(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    inbound: i32,
    preview: &str,
    at: DateTime<Utc>,
    contact: &Contact<'_>,
) -> sqlx::Result<(Conversation, bool)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        c: Conversation,
        reopened: bool,
    }
    let row: Row = sqlx::query_as(&format!(
        "UPDATE conversations c SET \
           last_message_preview = CASE WHEN c.last_message_at IS NULL OR c.last_message_at <= $5 THEN $4 ELSE c.last_message_preview END, \
           last_message_at = GREATEST(c.last_message_at, $5), \
           last_inbound_at = CASE WHEN $3 > 0 THEN GREATEST(c.last_inbound_at, $5) ELSE c.last_inbound_at END, \
           unread_count = c.unread_count + $3, \
           status = CASE WHEN $3 > 0 AND c.status = 'closed' THEN 'open' ELSE c.status END, \
           contact_name = COALESCE($6, c.contact_name), contact_username = COALESCE($7, c.contact_username), \
           contact_avatar_url = COALESCE($8, c.contact_avatar_url), thread_id = COALESCE($9, c.thread_id), activity_at = GREATEST(c.activity_at, now()) \
         FROM conversations old WHERE old.id = c.id AND c.id = $1 AND c.organization_id = $2 \
         RETURNING {COLUMNS}, ($3 > 0 AND old.status = 'closed') AS reopened"
    ))
    .bind(id)
    .bind(org)
    .bind(inbound)
    .bind(preview)
    .bind(at)
    .bind(contact.name)
    .bind(contact.username)
    .bind(contact.avatar_url)
    .bind(contact.thread_id)
    .fetch_one(conn)
    .await?;
    Ok((row.c, row.reopened))
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Conversation>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM conversations c WHERE c.id = $1 AND c.organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// The conversation of a contact on a connection (watermarks name the contact).
pub async fn of_contact(
    conn: &mut PgConnection,
    org: Uuid,
    connection: Uuid,
    contact: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM conversations WHERE connection_id = $1 AND external_id = $2 AND organization_id = $3",
    )
    .bind(connection)
    .bind(contact)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// List filters; `None` means any.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub platform: Option<String>,
    pub label: Option<String>,
    pub unread: Option<bool>,
    pub assignee: Option<Uuid>,
    pub unassigned: bool,
    pub connection: Option<Uuid>,
    pub q: Option<String>,
}

/// One page by last activity, newest first, after the `(activity_at, id)` cursor.
pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    f: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Conversation>> {
    let pattern =
        f.q.as_ref().map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversations c WHERE c.organization_id = $1 \
           AND ($2::text IS NULL OR c.status = $2) AND ($3::text IS NULL OR c.platform = $3) \
           AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id \
                 WHERE cl.conversation_id = c.id AND cl.organization_id = $1 AND l.name = $4)) \
           AND ($5::bool IS NULL OR (c.unread_count > 0) = $5) \
           AND ($6::uuid IS NULL OR c.assignee_id = $6) AND (NOT $7 OR c.assignee_id IS NULL) \
           AND ($8::uuid IS NULL OR c.connection_id = $8) \
           AND ($9::text IS NULL OR c.contact_name ILIKE $9 OR c.contact_username ILIKE $9 \
                OR c.external_id ILIKE $9 OR c.last_message_preview ILIKE $9) \
           AND ($10::timestamptz IS NULL OR (c.activity_at, c.id) < ($10, $11)) \
         ORDER BY c.activity_at DESC, c.id DESC LIMIT $12"
    ))
    .bind(org)
    .bind(&f.status)
    .bind(&f.platform)
    .bind(&f.label)
    .bind(f.unread)
    .bind(f.assignee)
    .bind(f.unassigned)
    .bind(f.connection)
    .bind(pattern)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Sets status and/or assignee (`Some(None)` unassigns); the conversation after.
pub async fn update(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    status: Option<&str>,
    assignee: Option<Option<Uuid>>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE conversations SET status = COALESCE($3, status), \
           assignee_id = CASE WHEN $4 THEN $5 ELSE assignee_id END, activity_at = now() \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .bind(status)
    .bind(assignee.is_some())
    .bind(assignee.flatten())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Resets the unread count; whether there was such a conversation.
pub async fn mark_read(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE conversations SET unread_count = 0 WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
