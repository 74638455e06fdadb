//! Teams (with members) and departments of the caller's organization. Managers and above write;
//! agents and above read.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiError, ApiResult, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::invalid;
use crate::domain::{check_description, not_null, parse_name, Validator};
use crate::store::directory::{self as store_dir, Unit, UnitFields, UnitView};
use crate::{events, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    #[schema(schema_with = super::schema::name)]
    name: String,
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// A member of the organization.
    #[schema(schema_with = super::schema::nullable_uuid)]
    manager_id: Option<Uuid>,
    /// `true` when absent.
    is_active: Option<bool>,
}

/// Every field optional; `description` and `manager_id` are cleared with null.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnit {
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::name)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 2000)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::nullable_uuid)]
    manager_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = bool)]
    is_active: Option<Option<bool>>,
}

#[derive(Serialize, ToSchema)]
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

fn not_found(unit: Unit) -> Problem {
    Problem::not_found(unit.noun())
}

fn event_type(unit: Unit, created: bool) -> &'static str {
    match (unit, created) {
        (Unit::Team, true) => ev::TEAM_CREATED,
        (Unit::Team, false) => ev::TEAM_UPDATED,
        (Unit::Department, true) => ev::DEPARTMENT_CREATED,
        (Unit::Department, false) => ev::DEPARTMENT_UPDATED,
    }
}

fn changed_event(org: Uuid, view: &UnitView, changed: Vec<String>, actor: Option<Uuid>) -> ev::UnitChanged {
    ev::UnitChanged {
        id: view.id,
        organization_id: org,
        name: view.name.clone(),
        description: view.description.clone(),
        manager_id: view.manager_id,
        is_active: view.is_active,
        changed,
        actor_id: actor,
    }
}

async fn create(
    state: &AppState,
    p: &Principal,
    unit: Unit,
    body: CreateUnit,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    can_write(p)?;
    let mut v = Validator::default();
    let name = v.check(parse_name("name", &body.name));
    if let Some(d) = &body.description {
        v.check(check_description("description", d));
    }
    v.finish()?;
    let name = name.ok_or_else(Problem::internal)?;
    let mut tx = state.pool.begin().await?;
    if let Some(m) = body.manager_id {
        ensure_member(&mut tx, p.org_id, m, "manager_id").await?;
    }
    let fields = UnitFields {
        name: &name,
        description: body.description.as_deref(),
        manager_id: body.manager_id,
        is_active: body.is_active.unwrap_or(true),
    };
    let view = store_dir::insert(&mut tx, p.org_id, unit, fields).await.map_err(name_taken(unit))?;
    let data = changed_event(p.org_id, &view, Vec::new(), p.user_id);
    events::emit(&mut tx, event_type(unit, true), Some(p.org_id), view.id, data).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn list(state: &AppState, p: &Principal, unit: Unit) -> ApiResult<Json<UnitList>> {
    can_read(p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(UnitList { data: store_dir::list(&mut conn, p.org_id, unit).await? }))
}

async fn get(state: &AppState, p: &Principal, unit: Unit, id: Uuid) -> ApiResult<Json<UnitView>> {
    can_read(p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store_dir::find(&mut conn, p.org_id, unit, id, false).await?.ok_or_else(|| not_found(unit))?))
}

