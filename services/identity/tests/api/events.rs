use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use platform::testing::PrivateNats;

use crate::helpers::*;

#[tokio::test]
async fn signup_publishes_cloudevents_with_the_id_as_message_id() {
    let app = spawn_app().await;
    let body = app.signup("ada@example.com", "Acme").await;
    let events = app.events(3).await;
    let types: HashSet<&str> = events.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, HashSet::from(["identity.user.created", "identity.org.created", "identity.member.added"]));
    for (msg_id, e) in &events {
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(&e["id"].as_str().unwrap(), msg_id);
        assert_eq!(uuid::Uuid::parse_str(msg_id).unwrap().get_version_num(), 7);
        assert_eq!(e["source"], "switchboard/identity");
        assert_eq!(e["datacontenttype"], "application/json");
        assert!(chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap()).is_ok());
        let text = e.to_string();
        assert!(!text.contains("argon2") && !text.contains("password"), "no secrets in events: {text}");
        assert!(!text.contains("token="), "no one-time links in events");
    }
    let org_created = events.iter().find(|(_, e)| e["type"] == "identity.org.created").unwrap();
    assert_eq!(org_created.1["orgid"], body["organization"]["id"]);
    assert_eq!(org_created.1["data"]["slug"], "acme");
    // The verification mail went to the command stream, not to events.
    let mails = app.mails(1).await;
    assert_eq!(mails[0]["type"], "mail.send");
    assert_eq!(mails[0]["data"]["template"], "email_verification");
    app.stop().await;
}

#[tokio::test]
async fn member_and_invitation_events() {
    let app = spawn_app().await;
    let (owner, member) = crate::members::org_with_member(&app, "agent").await;
    let id = member["user"]["id"].as_str().unwrap();
    app.patch(&format!("/v1/members/{id}"), &json!({"role": "manager"}), &token(&owner)).await;
    app.delete(&format!("/v1/members/{id}"), &token(&owner)).await;
    let events = app.events(10).await;
    let types: Vec<&str> = events.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    for t in [
        "identity.invitation.created",
        "identity.invitation.accepted",
        "identity.member.role_changed",
        "identity.member.removed",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    assert_eq!(types.iter().filter(|t| **t == "identity.member.added").count(), 2);
    let changed = events.iter().find(|(_, e)| e["type"] == "identity.member.role_changed").unwrap();
    assert_eq!(changed.1["data"]["role_before"], "agent");
    assert_eq!(changed.1["data"]["role_after"], "manager");
    app.stop().await;
}

#[tokio::test]
async fn the_outbox_delivers_every_event_exactly_once_across_a_nats_outage() {
    let mut nats = PrivateNats::start().await.expect("private nats-server");
    let url = nats.url();
    let app = spawn_app_with(&[("NATS_URL", url.as_str())]).await;
    app.signup("one@example.com", "One").await;

    nats.kill().await.expect("nats-server killed");
    // Writes are accepted while NATS is down; readiness says what is wrong.
    for (email, org) in [("two@example.com", "Two"), ("three@example.com", "Three")] {
        app.signup(email, org).await;
    }
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let checks: Value = ready.json().await.unwrap();
    assert_eq!(checks["checks"]["nats"], false);
    assert_eq!(checks["checks"]["database"], true);
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject LIKE 'events.%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(waiting >= 6, "the outage's events wait in the outbox ({waiting})");

    nats.resume().await.expect("nats-server restarted");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&app.pool).await.unwrap();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "outbox not drained: {left} left");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let client = async_nats::connect(&url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(format!("{}_EVENTS", app.prefix)).await.unwrap();
    let total = stream.get_info().await.unwrap().state.messages;
    assert_eq!(total, 9, "three signups, three events each, no duplicates");
    let consumer = stream.create_consumer(async_nats::jetstream::consumer::pull::Config::default()).await.unwrap();
    let mut batch = consumer.fetch().max_messages(9).messages().await.unwrap();
    let mut ids = HashSet::new();
    while let Some(Ok(msg)) = batch.next().await {
        let e: Value = serde_json::from_slice(&msg.payload).unwrap();
        let header = msg.headers.as_ref().unwrap().get("Nats-Msg-Id").unwrap().to_string();
        assert_eq!(e["id"].as_str().unwrap(), header);
        assert!(ids.insert(header), "duplicate event");
    }
    assert_eq!(ids.len(), 9);
    app.stop().await;
    nats.kill().await.expect("nats-server killed");
}
