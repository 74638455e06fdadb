//! Merging tickets: the source becomes `merged`, comments and watchers follow, both histories
//! tell it, later replies land on the target.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, invalid_fields, spawn_app};

#[tokio::test]
async fn a_merged_ticket_moves_into_its_target() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let source = app.create(&customer, json!({"subject": "Cannot log in"})).await;
    let target = app.create(&customer, json!({"subject": "Login broken since Monday"})).await;
    let (sid, tid) = (source["id"].as_str().unwrap(), target["id"].as_str().unwrap());
    let r = app
        .post(&format!("/v1/tickets/{sid}/comments"), &json!({"body": "uniquewordmerged here"}), &customer.token)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.put(&format!("/v1/tickets/{sid}/watchers/{}", agent.id), &json!({}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // Customers do not merge; a ticket does not merge into itself.
    let r = app.post(&format!("/v1/tickets/{sid}/merge"), &json!({"target": tid}), &customer.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app.post(&format!("/v1/tickets/{sid}/merge"), &json!({"target": sid}), &agent.token).await;
    assert_eq!(invalid_fields(r).await, ["target"]);

    let r = app.post(&format!("/v1/tickets/{sid}/merge"), &json!({"target": target["number"]}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let merged: Value = r.json().await.unwrap();
    assert_eq!(merged["source"]["status"], "merged");
    assert_eq!(merged["source"]["merged_into_id"], target["id"]);
    assert_eq!(merged["target"]["id"], target["id"]);

    let moved = app.get_json(&format!("/v1/tickets/{tid}/comments"), &customer.token).await;
    assert_eq!(moved["data"][0]["body"], "uniquewordmerged here");
    assert_eq!(moved["data"][0]["merged_from_ticket_id"], source["id"]);
    assert!(app.get_json(&format!("/v1/tickets/{sid}/comments"), &agent.token).await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.get_json(&format!("/v1/tickets/{tid}/watchers"), &agent.token).await["data"][0]["user_id"],
        agent.id
    );
    // Search finds the moved words on the target; merged tickets leave the default list.
    let found = app.get_json("/v1/tickets?q=uniquewordmerged", &agent.token).await;
    let ids: Vec<&Value> = found["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&target["id"]]);
    let merged_list = app.get_json("/v1/tickets?status=merged", &agent.token).await;
    assert_eq!(merged_list["data"][0]["id"], source["id"]);

    let history = app.get_json(&format!("/v1/tickets/{sid}/history"), &agent.token).await;
    assert!(history["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "merged" && e["field"] == "merged_into_id"));
    let history = app.get_json(&format!("/v1/tickets/{tid}/history"), &agent.token).await;
    let entry = history["data"].as_array().unwrap().iter().find(|e| e["field"] == "merged_from").unwrap().clone();
    assert_eq!(entry["after"]["number"], source["number"]);

    // A reply to the merged ticket lands on the target.
    let r = app.post(&format!("/v1/tickets/{sid}/comments"), &json!({"body": "any news?"}), &customer.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let posted: Value = r.json().await.unwrap();
    assert_eq!(posted["ticket"]["id"], target["id"]);
    assert_eq!(posted["comment"]["ticket_id"], target["id"]);
    // It cannot merge again, nor change, nor be merged into.
    let other = app.create(&agent, json!({"subject": "Third"})).await;
    let oid = other["id"].as_str().unwrap();
    assert_problem(
        app.post(&format!("/v1/tickets/{sid}/merge"), &json!({"target": oid}), &agent.token).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_problem(
        app.post(&format!("/v1/tickets/{oid}/merge"), &json!({"target": sid}), &agent.token).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_problem(
        app.patch(&format!("/v1/tickets/{sid}"), &json!({"priority": "high"}), &agent.token).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(app.get_json(&format!("/v1/tickets/{oid}"), &agent.token).await["status"], "open");

    let events = app.messages("EVENTS", "events.ticket.merged", 1).await;
    assert_eq!(events[0].1["data"]["source_id"], source["id"]);
    assert_eq!(events[0].1["data"]["target_number"], target["number"]);
    // The target cannot be deleted while it carries a merged ticket.
    assert_problem(app.delete(&format!("/v1/tickets/{tid}"), &owner.token).await, StatusCode::CONFLICT).await;
    app.stop().await;
}
