//! Resolving a bearer credential from the database: identity's own authenticator, served to
//! other services through gRPC and to identity's handlers through the cached [`AuthClient`].
//!
//! [`AuthClient`]: platform::auth::AuthClient

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use platform::auth::{AuthFailure, Authenticator, CredentialKind, Principal, Role};
use sqlx::PgPool;
use uuid::Uuid;

use crate::tokens;

pub struct DbAuthenticator {
    pool: PgPool,
    idle: Duration,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    organization_id: Uuid,
    slug: String,
    role: String,
    access_expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    subscription_status: Option<String>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    organization_id: Uuid,
    slug: String,
    role: String,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    subscription_status: Option<String>,
}

/// `last_used_at` is written at most this often per credential, to keep reads cheap.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

impl DbAuthenticator {
    pub fn new(pool: PgPool, idle: Duration) -> Self {
        Self { pool, idle }
    }

    async fn session(&self, token: &str) -> Result<Principal, AuthFailure> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.id, s.user_id, s.organization_id, o.slug, m.role, s.access_expires_at, \
                    s.absolute_expires_at, s.last_used_at, o.subscription_status \
             FROM sessions s \
             JOIN organizations o ON o.id = s.organization_id \
             JOIN memberships m ON m.organization_id = s.organization_id AND m.user_id = s.user_id \
             JOIN users u ON u.id = s.user_id \
             WHERE s.access_token_hash = $1 AND s.revoked_at IS NULL AND u.is_active",
        )
        .bind(tokens::hash(token))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| AuthFailure::Unavailable(e.into()))?;
        let row = row.ok_or(AuthFailure::Invalid)?;
        let now = Utc::now();
        let idle = chrono::Duration::from_std(self.idle).unwrap_or(chrono::Duration::MAX);
        if now >= row.access_expires_at || now >= row.absolute_expires_at || now - row.last_used_at >= idle {
            return Err(AuthFailure::Invalid);
        }
        if now - row.last_used_at >= TOUCH_EVERY {
            let _ = sqlx::query("UPDATE sessions SET last_used_at = now() WHERE id = $1")
                .bind(row.id)
                .execute(&self.pool)
                .await;
        }
        let role = row.role.parse::<Role>().map_err(|e| AuthFailure::Unavailable(anyhow::anyhow!(e)))?;
        Ok(Principal {
            user_id: Some(row.user_id),
            org_id: row.organization_id,
            org_slug: row.slug,
            role,
            scopes: Vec::new(),
            kind: CredentialKind::Session,
            credential_id: row.id,
            expires_at: Some(row.access_expires_at.min(row.absolute_expires_at)),
            subscription_status: row.subscription_status,
        })
    }

    async fn api_key(&self, key: &str) -> Result<Principal, AuthFailure> {
        if !tokens::is_well_formed_api_key(key) {
            return Err(AuthFailure::Invalid);
        }
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT k.id, k.organization_id, o.slug, k.role, k.scopes, k.expires_at, k.last_used_at, o.subscription_status \
             FROM api_keys k JOIN organizations o ON o.id = k.organization_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(tokens::hash(key))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| AuthFailure::Unavailable(e.into()))?;
        let row = row.ok_or(AuthFailure::Invalid)?;
        let now = Utc::now();
        if row.expires_at.is_some_and(|e| now >= e) {
            return Err(AuthFailure::Invalid);
        }
        if row.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            let _ = sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
                .bind(row.id)
                .execute(&self.pool)
                .await;
        }
        let role = row.role.parse::<Role>().map_err(|e| AuthFailure::Unavailable(anyhow::anyhow!(e)))?;
        Ok(Principal {
            user_id: None,
            org_id: row.organization_id,
            org_slug: row.slug,
            role,
            scopes: row.scopes,
            kind: CredentialKind::ApiKey,
            credential_id: row.id,
            expires_at: row.expires_at,
            subscription_status: row.subscription_status,
        })
    }
}

impl Authenticator for DbAuthenticator {
    fn authenticate<'a>(&'a self, credential: &'a str) -> BoxFuture<'a, Result<Principal, AuthFailure>> {
        Box::pin(async move {
            if credential.starts_with(tokens::ACCESS_PREFIX) {
                self.session(credential).await
            } else if credential.starts_with(tokens::API_KEY_PREFIX) {
                self.api_key(credential).await
            } else {
                Err(AuthFailure::Invalid)
            }
        })
    }
}
