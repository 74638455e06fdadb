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

/// A mail server stand-in: speaks enough SMTP to accept messages and keeps what it got.
async fn smtp_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let kept = kept.clone();
            tokio::spawn(async move {
                let (r, mut w) = socket.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 stand-in ESMTP\r\n").await.unwrap();
                let mut transcript = String::new();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    transcript.push_str(&line);
                    transcript.push('\n');
                    let reply: &[u8] = if in_data {
                        if line == "." {
                            in_data = false;
                            b"250 queued\r\n"
                        } else {
                            continue;
                        }
                    } else if line.starts_with("EHLO") {
                        b"250-stand-in\r\n250 AUTH PLAIN\r\n"
                    } else if line.starts_with("AUTH PLAIN") {
                        b"235 ok\r\n"
                    } else if line == "DATA" {
                        in_data = true;
                        b"354 go on\r\n"
                    } else if line == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
                kept.lock().unwrap().push(transcript);
            });
        }
    });
    (port, got)
}

#[tokio::test]
async fn mail_is_sent_through_smtp_when_configured() {
    let (port, got) = smtp_server().await;
    let url = format!("smtp://mailer:s3cret@127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("DEV_MAILBOX", "false"),
        ("SMTP_URL", url.as_str()),
        ("MAIL_FROM", "Switchboard <no-reply@example.com>"),
    ])
    .await;
    app.owner("ada@example.com", "Acme").await;
    let mut transcript = String::new();
    for _ in 0..50 {
        if let Some(t) = got.lock().unwrap().first() {
            transcript = t.clone();
        }
        if !transcript.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(transcript.contains("MAIL FROM:<no-reply@example.com>"), "{transcript}");
    assert!(transcript.contains("RCPT TO:<ada@example.com>"));
    assert!(transcript.contains("AUTH PLAIN"));
    assert!(transcript.contains("Subject: Confirm your email address"));
    assert!(transcript.contains("verify-email?token="));
    app.stop();
}
