use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn notification_commands_become_each_recipients_notifications() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let other = app.owner("bob@example.com", "Bobs").await;
    for i in 0..3 {
        app.command(
            "notify.send",
            Some(owner.org),
            proto::events::NotifySend {
                organization_id: owner.org,
                recipients: vec![owner.id],
                title: format!("Update {i}"),
                body: "Status changed".into(),
                link: Some("http://127.0.0.1:8080/feedback/1".into()),
                reason: "feedback.status_changed".into(),
            },
        )
        .await;
    }
    let mut list = Value::Null;
    for _ in 0..50 {
        list = app.get_json("/v1/notifications", &owner.token).await;
        if list["data"].as_array().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["title"], "Update 2", "newest first");
    assert_eq!(app.get_json("/v1/notifications/unread-count", &owner.token).await["unread"], 3);
    let oldest = data[2]["id"].as_str().unwrap();
    let r = app.post(&format!("/v1/notifications/{oldest}/read"), &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list = app.get_json("/v1/notifications?limit=2", &owner.token).await;
    assert!(list["data"].as_array().unwrap().iter().all(|n| n["read_at"].is_null()), "unread first");
    let next = list["next_cursor"].as_str().unwrap();
    let rest = app.get_json(&format!("/v1/notifications?limit=2&cursor={next}"), &owner.token).await;
    assert_eq!(rest["data"][0]["id"], oldest);
    assert_eq!(app.get_json("/v1/notifications/unread-count", &owner.token).await["unread"], 2);
    // Another user's notifications are theirs alone.
    assert!(app.get_json("/v1/notifications", &other.token).await["data"].as_array().unwrap().is_empty());
    let r = app.post(&format!("/v1/notifications/{oldest}/read"), &json!({}), &other.token).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    app.post("/v1/notifications/read-all", &json!({}), &owner.token).await;
    assert_eq!(app.get_json("/v1/notifications/unread-count", &owner.token).await["unread"], 0);
    app.stop();
}

#[tokio::test]
async fn identitys_mail_lands_in_the_development_mailbox() {
    let app = spawn_app().await;
    // A real sign-up: identity sends the verification mail on its command stream.
    app.owner("ada@example.com", "Acme").await;
    let mut mails = Value::Null;
    for _ in 0..50 {
        mails = app.http.get(app.url("/v1/dev/mailbox?to=ada@example.com")).send().await.unwrap().json().await.unwrap();
        if !mails["data"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mail = &mails["data"][0];
    assert_eq!(mail["template"], "email_verification");
    assert!(mail["link"].as_str().unwrap().contains("token="));
    app.stop();
}

#[tokio::test]
async fn the_mailbox_is_closed_outside_development() {
    let app = spawn_app_with(&[("DEV_MAILBOX", "false")]).await;
    let r = app.http.get(app.url("/v1/dev/mailbox")).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    app.stop();
}
