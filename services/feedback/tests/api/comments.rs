use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn threaded_comments_with_internal_notes() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "cust@example.com", "customer").await;
    let post = app.create(&customer, json!({"title": "Calendar sync"})).await;
    let id = post["id"].as_str().unwrap();
    let path = format!("/v1/feedback/{id}/comments");

    let r = app.post(&path, &json!({"content": "Would love this"}), &customer.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["is_official"], false);
    let reply: Value = app
        .post(&path, &json!({"content": "On our list", "parent_id": first["id"]}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reply["parent_id"], first["id"]);
    assert_eq!(reply["is_official"], true);
    let note: Value = app
        .post(&path, &json!({"content": "Needs API work", "is_internal": true}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(note["is_internal"], true);
    // A reply to an internal note stays internal.
    let inner: Value = app
        .post(&path, &json!({"content": "Agreed", "parent_id": note["id"]}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inner["is_internal"], true);

    assert_problem(
        app.post(&path, &json!({"content": "sneaky", "is_internal": true}), &customer.token).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let r = app.post(&path, &json!({"content": "reply", "parent_id": note["id"]}), &customer.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_problem(
        app.post(&path, &json!({"content": "   "}), &customer.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let seen = app.get_json(&path, &customer.token).await;
    assert_eq!(seen["data"].as_array().unwrap().len(), 2, "customers never see internal notes");
    assert_eq!(app.get_json(&path, &owner.token).await["data"].as_array().unwrap().len(), 4);
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await["comment_count"], 2);

    // Edits by the author only, marked; deletes by the author or a manager, with replies.
    let cid = first["id"].as_str().unwrap();
    let r = app.patch(&format!("{path}/{cid}"), &json!({"content": "Would really love this"}), &customer.token).await;
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["is_edited"], true);
    assert!(edited["edited_at"].is_string());
    assert_problem(
        app.patch(&format!("{path}/{cid}"), &json!({"content": "x"}), &owner.token).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let nid = note["id"].as_str().unwrap();
    assert_problem(app.delete(&format!("{path}/{nid}"), &customer.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.delete(&format!("{path}/{cid}"), &owner.token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await["comment_count"], 0);
    assert_eq!(app.get_json(&path, &owner.token).await["data"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn official_answers_notify_subscribers() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "cust@example.com", "customer").await;
    let other = app.member(&owner, "other@example.com", "customer").await;
    let post = app.create(&customer, json!({"title": "SSO login"})).await;
    let id = post["id"].as_str().unwrap();
    // Commenting subscribes (the board's default), as does asking to.
    app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "+1"}), &other.token).await;
    app.post(
        &format!("/v1/feedback/{id}/comments"),
        &json!({"content": "internal", "is_internal": true}),
        &owner.token,
    )
    .await;
    // The official answer is the marker: had the note notified anyone, it would come first.
    app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "Shipping next week"}), &owner.token).await;
    let notes = app.notifications_until(|n| n["data"]["body"] == "Shipping next week").await;
    assert_eq!(notes.len(), 1, "internal notes notify no one: {notes:?}");
    let mut recipients: Vec<String> =
        notes[0]["data"]["recipients"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
    recipients.sort();
    let mut expected = vec![customer.id.clone(), other.id.clone()];
    expected.sort();
    assert_eq!(recipients, expected);
    assert_eq!(notes[0]["data"]["body"], "Shipping next week");
    app.stop().await;
}
