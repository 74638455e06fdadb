//! Organizations a user belongs to, and changes to one.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Organization, ORG_COLUMNS};

/// An organization with the caller's role in it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OrgWithRole {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub organization: Organization,
    #[schema(schema_with = crate::http::schema::role)]
    pub role: String,
}

/// The organizations `user` belongs to, in the order joined.
pub async fn of_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<OrgWithRole>> {
    let cols = ORG_COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ");
    sqlx::query_as(&format!(
        "SELECT {cols}, m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1 ORDER BY m.created_at"
    ))
    .bind(user)
    .fetch_all(conn)
    .await
}

/// The organization, locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Organization>> {
    sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The organization's fields after a change; `settings` is the merged object.
pub struct OrgFields<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub logo_url: Option<&'a str>,
    pub website_url: Option<&'a str>,
    pub settings: &'a serde_json::Value,
}

pub async fn update(conn: &mut PgConnection, id: Uuid, f: OrgFields<'_>) -> sqlx::Result<Organization> {
    sqlx::query_as(&format!(
        "UPDATE organizations SET name = $2, description = $3, logo_url = $4, website_url = $5, settings = $6 \
         WHERE id = $1 RETURNING {ORG_COLUMNS}"
    ))
    .bind(id)
    .bind(f.name)
    .bind(f.description)
    .bind(f.logo_url)
    .bind(f.website_url)
    .bind(f.settings)
    .fetch_one(conn)
    .await
}

/// Mirrors billing's plan and status on organization `id` unless a later event did already;
/// whether it changed anything.
pub async fn mirror_billing(
    conn: &mut PgConnection,
    id: Uuid,
    plan: &str,
    subscription_status: &str,
    status: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE organizations SET plan = $2, subscription_status = $3, status = $4, billing_updated_at = $5 \
         WHERE id = $1 AND (billing_updated_at IS NULL OR billing_updated_at <= $5) \
           AND (plan, subscription_status, status) IS DISTINCT FROM ($2, $3, $4)",
    )
    .bind(id)
    .bind(plan)
    .bind(subscription_status)
    .bind(status)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}
