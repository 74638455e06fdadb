//! CSAT: once resolved, one rating 1–5 with a comment, by the requester or an API key; it feeds
//! the assignee's agent rating.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, invalid_fields, spawn_app};

#[tokio::test]
async fn the_requester_rates_a_resolved_ticket_once() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let t = app.create(&customer, json!({"subject": "Help"})).await;
    let id = t["id"].as_str().unwrap();
    let path = format!("/v1/tickets/{id}/csat");
    let r = app.patch(&format!("/v1/tickets/{id}"), &json!({"assignee_id": agent.id}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Not before it is resolved.
    assert_problem(app.post(&path, &json!({"rating": 5}), &customer.token).await, StatusCode::CONFLICT).await;
    let r = app.patch(&format!("/v1/tickets/{id}"), &json!({"status": "resolved"}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    for bad in [json!({"rating": 0}), json!({"rating": 6}), json!({"rating": 4, "comment": "x".repeat(2001)})] {
        let fields = invalid_fields(app.post(&path, &bad, &customer.token).await).await;
        assert_eq!(fields.len(), 1, "{bad}");
    }
    // Agents do not rate their own work.
    assert_problem(app.post(&path, &json!({"rating": 5}), &agent.token).await, StatusCode::FORBIDDEN).await;
    let r = app.post(&path, &json!({"rating": 4, "comment": "Quick, thanks"}), &customer.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let rated: Value = r.json().await.unwrap();
    assert_eq!(rated["csat_rating"], 4);
    assert_eq!(rated["csat_comment"], "Quick, thanks");
    assert_problem(app.post(&path, &json!({"rating": 1}), &customer.token).await, StatusCode::CONFLICT).await;
    assert_eq!(app.get_json(&format!("/v1/tickets/{id}"), &agent.token).await["csat_rating"], 4);

    // Through the API too: a second ticket rated 2 by a survey tool's key.
    let key = app.api_key(&owner, "agent", &["tickets:read", "tickets:write"]).await;
    let t2 = app.create(&customer, json!({"subject": "Again"})).await;
    let id2 = t2["id"].as_str().unwrap();
    let r = app
        .patch(&format!("/v1/tickets/{id2}"), &json!({"assignee_id": agent.id, "status": "resolved"}), &owner.token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.post(&format!("/v1/tickets/{id2}/csat"), &json!({"rating": 2}), &key).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let events = app.messages("EVENTS", "events.ticket.csat.submitted", 2).await;
    assert_eq!(events[0].1["data"]["rating"], 4);
    assert_eq!(events[0].1["data"]["assignee_id"], agent.id);
    // The agent's rating (on their agent profile) is the average of their tickets' ratings.
    let r = app.put(&format!("/v1/agents/{}", agent.id), &json!({"role": "senior_support"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let profile = app.get_json(&format!("/v1/agents/{}", agent.id), &owner.token).await;
    assert_eq!((profile["rating"].as_f64(), profile["ratings_count"].as_i64()), (Some(3.0), Some(2)));
    app.stop().await;
}

#[tokio::test]
async fn time_entries_add_up_into_actual_hours() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let t = app.create(&customer, json!({"subject": "Long one"})).await;
    let id = t["id"].as_str().unwrap();
    let path = format!("/v1/tickets/{id}/time-entries");
    let r = app.post(&path, &json!({"minutes": 45, "note": "diagnosis"}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["user_id"], agent.id);
    assert_eq!(app.post(&path, &json!({"minutes": 30}), &owner.token).await.status(), StatusCode::CREATED);
    for bad in [json!({"minutes": 0}), json!({"minutes": 10081}), json!({"minutes": 5, "note": "x".repeat(1001)})] {
        assert_eq!(invalid_fields(app.post(&path, &bad, &agent.token).await).await.len(), 1, "{bad}");
    }
    assert_problem(app.post(&path, &json!({"minutes": 5}), &customer.token).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get(&path, &customer.token).await, StatusCode::FORBIDDEN).await;
    let ticket = app.get_json(&format!("/v1/tickets/{id}"), &agent.token).await;
    assert_eq!(ticket["actual_minutes"], 75);
    assert_eq!(ticket["actual_hours"], 1.25);
    let list = app.get_json(&path, &agent.token).await;
    assert_eq!(list["total_minutes"], 75);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    // The owner's entry is theirs to take back (or a manager's), not the agent's.
    let owners = list["data"][1]["id"].as_str().unwrap();
    assert_problem(app.delete(&format!("{path}/{owners}"), &agent.token).await, StatusCode::FORBIDDEN).await;
    let mine = first["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("{path}/{mine}"), &agent.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.delete(&format!("{path}/{mine}"), &agent.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_json(&format!("/v1/tickets/{id}"), &agent.token).await["actual_minutes"], 30);
    let history = app.get_json(&format!("/v1/tickets/{id}/history"), &agent.token).await;
    let totals: Vec<&Value> =
        history["data"].as_array().unwrap().iter().filter(|e| e["kind"] == "time").map(|e| &e["after"]).collect();
    assert_eq!(totals, [&json!(45), &json!(75), &json!(30)]);
    app.stop().await;
}
