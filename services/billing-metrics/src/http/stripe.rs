//! `/webhooks/stripe`: Stripe-signed events that drive subscriptions. Verified over the raw
//! bytes before anything is read or written; each event applies once, by its id.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use platform::extract::Json;
use platform::{ApiResult, Problem};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::stripe::{self, Outcome, Refused};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// Whether this event changed a subscription (false for a replay, another event type, or
    /// a subscription billing does not know).
    applied: bool,
    /// The event was seen before.
    duplicate: bool,
}

/// Receives a Stripe event (`Stripe-Signature` checked with `STRIPE_WEBHOOK_SECRETS`; 404
/// without them).
#[utoipa::path(post, path = "/webhooks/stripe", operation_id = "stripe_webhook", tag = "webhooks", security(()),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event, as Stripe signed it"),
    responses((status = 200, description = "Verified and recorded", body = Received),
        (status = 400, description = "A stale timestamp, or a body that is not a Stripe event", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A missing or bad signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Stripe is not configured", body = Problem, content_type = "application/problem+json")))]
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Received>> {
    let secrets = &state.config.stripe_secrets;
    if secrets.is_empty() {
        return Err(Problem::not_found("route").into());
    }
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let tolerance = i64::try_from(state.config.stripe_tolerance.as_secs()).unwrap_or(300);
    match stripe::verify(header, &body, secrets, chrono::Utc::now().timestamp(), tolerance) {
        Ok(()) => {}
        Err(Refused::BadSignature) => {
            return Err(Problem::new(StatusCode::UNAUTHORIZED, "bad-signature", "Bad signature")
                .detail("Stripe-Signature does not match this body")
                .into())
        }
        Err(Refused::Stale) => {
            return Err(Problem::bad_request("the signature's timestamp is outside the tolerance").into())
        }
    }
    // Taken whatever its strings hold: a NUL (which PostgreSQL's text cannot hold) becomes U+FFFD.
    let event: Value =
        platform::extract::parse_json_replacing_nul(&body).map_err(|_| Problem::bad_request("the body is not JSON"))?;
    let (Some(id), Some(kind)) = (event.get("id").and_then(Value::as_str), event.get("type").and_then(Value::as_str))
    else {
        return Err(Problem::bad_request("a Stripe event has an id and a type").into());
    };
    if id.is_empty() || id.len() > 255 || kind.len() > 255 {
        return Err(Problem::bad_request("the event's id or type is too long").into());
    }
    let object = event.pointer("/data/object").cloned().unwrap_or(Value::Null);
    let mut tx = state.pool.begin().await?;
    let outcome = stripe::apply(&mut tx, id, kind, &object).await?;
    tx.commit().await?;
    if let Outcome::Applied(org) = outcome {
        state.ledger.forget(Some(org));
    }
    Ok(Json(Received { applied: matches!(outcome, Outcome::Applied(_)), duplicate: outcome == Outcome::Duplicate }))
}
