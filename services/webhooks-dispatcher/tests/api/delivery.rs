use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn events_reach_matching_endpoints_signed() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (feedback_rx, tickets_rx, everything_rx) =
        (Receiver::start().await, Receiver::start().await, Receiver::start().await);
    let (_, fs) = app.endpoint(&owner, json!({"url": feedback_rx.url, "events": ["feedback.*"]})).await;
    let (_, ts) = app.endpoint(&owner, json!({"url": tickets_rx.url, "events": ["ticket.created"]})).await;
    let (_, es) = app.endpoint(&owner, json!({"url": everything_rx.url, "events": ["*"]})).await;
    // Another organization's event never reaches these endpoints.
    let eve = app.owner("eve@example.com", "Evil").await;
    app.publish(eve.org, "feedback.created", json!({"title": "not yours"})).await;

    let created = app.publish(owner.org, "feedback.created", json!({"title": "Dark mode"})).await;
    app.publish(owner.org, "ticket.created", json!({"number": "TKT-1"})).await;
    app.publish(owner.org, "ticket.updated", json!({"number": "TKT-1"})).await;

    let f = feedback_rx.wait_for(1).await;
    let t = tickets_rx.wait_for(1).await;
    // `*` includes the dispatcher's own `webhook.endpoint.created` of this endpoint.
    let e = everything_rx.wait_for(4).await;
    // Nothing more came: checked once later events reached every receiver and nothing is left.
    app.publish(owner.org, "feedback.deleted", json!({"marker": true})).await;
    app.publish(owner.org, "ticket.created", json!({"marker": true})).await;
    feedback_rx.wait_for(2).await;
    tickets_rx.wait_for(2).await;
    everything_rx.wait_for(6).await;
    app.settled().await;
    assert_eq!(feedback_rx.received().len(), 2);
    assert_eq!(tickets_rx.received().len(), 2);
    assert_eq!(everything_rx.received().len(), 6);
    let types: HashSet<String> =
        everything_rx.received().iter().map(|r| r.body["type"].as_str().unwrap().to_owned()).collect();
    assert!(types.contains("webhook.endpoint.created"), "{types:?}");
    assert_eq!(f[0].body["type"], "feedback.created");
    assert_eq!(f[0].body["data"]["title"], "Dark mode");
    assert!(chrono::DateTime::parse_from_rfc3339(f[0].body["timestamp"].as_str().unwrap()).is_ok());
    assert!(f[0].user_agent.starts_with("Switchboard-Webhooks"));
    assert!(verified(&f[0], &fs) && verified(&t[0], &ts) && e.iter().all(|r| verified(r, &es)));
    assert!(!verified(&f[0], &ts), "another endpoint's secret does not verify");
    assert!(e.iter().all(|r| r.body["data"]["title"] != "not yours"));
    let _ = created;
    app.stop();
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_webhook_id() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    rx.answer(500, None);
    // A redirect is not followed: it is a failure like any other.
    rx.answer(302, None);
    let (id, secret) = app.endpoint(&owner, json!({"url": rx.url, "events": ["feedback.*"]})).await;
    app.publish(owner.org, "feedback.created", json!({"title": "x"})).await;
    let got = rx.wait_for(3).await;
    assert_eq!(got.len(), 3);
    let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "webhook-id is the same across retries");
    assert!(got.iter().all(|r| verified(r, &secret)));
    // The success is recorded after the receiver answered: wait for it.
    app.settled().await;
    let list = app.get_json(&format!("/v1/webhooks/{id}/deliveries"), &owner.token).await;
    let delivery = &list["data"][0];
    assert_eq!(delivery["id"], got[0].id.as_str());
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"], 3);
    let detail = app.get_json(&format!("/v1/deliveries/{}", got[0].id), &owner.token).await;
    assert_eq!(detail["attempts"], 3, "the count, as in the list: {detail}");
    let codes: Vec<i64> =
        detail["attempt_log"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 302, 200]);
    assert_eq!(detail["attempt_log"][2]["response_body"], "ok");
    assert_eq!(detail["payload"]["type"], "feedback.created");
    let failed = app.get_json(&format!("/v1/webhooks/{id}/deliveries?status=failed"), &owner.token).await;
    assert!(failed["data"].as_array().unwrap().is_empty());
    app.stop();
}

#[tokio::test]
async fn a_receivers_nul_is_recorded_as_a_replacement_character() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    // PostgreSQL's text cannot hold U+0000: recording this answer must not fail the attempt.
    rx.answer_with(500, b"upstream\0down");
    let (id, _) = app.endpoint(&owner, json!({"url": rx.url, "events": ["feedback.*"]})).await;
    app.publish(owner.org, "feedback.created", json!({"title": "x"})).await;
    let got = rx.wait_for(2).await;
    app.settled().await;
    let detail = app.get_json(&format!("/v1/deliveries/{}", got[0].id), &owner.token).await;
    let bodies: Vec<&str> =
        detail["attempt_log"].as_array().unwrap().iter().map(|a| a["response_body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["upstream\u{FFFD}down", "ok"], "{detail}");
    let list = app.get_json(&format!("/v1/webhooks/{id}/deliveries"), &owner.token).await;
    assert_eq!(list["data"][0]["status"], "succeeded");
    app.stop();
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    rx.answer(429, Some(1));
    app.endpoint(&owner, json!({"url": rx.url, "events": ["feedback.*"]})).await;
    app.publish(owner.org, "feedback.created", json!({})).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2, "{:?}", got.iter().map(|r| (r.id.clone(), r.body.clone())).collect::<Vec<_>>());
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(950), "waited {gap:?}, not the 0.2 s of the schedule");
    app.stop();
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_overlap() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    let (id, old) = app.endpoint(&owner, json!({"url": rx.url, "events": ["feedback.*"]})).await;
    let r: Value =
        app.post(&format!("/v1/webhooks/{id}/rotate-secret"), &json!({}), &owner.token).await.json().await.unwrap();
    let new = r["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    app.publish(owner.org, "feedback.created", json!({})).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].signature.split(' ').count(), 2);
    assert!(verified(&got[0], &old) && verified(&got[0], &new));
    // With no overlap, only the new secret signs.
    let r: Value = app
        .post(&format!("/v1/webhooks/{id}/rotate-secret"), &json!({"overlap_seconds": 0}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    let newest = r["secret"].as_str().unwrap().to_owned();
    app.publish(owner.org, "feedback.updated", json!({})).await;
    let got = rx.wait_for(2).await;
    assert!(verified(&got[1], &newest) && !verified(&got[1], &new) && !verified(&got[1], &old));
    app.stop();
}

#[tokio::test]
async fn test_events_and_resending() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    let (id, secret) = app.endpoint(&owner, json!({"url": rx.url, "events": ["ticket.*"]})).await;
    let r = app.post(&format!("/v1/webhooks/{id}/test"), &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].body["type"], "webhook.test");
    assert!(verified(&got[0], &secret));
    // Resend the same delivery: same webhook-id.
    let r = app.post(&format!("/v1/deliveries/{}/retry", got[0].id), &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].id, got[0].id);
    let eve = app.owner("eve@example.com", "Evil").await;
    assert_problem(
        app.post(&format!("/v1/deliveries/{}/retry", got[0].id), &json!({}), &eve.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop();
}
