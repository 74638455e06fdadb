//! Plans as an organization lives them, over HTTP only: what each service creates is metered by
//! billing-metrics from the services' events, and once the free plan's hard limit is used the
//! next create answers 402 in the service that owns it (webhook endpoints, API keys, seats,
//! tickets, feedback posts, inbox connections); the owner moves to a bigger plan, identity shows
//! it, and the same create goes through; with billing down, creates are allowed (fail open).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::client::{eventually, expect, DEADLINE};
use crate::helpers::Stack;

/// The organization's usage of `metric`, as billing shows it.
async fn used(stack: &Stack, token: &str, metric: &str) -> i64 {
    let url = format!("{}/v1/usage", stack.billing.as_ref().unwrap());
    let usage = expect(stack.http.get(url).bearer_auth(token).send().await.unwrap(), StatusCode::OK, "usage").await;
    usage["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == metric).unwrap()["used"].as_i64().unwrap()
}

async fn until_used(stack: &Stack, token: &str, metric: &str, n: i64) {
    eventually(&format!("{metric} to be {n}"), DEADLINE, || async {
        (used(stack, token, metric).await == n).then_some(())
    })
    .await;
}

async fn post(stack: &Stack, url: String, token: &str, body: Value) -> reqwest::Response {
    stack.http.post(url).bearer_auth(token).json(&body).send().await.unwrap()
}

/// A 402 naming the metric and the plan.
async fn refused(response: reqwest::Response, metric: &str) {
    let p = expect(response, StatusCode::PAYMENT_REQUIRED, metric).await;
    assert!(p["type"].as_str().unwrap().ends_with("quota-exceeded"), "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains(metric) && detail.contains("free"), "{detail}");
}

#[tokio::test]
async fn each_service_refuses_past_the_plan_and_a_bigger_plan_lets_it_through() {
    let mut stack = Stack::start_with_billing().await;
    let owner = stack.signup("owner@example.com", "Acme").await;
    until_used(&stack, &owner, "seats", 1).await;

    // Webhook endpoints (free: 3).
    let hooks = format!("{}/v1/webhooks", stack.dispatcher);
    let hook = |i: usize| json!({"url": format!("http://127.0.0.1:9/hook{i}"), "events": ["ticket.*"]});
    for i in 0..3 {
        expect(post(&stack, hooks.clone(), &owner, hook(i)).await, StatusCode::CREATED, "endpoint").await;
    }
    until_used(&stack, &owner, "webhook_endpoints", 3).await;
    refused(post(&stack, hooks.clone(), &owner, hook(3)).await, "webhook_endpoints").await;

    // API keys (free: 2).
    let keys = format!("{}/v1/api-keys", stack.identity);
    let key = json!({"name": "ci", "scopes": ["tickets:read"]});
    for _ in 0..2 {
        expect(post(&stack, keys.clone(), &owner, key.clone()).await, StatusCode::CREATED, "api key").await;
    }
    until_used(&stack, &owner, "api_keys", 2).await;
    refused(post(&stack, keys.clone(), &owner, key.clone()).await, "api_keys").await;

    // Seats (free: 3): the owner and two teammates.
    stack.join(&owner, "ann@example.com", "agent", "Ann").await;
    stack.join(&owner, "bob@example.com", "agent", "Bob").await;
    until_used(&stack, &owner, "seats", 3).await;
    let invite = json!({"email": "cy@example.com", "role": "agent"});
    refused(post(&stack, format!("{}/v1/invitations", stack.identity), &owner, invite).await, "seats").await;

    // Inbox connections (free: 2).
    let connect = format!("{}/v1/connections/whatsapp", stack.inbox);
    let number = |id: &str| json!({"phone_number_id": id, "business_account_id": "2290129340398", "access_token": crate::graph::GOOD_TOKEN});
    for id in ["106540352242901", "106540352242902"] {
        expect(post(&stack, connect.clone(), &owner, number(id)).await, StatusCode::CREATED, "connection").await;
    }
    until_used(&stack, &owner, "connections", 2).await;
    refused(post(&stack, connect.clone(), &owner, number("106540352242903")).await, "connections").await;

    // Tickets and feedback posts (free: 100 a month each).
    let tickets = format!("{}/v1/tickets", stack.ticketing);
    let posts = format!("{}/v1/feedback", stack.feedback);
    for i in 0..100 {
        let t = post(&stack, tickets.clone(), &owner, json!({"subject": format!("Ticket {i}")})).await;
        expect(t, StatusCode::CREATED, "ticket").await;
        let f =
            post(&stack, posts.clone(), &owner, json!({"title": format!("Idea number {i}"), "description": "Please"}))
                .await;
        expect(f, StatusCode::CREATED, "feedback").await;
    }
    until_used(&stack, &owner, "tickets", 100).await;
    until_used(&stack, &owner, "feedback_posts", 100).await;
    refused(post(&stack, tickets.clone(), &owner, json!({"subject": "One more"})).await, "tickets").await;
    let one_more = json!({"title": "One more idea", "description": "Please"});
    refused(post(&stack, posts.clone(), &owner, one_more.clone()).await, "feedback_posts").await;

    // The owner moves to pro: identity shows it, and the refused creates go through.
    let subscription = format!("{}/v1/billing/subscription", stack.billing.as_ref().unwrap());
    let r = stack.http.put(&subscription).bearer_auth(&owner).json(&json!({"plan": "pro"})).send().await.unwrap();
    assert_eq!(expect(r, StatusCode::OK, "plan change").await["plan"], "pro");
    eventually("identity to show pro", DEADLINE, || async {
        let r = stack.http.get(format!("{}/v1/me", stack.identity)).bearer_auth(&owner).send().await.ok()?;
        let me: Value = r.json().await.ok()?;
        (me["organization"]["plan"] == "pro").then_some(())
    })
    .await;
    expect(post(&stack, hooks.clone(), &owner, hook(3)).await, StatusCode::CREATED, "endpoint on pro").await;
    expect(post(&stack, keys.clone(), &owner, key.clone()).await, StatusCode::CREATED, "api key on pro").await;
    expect(post(&stack, tickets.clone(), &owner, json!({"subject": "On pro"})).await, StatusCode::CREATED, "ticket")
        .await;

    // Billing down: nothing is refused for want of an answer.
    stack.kill_billing();
    for i in 4..6 {
        expect(post(&stack, hooks.clone(), &owner, hook(i)).await, StatusCode::CREATED, "endpoint, billing down").await;
    }
    expect(post(&stack, posts.clone(), &owner, one_more).await, StatusCode::CREATED, "feedback, billing down").await;
}

/// The desk's day in billing's analytics, from ticketing's own events: a team ticket goes to
/// the agent, who answers and resolves it; today's figures and the agent's show it.
#[tokio::test]
async fn a_resolved_ticket_shows_in_the_performance_and_team_figures() {
    let stack = Stack::start_with_billing().await;
    let rx = crate::receiver::Receiver::start().await;
    let desk = stack.support_desk(&rx).await;
    let body = json!({"subject": "Cannot log in", "description": "The page spins forever", "team_id": desk.team});
    let created = stack.ticketing_post("/v1/tickets", &desk.owner.token, body).await;
    let id = created["id"].as_str().unwrap().to_owned();
    stack
        .ticket_until(&desk.owner.token, &id, "the round-robin assignment", |t| {
            t["assignee_id"] == desk.agent.id.as_str()
        })
        .await;
    let reply = json!({"body": "Clear the cache and try again"});
    stack.ticketing_post(&format!("/v1/tickets/{id}/comments"), &desk.agent.token, reply).await;
    let url = format!("{}/v1/tickets/{id}", stack.ticketing);
    let resolved = stack
        .call(reqwest::Method::PATCH, &url, &desk.agent.token, Some(json!({"status": "resolved"})), StatusCode::OK)
        .await;
    assert_eq!(resolved["status"], "resolved");

    let billing = stack.billing.as_ref().unwrap();
    let today = eventually("today's figures", DEADLINE, || async {
        let url = format!("{billing}/v1/metrics/performance?period=day");
        let r = stack.http.get(url).bearer_auth(&desk.owner.token).send().await.ok()?;
        let figures: Value = r.json().await.ok()?;
        let today = figures["data"].as_array()?.last()?.clone();
        (today["tickets_resolved"] == 1).then_some(today)
    })
    .await;
    assert_eq!(today["tickets_created"], 1);
    assert_eq!(today["first_response"]["count"], 1);
    assert_eq!(today["resolution"]["count"], 1);
    assert_eq!(today["first_contact_resolution_rate"], 100.0);
    assert_eq!(today["automated_resolution_rate"], 0.0);
    assert_eq!(today["escalation_rate"], 0.0);
    let url = format!("{billing}/v1/metrics/team?period=day");
    let team =
        expect(stack.http.get(url).bearer_auth(&desk.owner.token).send().await.unwrap(), StatusCode::OK, "team").await;
    let agents = team["agents"].as_array().unwrap();
    let agent = agents.iter().find(|a| a["agent_id"] == desk.agent.id.as_str()).expect("the agent's figures");
    assert_eq!((agent["tickets_handled"].as_i64(), agent["tickets_resolved"].as_i64()), (Some(1), Some(1)));
    assert_eq!(agent["trend"], "up");
    assert!(agent["avg_first_response_seconds"].as_f64().is_some(), "{agent}");
}
