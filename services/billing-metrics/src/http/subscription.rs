//! The organization's subscription: read by admins, changed by its owner.

use axum::extract::State;
use chrono::Utc;
use platform::auth::{Principal, Role};
use platform::extract::Json;
use platform::{ApiResult, FieldError, Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::reader;
use crate::store::subscriptions::{self, Subscription};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get, put))
}

/// The organization's subscription (an organization billing has not seen yet is on `free`).
#[utoipa::path(get, path = "/v1/billing/subscription", operation_id = "get_subscription", tag = "billing",
    responses((status = 200, description = "The subscription", body = Subscription),
        (status = 403, description = "Admins and owners only", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Subscription>> {
    reader(&p)?;
    let mut tx = state.pool.begin().await?;
    let s = crate::subscribe(&mut tx, &state, p.org_id).await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// At least one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct SubscriptionChange {
    /// The plan to move to (one of `GET /v1/billing/plans` that is available).
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = String, nullable = false, pattern = "^[a-z][a-z0-9_-]{0,39}$")]
    plan: Option<Option<String>>,
    /// End the subscription when the current period ends (`false` keeps it).
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = bool, nullable = false)]
    cancel_at_period_end: Option<Option<bool>>,
}

/// Change plan or cancel at the period's end (the owner, signed in). Choosing a plan again
/// revives a canceled or unpaid subscription from now.
#[utoipa::path(put, path = "/v1/billing/subscription", operation_id = "put_subscription", tag = "billing",
    request_body = SubscriptionChange,
    responses((status = 200, description = "The subscription now", body = Subscription),
        (status = 403, description = "Only the owner, signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such plan, or nothing to change", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(state): State<AppState>,
    platform::auth::Unrestricted(p): platform::auth::Unrestricted,
    Json(body): Json<SubscriptionChange>,
) -> ApiResult<Json<Subscription>> {
    p.require_user()?;
    p.require_role(Role::Owner)?;
    let mut errors = Vec::new();
    if body.plan.is_none() && body.cancel_at_period_end.is_none() {
        errors.push(FieldError::new("plan", "a plan or cancel_at_period_end is needed"));
    }
    if matches!(body.plan, Some(None)) {
        errors.push(FieldError::new("plan", "a plan's name, not null"));
    }
    if matches!(body.cancel_at_period_end, Some(None)) {
        errors.push(FieldError::new("cancel_at_period_end", "true or false, not null"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let (plan_name, cancel) = (body.plan.flatten(), body.cancel_at_period_end.flatten());
    let mut tx = state.pool.begin().await?;
    let plan = match &plan_name {
        Some(name) => {
            let plan = crate::store::plans::get(&mut tx, name).await?.filter(|p| p.available);
            Some(plan.ok_or_else(|| Problem::validation(vec![FieldError::new("plan", "no such plan to choose")]))?)
        }
        None => None,
    };
    crate::subscribe(&mut tx, &state, p.org_id).await?;
    let mut s = subscriptions::lock(&mut tx, p.org_id).await?.ok_or_else(|| Problem::not_found("subscription"))?;
    let changed = crate::lifecycle::change(
        &mut s,
        plan.as_ref().map(|p| (p.name.as_str(), p.billing_interval.as_str())),
        cancel,
        Utc::now(),
    );
    if changed.is_empty() {
        return Ok(Json(s));
    }
    let s = subscriptions::save(&mut tx, &s).await?;
    crate::events::subscription(&mut tx, &s, changed).await?;
    tx.commit().await?;
    state.ledger.forget(Some(p.org_id));
    Ok(Json(s))
}
