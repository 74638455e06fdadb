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

use crate::store::subscriptions;
use crate::stripe::{self, Refused};
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
    let event: Value = serde_json::from_slice(&body).map_err(|_| Problem::bad_request("the body is not JSON"))?;
    let (Some(id), Some(kind)) = (event.get("id").and_then(Value::as_str), event.get("type").and_then(Value::as_str))
    else {
        return Err(Problem::bad_request("a Stripe event has an id and a type").into());
    };
    if id.is_empty() || id.len() > 255 || kind.len() > 255 {
        return Err(Problem::bad_request("the event's id or type is too long").into());
    }
    let object = event.pointer("/data/object").cloned().unwrap_or(Value::Null);
    let update = stripe::update_of(kind, &object);
    let mut tx = state.pool.begin().await?;
    let target = match &update {
        Some(u) => match u.organization_id {
            Some(org) => subscriptions::lock(&mut tx, org).await?,
            None => {
                subscriptions::lock_by_stripe(&mut tx, u.subscription_id.as_deref(), u.customer_id.as_deref()).await?
            }
        },
        None => None,
    };
    if !subscriptions::stripe_event_once(&mut tx, id, kind, target.as_ref().map(|s| s.organization_id)).await? {
        return Ok(Json(Received { applied: false, duplicate: true }));
    }
    let (Some(u), Some(mut s)) = (update, target) else {
        tx.commit().await?;
        tracing::info!(event = id, kind, "Stripe event recorded without a subscription to apply it to");
        return Ok(Json(Received { applied: false, duplicate: false }));
    };
    let mut changed = Vec::new();
    if let Some(plan) = &u.plan {
        if *plan != s.plan && crate::store::plans::get(&mut tx, plan).await?.is_some() {
            s.plan.clone_from(plan);
            changed.push("plan".to_owned());
        }
    }
    if let Some(status) = &u.status {
        if *status != s.status {
            s.status.clone_from(status);
            if status == "canceled" {
                s.canceled_at = Some(chrono::Utc::now());
            }
            changed.push("status".to_owned());
        }
    }
    if let Some((start, end)) = u.period {
        if (start, end) != (s.current_period_start, s.current_period_end) {
            (s.current_period_start, s.current_period_end) = (start, end);
            changed.push("period".to_owned());
        }
    }
    if let Some(cancel) = u.cancel_at_period_end {
        if cancel != s.cancel_at_period_end {
            s.cancel_at_period_end = cancel;
            changed.push("cancel_at_period_end".to_owned());
        }
    }
    if u.trial_end.is_some() && u.trial_end != s.trial_end {
        s.trial_end = u.trial_end;
    }
    if let (Some(sub), None) = (&u.subscription_id, &s.stripe_subscription_id) {
        // A Stripe subscription belongs to one organization: metadata naming another keeps it
        // where it is.
        if subscriptions::stripe_owner(&mut tx, sub).await?.is_some_and(|owner| owner != s.organization_id) {
            tracing::warn!(event = id, subscription = sub, org = %s.organization_id, "Stripe subscription already belongs to another organization; not moved");
        } else {
            s.stripe_subscription_id = Some(sub.clone());
        }
    }
    if u.customer_id.is_some() && s.stripe_customer_id.is_none() {
        s.stripe_customer_id.clone_from(&u.customer_id);
    }
    let org = s.organization_id;
    let s = subscriptions::save(&mut tx, &s).await?;
    if !changed.is_empty() {
        crate::events::subscription(&mut tx, &s, changed).await?;
    }
    tx.commit().await?;
    state.ledger.forget(Some(org));
    Ok(Json(Received { applied: true, duplicate: false }))
}
