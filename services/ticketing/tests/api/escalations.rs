//! Escalations: opened by hand, worked through pending → assigned → in_progress → resolved with
//! its owner notified and its wait time measured; rejections change nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, invalid_fields, spawn_app};

#[tokio::test]
async fn an_escalation_is_worked_from_pending_to_resolved() {
    let app = spawn_app().await;
    let owner = app.owner("owner@escalate.test", "Escalate").await;
    let ann = app.member(&owner, "ann@escalate.test", "agent").await;
    let t = app.create(&owner, json!({"subject": "Angry customer"})).await;
    let r = app
        .post(
            "/v1/escalations",
            &json!({"ticket_id": t["id"], "reason": "customer_request", "priority": "urgent",
                "summary": "Wants a manager"}),
            &owner.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let e: Value = r.json().await.unwrap();
    assert_eq!((e["status"].clone(), e["origin"].clone()), (json!("pending"), json!("manual")));
    assert!(e["wait_seconds"].is_null() && e["assignee_id"].is_null());
    assert_eq!(e["created_by"], owner.id.as_str());
    let path = format!("/v1/escalations/{}", e["id"].as_str().unwrap());

    // Skipping a step is refused, naming the way forward.
    let r = app.patch(&path, &json!({"status": "resolved"}), &owner.token).await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("allowed: assigned"), "{problem}");
    let r = app.patch(&path, &json!({"status": "assigned"}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["assignee_id"]);

    // Giving it an owner assigns it, measures the wait and tells the owner.
    let r = app.patch(&path, &json!({"assignee_id": ann.id}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let assigned: Value = r.json().await.unwrap();
    assert_eq!(assigned["status"], "assigned");
    assert!(assigned["wait_seconds"].as_i64().unwrap() >= 0);
    assert!(assigned["assigned_at"].is_string());
    let notes = app.notifications_until(|n| n["data"]["reason"] == "ticket.escalated").await;
    let note = notes.last().unwrap();
    assert_eq!(note["data"]["recipients"], json!([ann.id]));
    assert!(note["data"]["link"].as_str().unwrap().ends_with(&format!("/escalations/{}", e["id"].as_str().unwrap())));

    let r = app.patch(&path, &json!({"status": "in_progress"}), &ann.token).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "in_progress");
    let r = app.patch(&path, &json!({"status": "resolved", "summary": "Refunded"}), &ann.token).await;
    let resolved: Value = r.json().await.unwrap();
    assert_eq!((resolved["status"].clone(), resolved["summary"].clone()), (json!("resolved"), json!("Refunded")));
    assert!(resolved["resolved_at"].is_string());
    assert_eq!(resolved["wait_seconds"], assigned["wait_seconds"]);
    let r = app.patch(&path, &json!({"status": "in_progress"}), &owner.token).await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("allowed: none"), "{problem}");

    // It was announced once, with the ticket it is about.
    let events = app.messages("EVENTS", "events.ticket.escalated", 1).await;
    assert_eq!(events.len(), 1);
    let data = &events[0].1["data"];
    assert_eq!((data["ticket_id"].clone(), data["reason"].clone()), (t["id"].clone(), json!("customer_request")));
    assert_eq!((data["priority"].clone(), data["origin"].clone()), (json!("urgent"), json!("manual")));

    // The list filters.
    let list = app.get_json(&format!("/v1/escalations?ticket_id={}", t["id"].as_str().unwrap()), &ann.token).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let list = app.get_json("/v1/escalations?status=pending", &ann.token).await;
    assert_eq!(list["data"], json!([]));
    let list = app.get_json(&format!("/v1/escalations?status=resolved&assignee_id={}", ann.id), &ann.token).await;
    assert_eq!(list["data"][0]["id"], e["id"]);
    app.stop().await;
}

#[tokio::test]
async fn escalations_refuse_bad_input_strangers_and_customers() {
    let app = spawn_app().await;
    let owner = app.owner("owner@refuse.test", "Refuse").await;
    let carl = app.member(&owner, "carl@refuse.test", "customer").await;
    let other = app.owner("owner@stranger.test", "Stranger").await;
    let foreign = app.create(&other, json!({"subject": "Not yours"})).await;

    let r = app.post("/v1/escalations", &json!({"reason": "because"}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["reason"]);
    let long = "x".repeat(5001);
    let r = app.post("/v1/escalations", &json!({"reason": "other", "summary": long}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["summary"]);
    let r = app.post("/v1/escalations", &json!({"reason": "other", "assignee_id": carl.id}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["assignee_id"]);
    let r = app
        .post(
            "/v1/escalations",
            &json!({"reason": "other", "ticket_id": foreign["id"], "customer_id": uuid::Uuid::new_v4()}),
            &owner.token,
        )
        .await;
    assert_eq!(invalid_fields(r).await, ["ticket_id", "customer_id"]);
    let r = app.get("/v1/escalations?status=open&origin=magic&limit=500", &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["status", "origin", "limit"]);
    // Nothing was opened.
    assert_eq!(app.get_json("/v1/escalations", &owner.token).await["data"], json!([]));

    // Customers neither open nor read them.
    assert_problem(app.post("/v1/escalations", &json!({"reason": "other"}), &carl.token).await, StatusCode::FORBIDDEN)
        .await;
    assert_problem(app.get("/v1/escalations", &carl.token).await, StatusCode::FORBIDDEN).await;

    // Another organization's escalation is not found.
    let r = app.post("/v1/escalations", &json!({"reason": "other", "ticket_id": foreign["id"]}), &other.token).await;
    let theirs: Value = r.json().await.unwrap();
    let path = format!("/v1/escalations/{}", theirs["id"].as_str().unwrap());
    assert_problem(app.get(&path, &owner.token).await, StatusCode::NOT_FOUND).await;
    let r = app.patch(&path, &json!({"priority": "low"}), &owner.token).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let r = app.patch(&path, &json!({"status": "done"}), &other.token).await;
    assert_eq!(invalid_fields(r).await, ["status"]);
    assert_eq!(app.get_json(&path, &other.token).await, theirs);
    app.stop().await;
}
