//! Internal notes on a conversation: agents' own words, never sent to the platform and never in
//! an event. They leave the conversation's unread count and last message alone.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

const COLUMNS: &str = "id, organization_id, conversation_id, author_id, content, created_at";

/// An internal note on a conversation.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Note {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    /// The member who wrote it; `null` when an API key did.
    pub author_id: Option<Uuid>,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// Adds a note to the conversation; `None` if `org` has no such conversation.
pub async fn insert(
    conn: &mut PgConnection,
    org: Uuid,
    conversation: Uuid,
    author: Option<Uuid>,
    content: &str,
) -> sqlx::Result<Option<Note>> {
    sqlx::query_as(&format!(
        "INSERT INTO conversation_notes (id, organization_id, conversation_id, author_id, content) \
         SELECT $1, c.organization_id, c.id, $4, $5 FROM conversations c WHERE c.id = $3 AND c.organization_id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(conversation)
    .bind(author)
    .bind(content)
    .fetch_optional(conn)
    .await
}

/// One page of the conversation's notes, oldest first, after the `(created_at, id)` cursor.
pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    conversation: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Note>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversation_notes WHERE conversation_id = $1 AND organization_id = $2 \
           AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4)) \
         ORDER BY created_at, id LIMIT $5"
    ))
    .bind(conversation)
    .bind(org)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, org: Uuid, conversation: Uuid, id: Uuid) -> sqlx::Result<Option<Note>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversation_notes WHERE id = $1 AND conversation_id = $2 AND organization_id = $3"
    ))
    .bind(id)
    .bind(conversation)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Deletes a note; whether there was one.
pub async fn delete(conn: &mut PgConnection, org: Uuid, conversation: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM conversation_notes WHERE id = $1 AND conversation_id = $2 AND organization_id = $3")
            .bind(id)
            .bind(conversation)
            .bind(org)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}
