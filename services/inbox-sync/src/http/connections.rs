//! Platform connections (admins): connect WhatsApp Cloud with what Meta's console gives, list,
//! read, disconnect. No answer ever carries a token or a secret.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{manager, reader};
use crate::events;
use crate::store::connections::{self, Conflict, Connection, NewConnection};
use crate::{sealed_for, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(connect_whatsapp)).routes(routes!(get, disconnect))
}

/// What Meta's console gives for a WhatsApp Cloud number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectWhatsapp {
    /// The phone number id (not the number): digits.
    #[schema(pattern = "^[0-9]{1,64}$")]
    phone_number_id: String,
    #[schema(pattern = "^[0-9]{1,64}$")]
    business_account_id: String,
    /// A system user's access token; stored encrypted, never shown again. Meta must accept it
    /// for this phone number (422 otherwise).
    #[schema(min_length = 1, max_length = 4096, pattern = "^\\S+$")]
    access_token: String,
    /// The organization's own Meta app secret: its webhooks then go to
    /// `/webhooks/meta/{connection_id}` and are verified with it.
    #[schema(min_length = 1, max_length = 256, pattern = "^\\S+$", nullable)]
    app_secret: Option<String>,
    /// The verify token of that app's webhook subscription.
    #[schema(min_length = 1, max_length = 256, pattern = "^\\S+$", nullable)]
    verify_token: Option<String>,
}

fn ids_only(field: &str, v: &str, errors: &mut Vec<FieldError>) {
    if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::new(field, "digits only, as Meta's console shows it"));
    }
}

fn token_like(field: &str, v: &str, max: usize, errors: &mut Vec<FieldError>) {
    if v.trim().is_empty() || v.len() > max || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        errors.push(FieldError::new(field, format!("1 to {max} characters without spaces")));
    }
}

/// Connect a WhatsApp Cloud number (admins). The token is checked against Meta's Graph API
/// first: a token that cannot read the number is a 422.
#[utoipa::path(post, path = "/v1/connections/whatsapp", operation_id = "connect_whatsapp", tag = "connections",
    request_body = ConnectWhatsapp,
    responses((status = 201, description = "Connected", body = Connection),
        (status = 409, description = "This number is connected already", body = Problem)))]
pub async fn connect_whatsapp(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<ConnectWhatsapp>,
) -> ApiResult<(StatusCode, Json<Connection>)> {
    manager(&p)?;
    let mut errors = Vec::new();
    ids_only("phone_number_id", &body.phone_number_id, &mut errors);
    ids_only("business_account_id", &body.business_account_id, &mut errors);
    token_like("access_token", &body.access_token, 4096, &mut errors);
    if let Some(s) = &body.app_secret {
        token_like("app_secret", s, 256, &mut errors);
    }
    if let Some(s) = &body.verify_token {
        token_like("verify_token", s, 256, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    state.quota.require(p.org_id, "connections", "connections").await?;
    let token = SecretString::from(body.access_token.clone());
    let name = match state.api.whatsapp_number(&body.phone_number_id, &token).await {
        Ok(Some(name)) => name,
        Ok(None) => {
            return Err(Problem::validation(vec![FieldError::new(
                "access_token",
                "Meta refused this token for this phone number id",
            )])
            .into())
        }
        Err(why) => return Err(Problem::unavailable(why).into()),
    };
    let mut tx = state.pool.begin().await?;
    let id = match connections::slot(&mut tx, p.org_id, "whatsapp", &body.phone_number_id, Uuid::now_v7()).await? {
        Ok(id) => id,
        Err(Conflict::Here(_)) => return Err(Problem::conflict("this phone number is connected already").into()),
        Err(Conflict::Elsewhere) => {
            return Err(Problem::conflict("this phone number is connected to another organization").into())
        }
    };
    let seal = |v: &str, field: &str| state.keys.encrypt(v, &sealed_for(id, field));
    let access = seal(&body.access_token, "access_token")?;
    let app_secret = body.app_secret.as_deref().map(|s| seal(s, "app_secret")).transpose()?;
    let verify = body.verify_token.as_deref().map(|s| seal(s, "verify_token")).transpose()?;
    let new = NewConnection {
        id,
        org: p.org_id,
        platform: "whatsapp",
        account_id: &body.phone_number_id,
        business_account_id: Some(&body.business_account_id),
        username: None,
        display_name: Some(&name),
        access_token: &access,
        refresh_token: None,
        token_expires_at: None,
        refresh_expires_at: None,
        app_secret: app_secret.as_deref(),
        verify_token: verify.as_deref(),
        created_by: p.user_id,
    };
    let Some(connection) = connections::connect(&mut tx, &new).await? else {
        return Err(Problem::conflict("this phone number was connected meanwhile").into());
    };
    events::connection(&mut tx, ev::INBOX_CONNECTION_CONNECTED, &connection).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(connection)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionPage {
    pub data: Vec<Connection>,
    pub next_cursor: Option<String>,
}

/// The organization's connections, newest first.
#[utoipa::path(get, path = "/v1/connections", operation_id = "list_connections", tag = "connections",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before")),
    responses((status = 200, description = "A page", body = ConnectionPage)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<ConnectionPage>> {
    reader(&p)?;
    let (limit, cursor) = q.parse()?;
    let mut conn = state.pool.acquire().await?;
    let rows = connections::list(&mut conn, p.org_id, cursor.map(|c| (c.time, c.id)), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |c| Cursor { time: c.created_at, id: c.id });
    Ok(Json(ConnectionPage { data: page.data, next_cursor: page.next_cursor }))
}

/// One connection.
#[utoipa::path(get, path = "/v1/connections/{id}", operation_id = "get_connection", tag = "connections",
    params(("id" = Uuid, Path, description = "The connection")),
    responses((status = 200, description = "The connection", body = Connection)))]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Connection>> {
    reader(&p)?;
    let mut conn = state.pool.acquire().await?;
    let c = connections::get(&mut conn, p.org_id, id).await?.ok_or_else(|| Problem::not_found("connection"))?;
    Ok(Json(c))
}

/// Disconnect (admins): tokens and secrets are erased; conversations and messages stay.
#[utoipa::path(delete, path = "/v1/connections/{id}", operation_id = "disconnect_connection", tag = "connections",
    params(("id" = Uuid, Path, description = "The connection")),
    responses((status = 200, description = "Disconnected", body = Connection)))]
pub async fn disconnect(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Connection>> {
    manager(&p)?;
    let mut tx = state.pool.begin().await?;
    let Some(c) = connections::disconnect(&mut tx, p.org_id, id).await? else {
        // Another tenant's, unknown, or disconnected already.
        let known = connections::get(&mut tx, p.org_id, id).await?;
        return match known {
            Some(c) => Ok(Json(c)),
            None => Err(Problem::not_found("connection").into()),
        };
    };
    events::connection(&mut tx, ev::INBOX_CONNECTION_DISCONNECTED, &c).await?;
    tx.commit().await?;
    Ok(Json(c))
}
