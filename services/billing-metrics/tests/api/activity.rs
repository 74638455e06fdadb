//! The activity log as an admin reads it: every event of the organization, newest first, by
//! actor, action (or family), resource and time; without what people wrote; another
//! organization's events never shown.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn every_event_is_in_the_log_filterable_and_private_to_its_organization() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let other = app.owner("eve@example.com", "Evil").await;
    let agent = Uuid::now_v7();
    let ticket = Uuid::now_v7();
    let mut created =
        event("ticket.created", owner.org, json!({"ticket_id": ticket, "subject": "My card 4242…", "actor_id": agent}));
    created.subject = Some(ticket.to_string());
    app.publish(&created).await;
    app.publish(&event(
        "ticket.comment.created",
        owner.org,
        json!({"ticket_id": ticket, "body": "secret words", "author_id": agent}),
    ))
    .await;
    app.publish(&event("feedback.created", other.org, json!({"title": "theirs"}))).await;
    app.publish(&event("inbox.message.received", owner.org, json!({"text": "hello"}))).await;

    let page = until_some("four of Acme's events", || async {
        let p = app.get_json("/v1/activity?action=ticket.*", &owner.token).await;
        (p["data"].as_array().unwrap().len() == 2).then_some(p)
    })
    .await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data[0]["action"], "ticket.comment.created");
    assert_eq!(data[0]["resource_type"], "ticket.comment");
    assert_eq!(data[0]["actor_id"], agent.to_string());
    assert_eq!(data[0]["metadata"], json!({"ticket_id": ticket, "author_id": agent}));
    assert_eq!(data[1]["resource_id"], ticket.to_string());
    assert!(!page.to_string().contains("4242") && !page.to_string().contains("secret words"));

    let by_actor = app.get_json(&format!("/v1/activity?actor={agent}"), &owner.token).await;
    assert_eq!(by_actor["data"].as_array().unwrap().len(), 2);
    let by_resource = app.get_json(&format!("/v1/activity?resource={ticket}"), &owner.token).await;
    assert_eq!(by_resource["data"].as_array().unwrap().len(), 1);
    let inbox = until_some("the inbox message", || async {
        let p = app.get_json("/v1/activity?action=inbox.message.received", &owner.token).await;
        (p["data"].as_array().unwrap().len() == 1).then_some(p)
    })
    .await;
    assert_eq!(inbox["data"][0]["metadata"], json!({}));
    // Paged: one at a time, the cursor goes on, never back.
    let first = app.get_json("/v1/activity?limit=1", &owner.token).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.get_json(&format!("/v1/activity?limit=1&cursor={cursor}"), &owner.token).await;
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    // Signup's identity events are in it too; none of Evil's.
    let all = app.get_json("/v1/activity?limit=200", &owner.token).await;
    assert!(all["data"].as_array().unwrap().iter().any(|e| e["action"] == "identity.org.created"));
    assert!(all["data"].as_array().unwrap().iter().all(|e| e["organization_id"] == owner.org.to_string()));
    let theirs = app.get_json("/v1/activity?action=feedback.created", &other.token).await;
    assert_eq!(theirs["data"].as_array().unwrap().len(), 1);

    for bad in [
        "/v1/activity?actor=nobody",
        "/v1/activity?limit=0",
        "/v1/activity?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let r = app.get(bad, &owner.token).await;
        assert!(matches!(r.status().as_u16(), 400 | 422), "{bad}: {}", r.status());
    }
    let agent_key = app.api_key(&owner, &["feedback:read"]).await;
    assert_problem(app.get("/v1/activity", &agent_key).await, StatusCode::FORBIDDEN).await;
    app.stop().await;
}

#[tokio::test]
async fn retention_deletes_activity_and_message_times_after_400_days_and_keeps_the_rest() {
    let app = spawn_app().await;
    let org = Uuid::now_v7();
    for (age, label) in [("401 days", "old"), ("399 days", "kept")] {
        sqlx::query(
            "INSERT INTO activity_logs (id, organization_id, action, resource_type, created_at) \
             VALUES ($1, $2, $3, 'ticket', now() - $4::interval)",
        )
        .bind(Uuid::now_v7())
        .bind(org)
        .bind(label)
        .bind(age)
        .execute(&app.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO inbox_messages (organization_id, message_id, conversation_id, at, inbound) \
             VALUES ($1, $2, $3, now() - $4::interval, $5)",
        )
        .bind(org)
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7())
        .bind(age)
        .bind(label == "kept")
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let deleted = billing_metrics::retention::rules(app.pool.clone()).run_once().await.unwrap();
    assert_eq!(deleted, 2, "one activity row and one message time");
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM activity_logs WHERE organization_id = $1")
        .bind(org)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(actions, ["kept"]);
    let inbound: Vec<bool> = sqlx::query_scalar("SELECT inbound FROM inbox_messages WHERE organization_id = $1")
        .bind(org)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(inbound, [true]);
    app.stop().await;
}
