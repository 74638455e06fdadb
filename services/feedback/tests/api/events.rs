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
    eventually("the board to appear from identity.org.created", || async {
        app.http.get(&url).send().await.unwrap().status() == reqwest::StatusCode::OK
    })
    .await;
    let name: String = sqlx::query_scalar("SELECT name FROM boards WHERE slug = $1")
        .bind(&owner.slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Acme Learnt");
    app.stop().await;
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake but signed";

#[tokio::test]
async fn categories_and_attachments_are_events() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let cat: Value = app.post("/v1/categories", &json!({"name": "UI"}), &owner.token).await.json().await.unwrap();
    let cid = cat["id"].as_str().unwrap();
    app.patch(&format!("/v1/categories/{cid}"), &json!({"color": "#ff0000"}), &owner.token).await;
    assert_eq!(app.delete(&format!("/v1/categories/{cid}"), &owner.token).await.status(), 204);
    let post = app.create(&owner, json!({"title": "Screenshots"})).await;
    let id = post["id"].as_str().unwrap();
    let a: Value = app.upload(id, &owner.token, PNG, "shot.png", "image/png").await.json().await.unwrap();
    let aid = a["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/feedback/{id}/attachments/{aid}"), &owner.token).await.status(), 204);

    let events = app.messages("EVENTS", "events.feedback.>", 6).await;
    let types: Vec<&str> = events.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "feedback.category.created",
            "feedback.category.updated",
            "feedback.category.deleted",
            "feedback.created",
            "feedback.attachment.created",
            "feedback.attachment.deleted",
        ]
    );
    let updated = &events[1].1;
    assert_eq!(updated["subject"], cid);
    assert_eq!(updated["data"]["category_id"], cid);
    assert_eq!(updated["data"]["color"], "#ff0000");
    assert_eq!(updated["data"]["organization_id"], owner.org.as_str());
    let created = &events[4].1["data"];
    assert_eq!(created["attachment_id"], aid);
    assert_eq!(created["feedback_id"], id);
    assert_eq!(created["filename"], "shot.png");
    assert_eq!(created["sha256"], a["sha256"]);
    assert_eq!(events[5].1["data"]["actor_id"], owner.id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_thread_tells_of_every_comment_and_file_removed() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Threads"})).await;
    let id = post["id"].as_str().unwrap();
    let path = format!("/v1/feedback/{id}/comments");
    let say = |content: &str, parent: Option<&Value>| {
        let body = match parent {
            Some(p) => json!({"content": content, "parent_id": p["id"]}),
            None => json!({"content": content}),
        };
        let (app, path, token) = (&app, path.clone(), owner.token.clone());
        async move { app.post(&path, &body, &token).await.json::<Value>().await.unwrap() }
    };
    let root = say("root", None).await;
    let reply = say("reply", Some(&root)).await;
    let deeper = say("deeper", Some(&reply)).await;
    let other = say("another thread", None).await;
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("r.png").mime_str("image/png").unwrap())
        .text("comment_id", reply["id"].as_str().unwrap().to_owned());
    let r = app.http.post(app.url(&format!("/v1/feedback/{id}/attachments"))).bearer_auth(&owner.token).multipart(form);
    let file: Value = r.send().await.unwrap().json().await.unwrap();

    let root_id = root["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("{path}/{root_id}"), &owner.token).await.status(), 204);
    let remaining = app.get_json(&path, &owner.token).await;
    assert_eq!(remaining["data"].as_array().unwrap().len(), 1);
    assert_eq!(remaining["data"][0]["id"], other["id"]);

    // created, 4 comments, 1 attachment, then 3 comment deletions and 1 attachment deletion.
    let events = app.messages("EVENTS", "events.feedback.>", 10).await;
    let deleted: Vec<&Value> =
        events.iter().filter(|(_, e)| e["type"] == "feedback.comment.deleted").map(|(_, e)| &e["data"]).collect();
    let ids: Vec<&Value> = deleted.iter().map(|d| &d["comment_id"]).collect();
    assert_eq!(ids, [&root["id"], &reply["id"], &deeper["id"]]);
    assert!(deleted.iter().all(|d| d["comment_count"] == 1), "the count after the delete: {deleted:?}");
    let gone = events.iter().find(|(_, e)| e["type"] == "feedback.attachment.deleted").unwrap();
    assert_eq!(gone.1["data"]["attachment_id"], file["id"]);
    app.stop().await;
}
