//! The platforms' inbound webhooks: unauthenticated, signature-checked over the raw bytes.
//!
//! - `GET /webhooks/meta` (and `/webhooks/{whatsapp,messenger,instagram}`): Meta's
//!   verification handshake with `META_VERIFY_TOKEN`; `GET /webhooks/meta/{connection_id}` with
//!   the connection's own verify token.
//! - `POST` to the same paths: `X-Hub-Signature-256` with `META_APP_SECRET`, or the connection's
//!   own app secret on its own path.
//! - `POST /webhooks/tiktok`: `TikTok-Signature` with `TIKTOK_CLIENT_SECRET`.
//!
//! A bad or missing signature is a 401 and writes nothing. A signed body that does not parse is
//! kept and answered 400. Everything else is stored, with its events, before the 200: a NUL in
//! its strings (which PostgreSQL's text cannot hold) as U+FFFD, the raw body byte for byte.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use platform::extract::{Path, Query};
use platform::{ApiError, ApiResult, Problem};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::inbound::{self, Receipt};
use crate::platforms::{meta, signature, tiktok, Platform};
use crate::redelivery::Claim;
use crate::store::connections::{self, Connection};
use crate::{sealed_for, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(meta_handshake, meta_receive))
        .routes(routes!(whatsapp_handshake, whatsapp_receive))
        .routes(routes!(messenger_handshake, messenger_receive))
        .routes(routes!(instagram_handshake, instagram_receive))
        .routes(routes!(own_app_handshake, own_app_receive))
        .routes(routes!(tiktok_receive))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// What a stored body did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// Messages stored now.
    pub stored: usize,
    /// Messages stored before (a redelivery).
    pub duplicates: usize,
    /// Statuses and watermarks that moved a message.
    pub statuses: usize,
    /// Updates for an account no connection has: acknowledged so the platform stops retrying.
    pub unknown: usize,
    /// Updates of kinds inbox-sync does not handle.
    pub skipped: usize,
}

impl From<Receipt> for Received {
    fn from(r: Receipt) -> Self {
        Self {
            stored: r.stored,
            duplicates: r.duplicates,
            statuses: r.statuses,
            unknown: r.unknown,
            skipped: r.skipped,
        }
    }
}

/// 200 with the challenge only for `subscribe` and the right token; 403 otherwise.
fn handshake(q: &Handshake, expected: Option<&str>) -> Response {
    let token_ok = match (expected, q.verify_token.as_deref()) {
        (Some(e), Some(given)) if !e.is_empty() => bool::from(e.as_bytes().ct_eq(given.as_bytes())),
        _ => false,
    };
    match (q.mode.as_deref(), token_ok, q.challenge.as_deref()) {
        (Some("subscribe"), true, Some(challenge)) if !challenge.is_empty() => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge.to_owned()).into_response()
        }
        _ => Problem::forbidden("the verification token does not match, or this is not a subscription handshake")
            .into_response(),
    }
}

fn shared_handshake(state: &AppState, q: &Handshake) -> Response {
    handshake(q, state.config.meta_verify_token.as_ref().map(|t| t.expose_secret()))
}

fn refused() -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "invalid-signature", "Invalid signature")
        .detail("the body is not signed with this endpoint's secret")
}

/// Verifies, parses and stores a Meta body signed with `secret`.
async fn receive_meta(
    state: &AppState,
    expected: Option<Platform>,
    only: Option<&Connection>,
    secret: Option<&[u8]>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<axum::Json<Received>> {
    let given = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        tracing::warn!("a Meta webhook arrived but no app secret is configured to verify it; refused");
        return Err(refused().into());
    };
    if !signature::meta_valid(&[secret], body, given) {
        return Err(refused().into());
    }
    let (platform, parsed) = match meta::parse(body) {
        Ok((platform, parsed)) if expected.is_none_or(|p| p == platform) => (platform, parsed),
        Ok((platform, _)) => {
            let e = crate::platforms::Malformed(format!("a {platform} body on another platform's endpoint"));
            return Err(malformed(state, "meta", only, body, e).await);
        }
        Err(e) => return Err(malformed(state, "meta", only, body, e).await),
    };
    store(state, platform, only, parsed, body).await
}