async fn update(state: &AppState, p: &Principal, unit: Unit, id: Uuid, body: UpdateUnit) -> ApiResult<Json<UnitView>> {
    can_write(p)?;
    let mut v = Validator::default();
    let name = v.check(not_null("name", body.name)).flatten().and_then(|n| v.check(parse_name("name", &n)));
    let is_active = v.check(not_null("is_active", body.is_active)).flatten();
    if let Some(Some(d)) = &body.description {
        v.check(check_description("description", d));
    }
    v.finish()?;
    let mut tx = state.pool.begin().await?;
    let before = store_dir::find(&mut tx, p.org_id, unit, id, true).await?.ok_or_else(|| not_found(unit))?;
    if let Some(Some(m)) = body.manager_id {
        ensure_member(&mut tx, p.org_id, m, "manager_id").await?;
    }
    let after = UnitFields {
        name: name.as_deref().unwrap_or(&before.name),
        description: match &body.description {
            Some(d) => d.as_deref(),
            None => before.description.as_deref(),
        },
        manager_id: body.manager_id.unwrap_or(before.manager_id),
        is_active: is_active.unwrap_or(before.is_active),
    };
    let mut changed = Vec::new();
    for (field, differs) in [
        ("name", after.name != before.name),
        ("description", after.description != before.description.as_deref()),
        ("manager_id", after.manager_id != before.manager_id),
        ("is_active", after.is_active != before.is_active),
    ] {
        if differs {
            changed.push(field.to_owned());
        }
    }
    if changed.is_empty() {
        return Ok(Json(before));
    }
    store_dir::update(&mut tx, p.org_id, unit, id, after).await.map_err(name_taken(unit))?;
    let view = store_dir::find(&mut tx, p.org_id, unit, id, false).await?.ok_or_else(|| not_found(unit))?;
    let data = changed_event(p.org_id, &view, changed, p.user_id);
    events::emit(&mut tx, event_type(unit, false), Some(p.org_id), id, data).await?;
    tx.commit().await?;
    Ok(Json(view))
}

