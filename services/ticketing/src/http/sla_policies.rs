//! SLA policies: first-response and resolution targets per priority (optionally per category),
//! in business hours when a schedule is given. Managers write; agents and above read. A policy
//! applies to tickets created, or whose priority or category changes, after it is written.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiError, ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use sqlx::types::Json as Jsonb;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{can_read, can_write};
use crate::domain::sla::{BusinessHours, Calendar, MAX_TARGET_MINUTES};
use crate::domain::ticket::{Category, Priority};
use crate::store::sla::{self as store, Fields, SlaPolicy};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSlaPolicy {
    #[schema(schema_with = super::schema::subject)]
    name: String,
    priority: Priority,
    /// Only tickets of this category; left out, every category without a policy of its own.
    category: Option<Category>,
    #[schema(minimum = 1, maximum = 525600)]
    first_response_minutes: i32,
    #[schema(minimum = 1, maximum = 525600)]
    resolution_minutes: i32,
    /// Left out: targets count wall-clock time.
    business_hours: Option<BusinessHours>,
    /// Default true.
    enabled: Option<bool>,
}

/// Every field optional; `category` and `business_hours` are cleared with null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyPatch {
    #[schema(schema_with = super::schema::nullable_subject)]
    name: Option<String>,
    priority: Option<Priority>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(nullable)]
    category: Option<Option<Category>>,
    #[schema(minimum = 1, maximum = 525600)]
    first_response_minutes: Option<i32>,
    #[schema(minimum = 1, maximum = 525600)]
    resolution_minutes: Option<i32>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(nullable)]
    business_hours: Option<Option<BusinessHours>>,
    enabled: Option<bool>,
}

/// The checked fields of a policy as it will be.
fn check(p: &SlaPolicy) -> Result<(), Problem> {
    let mut errors = Vec::new();
    if let Err(e) = crate::domain::fields::subject("name", &p.name) {
        errors.push(e);
    }
    for (field, v) in
        [("first_response_minutes", p.first_response_minutes), ("resolution_minutes", p.resolution_minutes)]
    {
        if !(1..=MAX_TARGET_MINUTES).contains(&v) {
            errors.push(FieldError::new(field, "must be between 1 and 525600"));
        }
    }
    if let Some(hours) = &p.business_hours {
        if let Err(e) = Calendar::parse("business_hours", hours) {
            errors.extend(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

fn managers(p: &Principal) -> Result<(), Problem> {
    can_write(p)?;
    p.require_role(Role::Manager).map_err(|_| Problem::forbidden("only managers and above write SLA policies"))
}

fn taken(e: sqlx::Error) -> ApiError {
    if platform::db::is_constraint(&e, store::TARGET_KEY) {
        Problem::conflict("a policy for this priority and category exists").into()
    } else {
        e.into()
    }
}

fn tidy(hours: Option<BusinessHours>) -> Option<Jsonb<BusinessHours>> {
    hours.map(Jsonb)
}

/// Create a policy (managers).
#[utoipa::path(
    post,
    operation_id = "create_sla_policy",
    path = "/v1/sla-policies",
    tag = "sla",
    request_body = NewSlaPolicy,
    responses(
        (status = 201, description = "The policy", body = SlaPolicy),
        (status = 409, description = "A policy for this priority and category exists", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewSlaPolicy>,
) -> ApiResult<(StatusCode, Json<SlaPolicy>)> {
    managers(&p)?;
    let draft = SlaPolicy {
        id: Uuid::nil(),
        name: body.name,
        priority: body.priority,
        category: body.category,
        first_response_minutes: body.first_response_minutes,
        resolution_minutes: body.resolution_minutes,
        business_hours: tidy(body.business_hours),
        enabled: body.enabled.unwrap_or(true),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    check(&draft)?;
    let draft = SlaPolicy { name: draft.name.trim().to_owned(), ..draft };
    let fields = Fields {
        name: Some(draft.name),
        priority: Some(draft.priority),
        category: Some(draft.category),
        first_response_minutes: Some(draft.first_response_minutes),
        resolution_minutes: Some(draft.resolution_minutes),
        business_hours: Some(draft.business_hours.map(|j| j.0)),
        enabled: Some(draft.enabled),
    };
    let mut tx = state.pool.begin().await?;
    let policy = store::insert(&mut tx, p.org_id, fields).await.map_err(taken)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

#[derive(Serialize, ToSchema)]
pub struct SlaPolicyList {
    data: Vec<SlaPolicy>,
}

/// The organization's policies, urgent first (agents and above).
#[utoipa::path(
    get,
    operation_id = "list_sla_policies",
    path = "/v1/sla-policies",
    tag = "sla",
    responses((status = 200, description = "The policies", body = SlaPolicyList))
)]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<SlaPolicyList>> {
    can_read(&p)?;
    p.require_role(Role::Agent)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(SlaPolicyList { data: store::list(&mut conn, p.org_id).await? }))
}

/// A policy (agents and above).
#[utoipa::path(
    get,
    operation_id = "get_sla_policy",
    path = "/v1/sla-policies/{id}",
    tag = "sla",
    params(("id" = Uuid, Path, description = "The policy's id")),
    responses((status = 200, description = "The policy", body = SlaPolicy))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<SlaPolicy>> {
    can_read(&p)?;
    p.require_role(Role::Agent)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::get(&mut conn, p.org_id, id).await?.ok_or_else(|| Problem::not_found("SLA policy"))?))
}

/// Change a policy (managers); tickets keep their due times until their next priority or
/// category change.
#[utoipa::path(
    patch,
    operation_id = "update_sla_policy",
    path = "/v1/sla-policies/{id}",
    tag = "sla",
    params(("id" = Uuid, Path, description = "The policy's id")),
    request_body = SlaPolicyPatch,
    responses(
        (status = 200, description = "The policy after the change", body = SlaPolicy),
        (status = 409, description = "A policy for this priority and category exists", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SlaPolicyPatch>,
) -> ApiResult<Json<SlaPolicy>> {
    managers(&p)?;
    let mut tx = state.pool.begin().await?;
    let mut policy = store::lock(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("SLA policy"))?;
    if let Some(name) = body.name {
        policy.name = name;
    }
    policy.priority = body.priority.unwrap_or(policy.priority);
    policy.category = body.category.unwrap_or(policy.category);
    policy.first_response_minutes = body.first_response_minutes.unwrap_or(policy.first_response_minutes);
    policy.resolution_minutes = body.resolution_minutes.unwrap_or(policy.resolution_minutes);
    if let Some(hours) = body.business_hours {
        policy.business_hours = tidy(hours);
    }
    policy.enabled = body.enabled.unwrap_or(policy.enabled);
    check(&policy)?;
    policy.name = policy.name.trim().to_owned();
    let policy = store::update(&mut tx, p.org_id, &policy).await.map_err(taken)?;
    tx.commit().await?;
    Ok(Json(policy))
}

/// Delete a policy (managers); its tickets keep their due times, without a policy.
#[utoipa::path(
    delete,
    operation_id = "delete_sla_policy",
    path = "/v1/sla-policies/{id}",
    tag = "sla",
    params(("id" = Uuid, Path, description = "The policy's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    managers(&p)?;
    let mut tx = state.pool.begin().await?;
    if !store::delete(&mut tx, p.org_id, id).await? {
        return Err(Problem::not_found("SLA policy").into());
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
