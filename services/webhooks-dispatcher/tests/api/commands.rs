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
    let list = eventually("three notifications", || async {
        let list = app.get_json("/v1/notifications", &owner.token).await;
        (list["data"].as_array().unwrap().len() == 3).then_some(list)
    })
    .await;
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
    let mails = eventually("the verification mail", || async {
        let mails: Value =
            app.http.get(app.url("/v1/dev/mailbox?to=ada@example.com")).send().await.unwrap().json().await.unwrap();
        (!mails["data"].as_array().unwrap().is_empty()).then_some(mails)
    })
    .await;
    let mail = &mails["data"][0];
    assert_eq!(mail["template"], "email_verification");
    assert!(mail["link"].as_str().unwrap().contains("token="));
    // A NUL in the filter is refused naming it, not a database error.
    let r = app.http.get(app.url("/v1/dev/mailbox?to=ada%00@example.com")).send().await.unwrap();
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "to", "{problem}");
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
    let (port, got, _) = slow_smtp_server(None).await;
    (port, got)
}

/// Holds each connection's greeting until `hold` is released (`None`: greets at once); counts
/// the connections it has open.
async fn slow_smtp_server(
    hold: Option<tokio::sync::watch::Receiver<bool>>,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (kept, opened) = (got.clone(), open.clone());
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let kept = kept.clone();
            let mut hold = hold.clone();
            opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                if let Some(hold) = hold.as_mut() {
                    let _ = hold.wait_for(|released| *released).await;
                }
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
    (port, got, open)
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
    let transcript = eventually("the mail at the SMTP server", || async { got.lock().unwrap().first().cloned() }).await;
    assert!(transcript.contains("MAIL FROM:<no-reply@example.com>"), "{transcript}");
    assert!(transcript.contains("RCPT TO:<ada@example.com>"));
    assert!(transcript.contains("AUTH PLAIN"));
    assert!(transcript.contains("Subject: Confirm your email address"));
    assert!(transcript.contains("verify-email?token="));
    // Sent, so no longer queued: the row goes once the server has taken the mail, which the
    // stand-in records at QUIT, so the delete may land just after.
    let pool = app.pool.clone();
    eventually("the sent mail to leave the queue", || {
        let pool = pool.clone();
        async move {
            let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outgoing_mail").fetch_one(&pool).await.unwrap();
            (queued == 0).then_some(())
        }
    })
    .await;
    app.stop();
}

fn mail(to: &str) -> proto::events::MailSend {
    proto::events::MailSend {
        to: to.into(),
        template: "password_reset".into(),
        subject: "Reset your password".into(),
        link: Some("http://127.0.0.1:8080/reset?token=t".into()),
        link_expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        variables: Default::default(),
    }
}

#[tokio::test]
async fn a_slow_mail_server_holds_no_database_connection() {
    let (release, hold) = tokio::sync::watch::channel(false);
    let (port, got, open) = slow_smtp_server(Some(hold)).await;
    let url = format!("smtp://127.0.0.1:{port}");
    // Fewer connections than mails in flight: holding one per mail would starve the API.
    let app = spawn_app_with(&[
        ("DEV_MAILBOX", "false"),
        ("SMTP_URL", url.as_str()),
        ("DATABASE_MAX_CONNECTIONS", "4"),
        ("MAIL_CONCURRENCY", "8"),
    ])
    .await;
    let owner = app.owner("ada@example.com", "Acme").await;
    for i in 0..8 {
        app.command("mail.send", Some(owner.org), mail(&format!("user{i}@example.com"))).await;
    }
    // The verification mail of the sign-up as well: nine conversations, eight at once.
    eventually("eight SMTP conversations waiting", || async {
        (open.load(std::sync::atomic::Ordering::SeqCst) >= 8).then_some(())
    })
    .await;
    for _ in 0..10 {
        let started = std::time::Instant::now();
        let r = app.http.get(app.url("/v1/webhooks")).bearer_auth(&owner.token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "answered in {:?}", started.elapsed());
    }
    assert!(got.lock().unwrap().is_empty(), "the mails were still in flight");
    release.send(true).unwrap();
    eventually("every mail sent", || async { (got.lock().unwrap().len() == 9).then_some(()) }).await;
    app.stop();
}

#[tokio::test]
async fn a_mail_the_server_refuses_is_retried_then_parked_to_expire_with_its_link() {
    // Nothing listens on this port: every attempt fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("smtp://127.0.0.1:{closed}");
    let app = spawn_app_with(&[("DEV_MAILBOX", "false"), ("SMTP_URL", url.as_str()), ("MAIL_MAX_ATTEMPTS", "2")]).await;
    let expires = chrono::Utc::now() + chrono::Duration::minutes(30);
    let mut m = mail("ada@example.com");
    m.link_expires_at = Some(expires);
    app.command("mail.send", None, m).await;
    let (error, parked_expires): (String, Option<chrono::DateTime<chrono::Utc>>) =
        eventually("the mail to be parked", || async {
            sqlx::query_as("SELECT error, expires_at FROM dead_letters WHERE consumer = 'webhooks-dispatcher-mail'")
                .fetch_optional(&app.pool)
                .await
                .unwrap()
        })
        .await;
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert_eq!(parked_expires.map(|t| t.timestamp()), Some(expires.timestamp()));
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outgoing_mail").fetch_one(&app.pool).await.unwrap();
    assert_eq!(queued, 0);
    app.stop();
}
