//! Agent profiles: role, presence and capacity (managers set them all; an agent sets their own
//! presence), with the load and CSAT rating derived from tickets. Coming online or gaining
//! capacity hands the agent their teams' queued tickets at once.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{can_read, can_write};
use crate::directory::LookupError;
use crate::domain::agent::{AgentRole, AgentStatus, MAX_CAPACITY};
use crate::store::agents::{self as store, Agent, Changes, Filter};
use crate::{routing, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get, put)).routes(routes!(set_my_status))
}

/// Fields to set; what is left out keeps its value (or, for a new profile, defaults to
/// `junior_support`, `offline`, capacity 10). An agent may set only their own `status`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentBody {
    role: Option<AgentRole>,
    status: Option<AgentStatus>,
    /// The most open tickets round-robin gives them.
    #[schema(minimum = 0, maximum = 10000)]
    capacity: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: AgentStatus,
}

fn agents_only(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Agent)
}

/// 422 naming `field` unless `raw` is one of `T`'s words.
fn word<T: serde::de::DeserializeOwned>(errors: &mut Vec<FieldError>, field: &str, raw: Option<&str>) -> Option<T> {
    let raw = raw?;
    match serde_json::from_value(serde_json::Value::String(raw.to_owned())) {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push(FieldError::new(field, format!("{raw:?} is not one of the documented values")));
            None
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<AgentStatus>, inline)]
    status: Option<String>,
    #[param(value_type = Option<AgentRole>, inline)]
    role: Option<String>,
    /// Only the members of this team.
    #[param(value_type = Option<Uuid>)]
    team_id: Option<String>,
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The page size (default 50, 1–200) and the cursor; problems are added to `errors`.
pub(super) fn page(limit: Option<i64>, cursor: Option<&str>, errors: &mut Vec<FieldError>) -> (i64, Option<Cursor>) {
    let limit = match limit.unwrap_or(50) {
        n @ 1..=200 => n,
        _ => {
            errors.push(FieldError::new("limit", "must be between 1 and 200"));
            50
        }
    };
    let cursor = match cursor.filter(|c| !c.is_empty()).map(Cursor::decode) {
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            errors.push(FieldError::new("cursor", "is not a cursor this list gave"));
            None
        }
        None => None,
    };
    (limit, cursor)
}

