//! The caller: `/v1/me` and their sessions.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use platform::auth::{Principal, Revocation};
use platform::extract::{Json, Path};
use platform::{ApiResult, Problem};
use serde::Serialize;
use uuid::Uuid;

use crate::sessions::{self, SessionView};
use crate::AppState;

#[derive(Serialize)]
struct MeResponse<'a> {
    user: Option<serde_json::Value>,
    organization: serde_json::Value,
    role: &'a str,
    credential: platform::auth::CredentialKind,
    scopes: &'a [String],
    memberships: serde_json::Value,
}

/// `GET /v1/me`: who the caller is, where, and which organizations they belong to. One round
/// trip to the database, and for signed-in users usually none: the body is cached per user and
/// organization until a change to either is announced.
pub async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Response> {
    if let Some(user) = principal.user_id {
        if let Some(body) = state.profiles.get(user, principal.org_id) {
            return Ok(json_response(body));
        }
    }
    let generation = state.profiles.generation();
    let (user, organization, memberships): (Option<serde_json::Value>, Option<serde_json::Value>, serde_json::Value) =
        sqlx::query_as(
            "SELECT \
               (SELECT to_jsonb(u) FROM (SELECT id, email, name, avatar_url, email_verified, created_at \
                  FROM users WHERE id = $1) u), \
               (SELECT to_jsonb(o) FROM (SELECT id, name, slug, description, logo_url, website_url, plan, status, \
                  settings, created_at, updated_at FROM organizations WHERE id = $2) o), \
               COALESCE((SELECT jsonb_agg(jsonb_build_object( \
                   'organization', jsonb_build_object('id', o.id, 'slug', o.slug, 'name', o.name), \
                   'role', m.role) ORDER BY m.created_at) \
                 FROM memberships m JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = $1), '[]')",
        )
        .bind(principal.user_id)
        .bind(principal.org_id)
        .fetch_one(&state.pool)
        .await?;
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

#[derive(Serialize)]
pub struct SessionList {
    data: Vec<SessionView>,
}

/// `GET /v1/sessions`: the caller's live sessions.
pub async fn sessions(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<SessionList>> {
    let user = principal.require_user()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(SessionList { data: sessions::list(&mut conn, user, principal.credential_id).await? }))
}

/// `DELETE /v1/sessions/{id}`: ends one of the caller's sessions.
pub async fn revoke_session(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let user = principal.require_user()?;
    let mut tx = state.pool.begin().await?;
    let owned: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2)")
        .bind(id)
        .bind(user)
        .fetch_one(&mut *tx)
        .await?;
    if !owned {
        return Err(Problem::not_found("session").into());
    }
    sessions::revoke(&mut tx, id).await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { credential_ids: vec![id], ..Default::default() }).await;
    Ok(StatusCode::NO_CONTENT)
}
