//! Agent profiles: role, presence and capacity as stored; load, rating and teams derived.

use chrono::{DateTime, Utc};
use platform::pagination::Cursor;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::agent::{AgentRole, AgentStatus};

/// An agent as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Agent {
    pub user_id: Uuid,
    pub role: AgentRole,
    pub status: AgentStatus,
    /// The most open tickets round-robin gives them.
    pub capacity: i32,
    /// Their tickets now open, in progress or waiting.
    pub load: i64,
    /// The average CSAT rating (1–5) of the tickets assigned to them; null before the first.
    pub rating: Option<f64>,
    pub ratings_count: i64,
    /// The teams they are in, as identity announced them.
    pub teams: Vec<Uuid>,
    pub last_assigned_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The profile with its derived fields; `a` is the `agent_profiles` row.
const SELECT: &str = "SELECT a.user_id, a.role, a.status, a.capacity, \
    (SELECT count(*) FROM tickets t WHERE t.organization_id = a.organization_id AND t.assignee_id = a.user_id \
       AND t.status IN ('open', 'in_progress', 'waiting')) AS load, \
    r.rating, r.ratings_count, \
    ARRAY(SELECT m.team_id FROM team_members m WHERE m.organization_id = a.organization_id \
       AND m.user_id = a.user_id ORDER BY m.team_id) AS teams, \
    a.last_assigned_at, a.created_at, a.updated_at \
    FROM agent_profiles a \
    CROSS JOIN LATERAL (SELECT round(avg(t.csat_rating), 2)::float8 AS rating, count(t.csat_rating) AS ratings_count \
       FROM tickets t WHERE t.organization_id = a.organization_id AND t.assignee_id = a.user_id \
       AND t.csat_rating IS NOT NULL) r";

pub async fn get(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Option<Agent>> {
    sqlx::query_as(&format!("{SELECT} WHERE a.organization_id = $1 AND a.user_id = $2"))
        .bind(org)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// Filters of the list; `None` matches all.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<AgentStatus>,
    pub role: Option<AgentRole>,
    pub team_id: Option<Uuid>,
}

/// A page by creation, oldest first: `limit + 1` rows (the extra says there is more).
pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    f: &Filter,
    limit: i64,
    after: Option<Cursor>,
) -> sqlx::Result<Vec<Agent>> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE a.organization_id = $1 \
           AND ($2::text IS NULL OR a.status = $2) AND ($3::text IS NULL OR a.role = $3) \
           AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM team_members m WHERE m.organization_id = a.organization_id \
                AND m.team_id = $4 AND m.user_id = a.user_id)) \
           AND ($5::timestamptz IS NULL OR (a.created_at, a.user_id) > ($5, $6)) \
         ORDER BY a.created_at, a.user_id LIMIT $7"
    ))
    .bind(org)
    .bind(f.status)
    .bind(f.role)
    .bind(f.team_id)
    .bind(after.map(|c| c.time))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}

/// Presence and capacity as stored, locked for the rest of the transaction (take the
/// organization's routing lock first: routing updates these rows under it).
pub async fn lock(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Option<(AgentStatus, i32)>> {
    sqlx::query_as("SELECT status, capacity FROM agent_profiles WHERE organization_id = $1 AND user_id = $2 FOR UPDATE")
        .bind(org)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// Fields to set; `None` keeps the value (or, when creating, takes the default:
/// junior_support, offline, 10).
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub role: Option<AgentRole>,
    pub status: Option<AgentStatus>,
    pub capacity: Option<i32>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.role.is_none() && self.status.is_none() && self.capacity.is_none()
    }
}

/// Creates or changes the profile of `user`.
pub async fn upsert(conn: &mut PgConnection, org: Uuid, user: Uuid, c: &Changes) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO agent_profiles (organization_id, user_id, role, status, capacity) \
         VALUES ($1, $2, COALESCE($3, 'junior_support'), COALESCE($4, 'offline'), COALESCE($5, 10)) \
         ON CONFLICT (organization_id, user_id) DO UPDATE SET \
           role = COALESCE($3, agent_profiles.role), status = COALESCE($4, agent_profiles.status), \
           capacity = COALESCE($5, agent_profiles.capacity)",
    )
    .bind(org)
    .bind(user)
    .bind(c.role)
    .bind(c.status)
    .bind(c.capacity)
    .execute(conn)
    .await?;
    Ok(())
}

/// An online agent of a team with their capacity and load, for round-robin.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub user_id: Uuid,
    pub capacity: i32,
    pub load: i64,
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// The online agents of `team` (read under the organization's routing lock).
pub async fn candidates(conn: &mut PgConnection, org: Uuid, team: Uuid) -> sqlx::Result<Vec<Candidate>> {
    sqlx::query_as(
        "SELECT a.user_id, a.capacity, a.last_assigned_at, \
           (SELECT count(*) FROM tickets t WHERE t.organization_id = a.organization_id \
              AND t.assignee_id = a.user_id AND t.status IN ('open', 'in_progress', 'waiting')) AS load \
         FROM agent_profiles a JOIN team_members m ON m.organization_id = a.organization_id AND m.user_id = a.user_id \
         WHERE a.organization_id = $1 AND m.team_id = $2 AND a.status = 'online' ORDER BY a.user_id",
    )
    .bind(org)
    .bind(team)
    .fetch_all(conn)
    .await
}

/// Records that `user` was just given a ticket; the time recorded. `clock_timestamp()`, not
/// `now()`: transactions serialized by the routing lock must record increasing times even when
/// an older transaction got the lock later.
pub async fn touch(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "UPDATE agent_profiles SET last_assigned_at = clock_timestamp() \
         WHERE organization_id = $1 AND user_id = $2 RETURNING last_assigned_at",
    )
    .bind(org)
    .bind(user)
    .fetch_one(conn)
    .await
}
