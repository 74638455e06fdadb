//! billing-metrics' subscription events as an organization sees them: its plan and status on
//! `GET /v1/me`; a `canceled` or `unpaid` organization reads but its writes answer 402
//! (signing out still works); an event older than the one applied changes nothing.

use platform::bus::CloudEvent;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn publish(app: &TestApp, org: &str, plan: &str, status: &str, at: chrono::DateTime<chrono::Utc>) {
    let data = proto::events::BillingSubscription {
        organization_id: org.parse().unwrap(),
        subscription_id: Uuid::now_v7(),
        plan: plan.into(),
        status: status.into(),
        current_period_start: at,
        current_period_end: at + chrono::TimeDelta::days(30),
        trial_end: None,
        cancel_at_period_end: false,
        changed: vec!["status".into()],
    };
    let mut event = CloudEvent::new(
        "switchboard/billing-metrics",
        proto::events::BILLING_SUBSCRIPTION_UPDATED,
        Some(data.organization_id),
        None,
        data,
    );
    event.time = at;
    let js = async_nats::jetstream::new(app.nats.clone());
    let subject = format!("{}.events.billing.subscription.updated", app.prefix);
    js.publish(subject, serde_json::to_vec(&event).unwrap().into()).await.unwrap().await.unwrap();
}

async fn me_until(app: &TestApp, token: &str, plan: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let me: Value = app.get("/v1/me", token).await.json().await.unwrap();
        if me["organization"]["plan"] == plan && me["organization"]["subscription_status"] == status {
            return me;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {plan}/{status}: {me}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_plan_is_mirrored_and_an_inactive_subscription_reads_but_does_not_write() {
    let app = spawn_app().await;
    let signup = app.signup("ada@example.com", "Acme").await;
    let token = token(&signup);
    let org = signup["organization"]["id"].as_str().unwrap().to_owned();
    assert_eq!(signup["organization"]["subscription_status"], Value::Null);
    let now = chrono::Utc::now();

    publish(&app, &org, "pro", "active", now).await;
    let me = me_until(&app, &token, "pro", "active").await;
    assert_eq!(me["organization"]["status"], "active");
    assert_eq!(app.post("/v1/teams", &json!({"name": "Support"}), Some(&token)).await.status(), StatusCode::CREATED);

    publish(&app, &org, "pro", "canceled", now + chrono::TimeDelta::seconds(1)).await;
    me_until(&app, &token, "pro", "canceled").await;
    let r = app.post("/v1/teams", &json!({"name": "Sales"}), Some(&token)).await;
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert!(p["type"].as_str().unwrap().ends_with("subscription-inactive"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("canceled"), "{p}");
    // Reading goes on; nothing was written.
    let teams: Value = app.get("/v1/teams", &token).await.json().await.unwrap();
    assert_eq!(teams["data"].as_array().unwrap().len(), 1, "{teams}");

    // A late event older than the cancellation changes nothing.
    publish(&app, &org, "starter", "active", now - chrono::TimeDelta::seconds(5)).await;
    app.until_db("(SELECT count(*) FROM processed_events WHERE consumer = 'identity-billing') = 3").await;
    me_until(&app, &token, "pro", "canceled").await;
    // Revived: writes again.
    publish(&app, &org, "business", "active", now + chrono::TimeDelta::seconds(2)).await;
    me_until(&app, &token, "business", "active").await;
    assert_eq!(app.post("/v1/teams", &json!({"name": "Sales"}), Some(&token)).await.status(), StatusCode::CREATED);
    let me: Value = app.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["organization"]["plan"], "business");

    // Signing out works whatever the subscription says.
    publish(&app, &org, "business", "unpaid", now + chrono::TimeDelta::seconds(3)).await;
    me_until(&app, &token, "business", "unpaid").await;
    assert_eq!(app.post("/v1/auth/logout", &json!({}), Some(&token)).await.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}
