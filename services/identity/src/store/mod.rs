//! Identity's SQL: rows and queries, by area. Every tenant-scoped statement filters by
//! organization.

pub mod api_keys;
pub mod credentials;
pub mod directory;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod throttle;

use chrono::{DateTime, Utc};
use platform::auth::Role;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// A user as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// An organization as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub website_url: Option<String>,
    #[schema(schema_with = crate::http::schema::plan)]
    pub plan: String,
    #[schema(schema_with = crate::http::schema::org_status)]
    pub status: String,
    /// The subscription's status as billing-metrics last said: `canceled` and `unpaid`
    /// organizations read but do not write (402 `subscription-inactive`).
    #[schema(schema_with = crate::http::schema::subscription_status)]
    pub subscription_status: Option<String>,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const USER_COLUMNS: &str = "id, email, name, avatar_url, email_verified, created_at";
pub const ORG_COLUMNS: &str =
    "id, name, slug, description, logo_url, website_url, plan, status, subscription_status, settings, created_at, updated_at";

#[tracing::instrument(skip(conn))]
pub async fn user(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(conn).await
}

#[tracing::instrument(skip(conn))]
pub async fn organization(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Organization>> {
    sqlx::query_as(&format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The user's role in `org`, if a member.
#[tracing::instrument(skip(conn))]
pub async fn role(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Option<Role>> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user)
            .fetch_optional(conn)
            .await?;
    Ok(role.and_then(|r| r.parse().ok()))
}

/// Id and password hash of the user with `email`, if any.
#[tracing::instrument(skip(conn))]
pub async fn credentials_by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<(Uuid, String, bool)>> {
    sqlx::query_as("SELECT id, password_hash, is_active FROM users WHERE lower(email) = $1")
        .bind(email)
        .fetch_optional(conn)
        .await
}

/// Inserts an organization; the slug constraint is `organizations_slug_key`.
pub async fn insert_organization(conn: &mut PgConnection, name: &str, slug: &str) -> sqlx::Result<Organization> {
    sqlx::query_as(&format!("INSERT INTO organizations (id, name, slug) VALUES ($1, $2, $3) RETURNING {ORG_COLUMNS}"))
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(slug)
        .fetch_one(conn)
        .await
}

/// Inserts a user; the email constraint is `users_email_key`.
pub async fn insert_user(
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    password_hash: &str,
    email_verified: bool,
) -> sqlx::Result<User> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, email, name, password_hash, email_verified) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(email_verified)
    .fetch_one(conn)
    .await
}

pub async fn insert_membership(conn: &mut PgConnection, org: Uuid, user: Uuid, role: Role) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(user)
    .bind(role.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a one-time token (reset or verification) for `user`.
pub async fn insert_one_time_token(
    conn: &mut PgConnection,
    table: OneTimeTable,
    user: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(&format!("INSERT INTO {} (id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)", table.name()))
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(token_hash)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Consumes a one-time token: the user it was for, if it was valid, unused and unexpired.
/// Which of those it was not is deliberately not told.
pub async fn consume_one_time_token(
    conn: &mut PgConnection,
    table: OneTimeTable,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(&format!(
        "UPDATE {} SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() \
         RETURNING user_id",
        table.name()
    ))
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}

/// Marks `user`'s address verified; their id and email when it was not yet.
pub async fn mark_email_verified(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<(Uuid, String)>> {
    sqlx::query_as("UPDATE users SET email_verified = true WHERE id = $1 AND NOT email_verified RETURNING id, email")
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// Sets a new password and lifts any lockout of the address.
pub async fn set_password(conn: &mut PgConnection, user: Uuid, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user)
        .bind(password_hash)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM login_throttle WHERE email = (SELECT lower(email) FROM users WHERE id = $1)")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// The organization and role `user` signs in to: the one named by slug or id, else the first
/// joined.
pub async fn sign_in_membership(
    conn: &mut PgConnection,
    user: Uuid,
    organization: Option<&str>,
) -> sqlx::Result<Option<(Uuid, String)>> {
    sqlx::query_as(
        "SELECT m.organization_id, m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1 AND ($2::text IS NULL OR o.slug = $2 OR o.id::text = $2) \
         ORDER BY m.created_at LIMIT 1",
    )
    .bind(user)
    .bind(organization)
    .fetch_optional(conn)
    .await
}

/// Whether an organization has `slug`.
pub async fn slug_taken(conn: &mut PgConnection, slug: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations WHERE slug = $1)").bind(slug).fetch_one(conn).await
}

/// Whether `user` has session `id` (of any state).
pub async fn owns_session(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2)")
        .bind(id)
        .bind(user)
        .fetch_one(conn)
        .await
}

/// The caller's user (none for an API key), organization and memberships, as JSON built by
/// the database in one round trip.
pub async fn profile(
    conn: &mut PgConnection,
    user: Option<Uuid>,
    org: Uuid,
) -> sqlx::Result<(Option<serde_json::Value>, Option<serde_json::Value>, serde_json::Value)> {
    sqlx::query_as(&format!(
        "SELECT \
           (SELECT to_jsonb(u) FROM (SELECT {USER_COLUMNS} FROM users WHERE id = $1) u), \
           (SELECT to_jsonb(o) FROM (SELECT {ORG_COLUMNS} FROM organizations WHERE id = $2) o), \
           COALESCE((SELECT jsonb_agg(jsonb_build_object( \
               'organization', jsonb_build_object('id', o.id, 'slug', o.slug, 'name', o.name), \
               'role', m.role) ORDER BY m.created_at) \
             FROM memberships m JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = $1), '[]')"
    ))
    .bind(user)
    .bind(org)
    .fetch_one(conn)
    .await
}

/// One membership as `/v1/me` lists it. Schema only: [`profile`] builds it as JSON.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MembershipView {
    organization: OrgRef,
    #[schema(schema_with = crate::http::schema::role)]
    role: String,
}

/// An organization named in a membership. Schema only.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct OrgRef {
    id: Uuid,
    slug: String,
    name: String,
}

/// Tables of one-time tokens.
#[derive(Debug, Clone, Copy)]
pub enum OneTimeTable {
    PasswordReset,
    EmailVerification,
}

impl OneTimeTable {
    fn name(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_resets",
            Self::EmailVerification => "email_verifications",
        }
    }
}
