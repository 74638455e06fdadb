//! A subscription as an owner sees it: started on `free` when the organization is created,
//! changed by the owner only, every change published; periods roll over by themselves and a
//! cancellation takes effect when the period ends.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// `billing.subscription.*` events of `org`, once there are at least `n`.
async fn subscription_events(app: &TestApp, org: uuid::Uuid, n: usize) -> Vec<Value> {
    until_some("subscription events", || async {
        let all = app.messages("EVENTS", "events.billing.subscription.>", 0).await;
        let mine: Vec<Value> = all.into_iter().filter(|e| e["data"]["organization_id"] == org.to_string()).collect();
        (mine.len() >= n).then_some(mine)
    })
    .await
}

#[tokio::test]
async fn a_new_organization_starts_on_free_and_its_owner_changes_the_plan() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let s = app.get_json("/v1/billing/subscription", &owner.token).await;
    assert_eq!((s["plan"].as_str(), s["status"].as_str()), (Some("free"), Some("trialing")));
    assert_eq!(s["organization_id"], owner.org.to_string());
    let created = subscription_events(&app, owner.org, 1).await;
    assert_eq!(created[0]["type"], "billing.subscription.created");

    // Not the owner's session: an admin API key may read, not change.
    let key = app.api_key(&owner, &["billing:read"]).await;
    assert_eq!(app.get("/v1/usage", &key).await.status(), StatusCode::OK);
    assert_problem(app.put("/v1/billing/subscription", &json!({"plan": "pro"}), &key).await, StatusCode::FORBIDDEN)
        .await;
    for bad in [
        json!({"plan": "platinum"}),
        json!({}),
        json!({"plan": 7}),
        json!({"plan": null, "cancel_at_period_end": true}),
    ] {
        let r = app.put("/v1/billing/subscription", &bad, &owner.token).await;
        assert!(matches!(r.status().as_u16(), 400 | 422), "{bad}: {}", r.status());
    }

    let r = app.put("/v1/billing/subscription", &json!({"plan": "pro"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["plan"], "pro");
    let r = app.put("/v1/billing/subscription", &json!({"cancel_at_period_end": true}), &owner.token).await;
    assert_eq!(r.json::<Value>().await.unwrap()["cancel_at_period_end"], true);
    let events = subscription_events(&app, owner.org, 3).await;
    let updated: Vec<(&str, &Value)> =
        events[1..].iter().map(|e| (e["type"].as_str().unwrap(), &e["data"]["changed"])).collect();
    assert_eq!(
        updated,
        [
            ("billing.subscription.updated", &json!(["plan"])),
            ("billing.subscription.updated", &json!(["cancel_at_period_end"]))
        ]
    );
    assert_eq!(events[2]["data"]["plan"], "pro");
    // The quota answers follow the plan.
    let mut client = app.billing(&app.grpc).await;
    let e = client
        .get_entitlements(authorized(proto::billing::GetEntitlementsRequest { organization_id: owner.org.to_string() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((e.plan.as_str(), e.numbers["history_days"], e.flags["custom_ticket_prefix"]), ("pro", -1, true));
    app.stop().await;
}

#[tokio::test]
async fn a_period_that_ends_rolls_over_and_a_cancellation_then_takes_effect() {
    let app = spawn_app_with(&[("ROLLOVER_INTERVAL_SECS", "0.1"), ("TRIAL_DAYS", "0")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let other = app.owner("bob@example.com", "Bobco").await;
    assert_eq!(app.get_json("/v1/billing/subscription", &owner.token).await["status"], "active");
    app.put("/v1/billing/subscription", &json!({"cancel_at_period_end": true}), &owner.token).await;
    // Both periods ended a month and a day ago.
    sqlx::query(
        "UPDATE subscriptions SET current_period_start = now() - interval '2 months 1 day', \
         current_period_end = now() - interval '1 month 1 day'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let canceled = until_some("the cancellation", || async {
        let s = app.get_json("/v1/billing/subscription", &owner.token).await;
        (s["status"] == "canceled").then_some(s)
    })
    .await;
    assert_eq!(canceled["cancel_at_period_end"], false);
    let kept = until_some("the other to roll over", || async {
        let s = app.get_json("/v1/billing/subscription", &other.token).await;
        let end: chrono::DateTime<chrono::Utc> = s["current_period_end"].as_str().unwrap().parse().unwrap();
        (end > chrono::Utc::now()).then_some(s)
    })
    .await;
    assert_eq!(kept["status"], "active");
    let end: chrono::DateTime<chrono::Utc> = kept["current_period_end"].as_str().unwrap().parse().unwrap();
    assert!(end < chrono::Utc::now() + chrono::TimeDelta::days(31), "one period ahead, not more: {kept}");
    let events = subscription_events(&app, owner.org, 3).await;
    assert_eq!(events[2]["data"]["status"], "canceled");
    // Choosing a plan revives it.
    let r = app.put("/v1/billing/subscription", &json!({"plan": "starter"}), &owner.token).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "active");
    app.stop().await;
}
