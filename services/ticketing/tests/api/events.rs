//! `ticket.*` events through the outbox: what webhook consumers are told of each change.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn of_type<'a>(events: &'a [(String, Value)], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|(_, e)| e["type"] == t).map(|(_, e)| &e["data"]).collect()
}

#[tokio::test]
async fn each_change_is_an_event_naming_what_changed() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let t = app.create(&owner, json!({"subject": "Evented", "tags": ["a"]})).await;
    let id = t["id"].as_str().unwrap();
    let r =
        app.patch(&format!("/v1/tickets/{id}"), &json!({"priority": "high", "tags": ["a", "b"]}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The same values again change nothing, and say nothing.
    let r = app.patch(&format!("/v1/tickets/{id}"), &json!({"priority": "high"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .patch(&format!("/v1/tickets/{id}"), &json!({"assignee_id": agent.id, "status": "in_progress"}), &owner.token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "On it"}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let events = app.messages("EVENTS", "events.ticket.>", 6).await;
    let envelope = &events[0].1;
    assert_eq!(envelope["source"], "switchboard/ticketing");
    assert_eq!(envelope["subject"], t["id"]);
    assert_eq!(envelope["orgid"], owner.org);
    let created = of_type(&events, "ticket.created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["number"], t["number"]);
    assert_eq!(created[0]["actor_id"], owner.id);
    let updated = of_type(&events, "ticket.updated");
    let changed: Vec<&Value> = updated.iter().map(|d| &d["changed"]).collect();
    assert_eq!(changed, [&json!(["priority", "tags"]), &json!(["status", "assignee_id"])]);
    let moved = of_type(&events, "ticket.status_changed");
    assert_eq!((moved[0]["status_before"].as_str(), moved[0]["status"].as_str()), (Some("open"), Some("in_progress")));
    let assigned = of_type(&events, "ticket.assigned");
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0]["assignee_id"], agent.id);
    let comments = of_type(&events, "ticket.comment.created");
    assert_eq!(comments[0]["author_kind"], "agent");
    assert_eq!(comments[0]["body"], "On it");
    app.stop().await;
}

#[tokio::test]
async fn the_document_describes_every_ticket_route() {
    let app = spawn_app().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/tickets", &["get", "post"][..]),
        ("/v1/tickets/settings", &["get", "put"]),
        ("/v1/tickets/{id}", &["get", "patch", "delete"]),
        ("/v1/tickets/{id}/comments", &["get", "post"]),
        ("/v1/tickets/{id}/history", &["get"]),
        ("/v1/tickets/{id}/attachments", &["get", "post"]),
        ("/v1/tickets/{id}/attachments/{attachment_id}", &["get", "delete"]),
        ("/v1/tickets/{id}/time-entries", &["get", "post"]),
        ("/v1/tickets/{id}/time-entries/{entry_id}", &["delete"]),
        ("/v1/tickets/{id}/watchers", &["get"]),
        ("/v1/tickets/{id}/watchers/{user_id}", &["put", "delete"]),
        ("/v1/tickets/{id}/csat", &["post"]),
        ("/v1/tickets/{id}/merge", &["post"]),
    ] {
        for m in methods {
            let op = &paths[path][*m];
            assert!(op.is_object(), "{m} {path}");
            assert!(op["responses"]["401"].is_object(), "{m} {path} documents 401");
        }
    }
    let conflict = &paths["/v1/tickets/{id}"]["patch"]["responses"]["409"];
    assert!(conflict["description"].as_str().unwrap().contains("status"));
    app.stop().await;
}
