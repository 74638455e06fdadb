//! Projects (managers write; agents and above read) and a project's tickets. The status
//! workflow is `domain::project`'s: an invalid move is 409 naming the allowed ones.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page};
use platform::{ApiError, ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::people::{self, check};
use super::{can_read, can_write};
use crate::domain::customer::line;
use crate::domain::project::{self as rules, Changes, Client, Project, ProjectStatus, ProjectType, Refusal};
use crate::domain::viewer::Viewer;
use crate::store::customers;
use crate::store::projects::{self as store, Filter, ProjectRow};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, delete)).routes(routes!(tickets))
}

/// A new project; it starts in `planning`. The client is a member (`client_user_id`) or a
/// customer profile (`client_customer_id`), not both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    #[schema(schema_with = super::shapes::line_text)]
    title: String,
    /// Default `support`.
    #[schema(value_type = Option<ProjectType>)]
    project_type: Option<String>,
    /// Kept to the cent.
    #[schema(minimum = 0, maximum = 999999999999.99)]
    budget: Option<f64>,
    start_date: Option<NaiveDate>,
    /// Not before `start_date`.
    end_date: Option<NaiveDate>,
    #[schema(max_length = 20000)]
    requirements: Option<String>,
    client_user_id: Option<Uuid>,
    client_customer_id: Option<Uuid>,
}

/// Every field is optional; what is given changes, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    /// Cannot be cleared.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::line_text)]
    title: Option<Option<String>>,
    #[schema(value_type = Option<ProjectType>)]
    project_type: Option<String>,
    /// A move of the workflow: planning → active → on_hold ↔ active → completed; any → cancelled.
    #[schema(value_type = Option<ProjectStatus>)]
    status: Option<String>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<f64>, nullable, minimum = 0, maximum = 999999999999.99)]
    budget: Option<Option<f64>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_date)]
    start_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_date)]
    end_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 20000)]
    requirements: Option<Option<String>>,
    /// Setting one client replaces the other; `null` on the one set removes the client.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_uuid)]
    client_user_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_uuid)]
    client_customer_id: Option<Option<Uuid>>,
}

impl From<NewProject> for ProjectPatch {
    fn from(p: NewProject) -> Self {
        Self {
            title: Some(Some(p.title)),
            project_type: p.project_type,
            status: None,
            budget: p.budget.map(Some),
            start_date: p.start_date.map(Some),
            end_date: p.end_date.map(Some),
            requirements: p.requirements.map(Some),
            client_user_id: p.client_user_id.map(Some),
            client_customer_id: p.client_customer_id.map(Some),
        }
    }
}

/// Each field's own rule, every failing field named at once.
fn parse(b: ProjectPatch) -> Result<Changes, Problem> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let client = match (b.client_user_id, b.client_customer_id) {
        (Some(Some(_)), Some(Some(_))) => {
            e.push(FieldError::new("client_customer_id", "a project has one client: a user or a customer"));
            None
        }
        (Some(Some(u)), _) => Some(Some(Client::User(u))),
        (_, Some(Some(c))) => Some(Some(Client::Customer(c))),
        (Some(None), _) | (_, Some(None)) => Some(None),
        (None, None) => None,
    };
    let changes = Changes {
        title: b.title.and_then(|v| match v {
            Some(v) => check(e, line("title", &v)),
            None => check(e, Err(FieldError::new("title", "cannot be null"))),
        }),
        project_type: b.project_type.and_then(|v| check(e, ProjectType::parse("project_type", &v))),
        status: b.status.and_then(|v| check(e, ProjectStatus::parse("status", &v))),
        budget: b.budget.map(|v| v.and_then(|v| check(e, rules::budget("budget", v)))),
        start_date: b.start_date,
        end_date: b.end_date,
        requirements: b.requirements.map(|v| v.and_then(|v| check(e, rules::requirements("requirements", &v)))),
        client,
    };
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(Problem::validation(errors))
    }
}

fn managers(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Manager)
}

fn agents(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Agent)
}

fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Invalid(e) => Problem::validation(vec![e]).into(),
        Refusal::Move(m) => {
            let mut problem = Problem::conflict(m.detail());
            problem.errors = vec![FieldError::new("status", m.detail())];
            problem.into()
        }
    }
}

/// Writes checked changes: a new project (`id` None) or over `id`.
async fn write(state: &AppState, p: &Principal, id: Option<Uuid>, changes: Changes) -> ApiResult<ProjectRow> {
    if let Some(Some(Client::User(user))) = changes.client {
        people::member(state, p.org_id, user, "client_user_id").await?;
    }
    let mut tx = state.pool.begin().await?;
    if let Some(Some(Client::Customer(c))) = changes.client {
        // Held until commit, so the profile cannot vanish under the project naming it.
        if !customers::hold(&mut tx, p.org_id, c).await? {
            let e = FieldError::new("client_customer_id", "is not a customer profile of this organization");
            return Err(Problem::validation(vec![e]).into());
        }
    }
    let row = match id {
        None => {
            let base = Project::new(String::new(), ProjectType::Support);
            let project = base.apply(changes).map_err(refused)?;
            store::insert(&mut tx, p.org_id, &project, p.user_id).await?
        }
        Some(id) => {
            let current = store::lock(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("project"))?;
            let project = current.project().apply(changes).map_err(refused)?;
            store::update(&mut tx, p.org_id, id, &project).await?.ok_or_else(|| Problem::not_found("project"))?
        }
    };
    tx.commit().await?;
    Ok(row)
}

