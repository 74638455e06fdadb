//! Stripe's inbound webhooks: `Stripe-Signature: t=…,v1=…` (HMAC-SHA256 of `t.body` with the
//! endpoint secret, hex), checked over the raw bytes, constant-time, against every configured
//! secret and every `v1` (both change during a rotation), within a timestamp tolerance; and
//! what a subscription or invoice event means for a subscription.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Why a signed body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No usable header, or no `v1` matched: 401.
    BadSignature,
    /// It matched, but was signed longer ago (or further ahead) than the tolerance: 400.
    Stale,
}

/// `Stripe-Signature`'s value for `body` at unix time `t` with `secret` (the `whsec_…` string
/// itself is the key, as Stripe's libraries use it).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

/// HMAC-SHA256 of `t.body` keyed with `secret`.
fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks `header` over `body` against `secrets` at `now`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now: i64,
    tolerance: i64,
) -> Result<(), Refused> {
    let header = header.ok_or(Refused::BadSignature)?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let t = t.ok_or(Refused::BadSignature)?;
    let matched = secrets.iter().any(|secret| {
        let expected = mac(secret.expose_secret(), t, body);
        v1.iter().fold(false, |found, given| found | bool::from(given.as_slice().ct_eq(expected.as_slice())))
    });
    if !matched {
        return Err(Refused::BadSignature);
    }
    if (now - t).abs() > tolerance {
        return Err(Refused::Stale);
    }
    Ok(())
}

/// What an event says of a subscription.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub organization_id: Option<Uuid>,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<String>,
    /// The plan named by the subscription's metadata (`plan`) or its price's `lookup_key`.
    pub plan: Option<String>,
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub cancel_at_period_end: Option<bool>,
    pub trial_end: Option<DateTime<Utc>>,
}

fn unix(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_i64).and_then(|s| DateTime::from_timestamp(s, 0))
}

/// Stripe's subscription statuses as ours.
fn status_of(stripe: &str) -> Option<&'static str> {
    Some(match stripe {
        "trialing" => "trialing",
        "active" => "active",
        "past_due" | "incomplete" | "paused" => "past_due",
        "canceled" | "incomplete_expired" => "canceled",
        "unpaid" => "unpaid",
        _ => return None,
    })
}

