//! The statements of round-robin routing (`crate::routing` holds the rules): the
//! organization's routing lock and a team's queue.

use sqlx::PgConnection;
use uuid::Uuid;

/// Takes the organization's routing lock for the rest of the transaction.
pub async fn lock(tx: &mut PgConnection, org: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('ticketing.routing'), hashtext($1::text))")
        .bind(org)
        .execute(tx)
        .await?;
    Ok(())
}

/// Puts `ticket` in its team's queue, as of now (the queue is handed out in that order).
pub async fn enqueue(tx: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE tickets SET queued_at = clock_timestamp() WHERE id = $1 AND organization_id = $2")
        .bind(ticket)
        .bind(org)
        .execute(tx)
        .await?;
    Ok(())
}

/// Takes `ticket` out of its team's queue.
pub async fn dequeue(tx: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE tickets SET queued_at = NULL WHERE id = $1 AND organization_id = $2")
        .bind(ticket)
        .bind(org)
        .execute(tx)
        .await?;
    Ok(())
}

/// Up to `limit` tickets of `team`'s queue still waiting for an agent, oldest first, locked;
/// those another transaction holds are skipped (that transaction routes its ticket itself).
pub async fn queue(tx: &mut PgConnection, org: Uuid, team: Uuid, limit: i64) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM tickets WHERE organization_id = $1 AND team_id = $2 AND queued_at IS NOT NULL \
           AND assignee_id IS NULL AND status IN ('open', 'in_progress', 'waiting') \
         ORDER BY queued_at, id LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(org)
    .bind(team)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Gives a queued `ticket` to `agent`, out of the queue.
pub async fn give(tx: &mut PgConnection, org: Uuid, ticket: Uuid, agent: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE tickets SET assignee_id = $3, queued_at = NULL WHERE id = $1 AND organization_id = $2")
        .bind(ticket)
        .bind(org)
        .bind(agent)
        .execute(tx)
        .await?;
    Ok(())
}
