//! API keys: shown once, listed by prefix, revoked everywhere within a second.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Revocation, Role};
use platform::extract::{Json, NoStore, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{parse_name, Validator};
use crate::{sessions, tokens, AppState};

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ApiKey {
    id: Uuid,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    role: String,
    created_by: Option<Uuid>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, prefix, scopes, role, created_by, last_used_at, expires_at, created_at";

#[derive(Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    key_info: ApiKey,
    /// The key itself, shown only in this response.
    key: String,
}

#[derive(Deserialize)]
pub struct CreateKey {
    name: String,
    scopes: Vec<String>,
    role: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// `resource:read`, `resource:write`, `resource:*` or `*`.
fn valid_scope(s: &str) -> bool {
    s == "*"
        || s.split_once(':').is_some_and(|(res, act)| {
            !res.is_empty()
                && res.len() <= 40
                && res.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
                && matches!(act, "read" | "write" | "*")
        })
}

/// `POST /v1/api-keys` (admin, signed in): 201 with the key, once.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateKey>,
) -> ApiResult<(StatusCode, NoStore<Json<CreatedKey>>)> {
    principal.require_role(Role::Admin)?;
    let user = principal.require_user()?;
    let mut v = Validator::default();
    let name = v.check(parse_name("name", &body.name));
    if body.scopes.is_empty() || body.scopes.len() > 50 || !body.scopes.iter().all(|s| valid_scope(s)) {
        v.check::<()>(Err(FieldError::new("scopes", "one to 50 scopes like feedback:read, tickets:write or *")));
    }
    let role = match body.role.as_deref().unwrap_or("agent").parse::<Role>() {
        Ok(Role::Owner) => v.check(Err(FieldError::new("role", "an API key cannot act as owner"))),
        Ok(r) if r > principal.role => v.check(Err(FieldError::new("role", "cannot exceed your own role"))),
        Ok(r) => Some(r),
        Err(e) => v.check(Err(FieldError::new("role", e))),
    };
    if body.expires_at.is_some_and(|e| e <= Utc::now()) {
        v.check::<()>(Err(FieldError::new("expires_at", "must be in the future")));
    }
    v.finish()?;
    let (Some(name), Some(role)) = (name, role) else {
        return Err(Problem::internal().into());
    };
    let key = tokens::new_api_key();
    let mut scopes = body.scopes;
    scopes.sort();
    scopes.dedup();
    let info: ApiKey = sqlx::query_as(&format!(
        "INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, scopes, role, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(principal.org_id)
    .bind(name)
    .bind(tokens::api_key_display_prefix(&key))
    .bind(tokens::hash(&key))
    .bind(&scopes)
    .bind(role.as_str())
    .bind(user)
    .bind(body.expires_at)
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, NoStore(Json(CreatedKey { key_info: info, key }))))
}

#[derive(Serialize)]
pub struct KeyList {
    data: Vec<ApiKey>,
}

/// `GET /v1/api-keys` (admin): live keys, by prefix only.
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<KeyList>> {
    principal.require_role(Role::Admin)?;
    principal.require_user()?;
    let data = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL \
         ORDER BY created_at DESC LIMIT 1000"
    ))
    .bind(principal.org_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(KeyList { data }))
}

/// `DELETE /v1/api-keys/{id}` (admin): refused by every service within a second.
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    principal.require_role(Role::Admin)?;
    principal.require_user()?;
    let hash: Option<Vec<u8>> = sqlx::query_scalar(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND organization_id = $2 AND revoked_at IS NULL \
         RETURNING key_hash",
    )
    .bind(id)
    .bind(principal.org_id)
    .fetch_optional(&state.pool)
    .await?;
    let hash = hash.ok_or_else(|| Problem::not_found("API key"))?;
    sessions::announce(
        &state,
        Revocation { credential_hashes: vec![hex::encode(hash)], credential_ids: vec![id], ..Default::default() },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
