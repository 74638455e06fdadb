//! inbox-sync's HTTP API and the platforms' inbound webhooks. The OpenAPI document is generated
//! from the handlers' annotations (`/openapi.json`).

mod connections;
mod conversations;
mod webhooks;

use platform::auth::{Principal, Role};
use platform::Problem;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::new()
        .merge(webhooks::routes())
        .merge(connections::routes())
        .merge(conversations::routes())
        .with_state(state)
        .split_for_parts()
}

/// Readers of the inbox: agents and above; API keys need `inbox:read`.
pub fn reader(p: &Principal) -> Result<(), Problem> {
    p.require_scope("inbox:read")?;
    p.require_role(Role::Agent)
}

/// Writers (replies, conversation state): agents and above; API keys need `inbox:write`.
pub fn writer(p: &Principal) -> Result<(), Problem> {
    p.require_scope("inbox:write")?;
    p.require_role(Role::Agent)
}

/// Connecting and disconnecting platform accounts: admins and above.
pub fn manager(p: &Principal) -> Result<(), Problem> {
    p.require_scope("inbox:write")?;
    p.require_role(Role::Admin)
}
