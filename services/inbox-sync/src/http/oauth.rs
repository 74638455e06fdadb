//! Connecting Messenger pages, Instagram accounts and TikTok business accounts by OAuth: an admin
//! asks for the provider's consent URL (with a `state` we sealed: organization, admin, platform,
//! expiry and a nonce, good once), the provider sends the browser back to the callback with a
//! code, and the callback exchanges it for long-lived tokens and connects every account the
//! grant covers (Facebook's consent page is where the admin picks the pages). Tokens are sealed
//! before they are stored and never shown.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::manager;
use crate::events;
use crate::platforms::oauth::{Account, OAuthError};
use crate::platforms::Platform;
use crate::store::connections::{self, Conflict, Connection, NewConnection};
use crate::{sealed_for, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(authorize)).routes(routes!(callback))
}

/// The platforms connected by OAuth.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OAuthPlatform {
    Messenger,
    Instagram,
    Tiktok,
}

impl From<OAuthPlatform> for Platform {
    fn from(p: OAuthPlatform) -> Self {
        match p {
            OAuthPlatform::Messenger => Platform::Messenger,
            OAuthPlatform::Instagram => Platform::Instagram,
            OAuthPlatform::Tiktok => Platform::Tiktok,
        }
    }
}

/// What a `state` carries, sealed with the key ring (so it is unreadable and unforgeable).
#[derive(Debug, Serialize, Deserialize)]
struct StateClaims {
    nonce: Uuid,
    org: Uuid,
    user: Option<Uuid>,
    platform: OAuthPlatform,
    expires: i64,
}

/// The associated data of a sealed `state`: it opens as nothing else.
const STATE_AAD: &[u8] = b"inbox-sync:oauth-state";

#[derive(Debug, Serialize, ToSchema)]
pub struct Authorization {
    /// Where to send the admin's browser: the platform's consent page.
    pub authorize_url: String,
    /// Where the platform sends the browser back (register it with the platform's app).
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/v1/connections/oauth/callback", state.config.public_base_url)
}

fn oauth_problem(e: OAuthError) -> Problem {
    match e {
        OAuthError::Refused(why) => Problem::bad_request(format!("the platform refused the authorization: {why}")),
        OAuthError::Unavailable(why) => Problem::unavailable(format!("the platform could not be asked: {why}")),
        OAuthError::NotConfigured(what) => Problem::new(StatusCode::CONFLICT, "not-configured", "Not configured")
            .detail(format!("{what} on this installation")),
    }
}

/// Start connecting a Messenger page, an Instagram account or a TikTok business account
/// (admins): the consent URL to send the browser to.
#[utoipa::path(post, path = "/v1/connections/oauth/{platform}/authorize", operation_id = "oauth_authorize",
    tag = "connections", params(("platform" = OAuthPlatform, Path, description = "The platform")),
    responses((status = 200, description = "The consent URL", body = Authorization),
        (status = 409, description = "The platform's app is not configured here", body = Problem, content_type = "application/problem+json")))]
