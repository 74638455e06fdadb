//! Background care of connections, safe with several replicas: tokens refreshed ahead of
//! expiry, each under its row's lock (a replica that finds it locked skips it) with the rotated
//! refresh token saved in the same transaction, and a refusal expiring the connection; and
//! secrets sealed with an older key moved to the newest one.

use std::sync::Arc;

use proto::events as ev;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events;
use crate::platforms::oauth::{OAuth, OAuthError};
use crate::platforms::Platform;
use crate::store::connections::{self, Secrets};
use crate::{sealed_for, Services};

const BATCH: i64 = 50;

pub struct Maintenance {
    pub services: Arc<Services>,
    pub oauth: OAuth,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub refreshed: usize,
    pub expired: usize,
    pub resealed: usize,
    /// Organizations whose history window billing told.
    pub windows: usize,
}

impl Maintenance {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            match self.pass().await {
                Ok(p) if p != Pass::default() => tracing::info!(?p, "connection maintenance"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "connection maintenance failed; retried next time"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.services.config.maintenance_interval) => {}
            }
        }
    }

    pub async fn pass(&self) -> anyhow::Result<Pass> {
        let mut pass = Pass::default();
        self.refresh(&mut pass).await?;
        self.reseal(&mut pass).await?;
        self.history(&mut pass).await?;
        Ok(pass)
    }

    async fn refresh(&self, pass: &mut Pass) -> anyhow::Result<()> {
        let s = &self.services;
        let due = {
            let mut conn = s.pool.acquire().await?;
            connections::expiring(&mut conn, BATCH).await?
        };
        for (org, id) in due {
            let mut tx = s.pool.begin().await?;
            // Held until commit: no replica refreshes it at the same time, and a rotated
            // refresh token is never spent twice.
            let Some((platform, secrets)) = connections::lock_expiring(&mut tx, org, id).await? else { continue };
            let platform: Platform = platform.parse().map_err(anyhow::Error::msg)?;
            let opened = s.keys.decrypt(&secrets.access_token, &sealed_for(id, "access_token")).and_then(|access| {
                let refresh = secrets
                    .refresh_token
                    .as_deref()
                    .map(|t| s.keys.decrypt(t, &sealed_for(id, "refresh_token")).map(SecretString::from))
                    .transpose()?;
                Ok((SecretString::from(access), refresh))
            });
            let (access, refresh) = match opened {
                Ok(tokens) => tokens,
                Err(e) => {
                    tracing::error!(connection = %id, error = %e, "a token cannot be decrypted (its key is gone?)");
                    continue;
                }
            };
            match self.oauth.refresh(platform, &access, refresh.as_ref()).await {
                Ok(new) => {
                    let seal =
                        |v: &SecretString, field: &str| s.keys.encrypt(v.expose_secret(), &sealed_for(id, field));
                    let access = seal(&new.access_token, "access_token")?;
                    let refresh = new.refresh_token.as_ref().map(|t| seal(t, "refresh_token")).transpose()?;
                    connections::save_tokens(
                        &mut tx,
                        org,
                        id,
                        &access,
                        refresh.as_deref(),
                        new.token_expires_at,
                        new.refresh_expires_at,
                    )
                    .await?;
                    pass.refreshed += 1;
                }
                Err(OAuthError::Refused(why)) => {
                    let why = format!("{platform} refused to refresh the token: {why}");
                    if let Some(c) = connections::mark(&mut tx, org, id, "expired", &why).await? {
                        events::connection(&mut tx, ev::INBOX_CONNECTION_EXPIRED, &c).await?;
                    }
                    pass.expired += 1;
                }
                Err(e) => {
                    tracing::warn!(connection = %id, error = %e, "token refresh failed; tried again next time");
                    continue;
                }
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Re-encrypts every secret not sealed with the newest key.
    async fn reseal(&self, pass: &mut Pass) -> anyhow::Result<()> {
        let s = &self.services;
        let keys = &s.keys;
        let mut after = Uuid::nil();
        loop {
            let page = {
                let mut conn = s.pool.acquire().await?;
                connections::sealed_after(&mut conn, after, BATCH).await?
            };
            let Some(last) = page.last() else { return Ok(()) };
            after = last.1;
            for (org, id, access, refresh, app_secret, verify) in &page {
                let values = [Some(access), refresh.as_ref(), app_secret.as_ref(), verify.as_ref()];
                if !values.into_iter().flatten().any(|v| !v.is_empty() && keys.is_stale(v)) {
                    continue;
                }
                let mut tx = s.pool.begin().await?;
                let Some(current) = connections::lock_secrets(&mut tx, *org, *id).await? else { continue };
                let move_one = |v: &str, field: &str| -> anyhow::Result<String> {
                    if v.is_empty() || !keys.is_stale(v) {
                        return Ok(v.to_owned());
                    }
                    let aad = sealed_for(*id, field);
                    keys.encrypt(&keys.decrypt(v, &aad)?, &aad)
                };
                let resealed = (|| -> anyhow::Result<Secrets> {
                    Ok(Secrets {
                        access_token: move_one(&current.access_token, "access_token")?,
                        refresh_token: current
                            .refresh_token
                            .as_deref()
                            .map(|v| move_one(v, "refresh_token"))
                            .transpose()?,
                        app_secret: current.app_secret.as_deref().map(|v| move_one(v, "app_secret")).transpose()?,
                        verify_token: current
                            .verify_token
                            .as_deref()
                            .map(|v| move_one(v, "verify_token"))
                            .transpose()?,
                    })
                })();
                let resealed = match resealed {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(connection = %id, error = %e, "a secret cannot be decrypted (its key is gone?)");
                        continue;
                    }
                };
                connections::reseal(&mut tx, *org, *id, &resealed).await?;
                tx.commit().await?;
                pass.resealed += 1;
            }
        }
    }

    /// Asks billing how long each organization's plan keeps messages (`history_days`; -1 or
    /// absent keeps everything) for the retention job. Without an answer the last one stands.
    async fn history(&self, pass: &mut Pass) -> anyhow::Result<()> {
        let s = &self.services;
        if s.config.billing_grpc_url.is_none() {
            return Ok(());
        }
        let orgs = {
            let mut conn = s.pool.acquire().await?;
            connections::organizations(&mut conn).await?
        };
        for org in orgs {
            let Some(e) = s.quota.entitlements(org).await else { continue };
            let days = e.numbers.get("history_days").copied().filter(|d| *d >= 1);
            let days = days.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
            let mut conn = s.pool.acquire().await?;
            connections::set_history(&mut conn, org, days, &e.plan).await?;
            pass.windows += 1;
        }
        Ok(())
    }
}