/// One page of agents.
#[derive(Serialize, ToSchema)]
pub struct AgentPage {
    data: Vec<Agent>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// The organization's agents, oldest profile first (agents and above).
#[utoipa::path(
    get,
    operation_id = "list_agents",
    path = "/v1/agents",
    tag = "agents",
    params(ListQuery),
    responses((status = 200, description = "One page of agents", body = AgentPage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<AgentPage>> {
    can_read(&p)?;
    agents_only(&p)?;
    let mut errors = Vec::new();
    let status = word(&mut errors, "status", q.status.as_deref());
    let role = word(&mut errors, "role", q.role.as_deref());
    let team_id = match q.team_id.as_deref().map(str::parse::<Uuid>) {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            errors.push(FieldError::new("team_id", "must be a UUID"));
            None
        }
        None => None,
    };
    let (limit, after) = page(q.limit, q.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut conn = state.pool.acquire().await?;
    let rows = store::list(&mut conn, p.org_id, &Filter { status, role, team_id }, limit, after).await?;
    let page = Page::from_rows(rows, limit, |a| Cursor { time: a.created_at, id: a.user_id });
    Ok(Json(AgentPage { data: page.data, next_cursor: page.next_cursor }))
}

/// An agent's profile (agents and above).
#[utoipa::path(
    get,
    operation_id = "get_agent",
    path = "/v1/agents/{user_id}",
    tag = "agents",
    params(("user_id" = Uuid, Path, description = "The agent's user id")),
    responses((status = 200, description = "The agent", body = Agent))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(user): Path<Uuid>) -> ApiResult<Json<Agent>> {
    can_read(&p)?;
    agents_only(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::get(&mut conn, p.org_id, user).await?.ok_or_else(|| Problem::not_found("agent"))?))
}

/// Creates or changes an agent's profile. Managers set everything; an agent may set their own
/// `status` (and create their own profile so). A new profile needs a member of the agent role
/// or above (asked of identity).
#[utoipa::path(
    put,
    operation_id = "put_agent",
    path = "/v1/agents/{user_id}",
    tag = "agents",
    params(("user_id" = Uuid, Path, description = "A member of the organization")),
    request_body = AgentBody,
    responses(
        (status = 200, description = "The profile after the change", body = Agent),
        (status = 201, description = "The new profile", body = Agent),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    p: Principal,
    Path(user): Path<Uuid>,
    Json(body): Json<AgentBody>,
) -> ApiResult<(StatusCode, Json<Agent>)> {
    can_write(&p)?;
    agents_only(&p)?;
    if body.capacity.is_some_and(|c| !(0..=MAX_CAPACITY).contains(&c)) {
        return Err(Problem::validation(vec![FieldError::new("capacity", "must be between 0 and 10000")]).into());
    }
    let own = p.user_id == Some(user);
    if !own || body.role.is_some() || body.capacity.is_some() {
        p.require_role(Role::Manager)
            .map_err(|_| Problem::forbidden("only managers set other agents' profiles, roles and capacities"))?;
    }
    let changes = Changes { role: body.role, status: body.status, capacity: body.capacity };
    write(&state, &p, user, changes).await
}

/// Sets the caller's own presence (agents and above); creates their profile if they have none.
#[utoipa::path(
    put,
    operation_id = "put_my_agent_status",
    path = "/v1/agents/me/status",
    tag = "agents",
    request_body = StatusBody,
    responses(
        (status = 200, description = "The caller's profile after the change", body = Agent),
        (status = 201, description = "The caller's new profile", body = Agent),
    )
)]
pub async fn set_my_status(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<StatusBody>,
) -> ApiResult<(StatusCode, Json<Agent>)> {
    can_write(&p)?;
    agents_only(&p)?;
    let user = p.require_user()?;
    write(&state, &p, user, Changes { status: Some(body.status), ..Changes::default() }).await
}

/// Writes the profile (creating it after asking identity, unless it is the caller's own) and
/// hands out queued tickets if the agent now has more room.
async fn write(state: &AppState, p: &Principal, user: Uuid, changes: Changes) -> ApiResult<(StatusCode, Json<Agent>)> {
    let org = p.org_id;
    let exists = store::get(&mut *state.pool.acquire().await?, org, user).await?.is_some();
    if !exists && p.user_id != Some(user) {
        member_agent(state, org, user).await?;
    }
    let mut tx = state.pool.begin().await?;
    // The routing lock before the agent's row: routing updates agent rows under it.
    routing::lock(&mut tx, org).await?;
    let before = store::lock(&mut tx, org, user).await?;
    store::upsert(&mut tx, org, user, &changes).await?;
    let (status, capacity) = store::lock(&mut tx, org, user).await?.unwrap_or((AgentStatus::Offline, 0));
    let more_room = match before {
        Some((was, had)) => status == AgentStatus::Online && (was != AgentStatus::Online || capacity > had),
        None => status == AgentStatus::Online,
    };
    if more_room {
        routing::drain(&mut tx, org, user).await?;
    }
    let agent = store::get(&mut tx, org, user).await?.ok_or_else(|| anyhow::anyhow!("agent {user} vanished"))?;
    tx.commit().await?;
    Ok((if before.is_some() { StatusCode::OK } else { StatusCode::CREATED }, Json(agent)))
}

/// 404 unless `user` is a member; 422 unless an agent or above; 503 when identity is down.
async fn member_agent(state: &AppState, org: Uuid, user: Uuid) -> ApiResult<()> {
    match state.directory.role(org, user).await {
        Ok(role) if role >= Role::Agent => Ok(()),
        Ok(_) => {
            Err(Problem::validation(vec![FieldError::new("user_id", "must be a member with the agent role or above")])
                .into())
        }
        Err(LookupError::NotFound) => Err(Problem::not_found("member").into()),
        Err(LookupError::Unavailable(why)) => {
            tracing::warn!(%why, "identity did not answer a member lookup");
            Err(Problem::unavailable("identity is unavailable, try again shortly").retry_after(1).into())
        }
    }
}