/// Keeps a signed body that does not parse; the 400 that answers it.
async fn malformed(
    state: &AppState,
    platform: &str,
    only: Option<&Connection>,
    body: &[u8],
    e: crate::platforms::Malformed,
) -> ApiError {
    let kept = async {
        let mut tx = state.pool.begin().await?;
        inbound::keep_malformed(&mut tx, platform, only, body, &e).await?;
        tx.commit().await?;
        Ok::<_, anyhow::Error>(())
    };
    match kept.await {
        Ok(()) => Problem::bad_request(e.0).into(),
        Err(err) => err.into(),
    }
}

/// Stores a parsed body in one transaction, committed before the answer; a copy of a body this
/// replica stored (or is storing) is answered as the redelivery it is.
async fn store(
    state: &AppState,
    platform: Platform,
    only: Option<&Connection>,
    parsed: crate::platforms::Parsed,
    body: &[u8],
) -> ApiResult<axum::Json<Received>> {
    let guard = match state.recent.claim(body).await {
        Claim::Seen => return Ok(axum::Json(Receipt::redelivered(&parsed).into())),
        Claim::Mine(guard) => guard,
    };
    let mut tx = state.pool.begin().await?;
    let receipt = inbound::store(&mut tx, platform, only, parsed, body).await?;
    tx.commit().await?;
    guard.committed();
    Ok(axum::Json(receipt.into()))
}

fn app_secret(state: &AppState) -> Option<&[u8]> {
    state.config.meta_app_secret.as_ref().map(|s| s.expose_secret().as_bytes())
}

macro_rules! meta_endpoint {
    ($handshake:ident, $receive:ident, $path:literal, $platform:expr, $what:literal) => {
        #[doc = concat!("Meta's verification handshake for ", $what, " (`hub.challenge` echoed as text).")]
        #[utoipa::path(get, path = $path, tag = "webhooks", security(()), params(Handshake),
            responses((status = 200, description = "The challenge", body = String, content_type = "text/plain"),
                (status = 403, description = "Wrong token, or not a subscription", body = Problem, content_type = "application/problem+json")))]
        pub async fn $handshake(State(state): State<AppState>, Query(q): Query<Handshake>) -> Response {
            shared_handshake(&state, &q)
        }

        #[doc = concat!("Meta's webhook for ", $what, ", signed with the app secret (`X-Hub-Signature-256`).")]
        #[utoipa::path(post, path = $path, tag = "webhooks", security(()),
            request_body(content = Object, content_type = "application/json"),
            responses((status = 200, description = "Stored", body = Received),
                (status = 400, description = "Signed, but not a body of this platform (kept for inspection)", body = Problem, content_type = "application/problem+json"),
                (status = 401, description = "Bad or missing signature; nothing written", body = Problem, content_type = "application/problem+json")))]
        pub async fn $receive(
            State(state): State<AppState>,
            headers: HeaderMap,
            body: Bytes,
        ) -> ApiResult<axum::Json<Received>> {
            receive_meta(&state, $platform, None, app_secret(&state), &headers, &body).await
        }
    };
}

meta_endpoint!(meta_handshake, meta_receive, "/webhooks/meta", None, "WhatsApp, Messenger and Instagram");
meta_endpoint!(whatsapp_handshake, whatsapp_receive, "/webhooks/whatsapp", Some(Platform::Whatsapp), "WhatsApp");
meta_endpoint!(messenger_handshake, messenger_receive, "/webhooks/messenger", Some(Platform::Messenger), "Messenger");
meta_endpoint!(instagram_handshake, instagram_receive, "/webhooks/instagram", Some(Platform::Instagram), "Instagram");

