//! The dispatcher's HTTP API; its OpenAPI document is generated from these routes.

mod deliveries;
mod endpoints;
mod notifications;

use platform::auth::{Principal, Role};
use platform::Problem;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

/// Every route, and the document describing them (path parameters are taken from the
/// handlers' `Path` extractors).
pub fn router(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let mut api = OpenApiRouter::new()
        .routes(routes!(endpoints::list, endpoints::create))
        .routes(routes!(endpoints::get, endpoints::update, endpoints::delete))
        .routes(routes!(endpoints::enable))
        .routes(routes!(endpoints::disable))
        .routes(routes!(endpoints::rotate))
        .routes(routes!(deliveries::test))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::recover))
        .routes(routes!(deliveries::get))
        .routes(routes!(deliveries::retry))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::unread_count))
        .routes(routes!(notifications::read_all))
        .routes(routes!(notifications::read));
    // Only development keeps mail instead of sending it (the config refuses it elsewhere).
    if state.config.dev_mailbox && state.config.common.is_development() {
        api = api.routes(routes!(notifications::mailbox));
    }
    api.with_state(state).split_for_parts()
}

/// Who did something, for events: the user, or the API key acting for the organization.
pub fn actor(p: &Principal) -> Option<Uuid> {
    p.user_id.or(Some(p.credential_id))
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
