//! The caller: `/v1/me` and their sessions.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Revocation};
use platform::extract::{Json, Path};
use platform::{ApiResult, Problem};
use serde::Serialize;
use uuid::Uuid;

use crate::sessions::{self, SessionView};
use crate::store::{self, Organization, User};
use crate::AppState;

#[derive(Serialize)]
pub struct MembershipView {
    organization: OrgSummary,
    role: String,
}

#[derive(Serialize, sqlx::FromRow)]
struct OrgSummary {
    id: Uuid,
    slug: String,
    name: String,
}

#[derive(Serialize)]
pub struct MeResponse {
    user: Option<User>,
    organization: Organization,
    role: String,
    credential: platform::auth::CredentialKind,
    scopes: Vec<String>,
    memberships: Vec<MembershipView>,
}

/// `GET /v1/me`: who the caller is, where, and which organizations they belong to.
pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<MeResponse>> {
    let mut conn = state.pool.acquire().await?;
    let organization = store::organization(&mut conn, principal.org_id)
        .await?
        .ok_or_else(Problem::unauthorized)?;
    let (user, memberships) = match principal.user_id {
        Some(id) => {
            let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
                "SELECT o.id, o.slug, o.name, m.role FROM memberships m \
                 JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = $1 ORDER BY m.created_at",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            let memberships = rows
                .into_iter()
                .map(|(id, slug, name, role)| MembershipView {
                    organization: OrgSummary { id, slug, name },
                    role,
                })
                .collect();
            (store::user(&mut conn, id).await?, memberships)
        }
        None => (None, Vec::new()),
    };
    Ok(Json(MeResponse {
        user,
        organization,
        role: principal.role.as_str().to_owned(),
        credential: principal.kind,
        scopes: principal.scopes,
        memberships,
    }))
}

#[derive(Serialize)]
pub struct SessionList {
    data: Vec<SessionView>,
}

/// `GET /v1/sessions`: the caller's live sessions.
pub async fn sessions(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<SessionList>> {
    let user = principal.require_user()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(SessionList {
        data: sessions::list(&mut conn, user, principal.credential_id).await?,
    }))
}

/// `DELETE /v1/sessions/{id}`: ends one of the caller's sessions.
pub async fn revoke_session(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let user = principal.require_user()?;
    let mut tx = state.pool.begin().await?;
    let owned: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2)")
            .bind(id)
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
    if !owned {
        return Err(Problem::not_found("session").into());
    }
    sessions::revoke(&mut tx, id).await?;
    tx.commit().await?;
    sessions::announce(
        &state,
        Revocation {
            credential_ids: vec![id],
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
