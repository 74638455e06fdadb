//! View counts without a write per read: views are tallied in memory and added to the posts in
//! one statement every few seconds (and at shutdown), so a read stays one `SELECT`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Clone, Default)]
pub struct Views {
    pending: Arc<Mutex<HashMap<Uuid, i64>>>,
}

impl Views {
    pub fn record(&self, feedback: Uuid) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()).entry(feedback).or_default() += 1;
    }

    /// Adds the tallied views to their posts; a failed write keeps them for the next try.
    pub async fn flush(&self, pool: &PgPool) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(());
        }
        let (ids, counts): (Vec<Uuid>, Vec<i64>) = batch.iter().map(|(k, v)| (*k, *v)).unzip();
        let result = sqlx::query(
            "UPDATE feedback f SET view_count = f.view_count + v.n \
             FROM unnest($1::uuid[], $2::bigint[]) AS v(id, n) WHERE f.id = v.id",
        )
        .bind(&ids)
        .bind(&counts)
        .execute(pool)
        .await;
        if let Err(err) = result {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (id, n) in batch {
                *pending.entry(id).or_default() += n;
            }
            return Err(err.into());
        }
        Ok(())
    }

    /// Flushes every `every` until `shutdown`, then once more.
    pub async fn run(self, pool: PgPool, every: Duration, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(err) = self.flush(&pool).await {
                tracing::warn!(error = %err, "could not record views; will retry");
            }
        }
        self.flush(&pool).await
    }
}
