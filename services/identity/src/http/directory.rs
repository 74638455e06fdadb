//! Teams (with members) and departments of the caller's organization. Managers and above write;
//! agents and above read.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiError, ApiResult, Problem};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::auth::invalid;
use crate::domain::parse_name;
use crate::AppState;

/// The two kinds of unit: same columns, different tables and names.
#[derive(Clone, Copy)]
enum Unit {
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
    fn noun(self) -> &'static str {
        match self {
            Self::Team => "team",
            Self::Department => "department",
        }
    }
    fn name_constraint(self) -> &'static str {
        match self {
            Self::Team => "teams_org_name_key",
            Self::Department => "departments_org_name_key",
        }
    }
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct UnitView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub manager_id: Option<Uuid>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<TeamMember>>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TeamMember {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, description, manager_id, is_active, created_at, updated_at";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitBody {
    name: Option<String>,
    description: Option<String>,
    manager_id: Option<Uuid>,
    is_active: Option<bool>,
}

#[derive(Serialize)]
pub struct UnitList {
    data: Vec<UnitView>,
}

fn can_read(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Agent)?;
    super::require_read(p)
}

fn can_write(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Manager)?;
    super::require_write(p)
}

async fn ensure_member(conn: &mut PgConnection, org: Uuid, user: Uuid, field: &str) -> ApiResult<()> {
    if crate::store::role(conn, org, user).await?.is_none() {
        return Err(invalid(field, "is not a member of this organization").into());
    }
    Ok(())
}

fn name_taken(unit: Unit) -> impl Fn(sqlx::Error) -> ApiError {
    move |e| {
        if platform::db::is_constraint(&e, unit.name_constraint()) {
            Problem::conflict(format!("a {} with this name already exists", unit.noun())).into()
        } else {
            e.into()
        }
    }
}

async fn create(
    state: &AppState,
    p: &Principal,
    unit: Unit,
    body: UnitBody,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    can_write(p)?;
    let name = parse_name("name", body.name.as_deref().unwrap_or("")).map_err(|e| Problem::validation(vec![e]))?;
    let mut tx = state.pool.begin().await?;
    if let Some(m) = body.manager_id {
        ensure_member(&mut tx, p.org_id, m, "manager_id").await?;
    }
    let view: UnitView = sqlx::query_as(&format!(
        "INSERT INTO {} (id, organization_id, name, description, manager_id, is_active) \
         VALUES ($1, $2, $3, $4, $5, COALESCE($6, true)) RETURNING {COLUMNS}",
        unit.table()
    ))
    .bind(Uuid::now_v7())
    .bind(p.org_id)
    .bind(name)
    .bind(body.description)
    .bind(body.manager_id)
    .bind(body.is_active)
    .fetch_one(&mut *tx)
    .await
    .map_err(name_taken(unit))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn list(state: &AppState, p: &Principal, unit: Unit) -> ApiResult<Json<UnitList>> {
    can_read(p)?;
    let data = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {} WHERE organization_id = $1 ORDER BY name LIMIT 1000",
        unit.table()
    ))
    .bind(p.org_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(UnitList { data }))
}

async fn find(conn: &mut PgConnection, org: Uuid, unit: Unit, id: Uuid) -> ApiResult<UnitView> {
    let mut view: UnitView =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM {} WHERE id = $1 AND organization_id = $2", unit.table()))
            .bind(id)
            .bind(org)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| Problem::not_found(unit.noun()))?;
    if matches!(unit, Unit::Team) {
        view.members = Some(team_members(conn, id).await?);
    }
    Ok(view)
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

async fn update(state: &AppState, p: &Principal, unit: Unit, id: Uuid, body: UnitBody) -> ApiResult<Json<UnitView>> {
    can_write(p)?;
    let name =
        body.name.as_deref().map(|n| parse_name("name", n)).transpose().map_err(|e| Problem::validation(vec![e]))?;
    let mut tx = state.pool.begin().await?;
    if let Some(m) = body.manager_id {
        ensure_member(&mut tx, p.org_id, m, "manager_id").await?;
    }
    let done = sqlx::query(&format!(
        "UPDATE {} SET name = COALESCE($3, name), description = COALESCE($4, description), \
         manager_id = COALESCE($5, manager_id), is_active = COALESCE($6, is_active) \
         WHERE id = $1 AND organization_id = $2",
        unit.table()
    ))
    .bind(id)
    .bind(p.org_id)
    .bind(name)
    .bind(body.description)
    .bind(body.manager_id)
    .bind(body.is_active)
    .execute(&mut *tx)
    .await
    .map_err(name_taken(unit))?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found(unit.noun()).into());
    }
    let view = find(&mut tx, p.org_id, unit, id).await?;
    tx.commit().await?;
    Ok(Json(view))
}

