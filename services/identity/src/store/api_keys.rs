//! API keys, stored as SHA-256 with a display prefix.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// A key as listings show it: never the key or its hash.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, to recognise it by.
    pub prefix: String,
    pub scopes: Vec<String>,
    #[schema(schema_with = crate::http::schema::key_role)]
    pub role: String,
    pub created_by: Option<Uuid>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, prefix, scopes, role, created_by, last_used_at, expires_at, created_at";

pub struct NewKey<'a> {
    pub org: Uuid,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a [u8],
    pub scopes: &'a [String],
    pub role: &'a str,
    pub created_by: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut PgConnection, k: NewKey<'_>) -> sqlx::Result<ApiKey> {
    sqlx::query_as(&format!(
        "INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, scopes, role, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(k.org)
    .bind(k.name)
    .bind(k.prefix)
    .bind(k.key_hash)
    .bind(k.scopes)
    .bind(k.role)
    .bind(k.created_by)
    .bind(k.expires_at)
    .fetch_one(conn)
    .await
}

/// The live keys of `org`, newest first.
pub async fn live(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Vec<ApiKey>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL \
         ORDER BY created_at DESC LIMIT 1000"
    ))
    .bind(org)
    .fetch_all(conn)
    .await
}

/// A revoked key: what caches and the event need.
#[derive(sqlx::FromRow)]
pub struct Revoked {
    pub key_hash: Vec<u8>,
    pub name: String,
    pub prefix: String,
}

pub async fn revoke(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Revoked>> {
    sqlx::query_as(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND organization_id = $2 AND revoked_at IS NULL \
         RETURNING key_hash, name, prefix",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}
