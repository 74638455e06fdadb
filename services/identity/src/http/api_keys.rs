//! API keys: shown once, listed by prefix, revoked everywhere within a second. Managing them
//! needs a signed-in admin: a key must not mint keys that outlive it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Revocation, Role};
use platform::extract::{Json, NoStore, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{parse_name, Validator};
use crate::store::api_keys::{self as store_keys, ApiKey, NewKey};
use crate::{events, sessions, tokens, AppState};

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    key_info: ApiKey,
    /// The key itself, shown only in this response.
    key: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateKey {
    #[schema(schema_with = super::schema::name)]
    name: String,
    /// `resource:read`, `resource:write`, `resource:*` or `*`.
    #[schema(schema_with = super::schema::scopes)]
    scopes: Vec<String>,
    /// At most the creator's own role; `agent` when absent.
    #[schema(schema_with = super::schema::nullable_key_role)]
    role: Option<String>,
    /// An RFC 3339 time in the future; never expires when absent or null.
    #[schema(schema_with = super::schema::nullable_date_time)]
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

/// Creates an API key (admin, signed in); the key is shown once.
#[utoipa::path(post, path = "/v1/api-keys", operation_id = "create_api_key", tag = "identity", request_body = CreateKey,
    responses((status = 201, description = "The key, shown only now", body = CreatedKey),
        (status = 402, description = "The plan's API keys are used up", body = platform::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateKey>,
) -> ApiResult<(StatusCode, NoStore<Json<CreatedKey>>)> {
    let user = super::require_admin_user(&principal)?;
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
    state.quota.require(principal.org_id, "api_keys", "API keys").await?;
    let key = tokens::new_api_key();
    let mut scopes = body.scopes;
    scopes.sort();
    scopes.dedup();
    let prefix = tokens::api_key_display_prefix(&key);
    let key_hash = tokens::hash(&key);
    let mut tx = state.pool.begin().await?;
    let info = store_keys::insert(
        &mut tx,
        NewKey {
            org: principal.org_id,
            name: &name,
            prefix: &prefix,
            key_hash: &key_hash,
            scopes: &scopes,
            role: role.as_str(),
            created_by: user,
            expires_at: body.expires_at,
        },
    )
    .await?;
    events::emit(
        &mut tx,
        ev::API_KEY_CREATED,
        Some(principal.org_id),
        info.id,
        ev::ApiKeyCreated {
            api_key_id: info.id,
            organization_id: principal.org_id,
            name: info.name.clone(),
            prefix: info.prefix.clone(),
            scopes: info.scopes.clone(),
            role: info.role.clone(),
            expires_at: info.expires_at,
            created_by: Some(user),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, NoStore(Json(CreatedKey { key_info: info, key }))))
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    data: Vec<ApiKey>,
}

/// Live API keys, by prefix only (admin, signed in).
#[utoipa::path(get, path = "/v1/api-keys", operation_id = "list_api_keys", tag = "identity",
    responses((status = 200, description = "Live keys", body = KeyList)))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<KeyList>> {
    super::require_admin_user(&principal)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(KeyList { data: store_keys::live(&mut conn, principal.org_id).await? }))
}

/// Revokes an API key (admin, signed in): refused by every service within a second.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", operation_id = "revoke_api_key", tag = "identity",
    params(("id" = Uuid, Path, description = "The API key")),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let user = super::require_admin_user(&principal)?;
    let mut tx = state.pool.begin().await?;
    let revoked =
        store_keys::revoke(&mut tx, principal.org_id, id).await?.ok_or_else(|| Problem::not_found("API key"))?;
    events::emit(
        &mut tx,
        ev::API_KEY_REVOKED,
        Some(principal.org_id),
        id,
        ev::ApiKeyRevoked {
            api_key_id: id,
            organization_id: principal.org_id,
            name: revoked.name,
            prefix: revoked.prefix,
            revoked_by: Some(user),
        },
    )
    .await?;
    tx.commit().await?;
    sessions::announce(
        &state,
        Revocation {
            credential_hashes: vec![hex::encode(revoked.key_hash)],
            credential_ids: vec![id],
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
