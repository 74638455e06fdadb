//! The status graph, reopening by a customer's reply, follow-ups of closed tickets.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp, User};

async fn set_status(app: &TestApp, user: &User, id: &str, status: &str) -> reqwest::Response {
    app.patch(&format!("/v1/tickets/{id}"), &json!({"status": status}), &user.token).await
}

async fn comment(app: &TestApp, user: &User, id: &str, body: &str) -> Value {
    let r = app.post(&format!("/v1/tickets/{id}/comments"), &json!({"body": body}), &user.token).await;
    assert_eq!(r.status(), StatusCode::CREATED, "comment on {id}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn moves_follow_the_graph_and_a_bad_one_names_the_allowed() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let t = app.create(&owner, json!({"subject": "Graph"})).await;
    let id = t["id"].as_str().unwrap();
    for status in ["in_progress", "waiting", "open", "resolved"] {
        let r = set_status(&app, &owner, id, status).await;
        assert_eq!(r.status(), StatusCode::OK, "to {status}");
    }
    let resolved = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert!(resolved["resolved_at"].is_string());
    // resolved → waiting is not a move.
    let body = assert_problem(set_status(&app, &owner, id, "waiting").await, StatusCode::CONFLICT).await;
    assert_eq!(body["detail"], "a resolved ticket cannot become waiting; allowed: open, in_progress, closed");
    assert_eq!(body["errors"][0]["field"], "status");
    // `merged` only comes from a merge.
    assert_problem(set_status(&app, &owner, id, "merged").await, StatusCode::CONFLICT).await;
    assert_eq!(set_status(&app, &owner, id, "closed").await.status(), StatusCode::OK);
    let body = assert_problem(set_status(&app, &owner, id, "open").await, StatusCode::CONFLICT).await;
    assert!(body["detail"].as_str().unwrap().ends_with("allowed: none"), "{body}");
    let r = app.patch(&format!("/v1/tickets/{id}"), &json!({"priority": "high"}), &owner.token).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let closed = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["priority"], "normal");
    assert!(closed["closed_at"].is_string());
    let r = set_status(&app, &owner, id, "finished").await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["field"], "status");

    let history = app.get_json(&format!("/v1/tickets/{id}/history"), &owner.token).await;
    let moves: Vec<(Value, Value)> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["field"] == "status")
        .map(|e| (e["before"].clone(), e["after"].clone()))
        .collect();
    let expected: Vec<(Value, Value)> = [
        ("open", "in_progress"),
        ("in_progress", "waiting"),
        ("waiting", "open"),
        ("open", "resolved"),
        ("resolved", "closed"),
    ]
    .iter()
    .map(|(a, b)| (json!(a), json!(b)))
    .collect();
    assert_eq!(moves, expected);
    let events = app.messages("EVENTS", "events.ticket.status_changed", 5).await;
    let last = &events.last().unwrap().1["data"];
    assert_eq!((last["status_before"].as_str(), last["status"].as_str()), (Some("resolved"), Some("closed")));
    app.stop().await;
}

#[tokio::test]
async fn a_customer_reply_reopens_a_resolved_ticket_and_first_response_is_the_agents() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let t = app.create(&customer, json!({"subject": "It broke"})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(t["first_response_at"], Value::Null);
    let posted = comment(&app, &customer, id, "Still broken, this is terrible").await;
    assert_eq!(posted["comment"]["author_kind"], "customer");
    assert_eq!(posted["ticket"]["first_response_at"], Value::Null);
    assert!(posted["ticket"]["last_replied_at"].is_string());
    // A note is no response.
    let r = app
        .post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "looking", "is_internal": true}), &agent.token)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.get_json(&format!("/v1/tickets/{id}"), &agent.token).await["first_response_at"], Value::Null);
    let reply = comment(&app, &agent, id, "Fixed it").await;
    assert_eq!(reply["comment"]["author_kind"], "agent");
    let first_response = reply["ticket"]["first_response_at"].clone();
    assert!(first_response.is_string());
    comment(&app, &agent, id, "Anything else?").await;
    assert_eq!(app.get_json(&format!("/v1/tickets/{id}"), &agent.token).await["first_response_at"], first_response);

    assert_eq!(set_status(&app, &agent, id, "resolved").await.status(), StatusCode::OK);
    let back = comment(&app, &customer, id, "No, it is broken again").await;
    assert_eq!(back["ticket"]["status"], "open");
    assert_eq!(back["ticket"]["reopen_count"], 1);
    assert_eq!(back["ticket"]["resolved_at"], Value::Null);
    assert_eq!(back["opened_follow_up"], false);
    // Waiting on the customer: their answer makes it open again (not a reopen).
    assert_eq!(set_status(&app, &agent, id, "waiting").await.status(), StatusCode::OK);
    let back = comment(&app, &customer, id, "Here is the log").await;
    assert_eq!(back["ticket"]["status"], "open");
    assert_eq!(back["ticket"]["reopen_count"], 1);
    // Sentiment of the customer's words is on the ticket, for agents only.
    let seen = app.get_json(&format!("/v1/tickets/{id}"), &agent.token).await;
    assert!(seen["sentiment"].is_number(), "{seen}");
    assert_eq!(app.get_json(&format!("/v1/tickets/{id}"), &customer.token).await["sentiment"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn a_reply_to_a_closed_ticket_opens_a_linked_follow_up() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let t = app.create(&customer, json!({"subject": "Invoice wrong", "category": "billing_payment"})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(set_status(&app, &owner, id, "closed").await.status(), StatusCode::OK);
    // Agents cannot answer publicly on a closed ticket; notes are fine.
    let r = app.post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "late answer"}), &owner.token).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let r = app
        .post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "fyi", "is_internal": true}), &owner.token)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let posted = comment(&app, &customer, id, "It is wrong again this month").await;
    assert_eq!(posted["opened_follow_up"], true);
    let follow = &posted["ticket"];
    assert_ne!(follow["id"], t["id"]);
    assert_eq!(follow["follow_up_of_id"], t["id"]);
    assert_eq!(follow["status"], "open");
    assert_eq!(follow["subject"], "Invoice wrong");
    assert_eq!(follow["category"], "billing_payment");
    assert_eq!(follow["requester_user_id"], customer.id);
    assert_eq!(posted["comment"]["ticket_id"], follow["id"]);
    let fid = follow["id"].as_str().unwrap();
    let comments = app.get_json(&format!("/v1/tickets/{fid}/comments"), &customer.token).await;
    assert_eq!(comments["data"][0]["body"], "It is wrong again this month");
    // The closed one stays closed, and the customer sees both.
    assert_eq!(app.get_json(&format!("/v1/tickets/{id}"), &customer.token).await["status"], "closed");
    assert_eq!(app.get_json("/v1/tickets?status=open", &customer.token).await["data"][0]["id"], follow["id"]);
    app.stop().await;
}
