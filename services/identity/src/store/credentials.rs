//! The credentials behind a bearer token (`crate::authn` decides what they allow): a session
//! or an API key by the hash of its secret, and their last use.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub slug: String,
    pub role: String,
    pub access_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub subscription_status: Option<String>,
}

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub slug: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub subscription_status: Option<String>,
}

/// The live session whose access token hashes to `hash`, with its organization and role.
pub async fn session(pool: &PgPool, hash: &[u8]) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(
        "SELECT s.id, s.user_id, s.organization_id, o.slug, m.role, s.access_expires_at, \
                s.absolute_expires_at, s.last_used_at, o.subscription_status \
         FROM sessions s \
         JOIN organizations o ON o.id = s.organization_id \
         JOIN memberships m ON m.organization_id = s.organization_id AND m.user_id = s.user_id \
         JOIN users u ON u.id = s.user_id \
         WHERE s.access_token_hash = $1 AND s.revoked_at IS NULL AND u.is_active",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

/// Notes that session `id` was used now.
pub async fn touch_session(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET last_used_at = now() WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// The unrevoked API key whose secret hashes to `hash`, with its organization.
pub async fn api_key(pool: &PgPool, hash: &[u8]) -> sqlx::Result<Option<KeyRow>> {
    sqlx::query_as(
        "SELECT k.id, k.organization_id, o.slug, k.role, k.scopes, k.expires_at, k.last_used_at, o.subscription_status \
         FROM api_keys k JOIN organizations o ON o.id = k.organization_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

/// Notes that API key `id` was used now.
pub async fn touch_api_key(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}
