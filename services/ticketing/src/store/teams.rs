//! Team membership as identity announces it (`team_members`), for routing and notifications.
//!
//! Two writers: the consumer of identity's team events, and the first use of a team ticketing
//! has never heard of (filled from one GetTeam answer). Both take the team's advisory lock
//! first, so they serialize; `team_member_state` keeps the time of the latest event applied per
//! user, so an older event handled late (two replicas, parallel handlers) changes nothing, and a
//! GetTeam answer fills only users no event has spoken of.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Serializes the writers of one team's membership for the rest of the transaction.
async fn lock_team(conn: &mut PgConnection, org: Uuid, team: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('ticketing.team'), hashtext($1::text || $2::text))")
        .bind(org)
        .bind(team)
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies "`user` is (or is no longer) in `team`" as of `at`, unless a later event about them
/// was applied already; whether it changed anything.
pub async fn apply(
    conn: &mut PgConnection,
    org: Uuid,
    team: Uuid,
    user: Uuid,
    present: bool,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    lock_team(conn, org, team).await?;
    let newer: Option<bool> = sqlx::query_scalar(
        "INSERT INTO team_member_state (organization_id, team_id, user_id, present, changed_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (organization_id, team_id, user_id) DO UPDATE \
           SET present = EXCLUDED.present, changed_at = EXCLUDED.changed_at \
           WHERE team_member_state.changed_at <= EXCLUDED.changed_at \
         RETURNING present",
    )
    .bind(org)
    .bind(team)
    .bind(user)
    .bind(present)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    if newer.is_none() {
        return Ok(false);
    }
    let sql = if present {
        "INSERT INTO team_members (organization_id, team_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM team_members WHERE organization_id = $1 AND team_id = $2 AND user_id = $3"
    };
    let done = sqlx::query(sql).bind(org).bind(team).bind(user).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// A deleted team has no members from `at` on.
pub async fn apply_deleted(conn: &mut PgConnection, org: Uuid, team: Uuid, at: DateTime<Utc>) -> sqlx::Result<()> {
    lock_team(conn, org, team).await?;
    let members: Vec<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM team_members WHERE organization_id = $1 AND team_id = $2")
            .bind(org)
            .bind(team)
            .fetch_all(&mut *conn)
            .await?;
    for user in members {
        apply(conn, org, team, user, false, at).await?;
    }
    Ok(())
}

/// Fills a team from identity's answer (`GetTeam`) if no event about it has been applied yet:
/// the first use of a team older than the event stream. Call it with the members GetTeam gave,
/// inside or before the transaction that routes to the team; whether it added anyone.
pub async fn seed(conn: &mut PgConnection, org: Uuid, team: Uuid, members: &[Uuid]) -> sqlx::Result<bool> {
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM team_member_state WHERE organization_id = $1 AND team_id = $2)",
    )
    .bind(org)
    .bind(team)
    .fetch_one(&mut *conn)
    .await?;
    if known || members.is_empty() {
        return Ok(false);
    }
    lock_team(conn, org, team).await?;
    // Under the lock, only users no event has mentioned since the check above.
    let added = sqlx::query(
        "INSERT INTO team_members (organization_id, team_id, user_id) \
         SELECT $1, $2, u FROM unnest($3::uuid[]) AS u \
         WHERE NOT EXISTS (SELECT 1 FROM team_member_state s \
                           WHERE s.organization_id = $1 AND s.team_id = $2 AND s.user_id = u) \
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(team)
    .bind(members)
    .execute(conn)
    .await?;
    Ok(added.rows_affected() > 0)
}

/// The members of `team`, by id.
pub async fn members(conn: &mut PgConnection, org: Uuid, team: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT user_id FROM team_members WHERE organization_id = $1 AND team_id = $2 ORDER BY user_id LIMIT 10000",
    )
    .bind(org)
    .bind(team)
    .fetch_all(conn)
    .await
}

/// The teams `user` is in, by id (a fixed order keeps lock order fixed too).
pub async fn teams_of(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT team_id FROM team_members WHERE organization_id = $1 AND user_id = $2 ORDER BY team_id LIMIT 1000",
    )
    .bind(org)
    .bind(user)
    .fetch_all(conn)
    .await
}
