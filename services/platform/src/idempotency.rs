//! `Idempotency-Key` on `POST`: the same key and body within 24 hours get the first response
//! again instead of a second effect; the same key with another body is a 422.
//!
//! The key is handled after authentication and scoped by the caller's principal (organization
//! and user or API key; anonymous callers by client address) and the path, so two callers cannot
//! collide or read each other's responses. Answers that say "try again" or "not you" (5xx, 401,
//! 403, 429) are not remembered. A claim lives under a lease renewed while its request runs, so a
//! request that died (a killed replica) frees its key within the lease.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::time::Duration;

use crate::auth::{AuthClient, AuthFailure, CredentialKind, Principal};
use crate::error::Problem;

const HEADER: &str = "idempotency-key";

/// What the middleware needs: the database and the body limit.
#[derive(Clone)]
pub struct Idempotency {
    pub pool: PgPool,
    pub body_limit: usize,
    /// Authenticates callers so keys are scoped by principal; `None` scopes by credential hash.
    pub auth: Option<AuthClient>,
}

/// How long a claim stays locked without its request renewing it.
const LEASE: Duration = Duration::from_secs(30);

/// Whether an answer may be replayed: failures that depend on the moment, on the caller's
/// credentials or on the plan (402: a quota, an inactive subscription) are not.
fn remembered(status: StatusCode) -> bool {
    !(status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::PAYMENT_REQUIRED
                | StatusCode::FORBIDDEN
                | StatusCode::TOO_MANY_REQUESTS
        ))
}

/// The scope of a principal's keys: its organization and the user or API key acting.
fn principal_scope(p: &Principal) -> String {
    match (p.kind, p.user_id) {
        (CredentialKind::Session, Some(user)) => format!("user:{}:{user}", p.org_id),
        _ => format!("key:{}:{}", p.org_id, p.credential_id),
    }
}

/// Whether a response says it must not be stored (`Cache-Control: no-store`), as every
/// response carrying a token or key does.
fn no_store(headers: &axum::http::HeaderMap) -> bool {
    headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("no-store"))
}

/// A stored request hash and, once finished, its response: status, content type and body.
type Remembered = (Vec<u8>, Option<i16>, Option<String>, Option<Vec<u8>>);

pub async fn middleware(State(cfg): State<Idempotency>, req: Request, next: Next) -> Response {
    // Uploads stream with their own limit: replaying them would mean buffering them.
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/"));
    if req.method() != Method::POST || multipart {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(HEADER).map(|v| v.to_str().map(str::to_owned)) else {
        return next.run(req).await;
    };
    let key = match key {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k,
        _ => return Problem::bad_request("Idempotency-Key must be 1 to 255 visible characters").into_response(),
    };
    let mut req = req;
    let scope = match crate::auth::bearer_of(req.headers()).map(str::to_owned) {
        None => {
            let mut client = crate::http::client_address(req.headers());
            if client == "unknown" {
                if let Some(peer) = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
                    client = peer.0.ip().to_string();
                }
            }
            format!("anon:{client}")
        }
        Some(credential) => match &cfg.auth {
            None => hex::encode(Sha256::digest(credential.as_bytes())),
            Some(auth) => match auth.authenticate(&credential).await {
                Ok(principal) => {
                    let scope = principal_scope(&principal);
                    req.extensions_mut().insert(principal);
                    scope
                }
                // Not authenticated: the handler answers (401 or 503), and nothing is claimed.
                Err(AuthFailure::Invalid | AuthFailure::Unavailable(_)) => return next.run(req).await,
            },
        },
    };
    match handle(&cfg, scope, key, req, next).await {
        Ok(r) => r,
        Err(err) => crate::error::internal_error(&err).into_response(),
    }
}

async fn handle(cfg: &Idempotency, scope: String, key: String, req: Request, next: Next) -> anyhow::Result<Response> {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, cfg.body_limit).await else {
        return Ok(Problem::payload_too_large(cfg.body_limit).into_response());
    };
    let scope = format!("{scope}:{}", parts.uri.path());
    let mut hasher = Sha256::new();
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hasher.finalize().to_vec();

    // A new claim, or taking over one that expired (24 h) or whose request died (lease over,
    // same request).
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, locked_until) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) \
         ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
             locked_until = EXCLUDED.locked_until, created_at = now(), status = NULL, content_type = NULL, body = NULL \
         WHERE idempotency_keys.created_at < now() - interval '24 hours' \
            OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until < now() \
                AND idempotency_keys.request_hash = EXCLUDED.request_hash)",
    )
    .bind(&scope)
    .bind(&key)
    .bind(&request_hash)
    .bind(LEASE.as_secs_f64())
    .execute(&cfg.pool)
    .await?
    .rows_affected()
        == 1;

    if !claimed {
        let row: Option<Remembered> = sqlx::query_as(
            "SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(&scope)
        .bind(&key)
        .fetch_optional(&cfg.pool)
        .await?;
        return Ok(match row {
            Some((hash, _, _, _)) if hash != request_hash => Problem::validation(vec![crate::FieldError::new(
                "Idempotency-Key",
                "was already used with a different request",
            )])
            .into_response(),
            Some((_, Some(status), content_type, body)) => {
                let mut r = Response::new(Body::from(body.unwrap_or_default()));
                *r.status_mut() = StatusCode::from_u16(u16::try_from(status)?)?;
                if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    r.headers_mut().insert(header::CONTENT_TYPE, ct);
                }
                r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
                r
            }
            _ => Problem::conflict("a request with this Idempotency-Key is still in progress")
                .retry_after(1)
                .into_response(),
        });
    }

    let renewal = renew_while_running(cfg.pool.clone(), scope.clone(), key.clone());
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    drop(renewal);
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await?;
    if !remembered(parts.status) {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(&scope)
            .bind(&key)
            .execute(&cfg.pool)
            .await?;
    } else if no_store(&parts.headers) {
        // A response carrying credentials is never stored: a replay gets a 409 saying so.
        let mut replay = Problem::conflict(
            "this request was already processed; its response held credentials, which are never kept",
        );
        // Like every stored answer, it quotes the request that produced it.
        replay.request_id = crate::telemetry::current_request_id().map(String::into_boxed_str);
        let body = serde_json::to_vec(&replay)?;
        sqlx::query(
            "UPDATE idempotency_keys SET status = 409, content_type = 'application/problem+json', body = $3 \
             WHERE scope = $1 AND key = $2",
        )
        .bind(&scope)
        .bind(&key)
        .bind(body)
        .execute(&cfg.pool)
        .await?;
    } else {
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        sqlx::query(
            "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE scope = $1 AND key = $2",
        )
        .bind(&scope)
        .bind(&key)
        .bind(i16::try_from(parts.status.as_u16())?)
        .bind(content_type)
        .bind(bytes.as_ref())
        .execute(&cfg.pool)
        .await?;
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// Stops a claim's renewal however its request ends: also when the server drops the request
/// because the client went away, or the claim would stay leased (and refused) for 24 hours.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps a claim's lease while its request runs; stopped when the request ends.
fn renew_while_running(pool: PgPool, scope: String, key: String) -> Renewal {
    Renewal(tokio::spawn(async move {
        loop {
            tokio::time::sleep(LEASE / 3).await;
            let renewed = sqlx::query(
                "UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $3) \
                 WHERE scope = $1 AND key = $2 AND status IS NULL",
            )
            .bind(&scope)
            .bind(&key)
            .bind(LEASE.as_secs_f64())
            .execute(&pool)
            .await;
            if let Err(err) = renewed {
                tracing::warn!(error = %err, "could not renew an idempotency claim");
            }
        }
    }))
}
