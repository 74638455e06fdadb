//! Internal notes: agents see them; customers never do, in any endpoint or event.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

#[tokio::test]
async fn customers_never_see_notes_anywhere() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let t = app.create(&customer, json!({"subject": "Refund please", "description": "Charged twice"})).await;
    let id = t["id"].as_str().unwrap();
    let note = app
        .post(
            &format!("/v1/tickets/{id}/comments"),
            &json!({"body": "Customer is a known zanzibarfraud case", "is_internal": true}),
            &agent.token,
        )
        .await;
    assert_eq!(note.status(), StatusCode::CREATED);
    let note: Value = note.json().await.unwrap();
    let note_id = note["comment"]["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "Refund on its way"}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // A customer cannot write notes.
    let r = app
        .post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "x", "is_internal": true}), &customer.token)
        .await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    // A file on the note.
    let part = reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("evidence.png").mime_str("image/png").unwrap();
    let form = reqwest::multipart::Form::new().part("file", part).text("comment_id", note_id.clone());
    let r = app
        .http
        .post(app.url(&format!("/v1/tickets/{id}/attachments")))
        .bearer_auth(&agent.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let file: Value = r.json().await.unwrap();

    // Agents see it all.
    let all = app.get_json(&format!("/v1/tickets/{id}/comments"), &agent.token).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let found = app.get_json("/v1/tickets?q=zanzibarfraud", &agent.token).await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_json(&format!("/v1/tickets/{id}/attachments"), &agent.token).await["data"].as_array().unwrap().len(),
        1
    );

    // The customer sees the reply only.
    let theirs = app.get_json(&format!("/v1/tickets/{id}/comments"), &customer.token).await;
    let bodies: Vec<&str> = theirs["data"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Refund on its way"]);
    assert!(app.get_json("/v1/tickets?q=zanzibarfraud", &customer.token).await["data"].as_array().unwrap().is_empty());
    assert_eq!(app.get_json("/v1/tickets?q=refund", &customer.token).await["data"].as_array().unwrap().len(), 1);
    assert!(app.get_json(&format!("/v1/tickets/{id}/attachments"), &customer.token).await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    let file_path = format!("/v1/tickets/{id}/attachments/{}", file["id"].as_str().unwrap());
    assert_problem(app.get(&file_path, &customer.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get(&file_path, &agent.token).await.status(), StatusCode::OK);
    let history = app.get_json(&format!("/v1/tickets/{id}/history"), &customer.token).await;
    let text = history.to_string();
    assert!(!text.contains(&note_id), "{text}");
    assert!(!text.contains("zanzibarfraud"));
    let agents_history = app.get_json(&format!("/v1/tickets/{id}/history"), &agent.token).await.to_string();
    assert!(agents_history.contains(&note_id));
    assert!(!agents_history.contains("zanzibarfraud"), "history records the note, not its words");

    // Events say a note was written, never what it says.
    let events = app.messages("EVENTS", "events.ticket.comment.created", 2).await;
    let (notes, replies): (Vec<&Value>, Vec<&Value>) =
        events.iter().map(|(_, e)| &e["data"]).partition(|d| d["is_internal"] == true);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["body"], Value::Null);
    assert_eq!(replies[0]["body"], "Refund on its way");
    let everything = app.messages("EVENTS", "events.ticket.>", 3).await;
    assert!(!serde_json::to_string(&everything).unwrap().contains("zanzibarfraud"));
    app.stop().await;
}

#[tokio::test]
async fn watchers_and_the_assignee_are_notified_of_replies_and_notes() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let watcher = app.member(&owner, "watcher@example.com", "agent").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let t = app.create(&owner, json!({"subject": "Notify", "assignee_id": agent.id})).await;
    let id = t["id"].as_str().unwrap();
    let assigned = app.notifications(1).await;
    assert_eq!(assigned[0]["data"]["recipients"], json!([agent.id]));
    assert_eq!(assigned[0]["data"]["reason"], "ticket.assigned");
    let r = app.put(&format!("/v1/tickets/{id}/watchers/{}", watcher.id), &json!({}), &watcher.token).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Only managers add someone else, and only agents.
    let r = app.put(&format!("/v1/tickets/{id}/watchers/{}", owner.id), &json!({}), &watcher.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app.put(&format!("/v1/tickets/{id}/watchers/{}", customer.id), &json!({}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let list = app.get_json(&format!("/v1/tickets/{id}/watchers"), &agent.token).await;
    assert_eq!(list["data"][0]["user_id"], watcher.id);
    let r = app
        .post(
            &format!("/v1/tickets/{id}/comments"),
            &json!({"body": "check the logs", "is_internal": true}),
            &owner.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let n = app.notifications(1).await;
    let mut recipients: Vec<String> = serde_json::from_value(n[0]["data"]["recipients"].clone()).unwrap();
    recipients.sort();
    let mut expected = vec![agent.id.clone(), watcher.id.clone()];
    expected.sort();
    assert_eq!(recipients, expected);
    assert_eq!(n[0]["data"]["reason"], "ticket.comment.created");
    // The one who acts is not told about it.
    let r = app.post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "done"}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.notifications(1).await[0]["data"]["recipients"], json!([watcher.id]));
    assert_eq!(
        app.delete(&format!("/v1/tickets/{id}/watchers/{}", watcher.id), &watcher.token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.get_json(&format!("/v1/tickets/{id}/watchers"), &agent.token).await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    app.stop().await;
}
