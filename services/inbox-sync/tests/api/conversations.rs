//! Conversations as agents work them: assigned only to members who may answer (asked of
//! identity), unassigned, filtered by assignee, closed and reopened by the customer's next
//! message, marked read.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_conversation_is_assigned_only_to_a_member_and_reopens_when_the_customer_writes() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let stranger = app.owner("eve@example.com", "Elsewhere").await;
    app.connect_whatsapp(&owner).await;
    let body = fixture("whatsapp/inbound_text.json");
    let signature = manifest_header("whatsapp/inbound_text.json", "X-Hub-Signature-256");
    assert_eq!(app.meta("/webhooks/whatsapp", &body, Some(&signature)).await.status(), StatusCode::OK);
    let list = app.get_json("/v1/conversations", &owner.token).await;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/conversations/{id}");
    let patch = |v: Value| {
        let (app, path, token) = (&app, &path, owner.token.clone());
        async move { app.http.patch(app.url(path)).bearer_auth(token).json(&v).send().await.unwrap() }
    };

    // Nobody of this organization, or a member of another: refused, naming the field.
    for user in [uuid::Uuid::new_v4().to_string(), stranger.id.clone()] {
        let p = assert_problem(patch(json!({ "assignee_id": user })).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["field"], "assignee_id", "{p}");
    }
    assert_eq!(app.get_json(&path, &owner.token).await["assignee_id"], Value::Null);

    let r = patch(json!({"assignee_id": owner.id, "status": "closed"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let c: Value = r.json().await.unwrap();
    assert_eq!((c["assignee_id"].as_str(), c["status"].as_str()), (Some(owner.id.as_str()), Some("closed")));
    let mine = app.get_json(&format!("/v1/conversations?assignee={}", owner.id), &owner.token).await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get_json("/v1/conversations?assignee=none", &owner.token).await["data"], json!([]));

    // The customer writes again: open again, one more unread.
    let mut next: Value = serde_json::from_slice(&body).unwrap();
    next["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = json!("wamid.NEXT");
    let next = serde_json::to_vec(&next).unwrap();
    assert_eq!(app.meta("/webhooks/whatsapp", &next, Some(&sign(&next))).await.status(), StatusCode::OK);
    let c = app.get_json(&path, &owner.token).await;
    assert_eq!((c["status"].as_str(), c["unread_count"].as_i64()), (Some("open"), Some(2)));
    let updates = app.messages("EVENTS", "events.inbox.conversation.updated", 2).await;
    let changed: Vec<Value> = updates.iter().map(|e| e["data"]["changed"].clone()).collect();
    assert_eq!(changed, [json!(["status", "assignee_id"]), json!(["status"])]);

    let r = app.post(&format!("{path}/read"), &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get_json(&path, &owner.token).await["unread_count"], 0);
    let r = patch(json!({"assignee_id": null})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["assignee_id"], Value::Null);
    app.stop().await;
}
