//! Sends the outgoing mail queue over SMTP. A mail is claimed with a lease (one short statement),
//! sent with no database connection held, then deleted; a failure is retried with backoff and
//! finally parked in the dead-letter table. A replica that dies mid-send loses nothing: the lease
//! runs out and the mail is sent again (at least once, as the command stream was).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use platform::bus::CloudEvent;
use proto::events::MailSend;
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::smtp::Smtp;
use crate::store::mail::{self, Outgoing};

/// Delay before each retry; the last one repeats (as the command consumers' backoff).
const BACKOFF: [Duration; 4] =
    [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(120)];

pub struct Mailer {
    pub pool: PgPool,
    pub smtp: Smtp,
    pub wake: Arc<Notify>,
    pub concurrency: usize,
    pub lease: Duration,
    pub max_attempts: i32,
}

impl Mailer {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.concurrency));
        let mut tasks = JoinSet::new();
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let room = slots.available_permits();
            if room == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tasks.join_next() => {}
                }
                continue;
            }
            let claimed = match mail::claim(&this.pool, i64::try_from(room).unwrap_or(1), this.lease).await {
                Ok(c) => c,
                Err(err) => {
                    tracing::warn!(error = %err, "could not claim outgoing mail; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = this.wake.notified() => {}
                    // Retries come due without a notification.
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            for m in claimed {
                let permit = slots.clone().acquire_owned().await?;
                let this = this.clone();
                tasks.spawn(async move {
                    this.deliver(m).await;
                    drop(permit);
                });
            }
        }
        // Finish the conversations in flight (bounded by the service's grace period).
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    async fn deliver(&self, m: Outgoing) {
        // A failure is final when trying again cannot help.
        let (result, last) = match serde_json::from_value::<CloudEvent<MailSend>>(m.command.clone()) {
            Err(err) => (Err(format!("not a mail.send command: {err}")), true),
            Ok(_) if m.expires_at.is_some_and(|at| at <= Utc::now()) => {
                (Err("its one-time link expired before it could be sent".to_owned()), true)
            }
            Ok(command) => {
                (self.smtp.send(&command.data).await.map_err(|e| format!("{e:#}")), m.attempts >= self.max_attempts)
            }
        };
        let recorded = match result {
            Ok(()) => mail::sent(&self.pool, m.id).await,
            Err(error) if last => {
                tracing::error!(mail = %m.id, %error, "giving up on a mail; parked");
                mail::park(&self.pool, &m, &error).await
            }
            Err(error) => {
                tracing::warn!(mail = %m.id, attempt = m.attempts, %error, "mail not sent; will retry");
                let delay = BACKOFF[usize::try_from(m.attempts - 1).unwrap_or(0).min(BACKOFF.len() - 1)];
                mail::retry_later(&self.pool, m.id, delay, &error).await
            }
        };
        if let Err(err) = recorded {
            // The lease runs out and the mail is tried again: sent twice at worst, never lost.
            tracing::warn!(mail = %m.id, error = %err, "could not record a mail's outcome");
        }
    }
}
