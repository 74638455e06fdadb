//! The dispatcher's HTTP API.

mod deliveries;
mod endpoints;
mod notifications;

use axum::routing::{get, post};
use axum::Router;
use platform::auth::{Principal, Role};
use platform::Problem;

use crate::AppState;

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/webhooks", get(endpoints::list).post(endpoints::create))
        .route("/v1/webhooks/{id}", get(endpoints::get).patch(endpoints::update).delete(endpoints::delete))
        .route("/v1/webhooks/{id}/enable", post(endpoints::enable))
        .route("/v1/webhooks/{id}/disable", post(endpoints::disable))
        .route("/v1/webhooks/{id}/rotate-secret", post(endpoints::rotate))
        .route("/v1/webhooks/{id}/test", post(deliveries::test))
        .route("/v1/webhooks/{id}/deliveries", get(deliveries::list))
        .route("/v1/webhooks/{id}/recover", post(deliveries::recover))
        .route("/v1/deliveries/{id}", get(deliveries::get))
        .route("/v1/deliveries/{id}/retry", post(deliveries::retry))
        .route("/v1/notifications", get(notifications::list))
        .route("/v1/notifications/unread-count", get(notifications::unread_count))
        .route("/v1/notifications/read-all", post(notifications::read_all))
        .route("/v1/notifications/{id}/read", post(notifications::read))
        .route("/v1/dev/mailbox", get(notifications::mailbox))
        .with_state(state)
}

/// Webhooks are managed by admins; API keys need `webhooks:read` or `webhooks:write`.
pub fn can_read(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Admin)?;
    p.require_scope("webhooks:read")
}

pub fn can_write(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Admin)?;
    p.require_scope("webhooks:write")
}
