//! Budgets: what refunds, compensations, discounts and credits may spend per period.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::budgets::{PERIODS, TYPES};
use crate::store::refunds::{self as store, Budget, BudgetChanges, NewBudget};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update))
}

/// Reading budgets: managers and above; API keys need `billing:read`.
fn reader(p: &Principal) -> Result<(), Problem> {
    p.require_scope("billing:read")?;
    p.require_role(Role::Manager)
}

/// Creating and changing budgets: admins and above; API keys need `billing:write`.
fn manager(p: &Principal) -> Result<(), Problem> {
    p.require_scope("billing:write")?;
    p.require_role(Role::Admin)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBudget {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: String,
    /// `refund`, `compensation`, `discount` or `credit`.
    #[schema(pattern = "^(refund|compensation|discount|credit)$")]
    budget_type: String,
    /// `daily`, `weekly`, `monthly`, `quarterly` or `yearly`; the first period starts now.
    #[schema(pattern = "^(daily|weekly|monthly|quarterly|yearly)$")]
    period: String,
    /// The most spent per period, in the currency's smallest unit.
    #[schema(minimum = 1)]
    limit_cents: i64,
    #[serde(default = "usd")]
    #[schema(pattern = "^[a-z]{3}$")]
    currency: String,
    /// Percentages of the limit that alert, once per period each (default 80 and 100).
    #[serde(default = "thresholds")]
    #[schema(schema_with = percentages)]
    alert_thresholds: Vec<i32>,
    /// The most one customer may be refunded from it per period.
    #[schema(minimum = 1)]
    refund_limit_per_customer_cents: Option<i64>,
}

/// At most ten percentages, each 1 to 100.
fn percentages() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Integer)).minimum(Some(1)).maximum(Some(100)))
        .max_items(Some(10))
        .build()
}

/// [`percentages`], or `null`.
fn nullable_percentages() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut a = percentages();
    a.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    a
}

fn usd() -> String {
    "usd".into()
}
fn thresholds() -> Vec<i32> {
    vec![80, 100]
}

fn check_thresholds(t: &[i32], errors: &mut Vec<FieldError>) {
    if t.len() > 10 || t.iter().any(|p| !(1..=100).contains(p)) {
        errors.push(FieldError::new("alert_thresholds", "at most 10 percentages, each 1 to 100"));
    }
}

#[derive(Serialize, ToSchema)]
pub struct BudgetList {
    data: Vec<Budget>,
}

/// The organization's budgets, newest first (managers and above).
#[utoipa::path(get, path = "/v1/budgets", operation_id = "list_budgets", tag = "budgets",
    responses((status = 200, description = "Every budget", body = BudgetList),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<BudgetList>> {
    reader(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(BudgetList { data: store::budgets(&mut conn, p.org_id).await? }))
}

/// Creates a budget (admins).
#[utoipa::path(post, path = "/v1/budgets", operation_id = "create_budget", tag = "budgets", request_body = CreateBudget,
    responses((status = 201, description = "Created", body = Budget),
        (status = 403, description = "Admins and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(b): Json<CreateBudget>,
) -> ApiResult<(StatusCode, Json<Budget>)> {
    manager(&p)?;
    let mut errors = Vec::new();
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "1 to 100 characters"));
    }
    if !TYPES.contains(&b.budget_type.as_str()) {
        errors.push(FieldError::new("budget_type", "refund, compensation, discount or credit"));
    }
    if !PERIODS.contains(&b.period.as_str()) {
        errors.push(FieldError::new("period", "daily, weekly, monthly, quarterly or yearly"));
    }
    if b.limit_cents < 1 {
        errors.push(FieldError::new("limit_cents", "at least 1"));
    }
    if b.currency.len() != 3 || !b.currency.bytes().all(|c| c.is_ascii_lowercase()) {
        errors.push(FieldError::new("currency", "three lower-case letters (usd)"));
    }
    check_thresholds(&b.alert_thresholds, &mut errors);
    if b.refund_limit_per_customer_cents.is_some_and(|l| l < 1) {
        errors.push(FieldError::new("refund_limit_per_customer_cents", "at least 1"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut thresholds = b.alert_thresholds.clone();
    thresholds.sort_unstable();
    thresholds.dedup();
    let new = NewBudget {
        name,
        budget_type: &b.budget_type,
        period: &b.period,
        currency: &b.currency,
        limit_cents: b.limit_cents,
        period_start: Utc::now(),
        alert_thresholds: &thresholds,
        refund_limit_per_customer_cents: b.refund_limit_per_customer_cents,
    };
    let mut conn = state.pool.acquire().await?;
    Ok((StatusCode::CREATED, Json(store::insert_budget(&mut conn, p.org_id, &new).await?)))
}

/// One budget (managers and above).
#[utoipa::path(get, path = "/v1/budgets/{id}", operation_id = "get_budget", tag = "budgets",
    params(("id" = Uuid, Path, description = "The budget")),
    responses((status = 200, description = "The budget", body = Budget),
        (status = 404, description = "No such budget", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Budget>> {
    reader(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::budget(&mut conn, p.org_id, id).await?.ok_or_else(|| Problem::not_found("budget"))?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
/// Fields left out (or `null`) stay as they are, except `refund_limit_per_customer_cents`, which
/// `null` removes.
pub struct UpdateBudget {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: Option<String>,
    /// Not below what is spent this period (409 otherwise).
    #[schema(minimum = 1)]
    limit_cents: Option<i64>,
    #[schema(schema_with = nullable_percentages)]
    alert_thresholds: Option<Vec<i32>>,
    /// `null` removes the per-customer limit.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<i64>, minimum = 1)]
    refund_limit_per_customer_cents: Option<Option<i64>>,
    is_active: Option<bool>,
}

/// Changes a budget (admins).
#[utoipa::path(patch, path = "/v1/budgets/{id}", operation_id = "update_budget", tag = "budgets",
    params(("id" = Uuid, Path, description = "The budget")), request_body = UpdateBudget,
    responses((status = 200, description = "The budget now", body = Budget),
        (status = 404, description = "No such budget", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new limit is below what is spent this period", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<UpdateBudget>,
) -> ApiResult<Json<Budget>> {
    manager(&p)?;
    let mut errors = Vec::new();
    let name = b.name.as_deref().map(str::trim);
    if name.is_some_and(|n| n.is_empty() || n.chars().count() > 100) {
        errors.push(FieldError::new("name", "1 to 100 characters"));
    }
    if b.limit_cents.is_some_and(|l| l < 1) {
        errors.push(FieldError::new("limit_cents", "at least 1"));
    }
    if let Some(t) = &b.alert_thresholds {
        check_thresholds(t, &mut errors);
    }
    if b.refund_limit_per_customer_cents.flatten().is_some_and(|l| l < 1) {
        errors.push(FieldError::new("refund_limit_per_customer_cents", "at least 1"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = state.pool.begin().await?;
    let current = store::lock_budget(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("budget"))?;
    if b.limit_cents.is_some_and(|l| l < current.spent_cents) {
        return Err(Problem::conflict(format!(
            "{} are spent this period: the limit cannot be below that",
            current.spent_cents
        ))
        .into());
    }
    let changes = BudgetChanges {
        name,
        limit_cents: b.limit_cents,
        alert_thresholds: b.alert_thresholds.as_deref(),
        refund_limit_per_customer_cents: b.refund_limit_per_customer_cents,
        is_active: b.is_active,
    };
    let budget =
        store::update_budget(&mut tx, p.org_id, id, &changes).await?.ok_or_else(|| Problem::not_found("budget"))?;
    tx.commit().await?;
    Ok(Json(budget))
}