pub async fn authorize(
    State(state): State<AppState>,
    p: Principal,
    Path(platform): Path<OAuthPlatform>,
) -> ApiResult<Json<Authorization>> {
    manager(&p)?;
    let expires_at = Utc::now() + TimeDelta::from_std(state.config.oauth_state_ttl).unwrap_or(TimeDelta::minutes(10));
    let claims = StateClaims {
        nonce: Uuid::new_v4(),
        org: p.org_id,
        user: p.user_id,
        platform,
        expires: expires_at.timestamp(),
    };
    let sealed = state.keys.encrypt(&serde_json::to_string(&claims).map_err(anyhow::Error::from)?, STATE_AAD)?;
    let redirect = redirect_uri(&state);
    let url = state.oauth.authorize_url(platform.into(), &redirect, &sealed).map_err(oauth_problem)?;
    Ok(Json(Authorization { authorize_url: url, redirect_uri: redirect, expires_at }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    /// The platform's error when the admin declined.
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Refused {
    pub account_id: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Connected {
    /// The connections the grant made (or renewed, for accounts connected before).
    pub connected: Vec<Connection>,
    /// Accounts of the grant that could not be connected, and why.
    pub refused: Vec<Refused>,
}

/// The platform sends the admin's browser back here with a code; the accounts it grants are
/// connected. Unauthenticated: the `state` we gave says who asked, and is good once.
#[utoipa::path(get, path = "/v1/connections/oauth/callback", operation_id = "oauth_callback", tag = "connections",
    security(()),
    params(("code" = Option<String>, Query, max_length = 1024, description = "The platform's authorization code"),
        ("state" = Option<String>, Query, max_length = 1024, description = "The `state` of the authorization"),
        ("error" = Option<String>, Query, max_length = 200, description = "Set when the admin declined"),
        ("error_description" = Option<String>, Query, max_length = 500, description = "The platform's reason")),
    responses((status = 201, description = "Connected", body = Connected),
        (status = 400, description = "A bad, used or expired state, a declined or refused authorization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter longer than the platforms send", body = Problem, content_type = "application/problem+json")))]
pub async fn callback(
    State(state): State<AppState>,
    Query(q): Query<Callback>,
) -> ApiResult<(StatusCode, Json<Connected>)> {
    let too_long: Vec<FieldError> = [("code", &q.code, 1024), ("state", &q.state, 1024), ("error", &q.error, 200)]
        .into_iter()
        .chain([("error_description", &q.error_description, 500)])
        .filter(|(_, v, max)| v.as_ref().is_some_and(|v| v.chars().count() > *max))
        .map(|(field, _, max)| FieldError::new(field, format!("at most {max} characters")))
        .collect();
    if !too_long.is_empty() {
        return Err(Problem::validation(too_long).into());
    }
    let invalid = || Problem::bad_request("the state is not one this service gave, was used already, or expired");
    let sealed = q.state.as_deref().ok_or_else(invalid)?;
    let claims: StateClaims = state
        .keys
        .decrypt(sealed, STATE_AAD)
        .ok()
        .and_then(|json| serde_json::from_str(&json).ok())
        .filter(|c: &StateClaims| c.expires > Utc::now().timestamp())
        .ok_or_else(invalid)?;
    {
        let mut conn = state.pool.acquire().await?;
        if !connections::use_state(&mut conn, claims.nonce, claims.org).await? {
            return Err(invalid().into());
        }
    }
    if let Some(error) = q.error.as_deref() {
        let why = q.error_description.as_deref().unwrap_or(error);
        return Err(Problem::bad_request(format!(
            "the authorization was declined: {}",
            why.chars().take(300).collect::<String>()
        ))
        .into());
    }
    let code = q.code.as_deref().filter(|c| !c.is_empty());
    let code = code.ok_or_else(|| Problem::bad_request("the platform gave no code"))?;
    let platform: Platform = claims.platform.into();
    let accounts = state.oauth.connect(platform, code, &redirect_uri(&state)).await.map_err(oauth_problem)?;
    let mut result = Connected { connected: Vec::new(), refused: Vec::new() };
    for account in accounts {
        match connect(&state, &claims, platform, &account).await? {
            Ok(c) => result.connected.push(c),
            Err(reason) => result.refused.push(Refused { account_id: account.account_id.clone(), reason }),
        }
    }
    if result.connected.is_empty() {
        let reasons: Vec<&str> = result.refused.iter().map(|r| r.reason.as_str()).collect();
        return Err(Problem::conflict(format!("no account was connected: {}", reasons.join("; "))).into());
    }
    Ok((StatusCode::CREATED, Json(result)))
}

/// Connects (or renews) one granted account; why not, if it cannot be.
async fn connect(
    state: &AppState,
    claims: &StateClaims,
    platform: Platform,
    a: &Account,
) -> ApiResult<Result<Connection, String>> {
    let org = claims.org;
    let mut tx = state.pool.begin().await?;
    let (id, renew) = match connections::slot(&mut tx, org, platform.as_str(), &a.account_id, Uuid::now_v7()).await? {
        Ok(id) => (id, false),
        Err(Conflict::Here(id)) => (id, true),
        Err(Conflict::Elsewhere) => return Ok(Err("connected to another organization".into())),
    };
    if !renew {
        if let Err(p) = state.quota.require(org, "connections", "connections").await {
            return Ok(Err(p.detail.unwrap_or_else(|| "the plan allows no more connections".into())));
        }
    }
    let seal = |v: &str, field: &str| state.keys.encrypt(v, &sealed_for(id, field));
    let access = seal(a.access_token.expose_secret(), "access_token")?;
    let refresh = a.refresh_token.as_ref().map(|t| seal(t.expose_secret(), "refresh_token")).transpose()?;
    let written = if renew {
        connections::reauthorize(
            &mut tx,
            org,
            id,
            &access,
            refresh.as_deref(),
            a.token_expires_at,
            a.refresh_expires_at,
            a.display_name.as_deref(),
        )
        .await?
    } else {
        let new = NewConnection {
            id,
            org,
            platform: platform.as_str(),
            account_id: &a.account_id,
            business_account_id: None,
            username: a.username.as_deref(),
            display_name: a.display_name.as_deref(),
            access_token: &access,
            refresh_token: refresh.as_deref(),
            token_expires_at: a.token_expires_at,
            refresh_expires_at: a.refresh_expires_at,
            app_secret: None,
            verify_token: None,
            created_by: claims.user,
        };
        connections::connect(&mut tx, &new).await?
    };
    let Some(connection) = written else { return Ok(Err("connected elsewhere meanwhile".into())) };
    events::connection(&mut tx, ev::INBOX_CONNECTION_CONNECTED, &connection).await?;
    tx.commit().await?;
    if platform == Platform::Messenger {
        // Without the page's subscription Meta delivers nothing: say so on the connection.
        if let Err(e) = state.oauth.subscribe_page(&a.account_id, &a.access_token).await {
            let why = format!("could not subscribe to the page's webhooks: {e}");
            tracing::warn!(connection = %connection.id, error = %why, "page subscription failed");
            let mut conn = state.pool.acquire().await?;
            if let Some(marked) = connections::mark(&mut conn, org, connection.id, "error", &why).await? {
                return Ok(Ok(marked));
            }
        }
    }
    Ok(Ok(connection))
}
