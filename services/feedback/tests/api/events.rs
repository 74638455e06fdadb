use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn every_change_is_an_event_and_internal_text_never_leaves() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Webhooks for votes"})).await;
    let id = post["id"].as_str().unwrap();
    app.patch(&format!("/v1/feedback/{id}"), &json!({"priority": "high"}), &owner.token).await;
    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned", "note": "soon"}), &owner.token).await;
    app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "up"}), &owner.token).await;
    app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "down"}), &owner.token).await;
    app.delete(&format!("/v1/feedback/{id}/vote"), &owner.token).await;
    let c: Value = app
        .post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "public words"}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    let cid = c["id"].as_str().unwrap();
    app.patch(&format!("/v1/feedback/{id}/comments/{cid}"), &json!({"content": "better words"}), &owner.token).await;
    app.post(
        &format!("/v1/feedback/{id}/comments"),
        &json!({"content": "TOP SECRET NOTE", "is_internal": true}),
        &owner.token,
    )
    .await;
    app.delete(&format!("/v1/feedback/{id}/comments/{cid}"), &owner.token).await;
    let other = app.create(&owner, json!({"title": "Vote webhooks"})).await;
    app.post(&format!("/v1/feedback/{}/merge", other["id"].as_str().unwrap()), &json!({"into": id}), &owner.token)
        .await;
    app.delete(&format!("/v1/feedback/{id}"), &owner.token).await;

    let events = app.messages("EVENTS", "events.feedback.>", 13).await;
    assert_eq!(events.len(), 13, "{:?}", events.iter().map(|(_, e)| e["type"].clone()).collect::<Vec<_>>());
    let types: HashSet<&str> = events.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    for t in [
        "feedback.created",
        "feedback.updated",
        "feedback.status_changed",
        "feedback.merged",
        "feedback.deleted",
        "feedback.vote.created",
        "feedback.vote.changed",
        "feedback.vote.deleted",
        "feedback.comment.created",
        "feedback.comment.updated",
        "feedback.comment.deleted",
    ] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }
    for (msg_id, e) in &events {
        assert_eq!(e["id"].as_str().unwrap(), msg_id, "Nats-Msg-Id is the event id");
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["source"], "switchboard/feedback");
        assert_eq!(e["orgid"], owner.org.as_str());
        assert!(!e.to_string().contains("TOP SECRET NOTE"), "internal text leaked: {e}");
    }
    let status = events.iter().find(|(_, e)| e["type"] == "feedback.status_changed").unwrap();
    assert_eq!(status.1["data"]["status_before"], "open");
    assert_eq!(status.1["data"]["status"], "planned");
    assert_eq!(status.1["data"]["status_note"], "soon");
    let changed = events.iter().find(|(_, e)| e["type"] == "feedback.vote.changed").unwrap();
    assert_eq!(
        (changed.1["data"]["previous_type"].as_str(), changed.1["data"]["vote_type"].as_str()),
        (Some("up"), Some("down"))
    );
    let internal = events
        .iter()
        .find(|(_, e)| e["type"] == "feedback.comment.created" && e["data"]["is_internal"] == true)
        .unwrap();
    assert!(internal.1["data"]["content"].is_null());
    let merged = events.iter().find(|(_, e)| e["type"] == "feedback.merged").unwrap();
    assert_eq!(merged.1["data"]["target_id"], id);
    app.stop().await;
}

#[tokio::test]
async fn organizations_are_learnt_from_identity_events() {
    let app = spawn_app().await;
    // Only identity is told of this organization; feedback learns it from the stream.
    let owner = app.owner("ada@example.com", "Acme Learnt").await;
    let url = app.url(&format!("/v1/public/{}/feedback", owner.slug));
    let mut found = false;
    for _ in 0..50 {
        if app.http.get(&url).send().await.unwrap().status() == reqwest::StatusCode::OK {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "the board appeared from identity.org.created");
    let name: String = sqlx::query_scalar("SELECT name FROM boards WHERE slug = $1")
        .bind(&owner.slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Acme Learnt");
    app.stop().await;
}