async fn delete(state: &AppState, p: &Principal, unit: Unit, id: Uuid) -> ApiResult<StatusCode> {
    can_write(p)?;
    let done = sqlx::query(&format!("DELETE FROM {} WHERE id = $1 AND organization_id = $2", unit.table()))
        .bind(id)
        .bind(p.org_id)
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found(unit.noun()).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn create_team(
    State(s): State<AppState>,
    p: Principal,
    Json(b): Json<UnitBody>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    create(&s, &p, Unit::Team, b).await
}
pub async fn list_teams(State(s): State<AppState>, p: Principal) -> ApiResult<Json<UnitList>> {
    list(&s, &p, Unit::Team).await
}
pub async fn get_team(State(s): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<UnitView>> {
    can_read(&p)?;
    let mut conn = s.pool.acquire().await?;
    Ok(Json(find(&mut conn, p.org_id, Unit::Team, id).await?))
}
pub async fn update_team(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<UnitBody>,
) -> ApiResult<Json<UnitView>> {
    update(&s, &p, Unit::Team, id, b).await
}
pub async fn delete_team(State(s): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    delete(&s, &p, Unit::Team, id).await
}
pub async fn create_department(
    State(s): State<AppState>,
    p: Principal,
    Json(b): Json<UnitBody>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    create(&s, &p, Unit::Department, b).await
}
pub async fn list_departments(State(s): State<AppState>, p: Principal) -> ApiResult<Json<UnitList>> {
    list(&s, &p, Unit::Department).await
}
pub async fn get_department(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UnitView>> {
    can_read(&p)?;
    let mut conn = s.pool.acquire().await?;
    Ok(Json(find(&mut conn, p.org_id, Unit::Department, id).await?))
}
pub async fn update_department(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<UnitBody>,
) -> ApiResult<Json<UnitView>> {
    update(&s, &p, Unit::Department, id, b).await
}
pub async fn delete_department(State(s): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    delete(&s, &p, Unit::Department, id).await
}

#[derive(Deserialize, Default)]
pub struct TeamMemberBody {
    role: Option<String>,
}

/// `PUT /v1/teams/{id}/members/{user_id} {role?}`: adds or updates (member or lead).
pub async fn add_team_member(
    State(s): State<AppState>,
    p: Principal,
    Path((team, user)): Path<(Uuid, Uuid)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<UnitView>> {
    can_write(&p)?;
    let body: TeamMemberBody =
        if body.is_empty() { TeamMemberBody::default() } else { platform::extract::parse_json(&body)? };
    let role = body.role.unwrap_or_else(|| "member".to_owned());
    if role != "member" && role != "lead" {
        return Err(invalid("role", "member or lead").into());
    }
    let mut tx = s.pool.begin().await?;
    find(&mut tx, p.org_id, Unit::Team, team).await?;
    if crate::store::role(&mut tx, p.org_id, user).await?.is_none() {
        return Err(Problem::not_found("member").into());
    }
    sqlx::query(
        "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(team)
    .bind(user)
    .bind(&role)
    .execute(&mut *tx)
    .await?;
    let view = find(&mut tx, p.org_id, Unit::Team, team).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// `DELETE /v1/teams/{id}/members/{user_id}`.
pub async fn remove_team_member(
    State(s): State<AppState>,
    p: Principal,
    Path((team, user)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    let done = sqlx::query(
        "DELETE FROM team_members tm USING teams t WHERE tm.team_id = t.id AND t.id = $1 \
         AND t.organization_id = $2 AND tm.user_id = $3",
    )
    .bind(team)
    .bind(p.org_id)
    .bind(user)
    .execute(&s.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("team member").into());
    }
    Ok(StatusCode::NO_CONTENT)
}
