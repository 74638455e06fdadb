//! Time entries: minutes worked on a ticket, summed into its actual time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TimeEntry {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub user_id: Uuid,
    #[schema(minimum = 1, maximum = 10080)]
    pub minutes: i32,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, ticket_id, user_id, minutes, note, created_at";

pub async fn insert(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    user: Uuid,
    minutes: i32,
    note: Option<&str>,
) -> sqlx::Result<TimeEntry> {
    sqlx::query_as(&format!(
        "INSERT INTO time_entries (id, organization_id, ticket_id, user_id, minutes, note) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(ticket)
    .bind(user)
    .bind(minutes)
    .bind(note)
    .fetch_one(conn)
    .await
}

/// Every entry of the ticket, oldest first (a ticket has few).
pub async fn list(conn: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<Vec<TimeEntry>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM time_entries WHERE organization_id = $1 AND ticket_id = $2 ORDER BY created_at, id"
    ))
    .bind(org)
    .bind(ticket)
    .fetch_all(conn)
    .await
}

/// Deletes the entry; the deleted row, if there was one.
pub async fn delete(conn: &mut PgConnection, org: Uuid, ticket: Uuid, id: Uuid) -> sqlx::Result<Option<TimeEntry>> {
    sqlx::query_as(&format!(
        "DELETE FROM time_entries WHERE organization_id = $1 AND ticket_id = $2 AND id = $3 RETURNING {COLUMNS}"
    ))
    .bind(org)
    .bind(ticket)
    .bind(id)
    .fetch_optional(conn)
    .await
}
