//! `Idempotency-Key` on `POST`: the same key and body within 24 hours get the first response
//! again instead of a second effect; the same key with another body is a 422.
//!
//! Keys are scoped by the caller's credential (its SHA-256) and the path, so two clients cannot
//! collide or read each other's responses. A 5xx is not remembered, so the client may retry.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::Problem;

const HEADER: &str = "idempotency-key";

/// What the middleware needs: the database and the body limit.
#[derive(Clone)]
pub struct Idempotency {
    pub pool: PgPool,
    pub body_limit: usize,
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
    match handle(&cfg, key, req, next).await {
        Ok(r) => r,
        Err(err) => crate::error::internal_error(&err).into_response(),
    }
}

async fn handle(cfg: &Idempotency, key: String, req: Request, next: Next) -> anyhow::Result<Response> {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, cfg.body_limit).await else {
        return Ok(Problem::payload_too_large(cfg.body_limit).into_response());
    };
    let credential = parts.headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    let scope = format!("{}:{}", hex::encode(Sha256::digest(credential)), parts.uri.path());
    let mut hasher = Sha256::new();
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hasher.finalize().to_vec();

    sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < now() - interval '24 hours'",
    )
    .bind(&scope)
    .bind(&key)
    .execute(&cfg.pool)
    .await?;
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(&scope)
    .bind(&key)
    .bind(&request_hash)
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

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await?;
    if parts.status.is_server_error() {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(&scope)
            .bind(&key)
            .execute(&cfg.pool)
            .await?;
    } else if no_store(&parts.headers) {
        // A response carrying credentials is never stored: a replay gets a 409 saying so.
        let body = serde_json::to_vec(&Problem::conflict(
            "this request was already processed; its response held credentials, which are never kept",
        ))?;
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
