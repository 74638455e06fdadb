//! Refunds and budgets as a support desk uses them: a refund requested, approved within its
//! budget (a usage record, the spent figure, an alert once per threshold), rejected or
//! completed; over the budget or the customer's limit a 409 that says what remains; concurrent
//! approvals never overspend; another organization's refund or budget is a 404.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn post(app: &TestApp, path: &str, body: Value, token: &str) -> reqwest::Response {
    app.http.post(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn budget(app: &TestApp, owner: &User, limit: i64, per_customer: Option<i64>) -> Value {
    let mut body = json!({"name": "Refunds", "budget_type": "refund", "period": "monthly", "limit_cents": limit,
        "alert_thresholds": [50, 100]});
    if let Some(c) = per_customer {
        body["refund_limit_per_customer_cents"] = json!(c);
    }
    let r = post(app, "/v1/budgets", body, &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn request(app: &TestApp, owner: &User, amount: i64, customer: &str) -> String {
    let body = json!({"amount_cents": amount, "reason": "service_downtime", "customer_id": customer, "note": "Outage"});
    let r = post(app, "/v1/refunds", body, &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["status"], "pending");
    refund["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refunds_are_approved_within_their_budget_and_over_it_is_a_409_saying_what_remains() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let b = budget(&app, &owner, 10_000, Some(6_000)).await;
    assert_eq!((b["spent_cents"].as_i64(), b["remaining_cents"].as_i64()), (Some(0), Some(10_000)));

    let first = request(&app, &owner, 5_000, "cus-1").await;
    let r = post(&app, &format!("/v1/refunds/{first}/approve"), json!({"note": "ok"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let approved: Value = r.json().await.unwrap();
    assert_eq!((approved["status"].as_str(), approved["budget_id"].as_str()), (Some("approved"), b["id"].as_str()));
    // Approving twice (a bare POST: the body is optional): 409, nothing spent again.
    let url = app.url(&format!("/v1/refunds/{first}/approve"));
    let again = app.http.post(&url).bearer_auth(&owner.token).send().await.unwrap();
    assert_problem(again, StatusCode::CONFLICT).await;
    let null = app.http.post(&url).bearer_auth(&owner.token).header("content-type", "application/json").body("null");
    assert_problem(null.send().await.unwrap(), StatusCode::CONFLICT).await;
    let text = app.http.post(&url).bearer_auth(&owner.token).body("budget please").send().await.unwrap();
    assert_problem(text, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    // The same customer past their limit (1,000 left of 6,000).
    let second = request(&app, &owner, 2_000, "cus-1").await;
    let p = assert_problem(
        post(&app, &format!("/v1/refunds/{second}/approve"), json!({}), &owner.token).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().starts_with("1000 remain of this customer's limit"), "{p}");
    // Another customer, past the budget (5,000 left).
    let third = request(&app, &owner, 6_000, "cus-2").await;
    let p = assert_problem(
        post(&app, &format!("/v1/refunds/{third}/approve"), json!({}), &owner.token).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().starts_with("5000 remain of budget Refunds"), "{p}");
    let r = post(&app, &format!("/v1/refunds/{third}/reject"), json!({"note": "too much"}), &owner.token).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "rejected");
    let r = post(&app, &format!("/v1/refunds/{first}/complete"), json!({}), &owner.token).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "completed");
    assert_problem(
        post(&app, &format!("/v1/refunds/{third}/complete"), json!({}), &owner.token).await,
        StatusCode::CONFLICT,
    )
    .await;

    let now = app.get_json(&format!("/v1/budgets/{}", b["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!((now["spent_cents"].as_i64(), now["remaining_cents"].as_i64()), (Some(5_000), Some(5_000)));
    assert_eq!(app.count("SELECT count(*) FROM budget_usage_records").await, 1);
    let pending = app.get_json("/v1/refunds?status=pending", &owner.token).await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 1);

    // Events: requested ×3, approved, rejected, completed; the 50% alert once.
    let events = app.messages("EVENTS", "events.billing.refund.>", 6).await;
    let mut kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "billing.refund.approved",
            "billing.refund.completed",
            "billing.refund.rejected",
            "billing.refund.requested",
            "billing.refund.requested",
            "billing.refund.requested"
        ]
    );
    let alerts = app.messages("EVENTS", "events.billing.budget.threshold_reached", 1).await;
    assert_eq!((alerts.len(), alerts[0]["data"]["percent"].as_i64()), (1, Some(50)));

    // Another organization: no such refund or budget; its own list is empty.
    let other = app.owner("eve@example.com", "Evil").await;
    assert_problem(app.get(&format!("/v1/refunds/{first}"), &other.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(
        post(&app, &format!("/v1/refunds/{second}/approve"), json!({}), &other.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/budgets/{}", b["id"].as_str().unwrap()), &other.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(app.get_json("/v1/refunds", &other.token).await["data"].as_array().unwrap().is_empty());
    // Bad input changes nothing.
    for bad in [
        json!({"amount_cents": 0, "reason": "other"}),
        json!({"amount_cents": 5, "reason": "because"}),
        json!({"amount_cents": 5, "reason": "other", "budget_id": "01900000-0000-7000-8000-000000000000"}),
    ] {
        assert_problem(post(&app, "/v1/refunds", bad, &owner.token).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM refunds").await, 3);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_approvals_never_spend_past_the_limit() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    budget(&app, &owner, 1_000, None).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(request(&app, &owner, 100, &format!("cus-{i}")).await);
    }
    let approvals = ids.iter().map(|id| {
        let (http, url, token) = (app.http.clone(), app.url(&format!("/v1/refunds/{id}/approve")), owner.token.clone());
        async move { http.post(url).bearer_auth(token).json(&json!({})).send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(approvals).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 30);
    assert_eq!(app.count("SELECT spent_cents FROM budgets").await, 1_000);
    assert_eq!(app.count("SELECT sum(amount_cents)::bigint FROM budget_usage_records").await, 1_000);
    app.stop().await;
}

#[tokio::test]
async fn refunds_are_listed_by_customer_ticket_and_order_within_the_organization() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let other = app.owner("eve@example.com", "Evil").await;
    let ticket = uuid::Uuid::now_v7();
    for (who, body) in [
        (&owner, json!({"amount_cents": 100, "reason": "ux_issue", "customer_id": "cus-1", "ticket_id": ticket})),
        (
            &owner,
            json!({"amount_cents": 200, "reason": "ux_issue", "customer_id": "cus-1", "order_reference": "ord-9"}),
        ),
        (&owner, json!({"amount_cents": 300, "reason": "ux_issue", "customer_id": "cus-2", "ticket_id": ticket})),
        (&other, json!({"amount_cents": 400, "reason": "ux_issue", "customer_id": "cus-1", "ticket_id": ticket})),
    ] {
        let r = post(&app, "/v1/refunds", body, &who.token).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let amounts = |page: Value| -> Vec<i64> {
        page["data"].as_array().unwrap().iter().map(|r| r["amount_cents"].as_i64().unwrap()).collect()
    };
    let q = |query: String| {
        let app = &app;
        let token = owner.token.clone();
        async move { app.get_json(&format!("/v1/refunds?{query}"), &token).await }
    };
    // Never the other organization's refund of the same customer and ticket (400).
    assert_eq!(amounts(q("customer_id=cus-1".into()).await), [200, 100]);
    assert_eq!(amounts(q("customer_id=%20cus-1%20".into()).await), [200, 100], "compared trimmed, as stored");
    assert_eq!(amounts(q(format!("ticket_id={ticket}")).await), [300, 100]);
    assert_eq!(amounts(q(format!("ticket_id={ticket}&customer_id=cus-2")).await), [300]);
    assert_eq!(amounts(q("order_reference=ord-9".into()).await), [200]);
    assert_eq!(amounts(q("customer_id=nobody".into()).await), Vec::<i64>::new());
    for (query, field) in [
        ("ticket_id=not-a-uuid", "ticket_id"),
        ("customer_id=%20", "customer_id"),
        ("order_reference=", "order_reference"),
    ] {
        let r = app.http.get(app.url(&format!("/v1/refunds?{query}"))).bearer_auth(&owner.token).send().await.unwrap();
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    app.stop().await;
}
