//! Metering as a plan-limited service sees it: every event counted once, whether delivered once,
//! twice or to two replicas; gauges that a repeated add or remove does not move; thresholds
//! alerted once per period with a notification to owners and admins; quota answers over gRPC
//! that refuse past a hard limit, allow soft ones, and need the service token.

use proto::billing::{CheckQuotaRequest, GetEntitlementsRequest};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn usage_of(app: &TestApp, owner: &User, metric: &str) -> Value {
    let usage = app.get_json("/v1/usage", &owner.token).await;
    usage["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == metric).unwrap().clone()
}

async fn until_used(app: &TestApp, owner: &User, metric: &str, n: i64) -> Value {
    until_some(&format!("{metric} to reach {n}"), || async {
        let m = usage_of(app, owner, metric).await;
        (m["used"] == n).then_some(m)
    })
    .await
}

#[tokio::test]
async fn every_event_counts_once_through_redelivery_and_two_replicas() {
    let app = spawn_app().await;
    let (_, second_grpc) = app.replica().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let other = app.owner("eve@example.com", "Evil").await;
    let tickets: Vec<_> =
        (0..100).map(|_| event("ticket.created", owner.org, json!({"organization_id": owner.org}))).collect();
    // Each event twice: the server keeps both copies, and the two replicas share them.
    for e in tickets.iter().chain(tickets.iter()) {
        app.publish(e).await;
    }
    let messages: Vec<_> = (0..30)
        .map(|i| event(if i % 2 == 0 { "inbox.message.received" } else { "inbox.message.sent" }, owner.org, json!({})))
        .collect();
    for e in messages.iter().chain(messages.iter()) {
        app.publish(e).await;
    }
    // A marker after everything: once it is counted, so is all that came before it.
    app.publish(&event("feedback.created", owner.org, json!({}))).await;
    until_used(&app, &owner, "feedback_posts", 1).await;
    let t = until_used(&app, &owner, "tickets", 100).await;
    assert_eq!(
        (t["limit"].as_i64(), t["mode"].as_str(), t["percent"].as_f64()),
        (Some(100), Some("hard"), Some(100.0))
    );
    assert_eq!(usage_of(&app, &owner, "messages").await["used"], 30);
    assert_eq!(usage_of(&app, &other, "tickets").await["used"], 0);
    assert_eq!(app.count("SELECT count(*) FROM activity_logs WHERE action = 'ticket.created'").await, 100);

    // 80% and 100% alerted once each, to the owner.
    let alerts = app.messages("EVENTS", "events.billing.usage.threshold_reached", 2).await;
    let mut percents: Vec<i64> = alerts.iter().map(|a| a["data"]["percent"].as_i64().unwrap()).collect();
    percents.sort_unstable();
    assert_eq!(percents, [80, 100]);
    assert!(alerts.iter().all(|a| a["data"]["metric"] == "tickets" && a["data"]["limit"] == 100));
    let notes = app.notifications(2).await;
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().all(|n| n["data"]["recipients"] == json!([owner.id])), "{notes:?}");

    // Either replica refuses the 101st ticket from memory and allows soft-limited messages.
    for url in [app.grpc.clone(), second_grpc] {
        let mut client = app.billing(&url).await;
        let check = |metric: &str| {
            authorized(CheckQuotaRequest { organization_id: owner.org.to_string(), metric: metric.into(), amount: 1 })
        };
        let refused = until_some("the replica to see 100 tickets", || {
            let mut client = client.clone();
            let request = check("tickets");
            async move {
                let a = client.check_quota(request).await.unwrap().into_inner();
                (!a.allowed).then_some(a)
            }
        })
        .await;
        assert_eq!((refused.used, refused.limit, refused.plan.as_str()), (100, 100, "free"));
        assert!(client.check_quota(check("messages")).await.unwrap().into_inner().allowed);
        let other_org =
            CheckQuotaRequest { organization_id: other.org.to_string(), metric: "tickets".into(), amount: 1 };
        assert!(client.check_quota(authorized(other_org)).await.unwrap().into_inner().allowed);
    }
    app.stop().await;
}

#[tokio::test]
async fn gauges_count_what_exists_and_repeats_change_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    // The owner is the first seat (identity's member.added at signup).
    until_used(&app, &owner, "seats", 1).await;
    let (agent, key) = (Uuid::now_v7(), Uuid::now_v7());
    let added = event(
        "identity.member.added",
        owner.org,
        json!({"organization_id": owner.org, "user_id": agent, "role": "admin"}),
    );
    for e in [&added, &added] {
        app.publish(e).await;
    }
    app.publish(&event(
        "identity.api_key.created",
        owner.org,
        json!({"organization_id": owner.org, "api_key_id": key}),
    ))
    .await;
    until_used(&app, &owner, "api_keys", 1).await;
    until_used(&app, &owner, "seats", 2).await;
    let removed = event("identity.member.removed", owner.org, json!({"organization_id": owner.org, "user_id": agent}));
    let again = event("identity.member.removed", owner.org, json!({"organization_id": owner.org, "user_id": agent}));
    app.publish(&removed).await;
    app.publish(&again).await;
    app.publish(&event(
        "identity.api_key.revoked",
        owner.org,
        json!({"organization_id": owner.org, "api_key_id": key}),
    ))
    .await;
    until_used(&app, &owner, "api_keys", 0).await;
    until_used(&app, &owner, "seats", 1).await;
    assert_eq!(app.count("SELECT count(*) FROM members").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn quota_answers_need_the_service_token_and_a_real_organization_id() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let mut client = app.billing(&app.grpc).await;
    let unauth = client
        .check_quota(tonic::Request::new(CheckQuotaRequest {
            organization_id: owner.org.to_string(),
            metric: "tickets".into(),
            amount: 1,
        }))
        .await
        .unwrap_err();
    assert_eq!(unauth.code(), tonic::Code::Unauthenticated);
    let bad = client
        .get_entitlements(authorized(GetEntitlementsRequest { organization_id: "acme".into() }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let e = client
        .get_entitlements(authorized(GetEntitlementsRequest { organization_id: owner.org.to_string() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((e.plan.as_str(), e.status.as_str(), e.numbers["history_days"]), ("free", "trialing", 30));
    assert_eq!((e.limits["tickets"].limit, e.limits["tickets"].hard), (100, true));
    assert!(!e.flags["custom_ticket_prefix"]);
    let prefix =
        CheckQuotaRequest { organization_id: owner.org.to_string(), metric: "custom_ticket_prefix".into(), amount: 1 };
    assert!(!client.check_quota(authorized(prefix)).await.unwrap().into_inner().allowed);
    // Usage is for admins and owners; another tenant sees its own.
    let customer = app.api_key(&owner, &["feedback:read"]).await;
    assert_problem(app.get("/v1/usage", &customer).await, StatusCode::FORBIDDEN).await;
    app.stop().await;
}
