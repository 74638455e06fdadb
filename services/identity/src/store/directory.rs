//! Teams (with members) and departments: same columns, different tables.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// The two kinds of unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Team,
    Department,
}

impl Unit {
    fn table(self) -> &'static str {
        match self {
            Self::Team => "teams",
            Self::Department => "departments",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Self::Team => "team",
            Self::Department => "department",
        }
    }

    /// The unique constraint on (organization, name).
    pub fn name_constraint(self) -> &'static str {
        match self {
            Self::Team => "teams_org_name_key",
            Self::Department => "departments_org_name_key",
        }
    }
}

/// A team or department as clients see it; teams list their members.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UnitView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub manager_id: Option<Uuid>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Teams only (in a team's own response, not in lists).
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<TeamMember>>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TeamMember {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    #[schema(schema_with = crate::http::schema::team_role)]
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, description, manager_id, is_active, created_at, updated_at";

/// A unit's writable fields.
pub struct UnitFields<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub manager_id: Option<Uuid>,
    pub is_active: bool,
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, unit: Unit, f: UnitFields<'_>) -> sqlx::Result<UnitView> {
    sqlx::query_as(&format!(
        "INSERT INTO {} (id, organization_id, name, description, manager_id, is_active) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}",
        unit.table()
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(f.name)
    .bind(f.description)
    .bind(f.manager_id)
    .bind(f.is_active)
    .fetch_one(conn)
    .await
}

pub async fn list(conn: &mut PgConnection, org: Uuid, unit: Unit) -> sqlx::Result<Vec<UnitView>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {} WHERE organization_id = $1 ORDER BY name LIMIT 1000",
        unit.table()
    ))
    .bind(org)
    .fetch_all(conn)
    .await
}

/// The unit of `org` (a team with its members); locked until the transaction ends when `lock`.
pub async fn find(
    conn: &mut PgConnection,
    org: Uuid,
    unit: Unit,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<UnitView>> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let view: Option<UnitView> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {} WHERE id = $1 AND organization_id = $2{suffix}",
        unit.table()
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(mut view) = view else { return Ok(None) };
    if unit == Unit::Team {
        view.members = Some(team_members(conn, id).await?);
    }
    Ok(Some(view))
}

pub async fn team_members(conn: &mut PgConnection, team: Uuid) -> sqlx::Result<Vec<TeamMember>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.name, u.email, tm.role, tm.joined_at FROM team_members tm \
         JOIN users u ON u.id = tm.user_id WHERE tm.team_id = $1 ORDER BY tm.joined_at",
    )
    .bind(team)
    .fetch_all(conn)
    .await
}

pub async fn update(conn: &mut PgConnection, org: Uuid, unit: Unit, id: Uuid, f: UnitFields<'_>) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE {} SET name = $3, description = $4, manager_id = $5, is_active = $6 \
         WHERE id = $1 AND organization_id = $2",
        unit.table()
    ))
    .bind(id)
    .bind(org)
    .bind(f.name)
    .bind(f.description)
    .bind(f.manager_id)
    .bind(f.is_active)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the unit of `org`, answering its name.
pub async fn delete(conn: &mut PgConnection, org: Uuid, unit: Unit, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(&format!("DELETE FROM {} WHERE id = $1 AND organization_id = $2 RETURNING name", unit.table()))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

pub async fn exists(conn: &mut PgConnection, org: Uuid, unit: Unit, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = $1 AND organization_id = $2)",
        unit.table()
    ))
    .bind(id)
    .bind(org)
    .fetch_one(conn)
    .await
}

/// Adds `user` to `team` with `role`, or sets their role: the role they had before, if any.
pub async fn put_team_member(
    conn: &mut PgConnection,
    team: Uuid,
    user: Uuid,
    role: &str,
) -> sqlx::Result<Option<String>> {
    let previous: Option<String> =
        sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2 FOR UPDATE")
            .bind(team)
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query(
        "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(team)
    .bind(user)
    .bind(role)
    .execute(conn)
    .await?;
    Ok(previous)
}

/// Removes `user` from team `team` of `org`; whether they were in it.
pub async fn remove_team_member(conn: &mut PgConnection, org: Uuid, team: Uuid, user: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM team_members tm USING teams t WHERE tm.team_id = t.id AND t.id = $1 \
         AND t.organization_id = $2 AND tm.user_id = $3",
    )
    .bind(team)
    .bind(org)
    .bind(user)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
