//! Watchers (followers) of tickets: agents told about every change.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Watcher {
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Whether `user` was added (false: already watching).
pub async fn add(conn: &mut PgConnection, org: Uuid, ticket: Uuid, user: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO ticket_watchers (organization_id, ticket_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(ticket)
    .bind(user)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `user` was watching.
pub async fn remove(conn: &mut PgConnection, org: Uuid, ticket: Uuid, user: Uuid) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM ticket_watchers WHERE organization_id = $1 AND ticket_id = $2 AND user_id = $3")
            .bind(org)
            .bind(ticket)
            .bind(user)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list(conn: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<Vec<Watcher>> {
    sqlx::query_as(
        "SELECT user_id, created_at FROM ticket_watchers WHERE organization_id = $1 AND ticket_id = $2 \
         ORDER BY created_at, user_id",
    )
    .bind(org)
    .bind(ticket)
    .fetch_all(conn)
    .await
}

/// The watchers' ids, for notifications.
pub async fn ids(conn: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM ticket_watchers WHERE organization_id = $1 AND ticket_id = $2")
        .bind(org)
        .bind(ticket)
        .fetch_all(conn)
        .await
}

/// Moves `source`'s watchers to `target` (a merge); those already watching both stay once.
pub async fn move_all(conn: &mut PgConnection, org: Uuid, source: Uuid, target: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "WITH gone AS (DELETE FROM ticket_watchers WHERE organization_id = $1 AND ticket_id = $2 RETURNING user_id) \
         INSERT INTO ticket_watchers (organization_id, ticket_id, user_id) SELECT $1, $3, user_id FROM gone \
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?;
    Ok(())
}
