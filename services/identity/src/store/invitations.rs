//! Invitations by email, stored with their token hashed.

use chrono::{DateTime, Utc};
use platform::pagination::Cursor;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// An invitation as admins see it (never its token).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    #[schema(schema_with = crate::http::schema::invitable_role)]
    pub role: String,
    pub department_id: Option<Uuid>,
    pub invited_by: Option<Uuid>,
    #[schema(schema_with = crate::http::schema::invitation_status)]
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, role, department_id, invited_by, status, expires_at, accepted_at, created_at";

/// Cancels the pending invitations of `org` to `email`, answering them.
pub async fn cancel_pending_to(conn: &mut PgConnection, org: Uuid, email: &str) -> sqlx::Result<Vec<Invitation>> {
    sqlx::query_as(&format!(
        "UPDATE invitations SET status = 'cancelled' WHERE organization_id = $1 AND email = $2 AND status = 'pending' \
         RETURNING {COLUMNS}"
    ))
    .bind(org)
    .bind(email)
    .fetch_all(conn)
    .await
}

pub struct NewInvitation<'a> {
    pub org: Uuid,
    pub email: &'a str,
    pub role: &'a str,
    pub department_id: Option<Uuid>,
    pub token_hash: &'a [u8],
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut PgConnection, n: NewInvitation<'_>) -> sqlx::Result<Invitation> {
    sqlx::query_as(&format!(
        "INSERT INTO invitations (id, organization_id, email, role, department_id, token_hash, invited_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(n.org)
    .bind(n.email)
    .bind(n.role)
    .bind(n.department_id)
    .bind(n.token_hash)
    .bind(n.invited_by)
    .bind(n.expires_at)
    .fetch_one(conn)
    .await
}

/// Invitations of `org` (with `status`, when given), newest first, after `cursor`.
pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    status: Option<&str>,
    limit: i64,
    cursor: Option<Cursor>,
) -> sqlx::Result<Vec<Invitation>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE organization_id = $1 AND ($2::text IS NULL OR status = $2) \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(org)
    .bind(status)
    .bind(cursor.map(|c| c.time))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}

/// Cancels one pending invitation of `org`.
pub async fn cancel(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Invitation>> {
    sqlx::query_as(&format!(
        "UPDATE invitations SET status = 'cancelled' WHERE id = $1 AND organization_id = $2 AND status = 'pending' \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// A pending, unexpired invitation, as acceptance needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct Pending {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
}

/// The pending, unexpired invitation with `token_hash` (not locked: read before the password
/// work, which must not hold a transaction open).
pub async fn pending_by_token(conn: &mut PgConnection, token_hash: &[u8]) -> sqlx::Result<Option<Pending>> {
    sqlx::query_as(
        "SELECT id, organization_id, email, role FROM invitations \
         WHERE token_hash = $1 AND status = 'pending' AND expires_at > now()",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}

/// Locks invitation `id` if it is still pending and unexpired.
pub async fn lock_pending(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM invitations WHERE id = $1 AND status = 'pending' AND expires_at > now() FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

pub async fn mark_accepted(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE invitations SET status = 'accepted', accepted_at = now() WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
