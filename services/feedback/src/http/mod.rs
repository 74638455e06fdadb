//! Feedback's HTTP API (shapes in DESIGN.md §9). The OpenAPI document is generated from these
//! handlers' annotations (`/openapi.json`), so it cannot drift from the routes.

mod attachments;
mod categories;
mod comments;
mod listing;
mod posts;
mod public;
mod schema;
mod settings;
mod triage;
mod upload;
mod votes;

use axum::extract::DefaultBodyLimit;
use platform::auth::Principal;
use platform::Problem;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;

/// The routes and their OpenAPI description.
pub fn router(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let upload_limit = state.config.attachment_max_bytes + 64 * 1024;
    let types = state.config.attachment_types.clone();
    let (routes, mut api) = OpenApiRouter::new()
        .routes(routes!(categories::list, categories::create))
        .routes(routes!(categories::get, categories::update, categories::delete))
        .routes(routes!(listing::list, posts::create))
        .routes(routes!(listing::similar))
        .routes(routes!(settings::get, settings::update))
        .routes(routes!(posts::get, posts::update, posts::delete))
        .routes(routes!(triage::change_status))
        .routes(routes!(triage::merge))
        .routes(routes!(votes::vote, votes::retract))
        .routes(routes!(triage::subscribe, triage::unsubscribe))
        .routes(routes!(comments::list, comments::create))
        .routes(routes!(comments::edit, comments::delete))
        .routes(routes!(attachments::list, attachments::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(attachments::download, attachments::delete))
        .routes(routes!(public::list, public::create))
        .routes(routes!(public::get))
        .routes(routes!(public::comments))
        .routes(routes!(public::vote, public::retract))
        .with_state(state)
        .split_for_parts();
    attachments::document_types(&mut api, &types);
    (routes, api)
}

/// Readers: API keys need `feedback:read`.
pub fn can_read(p: &Principal) -> Result<(), Problem> {
    p.require_scope("feedback:read")
}

/// Writers: API keys need `feedback:write`.
pub fn can_write(p: &Principal) -> Result<(), Problem> {
    p.require_scope("feedback:write")
}
