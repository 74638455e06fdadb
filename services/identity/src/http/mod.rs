//! Identity's HTTP API (shapes in DESIGN.md §9). The OpenAPI document is generated from these
//! handlers' annotations, so it cannot drift from the routes.

mod api_keys;
mod auth;
mod directory;
mod invitations;
mod me;
mod members;
mod orgs;
pub mod schema;

use axum::http::{header, HeaderMap};
use axum::Router;
use platform::auth::Principal;
use platform::Problem;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::sessions::{ClientInfo, Issued};
use crate::store::{Organization, User};
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard identity", description = "Organizations, users, sessions, API keys. Errors are RFC 9457 problem+json."),
    tags(
        (name = "auth", description = "Sign-up, sign-in, sessions, password reset, email verification"),
        (name = "identity", description = "Organizations, members, invitations, teams, departments, API keys"),
    )
)]
struct ApiDoc;

/// The routes and the OpenAPI document describing them.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::request_password_reset))
        .routes(routes!(auth::confirm_password_reset))
        .routes(routes!(auth::verify_email))
        .routes(routes!(auth::resend_verification))
        .routes(routes!(me::me))
        .routes(routes!(me::sessions))
        .routes(routes!(me::revoke_session))
        .routes(routes!(orgs::list, orgs::create))
        .routes(routes!(orgs::current, orgs::update))
        .routes(routes!(members::list))
        .routes(routes!(members::get, members::change_role, members::remove))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::cancel))
        .routes(routes!(directory::list_teams, directory::create_team))
        .routes(routes!(directory::get_team, directory::update_team, directory::delete_team))
        .routes(routes!(directory::add_team_member, directory::remove_team_member))
        .routes(routes!(directory::list_departments, directory::create_department))
        .routes(routes!(directory::get_department, directory::update_department, directory::delete_department))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .with_state(state)
        .split_for_parts()
}

/// The answer to signup, login, refresh and invitation acceptance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthResponse {
    pub access_token: String,
    pub refresh_token: String,
    #[schema(value_type = String, pattern = "^Bearer$")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: User,
    pub organization: Organization,
    #[schema(schema_with = schema::role)]
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

/// Managing members, roles, invitations and API keys: an admin, signed in (an API key's
/// authority must not outlive it in accounts it made), answering the acting user.
pub fn require_admin_user(p: &Principal) -> Result<uuid::Uuid, Problem> {
    let user = p.require_user()?;
    p.require_role(platform::auth::Role::Admin)?;
    Ok(user)
}
