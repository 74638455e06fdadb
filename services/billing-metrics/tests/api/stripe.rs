//! Stripe's webhooks as Stripe sends them: signed over the raw bytes; a bad, missing or stale
//! signature changes nothing; either secret of a rotation works; a replayed event applies once;
//! subscription and invoice events drive the subscription's status; unconfigured, no route.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn signed(secret: &str, body: &[u8], at: i64) -> String {
    billing_metrics::stripe::sign(secret, at, body)
}

async fn deliver(app: &TestApp, body: &[u8], signature: Option<&str>) -> reqwest::Response {
    let mut r =
        app.http.post(app.url("/webhooks/stripe")).header("content-type", "application/json").body(body.to_vec());
    if let Some(s) = signature {
        r = r.header("stripe-signature", s);
    }
    r.send().await.unwrap()
}

fn subscription_event(id: &str, kind: &str, org: uuid::Uuid, status: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "object": "event", "type": kind, "api_version": "2025-03-31.basil",
        "data": {"object": {"id": "sub_1QAbc", "object": "subscription", "customer": "cus_Q1xyz", "status": status,
            "cancel_at_period_end": false, "metadata": {"organization_id": org, "plan": "business"},
            "items": {"data": [{"current_period_start": 1_764_547_200, "current_period_end": 1_767_225_600,
                "price": {"lookup_key": "business"}}]}}}}))
    .unwrap()
}

#[tokio::test]
async fn only_stripes_signature_moves_a_subscription_and_each_event_applies_once() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let now = chrono::Utc::now().timestamp();
    let body = subscription_event("evt_1", "customer.subscription.updated", owner.org, "past_due");

    // Unsigned, wrongly signed, signed over other bytes, stale: nothing changes.
    assert_problem(deliver(&app, &body, None).await, StatusCode::UNAUTHORIZED).await;
    assert_problem(deliver(&app, &body, Some(&signed("whsec_wrong", &body, now))).await, StatusCode::UNAUTHORIZED)
        .await;
    let reserialized = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    assert_problem(
        deliver(&app, &reserialized, Some(&signed(STRIPE_SECRET, &body, now))).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_problem(deliver(&app, &body, Some(&signed(STRIPE_SECRET, &body, now - 301))).await, StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(app.count("SELECT count(*) FROM stripe_events").await, 0);
    assert_eq!(app.get_json("/v1/billing/subscription", &owner.token).await["plan"], "free");

    // The previous secret of a rotation still signs.
    let r = deliver(&app, &body, Some(&signed(STRIPE_OLD_SECRET, &body, now))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"applied": true, "duplicate": false}));
    let s = app.get_json("/v1/billing/subscription", &owner.token).await;
    assert_eq!((s["plan"].as_str(), s["status"].as_str()), (Some("business"), Some("past_due")));
    assert_eq!(
        (s["stripe_customer_id"].as_str(), s["stripe_subscription_id"].as_str()),
        (Some("cus_Q1xyz"), Some("sub_1QAbc"))
    );
    assert_eq!(s["current_period_end"], "2026-01-01T00:00:00Z");

    // A replay (Stripe retries) is acknowledged and changes nothing, also after a later event.
    let paid = serde_json::to_vec(&json!({"id": "evt_2", "type": "invoice.paid",
        "data": {"object": {"id": "in_1", "customer": "cus_Q1xyz", "subscription": "sub_1QAbc"}}}))
    .unwrap();
    assert_eq!(deliver(&app, &paid, Some(&signed(STRIPE_SECRET, &paid, now))).await.status(), StatusCode::OK);
    assert_eq!(app.get_json("/v1/billing/subscription", &owner.token).await["status"], "active");
    let r = deliver(&app, &body, Some(&signed(STRIPE_SECRET, &body, now))).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"applied": false, "duplicate": true}));
    assert_eq!(app.get_json("/v1/billing/subscription", &owner.token).await["status"], "active");

    let failed = serde_json::to_vec(&json!({"id": "evt_3", "type": "invoice.payment_failed",
        "data": {"object": {"id": "in_2", "customer": "cus_Q1xyz"}}}))
    .unwrap();
    deliver(&app, &failed, Some(&signed(STRIPE_SECRET, &failed, now))).await;
    let deleted = subscription_event("evt_4", "customer.subscription.deleted", owner.org, "canceled");
    deliver(&app, &deleted, Some(&signed(STRIPE_SECRET, &deleted, now))).await;
    assert_eq!(app.get_json("/v1/billing/subscription", &owner.token).await["status"], "canceled");
    let events = until_some("the four updates", || async {
        let e = app.messages("EVENTS", "events.billing.subscription.updated", 0).await;
        (e.len() >= 4).then_some(e)
    })
    .await;
    let statuses: Vec<&str> = events.iter().map(|e| e["data"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["past_due", "active", "past_due", "canceled"]);

    // Signed but not an event: 400, kept out.
    let junk = b"[1, 2]";
    assert_problem(deliver(&app, junk, Some(&signed(STRIPE_SECRET, junk, now))).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.count("SELECT count(*) FROM stripe_events").await, 4);
    app.stop().await;
}