/// The connection and its decrypted app secret and verify token, for its own endpoint.
async fn own_app(state: &AppState, id: Uuid) -> ApiResult<(Connection, Option<String>, Option<String>)> {
    let mut conn = state.pool.acquire().await?;
    let found = connections::by_id_for_webhook(&mut conn, id).await?;
    let (c, s) = found.filter(|(c, _)| c.status != "disconnected").ok_or_else(|| Problem::not_found("connection"))?;
    let open = |v: &Option<String>, field: &str| {
        v.as_deref().map(|v| state.keys.decrypt(v, &sealed_for(c.id, field))).transpose()
    };
    let secret = open(&s.app_secret, "app_secret").map_err(|e| platform::error::internal_error(&e))?;
    let verify = open(&s.verify_token, "verify_token").map_err(|e| platform::error::internal_error(&e))?;
    Ok((c, secret, verify))
}

/// Meta's handshake for a connection using the organization's own Meta app.
#[utoipa::path(get, path = "/webhooks/meta/{connection_id}", tag = "webhooks", security(()),
    params(("connection_id" = Uuid, Path, description = "The connection"), Handshake),
    responses((status = 200, description = "The challenge", body = String, content_type = "text/plain"),
        (status = 403, description = "Wrong token, or not a subscription", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json")))]
pub async fn own_app_handshake(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(q): Query<Handshake>,
) -> ApiResult<Response> {
    let (_, _, verify) = own_app(&state, id).await?;
    Ok(match verify {
        Some(token) => handshake(&q, Some(&token)),
        None => shared_handshake(&state, &q),
    })
}

/// Meta's webhook for a connection using the organization's own Meta app, signed with that
/// app's secret (the platform's when the connection has none); only that connection's updates
/// are taken.
#[utoipa::path(post, path = "/webhooks/meta/{connection_id}", tag = "webhooks", security(()),
    params(("connection_id" = Uuid, Path, description = "The connection")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "Stored", body = Received),
        (status = 400, description = "Signed, but not a body of this platform (kept for inspection)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Bad or missing signature; nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json")))]
pub async fn own_app_receive(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<Received>> {
    let (connection, secret, _) = own_app(&state, id).await?;
    let secret = secret.as_deref().map(str::as_bytes).or_else(|| app_secret(&state));
    let platform: Platform = connection.platform.parse().map_err(|e: String| Problem::bad_request(e))?;
    receive_meta(&state, Some(platform), Some(&connection), secret, &headers, &body).await
}

/// TikTok's webhook, signed with the client secret (`TikTok-Signature: t=…,s=…` over `t.body`,
/// five minutes either way).
#[utoipa::path(post, path = "/webhooks/tiktok", tag = "webhooks", security(()),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "Stored", body = Received),
        (status = 400, description = "Signed, but not a TikTok body (kept for inspection)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Bad, missing or stale signature; nothing written", body = Problem, content_type = "application/problem+json")))]
pub async fn tiktok_receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<Received>> {
    let Some(secret) = state.config.tiktok_client_secret.as_ref() else {
        tracing::warn!("a TikTok webhook arrived but TIKTOK_CLIENT_SECRET is not set; refused");
        return Err(refused().into());
    };
    let given = headers.get("tiktok-signature").and_then(|v| v.to_str().ok());
    if let Err(why) = signature::tiktok_check(secret.expose_secret().as_bytes(), &body, given, chrono::Utc::now()) {
        let detail = match why {
            signature::TiktokRefusal::Stale => "the signature's timestamp is outside the five-minute window",
            _ => "the body is not signed with this endpoint's secret",
        };
        return Err(Problem::new(StatusCode::UNAUTHORIZED, "invalid-signature", "Invalid signature")
            .detail(detail)
            .into());
    }
    let parsed = match tiktok::parse(&body) {
        Ok(p) => p,
        Err(e) => return Err(malformed(&state, "tiktok", None, &body, e).await),
    };
    store(&state, Platform::Tiktok, None, parsed, &body).await
}