/// The subscription update event `event_type` with `object` asks for; `None` for events that
/// do not move a subscription.
pub fn update_of(event_type: &str, object: &Value) -> Option<Update> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let org = object.pointer("/metadata/organization_id").and_then(Value::as_str).and_then(|v| v.parse().ok());
    match event_type {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => {
            let item = object.pointer("/items/data/0");
            let start = unix(object.get("current_period_start"))
                .or_else(|| unix(item.and_then(|i| i.get("current_period_start"))));
            let end =
                unix(object.get("current_period_end")).or_else(|| unix(item.and_then(|i| i.get("current_period_end"))));
            let status = if event_type == "customer.subscription.deleted" {
                Some("canceled".to_owned())
            } else {
                object.get("status").and_then(Value::as_str).and_then(status_of).map(str::to_owned)
            };
            let plan =
                s(object.pointer("/metadata/plan")).or_else(|| s(item.and_then(|i| i.pointer("/price/lookup_key"))));
            Some(Update {
                organization_id: org,
                subscription_id: s(object.get("id")),
                customer_id: s(object.get("customer")),
                status,
                plan,
                period: start.zip(end).filter(|(a, b)| b > a),
                cancel_at_period_end: object.get("cancel_at_period_end").and_then(Value::as_bool),
                trial_end: unix(object.get("trial_end")),
            })
        }
        "invoice.paid" | "invoice.payment_failed" => Some(Update {
            organization_id: org,
            subscription_id: s(object.get("subscription"))
                .or_else(|| s(object.pointer("/parent/subscription_details/subscription"))),
            customer_id: s(object.get("customer")),
            status: Some(if event_type == "invoice.paid" { "active" } else { "past_due" }.to_owned()),
            ..Update::default()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret_for_switchboard";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#;

    #[test]
    fn an_update_changes_what_it_names_and_a_plan_only_from_the_catalog() {
        let u = Update {
            organization_id: None,
            subscription_id: Some("sub_1".into()),
            customer_id: Some("cus_1".into()),
            status: Some("canceled".into()),
            plan: Some("gold".into()),
            period: None,
            cancel_at_period_end: Some(false),
            trial_end: None,
        };
        let now: DateTime<Utc> = "2026-12-03T08:00:00Z".parse().unwrap();
        let mut s = crate::lifecycle::tests::sub();
        assert_eq!(merge(&mut s, &u, false, false, now), ["status"]);
        assert_eq!((s.plan.as_str(), s.canceled_at), ("free", Some(now)));
        assert_eq!((s.stripe_subscription_id, s.stripe_customer_id.as_deref()), (None, Some("cus_1")));
        let mut s = crate::lifecycle::tests::sub();
        assert_eq!(merge(&mut s, &u, true, true, now), ["plan", "status"]);
        assert_eq!(s.stripe_subscription_id.as_deref(), Some("sub_1"));
    }

    #[test]
    fn the_signature_is_stripes_scheme() {
        // Computed independently (Python's hmac over `t.body` with the whole secret as key).
        assert_eq!(
            sign(SECRET, 1_733_160_000, BODY),
            "t=1733160000,v1=4c16a27cbda3c83e307b1ab890f722eed3f3e90b6c7b5ac7339fff3f33f9d6d7"
        );
    }

    #[test]
    fn good_rotated_bad_and_stale_signatures() {
        let now = 1_733_160_000;
        let secrets = [SecretString::from("whsec_new"), SecretString::from(SECRET)];
        let good = sign(SECRET, now, BODY);
        assert_eq!(verify(Some(&good), BODY, &secrets, now + 10, 300), Ok(()));
        // Two v1 during Stripe's rotation, the old one first.
        let both = format!("t={now},v1={},v1={}", "00".repeat(32), good.split_once(",v1=").unwrap().1);
        assert_eq!(verify(Some(&both), BODY, &secrets, now, 300), Ok(()));
        assert_eq!(verify(Some(&good), b"{}", &secrets, now, 300), Err(Refused::BadSignature));
        assert_eq!(verify(None, BODY, &secrets, now, 300), Err(Refused::BadSignature));
        assert_eq!(verify(Some("v1=abc"), BODY, &secrets, now, 300), Err(Refused::BadSignature));
        assert_eq!(verify(Some(&good), BODY, &secrets[..1], now, 300), Err(Refused::BadSignature));
        assert_eq!(verify(Some(&good), BODY, &secrets, now + 301, 300), Err(Refused::Stale));
    }

    #[test]
    fn subscription_events_name_status_plan_and_period() {
        let object = serde_json::json!({"id": "sub_1", "customer": "cus_1", "status": "past_due",
            "cancel_at_period_end": false, "metadata": {"plan": "pro"},
            "items": {"data": [{"current_period_start": 1_733_000_000, "current_period_end": 1_735_600_000}]}});
        let u = update_of("customer.subscription.updated", &object).unwrap();
        assert_eq!((u.status.as_deref(), u.plan.as_deref()), (Some("past_due"), Some("pro")));
        assert!(u.period.is_some());
        assert_eq!(update_of("customer.subscription.deleted", &object).unwrap().status.as_deref(), Some("canceled"));
        assert_eq!(update_of("charge.succeeded", &object), None);
    }
}

/// What a verified Stripe event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It moved organization's subscription.
    Applied(Uuid),
    /// Its id was seen before: nothing changed.
    Duplicate,
    /// Recorded, with nothing to apply (another type, or a subscription billing does not know).
    Recorded,
}

/// Applies Stripe event `id` of type `kind` about `object` in `tx`: once by id, to the
/// subscription its metadata or its Stripe ids name, publishing what changed.
pub async fn apply(tx: &mut sqlx::PgConnection, id: &str, kind: &str, object: &Value) -> anyhow::Result<Outcome> {
    use crate::store::{plans, subscriptions};
    let update = update_of(kind, object);
    let target = match &update {
        Some(u) => match u.organization_id {
            Some(org) => subscriptions::lock(tx, org).await?,
            None => subscriptions::lock_by_stripe(tx, u.subscription_id.as_deref(), u.customer_id.as_deref()).await?,
        },
        None => None,
    };
    if !subscriptions::stripe_event_once(tx, id, kind, target.as_ref().map(|s| s.organization_id)).await? {
        return Ok(Outcome::Duplicate);
    }
    let (Some(u), Some(mut s)) = (update, target) else {
        tracing::info!(event = id, kind, "Stripe event recorded without a subscription to apply it to");
        return Ok(Outcome::Recorded);
    };
    let plan_known = match &u.plan {
        Some(plan) => plans::get(tx, plan).await?.is_some(),
        None => false,
    };
    // A Stripe subscription belongs to one organization: metadata naming another keeps it
    // where it is.
    let owner = match (&u.subscription_id, &s.stripe_subscription_id) {
        (Some(sub), None) => subscriptions::stripe_owner(tx, sub).await?,
        _ => None,
    };
    let taken = owner.is_some_and(|o| o != s.organization_id);
    if taken {
        tracing::warn!(event = id, org = %s.organization_id, "Stripe subscription already belongs to another organization; not moved");
    }
    let changed = merge(&mut s, &u, plan_known, !taken, Utc::now());
    let org = s.organization_id;
    let s = subscriptions::save(tx, &s).await?;
    if !changed.is_empty() {
        crate::events::subscription(tx, &s, changed).await?;
    }
    Ok(Outcome::Applied(org))
}

/// What `u` changes in `s` (a plan only when the catalog has it; the Stripe subscription id
/// only when `attach_subscription`); the names of the fields that changed, for the event.
pub fn merge(
    s: &mut crate::store::subscriptions::Subscription,
    u: &Update,
    plan_known: bool,
    attach_subscription: bool,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut changed = Vec::new();
    if let Some(plan) = u.plan.as_ref().filter(|p| plan_known && **p != s.plan) {
        s.plan.clone_from(plan);
        changed.push("plan".to_owned());
    }
    if let Some(status) = u.status.as_ref().filter(|st| **st != s.status) {
        s.status.clone_from(status);
        if status == "canceled" {
            s.canceled_at = Some(now);
        }
        changed.push("status".to_owned());
    }
    if let Some((start, end)) = u.period.filter(|p| *p != (s.current_period_start, s.current_period_end)) {
        (s.current_period_start, s.current_period_end) = (start, end);
        changed.push("period".to_owned());
    }
    if let Some(cancel) = u.cancel_at_period_end.filter(|c| *c != s.cancel_at_period_end) {
        s.cancel_at_period_end = cancel;
        changed.push("cancel_at_period_end".to_owned());
    }
    if u.trial_end.is_some() && u.trial_end != s.trial_end {
        s.trial_end = u.trial_end;
    }
    if attach_subscription && s.stripe_subscription_id.is_none() {
        s.stripe_subscription_id.clone_from(&u.subscription_id);
    }
    if s.stripe_customer_id.is_none() {
        s.stripe_customer_id.clone_from(&u.customer_id);
    }
    changed
}
