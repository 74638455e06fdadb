//! Resolving a bearer credential from the database: identity's own authenticator, served to
//! other services through gRPC and to identity's handlers through the cached [`AuthClient`].
//!
//! [`AuthClient`]: platform::auth::AuthClient

use std::time::Duration;

use crate::store::credentials as store;
use crate::tokens;
use chrono::Utc;
use futures::future::BoxFuture;
use platform::auth::{AuthFailure, Authenticator, CredentialKind, Principal, Role};
use sqlx::PgPool;

pub struct DbAuthenticator {
    pool: PgPool,
    idle: Duration,
}

/// `last_used_at` is written at most this often per credential, to keep reads cheap.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

impl DbAuthenticator {
    pub fn new(pool: PgPool, idle: Duration) -> Self {
        Self { pool, idle }
    }

    async fn session(&self, token: &str) -> Result<Principal, AuthFailure> {
        let row =
            store::session(&self.pool, &tokens::hash(token)).await.map_err(|e| AuthFailure::Unavailable(e.into()))?;
        let row = row.ok_or(AuthFailure::Invalid)?;
        let now = Utc::now();
        let idle = chrono::Duration::from_std(self.idle).unwrap_or(chrono::Duration::MAX);
        if now >= row.access_expires_at || now >= row.absolute_expires_at || now - row.last_used_at >= idle {
            return Err(AuthFailure::Invalid);
        }
        if now - row.last_used_at >= TOUCH_EVERY {
            let _ = store::touch_session(&self.pool, row.id).await;
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
        let row =
            store::api_key(&self.pool, &tokens::hash(key)).await.map_err(|e| AuthFailure::Unavailable(e.into()))?;
        let row = row.ok_or(AuthFailure::Invalid)?;
        let now = Utc::now();
        if row.expires_at.is_some_and(|e| now >= e) {
            return Err(AuthFailure::Invalid);
        }
        if row.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            let _ = store::touch_api_key(&self.pool, row.id).await;
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
