//! billing-metrics' HTTP API. The OpenAPI document is generated from the handlers' annotations
//! (`/openapi.json`).

mod activity;
mod budgets;
mod metrics;
mod plans;
mod refunds;
mod stripe;
mod subscription;
mod usage;

use platform::auth::{Principal, Role};
use platform::Problem;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::new()
        .merge(plans::routes())
        .merge(subscription::routes())
        .merge(usage::routes())
        .merge(activity::routes())
        .merge(stripe::routes())
        .merge(budgets::routes())
        .merge(refunds::routes())
        .merge(metrics::routes())
        .with_state(state)
        .split_for_parts()
}

/// Reading the subscription, usage and activity: admins and owners; API keys need
/// `billing:read`.
pub fn reader(p: &Principal) -> Result<(), Problem> {
    p.require_scope("billing:read")?;
    p.require_role(Role::Admin)
}
