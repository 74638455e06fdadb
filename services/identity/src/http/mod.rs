//! Identity's HTTP API (shapes in DESIGN.md §9; the OpenAPI document is `openapi.json`).

mod api_keys;
mod auth;
mod directory;
mod invitations;
mod me;
mod members;
mod orgs;

use axum::http::{header, HeaderMap};
use axum::routing::{delete, get, post, put};
use axum::Router;
use platform::auth::Principal;
use platform::Problem;
use serde::Serialize;

use crate::sessions::{ClientInfo, Issued};
use crate::store::{Organization, User};
use crate::AppState;

pub use members::page as members_page;

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/auth/signup", post(auth::signup))
        .route("/v1/auth/login", post(auth::login))
        .route("/v1/auth/refresh", post(auth::refresh))
        .route("/v1/auth/logout", post(auth::logout))
        .route("/v1/auth/password-reset", post(auth::request_password_reset))
        .route("/v1/auth/password-reset/confirm", post(auth::confirm_password_reset))
        .route("/v1/auth/verify-email", post(auth::verify_email))
        .route("/v1/auth/verify-email/resend", post(auth::resend_verification))
        .route("/v1/me", get(me::me))
        .route("/v1/sessions", get(me::sessions))
        .route("/v1/sessions/{id}", delete(me::revoke_session))
        .route("/v1/orgs", get(orgs::list).post(orgs::create))
        .route("/v1/orgs/current", get(orgs::current).patch(orgs::update))
        .route("/v1/members", get(members::list))
        .route("/v1/members/{user_id}", get(members::get).patch(members::change_role).delete(members::remove))
        .route("/v1/invitations", get(invitations::list).post(invitations::create))
        .route("/v1/invitations/accept", post(invitations::accept))
        .route("/v1/invitations/{id}", delete(invitations::cancel))
        .route("/v1/teams", get(directory::list_teams).post(directory::create_team))
        .route("/v1/teams/{id}", get(directory::get_team).patch(directory::update_team).delete(directory::delete_team))
        .route(
            "/v1/teams/{id}/members/{user_id}",
            put(directory::add_team_member).delete(directory::remove_team_member),
        )
        .route("/v1/departments", get(directory::list_departments).post(directory::create_department))
        .route(
            "/v1/departments/{id}",
            get(directory::get_department).patch(directory::update_department).delete(directory::delete_department),
        )
        .route("/v1/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/v1/api-keys/{id}", delete(api_keys::revoke))
        .with_state(state)
}

/// The answer to signup, login, refresh and invitation acceptance.
#[derive(Debug, Serialize)]
pub struct AuthResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub user: User,
    pub organization: Organization,
    pub role: String,
}

impl AuthResponse {
    pub fn new(issued: Issued, user: User, organization: Organization, role: &str) -> Self {
        Self {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            user,
            organization,
            role: role.to_owned(),
        }
    }
}

/// Client address (the last hop of `X-Forwarded-For`, which our edge appends; earlier hops are
/// whatever the client sent) and user agent.
pub fn client_info(headers: &HeaderMap) -> ClientInfo {
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().chars().take(64).collect());
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    ClientInfo { ip, user_agent }
}

/// API keys read identity with `identity:read` and write with `identity:write`.
pub fn require_read(p: &Principal) -> Result<(), Problem> {
    p.require_scope("identity:read")
}

pub fn require_write(p: &Principal) -> Result<(), Problem> {
    p.require_scope("identity:write")
}