#[tokio::test]
async fn without_stripe_secrets_there_is_no_stripe_route() {
    let app = spawn_app_with(&[("STRIPE_WEBHOOK_SECRETS", "")]).await;
    let body = b"{}";
    let r = deliver(&app, body, Some(&signed(STRIPE_SECRET, body, chrono::Utc::now().timestamp()))).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn a_stripe_subscription_stays_with_the_organization_it_belongs_to() {
    let app = spawn_app().await;
    let acme = app.owner("ada@example.com", "Acme").await;
    let evil = app.owner("eve@example.com", "Evil").await;
    let now = chrono::Utc::now().timestamp();
    let first = subscription_event("evt_a", "customer.subscription.updated", acme.org, "active");
    assert_eq!(deliver(&app, &first, Some(&signed(STRIPE_SECRET, &first, now))).await.status(), StatusCode::OK);
    // An event whose metadata names another organization with Acme's Stripe subscription: it
    // applies to the organization named, answers 200, and the Stripe id stays with Acme.
    let other = subscription_event("evt_b", "customer.subscription.updated", evil.org, "past_due");
    let r = deliver(&app, &other, Some(&signed(STRIPE_SECRET, &other, now))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let theirs = app.get_json("/v1/billing/subscription", &evil.token).await;
    assert_eq!(theirs["stripe_subscription_id"], Value::Null);
    let ours = app.get_json("/v1/billing/subscription", &acme.token).await;
    assert_eq!((ours["stripe_subscription_id"].as_str(), ours["status"].as_str()), (Some("sub_1QAbc"), Some("active")));
    app.stop().await;
}

/// A NUL in a signed event's strings (which PostgreSQL's text cannot hold) is taken as U+FFFD
/// REPLACEMENT CHARACTER: the event applies and is recorded, and the 200 stops Stripe's retries.
#[tokio::test]
async fn a_nul_in_a_signed_event_is_taken_and_the_event_applies() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::to_vec(&json!({"id": "evt_nul", "object": "event", "type": "customer.subscription.updated",
        "data": {"object": {"id": "sub_1QAbc", "object": "subscription", "customer": "cus_\u{0}Q1xyz",
            "status": "past_due", "cancel_at_period_end": false,
            "metadata": {"organization_id": owner.org, "plan": "busi\u{0}ness", "note": "a\u{0}b"}}}}))
    .unwrap();
    assert!(body.windows(6).any(|w| w == br"\u0000"), "the JSON escape, as Stripe would send it");
    let r = deliver(&app, &body, Some(&signed(STRIPE_SECRET, &body, now))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"applied": true, "duplicate": false}));
    let s = app.get_json("/v1/billing/subscription", &owner.token).await;
    // The status moves; "busi\u{FFFD}ness" is no plan of the catalog, so the plan stays.
    assert_eq!((s["plan"].as_str(), s["status"].as_str()), (Some("free"), Some("past_due")));
    assert_eq!(s["stripe_customer_id"], "cus_\u{FFFD}Q1xyz");
    assert_eq!(app.count("SELECT count(*) FROM stripe_events WHERE id = 'evt_nul'").await, 1);
    // Stripe's retry of it changes nothing.
    let again = deliver(&app, &body, Some(&signed(STRIPE_SECRET, &body, now))).await;
    assert_eq!(again.json::<Value>().await.unwrap(), json!({"applied": false, "duplicate": true}));
    app.stop().await;
}
