//! Memberships: who belongs to an organization, with which role.

use chrono::{DateTime, Utc};
use platform::pagination::{Cursor, Page};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// A member as clients see them.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    #[schema(schema_with = crate::http::schema::role)]
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT u.id AS user_id, u.email, u.name, u.email_verified, m.role, m.created_at AS joined_at \
                      FROM memberships m JOIN users u ON u.id = m.user_id";

/// Members of `org` with one of `roles` (any when empty), oldest first, from `cursor` on.
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    roles: &[String],
    limit: i64,
    cursor: Option<Cursor>,
) -> sqlx::Result<Page<Member>> {
    let rows: Vec<Member> = sqlx::query_as(&format!(
        "{SELECT} WHERE m.organization_id = $1 AND (cardinality($2::text[]) = 0 OR m.role = ANY($2)) \
           AND ($3::timestamptz IS NULL OR (m.created_at, m.user_id) > ($3, $4)) \
         ORDER BY m.created_at, m.user_id LIMIT $5"
    ))
    .bind(org)
    .bind(roles)
    .bind(cursor.map(|c| c.time))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, limit, |m| Cursor { time: m.joined_at, id: m.user_id }))
}

pub async fn find(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Option<Member>> {
    sqlx::query_as(&format!("{SELECT} WHERE m.organization_id = $1 AND m.user_id = $2"))
        .bind(org)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// Locks the organization's owners and answers how many there are.
pub async fn lock_owners(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<usize> {
    let owners: Vec<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM memberships WHERE organization_id = $1 AND role = 'owner' FOR UPDATE")
            .bind(org)
            .fetch_all(conn)
            .await?;
    Ok(owners.len())
}

pub async fn set_role(conn: &mut PgConnection, org: Uuid, user: Uuid, role: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .bind(role)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes `user` from `org` and from its teams; answers the teams they left.
pub async fn remove(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "DELETE FROM team_members WHERE user_id = $2 AND team_id IN (SELECT id FROM teams WHERE organization_id = $1) \
         RETURNING team_id",
    )
    .bind(org)
    .bind(user)
    .fetch_all(conn)
    .await
}

/// Whether a member of `org` has `email`.
pub async fn has_email(conn: &mut PgConnection, org: Uuid, email: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND lower(u.email) = $2)",
    )
    .bind(org)
    .bind(email)
    .fetch_one(conn)
    .await
}