/// Create a project (managers).
#[utoipa::path(
    post,
    operation_id = "create_project",
    path = "/v1/projects",
    tag = "projects",
    request_body = NewProject,
    responses((status = 201, description = "The project, in planning", body = ProjectRow))
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewProject>,
) -> ApiResult<(StatusCode, Json<ProjectRow>)> {
    can_write(&p)?;
    managers(&p)?;
    let changes = parse(body.into())?;
    Ok((StatusCode::CREATED, Json(write(&state, &p, None, changes).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<ProjectStatus>, inline)]
    status: Option<String>,
    #[param(value_type = Option<ProjectType>, inline)]
    project_type: Option<String>,
    client_user_id: Option<Uuid>,
    client_customer_id: Option<Uuid>,
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of projects.
#[derive(Serialize, ToSchema)]
pub struct ProjectPage {
    data: Vec<ProjectRow>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// The organization's projects, newest first (agents and above).
#[utoipa::path(
    get,
    operation_id = "list_projects",
    path = "/v1/projects",
    tag = "projects",
    params(ListQuery),
    responses((status = 200, description = "One page of projects", body = ProjectPage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<ProjectPage>> {
    can_read(&p)?;
    agents(&p)?;
    let mut errors = Vec::new();
    let status = q.status.as_deref().and_then(|s| check(&mut errors, ProjectStatus::parse("status", s)));
    let project_type =
        q.project_type.as_deref().and_then(|t| check(&mut errors, ProjectType::parse("project_type", t)));
    let (limit, after) = people::page(q.limit, q.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let filter = Filter {
        status,
        project_type,
        client_user_id: q.client_user_id,
        client_customer_id: q.client_customer_id,
        limit,
        after,
    };
    let mut conn = state.pool.acquire().await?;
    let rows = store::list(&mut conn, p.org_id, &filter).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { time: r.created_at, id: r.id });
    Ok(Json(ProjectPage { data: page.data, next_cursor: page.next_cursor }))
}

/// A project (agents and above).
#[utoipa::path(
    get,
    operation_id = "get_project",
    path = "/v1/projects/{id}",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id")),
    responses((status = 200, description = "The project", body = ProjectRow))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<ProjectRow>> {
    can_read(&p)?;
    agents(&p)?;
    let mut conn = state.pool.acquire().await?;
    let row = store::get(&mut conn, p.org_id, id).await?;
    Ok(Json(row.ok_or_else(|| Problem::not_found("project"))?))
}

/// Change a project (managers); a status change follows the workflow.
#[utoipa::path(
    patch,
    operation_id = "update_project",
    path = "/v1/projects/{id}",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id")),
    request_body = ProjectPatch,
    responses(
        (status = 200, description = "The project after the change", body = ProjectRow),
        (status = 409, description = "The workflow does not allow this status move; `detail` names the allowed ones", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ProjectPatch>,
) -> ApiResult<Json<ProjectRow>> {
    can_write(&p)?;
    managers(&p)?;
    let changes = parse(body)?;
    Ok(Json(write(&state, &p, Some(id), changes).await?))
}

/// Delete a project (managers): its tickets stay, without a project.
#[utoipa::path(
    delete,
    operation_id = "delete_project",
    path = "/v1/projects/{id}",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    managers(&p)?;
    let mut tx = state.pool.begin().await?;
    if !store::delete(&mut tx, p.org_id, id).await? {
        return Err(Problem::not_found("project").into());
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A project's tickets, newest first (agents and above).
#[utoipa::path(
    get,
    operation_id = "list_project_tickets",
    path = "/v1/projects/{id}/tickets",
    tag = "projects",
    params(("id" = Uuid, Path, description = "The project's id"), people::PageParams),
    responses((status = 200, description = "One page of tickets", body = people::TicketPage))
)]
pub async fn tickets(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<people::PageParams>,
) -> ApiResult<Json<people::TicketPage>> {
    can_read(&p)?;
    agents(&p)?;
    let mut errors = Vec::new();
    let (limit, after) = people::page(q.limit, q.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut conn = state.pool.acquire().await?;
    if store::get(&mut conn, p.org_id, id).await?.is_none() {
        return Err(Problem::not_found("project").into());
    }
    let rows = store::tickets(&mut conn, p.org_id, id, limit, after).await?;
    Ok(Json(people::TicketPage::from_rows(rows, limit, &Viewer::new(&p, None))))
}
