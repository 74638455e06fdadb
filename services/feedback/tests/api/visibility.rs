//! The one visibility rule, through every route that reads a post: an API key is never the
//! author of anything, and staff status is what identity says when a notification is made.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake but signed";

#[tokio::test]
async fn a_customer_api_key_never_sees_another_keys_private_post() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let writer = app.api_key(&owner, "agent", &["feedback:*"]).await;
    let customer_key = app.api_key(&owner, "customer", &["feedback:read", "feedback:write"]).await;
    let customer = app.member(&owner, "cust@example.com", "customer").await;

    let r =
        app.post("/v1/feedback", &json!({"title": "Private roadmap of the key", "is_public": false}), &writer).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let post: Value = r.json().await.unwrap();
    assert!(post["author_id"].is_null(), "an API key is nobody");
    let id = post["id"].as_str().unwrap();
    let r = app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "key's words"}), &writer).await;
    let comment: Value = r.json().await.unwrap();
    let cid = comment["id"].as_str().unwrap();
    let file: Value = app.upload(id, &writer, PNG, "plan.png", "image/png").await.json().await.unwrap();
    let aid = file["id"].as_str().unwrap();

    for token in [customer_key.as_str(), customer.token.as_str()] {
        for r in [
            app.get(&format!("/v1/feedback/{id}"), token).await,
            app.get(&format!("/v1/feedback/{id}/comments"), token).await,
            app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "hi"}), token).await,
            app.patch(&format!("/v1/feedback/{id}/comments/{cid}"), &json!({"content": "mine now"}), token).await,
            app.delete(&format!("/v1/feedback/{id}/comments/{cid}"), token).await,
            app.get(&format!("/v1/feedback/{id}/attachments"), token).await,
            app.get(&format!("/v1/feedback/{id}/attachments/{aid}"), token).await,
            app.delete(&format!("/v1/feedback/{id}/attachments/{aid}"), token).await,
            app.upload(id, token, PNG, "more.png", "image/png").await,
            app.patch(&format!("/v1/feedback/{id}"), &json!({"title": "Taken over"}), token).await,
            app.delete(&format!("/v1/feedback/{id}"), token).await,
        ] {
            assert_problem(r, StatusCode::NOT_FOUND).await;
        }
        let list = app.get_json("/v1/feedback", token).await;
        assert!(list["data"].as_array().unwrap().is_empty(), "{list}");
        let found = app.get_json("/v1/feedback?q=roadmap", token).await;
        assert!(found["data"].as_array().unwrap().is_empty(), "{found}");
        let similar = app.get_json("/v1/feedback/similar?title=private%20roadmap", token).await;
        assert!(similar["data"].as_array().unwrap().is_empty(), "{similar}");
    }
    // A user may follow and vote only on what they see.
    let r = app.put(&format!("/v1/feedback/{id}/subscription"), &json!({}), &customer.token).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let r = app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "up"}), &customer.token).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    // Staff (a signed-in owner, an agent key) still see all of it; nothing was changed.
    for token in [owner.token.as_str(), writer.as_str()] {
        assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), token).await["title"], "Private roadmap of the key");
        assert_eq!(
            app.get_json(&format!("/v1/feedback/{id}/comments"), token).await["data"][0]["content"],
            "key's words"
        );
        assert_eq!(app.get(&format!("/v1/feedback/{id}/attachments/{aid}"), token).await.status(), StatusCode::OK);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_demoted_agent_stops_hearing_of_private_posts() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let author = app.member(&owner, "author@example.com", "customer").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let post = app.create(&author, json!({"title": "Private request", "is_public": false})).await;
    let id = post["id"].as_str().unwrap();
    let r = app.put(&format!("/v1/feedback/{id}/subscription"), &json!({}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let recipients = |n: &Value| {
        let mut r: Vec<String> =
            n["data"]["recipients"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
        r.sort();
        r
    };

    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned"}), &owner.token).await;
    let notes = app.notifications(1).await;
    let mut both = vec![author.id.clone(), agent.id.clone()];
    both.sort();
    assert_eq!(recipients(&notes[0]), both);

    app.change_role(&owner, &agent, "customer").await;
    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "in_progress"}), &owner.token).await;
    app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "Started on it"}), &owner.token).await;
    let notes = app.notifications(2).await;
    assert_eq!(notes[0]["data"]["reason"], "feedback.status_changed");
    assert_eq!(recipients(&notes[0]), [author.id.as_str()], "the demoted member is told nothing private");
    assert_eq!(notes[1]["data"]["reason"], "feedback.comment.created");
    assert_eq!(recipients(&notes[1]), [author.id.as_str()]);

    // Promoted again, they hear again: the decision is made at each notification.
    app.change_role(&owner, &agent, "manager").await;
    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "completed"}), &owner.token).await;
    assert_eq!(recipients(&app.notifications(1).await[0]), both);
    app.stop().await;
}

#[tokio::test]
async fn private_notifications_fail_closed_when_identity_cannot_say_who_is_staff() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let author = app.member(&owner, "author@example.com", "customer").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let post = app.create(&author, json!({"title": "Private request", "is_public": false})).await;
    let id = post["id"].as_str().unwrap();
    app.put(&format!("/v1/feedback/{id}/subscription"), &json!({}), &agent.token).await;
    // While identity answers, the agent hears of it (and the owner's credential is cached).
    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned"}), &owner.token).await;
    assert_eq!(app.notifications(1).await[0]["data"]["recipients"].as_array().unwrap().len(), 2);

    app.stop_identity().await;
    let r = app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "in_progress"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK, "the change itself does not wait for identity");
    let notes = app.notifications(1).await;
    assert_eq!(notes[0]["data"]["recipients"], json!([author.id]), "only the author, whose access is not a role");
    app.stop().await;
}
