//! The plan catalog: public to read; operators (`BILLING_OPERATOR_TOKEN`) change it.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::plans::{is_metric, Limit, Plan};
use crate::store;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get, put))
}

#[derive(Serialize, ToSchema)]
pub struct PlanList {
    data: Vec<Plan>,
}

/// The plan catalog, in pricing-page order (public).
#[utoipa::path(get, path = "/v1/billing/plans", operation_id = "list_plans", tag = "billing", security(()),
    responses((status = 200, description = "Every plan", body = PlanList)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<PlanList>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(PlanList { data: store::plans::list(&mut conn).await? }))
}

/// One plan (public).
#[utoipa::path(get, path = "/v1/billing/plans/{name}", operation_id = "get_plan", tag = "billing", security(()),
    params(("name" = String, Path, description = "The plan's name")),
    responses((status = 200, description = "The plan", body = Plan),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Plan>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::plans::get(&mut conn, &name).await?.ok_or_else(|| Problem::not_found("plan"))?))
}

/// A plan as an operator writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    #[schema(min_length = 1, max_length = 100)]
    display_name: String,
    #[schema(minimum = 0)]
    price_cents: i64,
    /// ISO 4217, lower case (`usd`).
    #[serde(default = "usd")]
    #[schema(pattern = "^[a-z]{3}$")]
    currency: String,
    /// `month` or `year`.
    #[serde(default = "month")]
    #[schema(pattern = "^(month|year)$")]
    billing_interval: String,
    #[serde(default)]
    limits: BTreeMap<String, Limit>,
    #[serde(default)]
    numbers: BTreeMap<String, i64>,
    #[serde(default)]
    flags: BTreeMap<String, bool>,
    #[serde(default)]
    position: i32,
    #[serde(default = "yes")]
    available: bool,
}

fn usd() -> String {
    "usd".into()
}
fn month() -> String {
    "month".into()
}
fn yes() -> bool {
    true
}

fn operator(state: &AppState, headers: &HeaderMap) -> Result<(), Problem> {
    let Some(token) = &state.config.operator_token else {
        return Err(Problem::forbidden("the plan catalog is read-only here: no operator token is configured"));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(Problem::unauthorized)?;
    if bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
        Ok(())
    } else {
        Err(Problem::unauthorized())
    }
}

fn validate(name: &str, b: &PlanBody) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name_ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
    if !name_ok {
        errors.push(FieldError::new("name", "1 to 40 of a-z, 0-9, _ and -, starting with a letter"));
    }
    if b.display_name.trim().is_empty() || b.display_name.chars().count() > 100 {
        errors.push(FieldError::new("display_name", "1 to 100 characters"));
    }
    if b.price_cents < 0 {
        errors.push(FieldError::new("price_cents", "not negative"));
    }
    if b.currency.len() != 3 || !b.currency.bytes().all(|c| c.is_ascii_lowercase()) {
        errors.push(FieldError::new("currency", "three lower-case letters (usd)"));
    }
    if !matches!(b.billing_interval.as_str(), "month" | "year") {
        errors.push(FieldError::new("billing_interval", "month or year"));
    }
    for (metric, l) in &b.limits {
        if !is_metric(metric) {
            errors.push(FieldError::new(format!("limits.{metric}"), "not a metric"));
        } else if l.limit < -1 {
            errors.push(FieldError::new(format!("limits.{metric}.limit"), "-1 (unlimited) or more"));
        }
    }
    let entitlement =
        |k: &String| !k.is_empty() && k.len() <= 64 && k.bytes().all(|c| c.is_ascii_lowercase() || c == b'_');
    for (k, v) in &b.numbers {
        if !entitlement(k) || *v < -1 {
            errors.push(FieldError::new(format!("numbers.{k}"), "a snake_case name and -1 (unlimited) or more"));
        }
    }
    for k in b.flags.keys() {
        if !entitlement(k) || b.numbers.contains_key(k) {
            errors.push(FieldError::new(format!("flags.{k}"), "a snake_case name not also a number"));
        }
    }
    errors
}

/// Creates or replaces a plan (operators only: `Authorization: Bearer <BILLING_OPERATOR_TOKEN>`).
/// Subscribers of a changed plan get its new limits within the quota cache's TTL.
#[utoipa::path(put, path = "/v1/billing/plans/{name}", operation_id = "put_plan", tag = "billing", security(()),
    params(("name" = String, Path, description = "The plan's name")), request_body = PlanBody,
    responses((status = 200, description = "Replaced", body = Plan), (status = 201, description = "Created", body = Plan),
        (status = 401, description = "Not the operator token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No operator token is configured", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<PlanBody>,
) -> ApiResult<(StatusCode, Json<Plan>)> {
    operator(&state, &headers)?;
    let errors = validate(&name, &body);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let plan = Plan {
        name,
        display_name: body.display_name.trim().to_owned(),
        price_cents: body.price_cents,
        currency: body.currency,
        billing_interval: body.billing_interval,
        limits: body.limits,
        numbers: body.numbers,
        flags: body.flags,
        position: body.position,
        available: body.available,
    };
    let mut conn = state.pool.acquire().await?;
    let created = store::plans::put(&mut conn, &plan).await?;
    state.ledger.forget(None);
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(plan)))
}
