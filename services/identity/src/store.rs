//! Rows and the queries shared across identity's areas.

use chrono::{DateTime, Utc};
use platform::auth::Role;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// A user as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// An organization as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub website_url: Option<String>,
    pub plan: String,
    pub status: String,
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const USER_COLUMNS: &str = "id, email, name, avatar_url, email_verified, created_at";
pub const ORG_COLUMNS: &str =
    "id, name, slug, description, logo_url, website_url, plan, status, settings, created_at, updated_at";

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
