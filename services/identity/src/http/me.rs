//! The caller: `/v1/me` and their sessions.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use platform::auth::{Principal, Revocation};
use platform::extract::{Json, Path};
use platform::{ApiResult, Problem};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::sessions::{self, SessionView};
use crate::store::{self, Organization, User};
use crate::AppState;

/// The caller. The database builds `user`, `organization` and `memberships` as JSON in one
/// query; the schema says what they hold.
#[derive(Serialize, ToSchema)]
pub struct MeResponse<'a> {
    /// Null for an API key.
    #[schema(value_type = Option<User>)]
    user: Option<serde_json::Value>,
    #[schema(value_type = Organization)]
    organization: serde_json::Value,
    #[schema(value_type = String, schema_with = super::schema::role)]
    role: &'a str,
    #[schema(value_type = String, schema_with = super::schema::credential_kind)]
    credential: platform::auth::CredentialKind,
    /// An API key's scopes; empty for a session, which has every scope of its role.
    scopes: &'a [String],
    #[schema(value_type = Vec<store::MembershipView>)]
    memberships: serde_json::Value,
}

/// Who the caller is, where, and which organizations they belong to. One round trip to the
/// database, and for signed-in users usually none: the body is cached per user and
/// organization until a change to either is announced.
#[utoipa::path(get, path = "/v1/me", tag = "identity", responses((status = 200, description = "The caller", body = MeResponse)))]
pub async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Response> {
    if let Some(user) = principal.user_id {
        if let Some(body) = state.profiles.get(user, principal.org_id) {
            return Ok(json_response(body));
        }
    }
    let generation = state.profiles.generation();
    let mut conn = state.pool.acquire().await?;
    let (user, organization, memberships) = store::profile(&mut conn, principal.user_id, principal.org_id).await?;
    drop(conn);
    let orgs: Vec<Uuid> = memberships
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["organization"]["id"].as_str()?.parse().ok())
        .chain([principal.org_id])
        .collect();
    let body = serde_json::to_vec(&MeResponse {
        user,
        organization: organization.ok_or_else(Problem::unauthorized)?,
        role: principal.role.as_str(),
        credential: principal.kind,
        scopes: &principal.scopes,
        memberships,
    })
    .map_err(anyhow::Error::new)?;
    let body = Bytes::from(body);
    if let Some(user) = principal.user_id {
        state.profiles.put(generation, user, principal.org_id, orgs, body.clone());
    }
    Ok(json_response(body))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    data: Vec<SessionView>,
}

/// The caller's live sessions, newest first (signed in).
#[utoipa::path(get, path = "/v1/sessions", tag = "auth", responses((status = 200, description = "Live sessions", body = SessionList)))]
pub async fn sessions(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<SessionList>> {
    let user = principal.require_user()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(SessionList { data: sessions::list(&mut conn, user, principal.credential_id).await? }))
}

/// Ends one of the caller's sessions (signed in).
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "auth", params(("id" = Uuid, Path, description = "The session")),
    responses((status = 204, description = "Ended")))]
pub async fn revoke_session(
    State(state): State<AppState>,
    platform::auth::Unrestricted(principal): platform::auth::Unrestricted,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let user = principal.require_user()?;
    let mut tx = state.pool.begin().await?;
    if !store::owns_session(&mut tx, user, id).await? {
        return Err(Problem::not_found("session").into());
    }
    sessions::revoke(&mut tx, id).await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { credential_ids: vec![id], ..Default::default() }).await;
    Ok(StatusCode::NO_CONTENT)
}
