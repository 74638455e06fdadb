//! Ticketing's HTTP API. The OpenAPI document is generated from the handlers' annotations
//! (`/openapi.json`), so it cannot drift from the routes. Each module exposes
//! `routes() -> OpenApiRouter<AppState>`; this merges them.

mod agents;
mod articles;
mod attachments;
mod checks;
mod comments;
mod csat;
mod customers;
mod document;
mod escalations;
mod history;
mod listing;
mod merge;
mod people;
mod projects;
mod rules;
pub mod schema;
mod settings;
mod shapes;
mod sla_policies;
mod suggestions;
mod tickets;
mod time;
mod upload;
mod watchers;

use platform::auth::{Principal, Role};
use platform::{ApiResult, Problem};
use utoipa_axum::router::OpenApiRouter;

use crate::domain::ticket::Ticket;
use crate::domain::viewer::Viewer;
use crate::store::tickets as store;
use crate::AppState;

/// The routes and their OpenAPI description.
pub fn router(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let routes = OpenApiRouter::new()
        .merge(settings::routes())
        .merge(tickets::routes())
        .merge(listing::routes())
        .merge(comments::routes())
        .merge(attachments::routes(&state))
        .merge(history::routes())
        .merge(time::routes())
        .merge(watchers::routes())
        .merge(csat::routes())
        .merge(merge::routes())
        .merge(agents::routes())
        .merge(sla_policies::routes())
        .merge(escalations::routes())
        .merge(rules::routes())
        .merge(articles::routes())
        .merge(suggestions::routes())
        .merge(customers::routes())
        .merge(projects::routes())
        .with_state(state.clone())
        .split_for_parts();
    let (routes, mut api) = routes;
    document::refine(&mut api, &state.config.attachment_types);
    (routes, api)
}

/// Readers: API keys need `tickets:read`.
pub fn can_read(p: &Principal) -> Result<(), Problem> {
    p.require_scope("tickets:read")
}

/// Writers: API keys need `tickets:write`.
pub fn can_write(p: &Principal) -> Result<(), Problem> {
    p.require_scope("tickets:write")
}

/// Agents and above (sessions or API keys of that role).
pub fn staff(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Agent)
}

/// The caller as a viewer of tickets: a customer's profile is looked up.
pub async fn viewer(state: &AppState, p: &Principal) -> ApiResult<Viewer> {
    let profile = match (p.role >= Role::Agent, p.user_id) {
        (false, Some(user)) => {
            let mut conn = state.pool.acquire().await?;
            store::profile_of_user(&mut conn, p.org_id, user).await?
        }
        _ => None,
    };
    Ok(Viewer::new(p, profile))
}

/// The ticket `key` (id or number) if `viewer` may see it; 404 otherwise (another tenant's,
/// someone else's for a customer, or none).
pub async fn visible(state: &AppState, viewer: &Viewer, key: &str) -> ApiResult<Ticket> {
    let mut conn = state.pool.acquire().await?;
    store::get(&mut conn, viewer.org, key)
        .await?
        .filter(|t| viewer.sees(t))
        .ok_or_else(|| Problem::not_found("ticket").into())
}

/// The value, or `None` with its error noted: every invalid field is named at once.
pub fn keep<T>(errors: &mut Vec<platform::FieldError>, r: Result<T, platform::FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// A vocabulary value of a request, or its error naming `field`.
pub fn word<T: std::str::FromStr<Err = String>>(field: &str, raw: &str) -> Result<T, platform::FieldError> {
    raw.parse().map_err(|e: String| platform::FieldError::new(field, e))
}
