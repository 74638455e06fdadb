//! Feedback's HTTP API (shapes in DESIGN.md §9; the OpenAPI document is `openapi.json`).

mod attachments;
mod categories;
mod comments;
mod listing;
mod posts;
mod public;
mod settings;
mod votes;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::Router;
use platform::auth::{Principal, Role};
use platform::Problem;

use crate::AppState;

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn router(state: AppState) -> Router {
    let upload_limit = state.config.attachment_max_bytes + 64 * 1024;
    Router::new()
        .route("/v1/categories", get(categories::list).post(categories::create))
        .route("/v1/categories/{id}", get(categories::get).patch(categories::update).delete(categories::delete))
        .route("/v1/feedback", get(listing::list).post(posts::create))
        .route("/v1/feedback/similar", get(listing::similar))
        .route("/v1/feedback/settings", get(settings::get).put(settings::update))
        .route("/v1/feedback/{id}", get(posts::get).patch(posts::update).delete(posts::delete))
        .route("/v1/feedback/{id}/status", post(posts::change_status))
        .route("/v1/feedback/{id}/merge", post(posts::merge))
        .route("/v1/feedback/{id}/vote", put(votes::vote).delete(votes::retract))
        .route("/v1/feedback/{id}/subscription", put(posts::subscribe).delete(posts::unsubscribe))
        .route("/v1/feedback/{id}/comments", get(comments::list).post(comments::create))
        .route("/v1/feedback/{id}/comments/{comment_id}", axum::routing::patch(comments::edit).delete(comments::delete))
        .route(
            "/v1/feedback/{id}/attachments",
            get(attachments::list).post(attachments::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/v1/feedback/{id}/attachments/{attachment_id}", get(attachments::download).delete(attachments::delete))
        .route("/v1/public/{slug}/feedback", get(public::list).post(public::create))
        .route("/v1/public/{slug}/feedback/{id}", get(public::get))
        .route("/v1/public/{slug}/feedback/{id}/comments", get(public::comments))
        .route("/v1/public/{slug}/feedback/{id}/vote", put(public::vote).delete(public::retract))
        .with_state(state)
}

/// Readers: API keys need `feedback:read`.
pub fn can_read(p: &Principal) -> Result<(), Problem> {
    p.require_scope("feedback:read")
}

/// Writers: API keys need `feedback:write`.
pub fn can_write(p: &Principal) -> Result<(), Problem> {
    p.require_scope("feedback:write")
}

/// Agents and above see private posts and internal notes.
pub fn is_staff(p: &Principal) -> bool {
    p.role >= Role::Agent
}

/// The client's address as the edge saw it: the last hop of `X-Forwarded-For` (the one our
/// edge appended; earlier hops are whatever the client sent).
pub fn client_address(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .or_else(|| headers.get("x-real-ip").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}
