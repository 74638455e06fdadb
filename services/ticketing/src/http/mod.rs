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
    (routes.layer(axum::middleware::from_fn_with_state(state, evict_touched)), api)
}

/// Evicts the tickets a request wrote, once its handler (and so its transaction) is done.
async fn evict_touched(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (response, touched) = platform::cache::collect(next.run(request)).await;
    state.changed(&touched).await;
    response
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

/// Like [`visible`], from the replica's ticket cache when `key` is an id: for reads that only
/// show the ticket (a write locks and rereads it in its transaction).
pub async fn visible_cached(state: &AppState, viewer: &Viewer, key: &str) -> ApiResult<Ticket> {
    let Ok(id) = key.parse::<uuid::Uuid>() else { return visible(state, viewer, key).await };
    let cached = state.tickets.get(id).filter(|t| t.organization_id == viewer.org);
    let ticket = match cached {
        Some(t) => t,
        None => {
            let generation = state.tickets.generation();
            let mut conn = state.pool.acquire().await?;
            let Some(t) = store::get(&mut conn, viewer.org, id).await?.map(std::sync::Arc::new) else {
                return Err(Problem::not_found("ticket").into());
            };
            state.tickets.put(generation, id, t.clone());
            t
        }
    };
    Some(ticket)
        .filter(|t| viewer.sees(t))
        .map(std::sync::Arc::unwrap_or_clone)
        .ok_or_else(|| Problem::not_found("ticket").into())
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