async fn delete(state: &AppState, p: &Principal, unit: Unit, id: Uuid) -> ApiResult<StatusCode> {
    can_write(p)?;
    let mut tx = state.pool.begin().await?;
    let name = store_dir::delete(&mut tx, p.org_id, unit, id).await?.ok_or_else(|| not_found(unit))?;
    let kind = match unit {
        Unit::Team => ev::TEAM_DELETED,
        Unit::Department => ev::DEPARTMENT_DELETED,
    };
    let data = ev::UnitDeleted { id, organization_id: p.org_id, name, actor_id: p.user_id };
    events::emit(&mut tx, kind, Some(p.org_id), id, data).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a team (manager and above).
#[utoipa::path(post, path = "/v1/teams", tag = "identity", request_body = CreateUnit,
    responses(
        (status = 201, description = "The team", body = UnitView),
        (status = 409, description = "A team with this name exists", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_team(
    State(s): State<AppState>,
    p: Principal,
    Json(b): Json<CreateUnit>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    create(&s, &p, Unit::Team, b).await
}

/// Teams by name (agent and above).
#[utoipa::path(get, path = "/v1/teams", tag = "identity", responses((status = 200, description = "Teams", body = UnitList)))]
pub async fn list_teams(State(s): State<AppState>, p: Principal) -> ApiResult<Json<UnitList>> {
    list(&s, &p, Unit::Team).await
}

/// A team with its members (agent and above).
#[utoipa::path(get, path = "/v1/teams/{id}", tag = "identity", params(("id" = Uuid, Path, description = "The team")),
    responses((status = 200, description = "The team", body = UnitView)))]
pub async fn get_team(State(s): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<UnitView>> {
    get(&s, &p, Unit::Team, id).await
}

/// Updates a team (manager and above).
#[utoipa::path(patch, path = "/v1/teams/{id}", tag = "identity", request_body = UpdateUnit,
    params(("id" = Uuid, Path, description = "The team")),
    responses(
        (status = 200, description = "The team", body = UnitView),
        (status = 409, description = "A team with this name exists", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_team(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<UpdateUnit>,
) -> ApiResult<Json<UnitView>> {
    update(&s, &p, Unit::Team, id, b).await
}

/// Deletes a team (manager and above).
#[utoipa::path(delete, path = "/v1/teams/{id}", tag = "identity", params(("id" = Uuid, Path, description = "The team")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_team(State(s): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    delete(&s, &p, Unit::Team, id).await
}

/// Creates a department (manager and above).
#[utoipa::path(post, path = "/v1/departments", tag = "identity", request_body = CreateUnit,
    responses(
        (status = 201, description = "The department", body = UnitView),
        (status = 409, description = "A department with this name exists", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_department(
    State(s): State<AppState>,
    p: Principal,
    Json(b): Json<CreateUnit>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    create(&s, &p, Unit::Department, b).await
}

/// Departments by name (agent and above).
#[utoipa::path(get, path = "/v1/departments", tag = "identity",
    responses((status = 200, description = "Departments", body = UnitList)))]
pub async fn list_departments(State(s): State<AppState>, p: Principal) -> ApiResult<Json<UnitList>> {
    list(&s, &p, Unit::Department).await
}

/// A department (agent and above).
#[utoipa::path(get, path = "/v1/departments/{id}", tag = "identity",
    params(("id" = Uuid, Path, description = "The department")),
    responses((status = 200, description = "The department", body = UnitView)))]
pub async fn get_department(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UnitView>> {
    get(&s, &p, Unit::Department, id).await
}

/// Updates a department (manager and above).
#[utoipa::path(patch, path = "/v1/departments/{id}", tag = "identity", request_body = UpdateUnit,
    params(("id" = Uuid, Path, description = "The department")),
    responses(
        (status = 200, description = "The department", body = UnitView),
        (status = 409, description = "A department with this name exists", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_department(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<UpdateUnit>,
) -> ApiResult<Json<UnitView>> {
    update(&s, &p, Unit::Department, id, b).await
}

/// Deletes a department (manager and above).
#[utoipa::path(delete, path = "/v1/departments/{id}", tag = "identity",
    params(("id" = Uuid, Path, description = "The department")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_department(State(s): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    delete(&s, &p, Unit::Department, id).await
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMemberBody {
    /// `member` when absent.
    #[schema(schema_with = super::schema::nullable_team_role)]
    role: Option<String>,
}

/// Adds a member to a team or changes their role in it (manager and above); the body may be
/// left out.
#[utoipa::path(put, path = "/v1/teams/{id}/members/{user_id}", tag = "identity",
    request_body(content = Option<TeamMemberBody>, description = "May be left out, or null", content_type = "application/json"),
    params(("id" = Uuid, Path, description = "The team"), ("user_id" = Uuid, Path, description = "A member of the organization")),
    responses((status = 200, description = "The team with its members", body = UnitView)))]
pub async fn add_team_member(
    State(s): State<AppState>,
    p: Principal,
    Path((team, user)): Path<(Uuid, Uuid)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<UnitView>> {
    can_write(&p)?;
    // No body, `null` and `{}` all mean the default role.
    let body: TeamMemberBody = if body.is_empty() {
        TeamMemberBody::default()
    } else {
        platform::extract::parse_json::<Option<TeamMemberBody>>(&body)?.unwrap_or_default()
    };
    let role = body.role.unwrap_or_else(|| "member".to_owned());
    if role != "member" && role != "lead" {
        return Err(invalid("role", "member or lead").into());
    }
    let mut tx = s.pool.begin().await?;
    store_dir::find(&mut tx, p.org_id, Unit::Team, team, true).await?.ok_or_else(|| not_found(Unit::Team))?;
    if crate::store::role(&mut tx, p.org_id, user).await?.is_none() {
        return Err(Problem::not_found("member").into());
    }
    let previous = store_dir::put_team_member(&mut tx, team, user, &role).await?;
    if previous.as_deref() != Some(role.as_str()) {
        let data = ev::TeamMemberAdded {
            team_id: team,
            organization_id: p.org_id,
            user_id: user,
            role,
            previous_role: previous,
            actor_id: p.user_id,
        };
        events::emit(&mut tx, ev::TEAM_MEMBER_ADDED, Some(p.org_id), team, data).await?;
    }
    let view =
        store_dir::find(&mut tx, p.org_id, Unit::Team, team, false).await?.ok_or_else(|| not_found(Unit::Team))?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Removes a member from a team (manager and above).
#[utoipa::path(delete, path = "/v1/teams/{id}/members/{user_id}", tag = "identity",
    params(("id" = Uuid, Path, description = "The team"), ("user_id" = Uuid, Path, description = "The team member")),
    responses((status = 204, description = "Removed")))]
pub async fn remove_team_member(
    State(s): State<AppState>,
    p: Principal,
    Path((team, user)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    let mut tx = s.pool.begin().await?;
    if !store_dir::remove_team_member(&mut tx, p.org_id, team, user).await? {
        return Err(Problem::not_found("team member").into());
    }
    events::team_member_removed(&mut tx, p.org_id, team, user, p.user_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
