//! inbox-sync's HTTP API and the platforms' inbound webhooks. The OpenAPI document is generated
//! from the handlers' annotations (`/openapi.json`).

mod connections;
mod conversations;
mod labels;
mod media;
mod oauth;
mod webhooks;

use platform::auth::{Principal, Role};
use platform::Problem;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Schemas only query parameters refer to: routes do not collect them.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(conversations::ConversationStatus, conversations::PlatformName, oauth::OAuthPlatform)))]
struct ParameterSchemas;

pub fn router(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (routes, mut api) = OpenApiRouter::new()
        .merge(webhooks::routes())
        .merge(connections::routes())
        .merge(oauth::routes())
        .merge(conversations::routes())
        .merge(labels::routes())
        .merge(media::routes())
        .with_state(state)
        .split_for_parts();
    api.merge(<ParameterSchemas as utoipa::OpenApi>::openapi());
    (routes, api)
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
