//! One `LISTEN` connection per replica for the work queues in the database: a new delivery wakes
//! the delivery worker, a new outgoing mail the mailer. Losing a notification costs only a short
//! delay: each queue also polls.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct Wakeups {
    pub pool: PgPool,
    pub deliveries: Arc<Notify>,
    pub mail: Arc<Notify>,
}

impl Wakeups {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        while !shutdown.is_cancelled() {
            if let Err(err) = self.listen(&shutdown).await {
                tracing::debug!(error = %err, "listener lost; reconnecting");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
        Ok(())
    }

    async fn listen(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen_all(["deliveries", "outgoing_mail"]).await?;
        loop {
            let notification = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                n = listener.recv() => n?,
            };
            match notification.channel() {
                "deliveries" => self.deliveries.notify_waiters(),
                // One permit is kept if the mailer is busy, so the mail is not missed.
                _ => self.mail.notify_one(),
            }
        }
    }
}
