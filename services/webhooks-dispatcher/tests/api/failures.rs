use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

#[tokio::test]
async fn gone_disables_the_endpoint_and_says_so() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (dead, ops, later) = (Receiver::start().await, Receiver::start().await, Receiver::start().await);
    dead.answer(410, None);
    let (id, _) = app.endpoint(&owner, json!({"url": dead.url, "events": ["feedback.*"]})).await;
    app.endpoint(&owner, json!({"url": later.url, "events": ["feedback.updated"]})).await;
    let (_, ops_secret) = app.endpoint(&owner, json!({"url": ops.url, "events": ["webhook.endpoint.disabled"]})).await;
    app.publish(owner.org, "feedback.created", json!({})).await;
    let got = ops.wait_for(1).await;
    assert_eq!(got[0].body["type"], "webhook.endpoint.disabled");
    assert_eq!(got[0].body["data"]["endpoint_id"], id.as_str());
    assert!(verified(&got[0], &ops_secret));
    let e = app.get_json(&format!("/v1/webhooks/{id}"), &owner.token).await;
    assert_eq!(e["enabled"], false);
    assert!(e["disabled_reason"].as_str().unwrap().contains("410"));
    // Disabled: nothing more is sent to it, checked once another endpoint got the later event.
    app.publish(owner.org, "feedback.updated", json!({})).await;
    later.wait_for(1).await;
    app.settled().await;
    assert_eq!(dead.received().len(), 1);
    app.stop();
}

#[tokio::test]
async fn exhaustion_fails_the_delivery_and_recover_sends_it_again() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (bad, ops) = (Receiver::start().await, Receiver::start().await);
    for _ in 0..4 {
        bad.answer(500, None);
    }
    let (id, _) = app.endpoint(&owner, json!({"url": bad.url, "events": ["feedback.*"]})).await;
    app.endpoint(&owner, json!({"url": ops.url, "events": ["webhook.delivery.exhausted"]})).await;
    let event = app.publish(owner.org, "feedback.created", json!({})).await;
    let got = ops.wait_for(1).await;
    assert_eq!(got[0].body["type"], "webhook.delivery.exhausted");
    assert_eq!(got[0].body["data"]["event_id"], event.to_string());
    assert_eq!(got[0].body["data"]["attempts"], 4);
    assert_eq!(bad.received().len(), 4, "the schedule has four attempts");
    let failed = app.get_json(&format!("/v1/webhooks/{id}/deliveries?status=failed"), &owner.token).await;
    assert_eq!(failed["data"][0]["attempts"], 4);
    assert_eq!(failed["data"][0]["last_status_code"], 500);

    // Every failure since then is sent again, with its webhook-id.
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let r: Value = app
        .post(&format!("/v1/webhooks/{id}/recover"), &json!({"since": since}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["requeued"], 1);
    let got = bad.wait_for(5).await;
    assert_eq!(got.len(), 5);
    assert_eq!(got[4].id, got[0].id);
    app.stop();
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled() {
    let app = spawn_app_with(&[
        ("WEBHOOK_DISABLE_AFTER_SECS", "0.3"),
        ("WEBHOOK_RETRY_SCHEDULE_SECS", "0,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2"),
    ])
    .await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (bad, ops) = (Receiver::start().await, Receiver::start().await);
    for _ in 0..20 {
        bad.answer(503, None);
    }
    let (id, _) = app.endpoint(&owner, json!({"url": bad.url, "events": ["feedback.*"]})).await;
    app.endpoint(&owner, json!({"url": ops.url, "events": ["webhook.endpoint.disabled"]})).await;
    app.publish(owner.org, "feedback.created", json!({})).await;
    let got = ops.wait_for(1).await;
    assert_eq!(got[0].body["type"], "webhook.endpoint.disabled");
    assert!(got[0].body["data"]["reason"].as_str().unwrap().contains("failing"));
    let e = app.get_json(&format!("/v1/webhooks/{id}"), &owner.token).await;
    assert_eq!(e["enabled"], false);
    let attempts = bad.received().len();
    // A later delivery that needs a retry of the same schedule (one failure only: failing
    // longer than 0.3 s disables an endpoint here): by its success a retry of the disabled
    // endpoint would have come due too.
    let marker = Receiver::start().await;
    marker.answer(500, None);
    app.endpoint(&owner, json!({"url": marker.url, "events": ["feedback.updated"]})).await;
    app.publish(owner.org, "feedback.updated", json!({})).await;
    assert_eq!(marker.wait_for(2).await.len(), 2);
    assert_eq!(bad.received().len(), attempts, "nothing more is sent to a disabled endpoint");
    app.stop();
}

#[tokio::test]
async fn rate_limits_and_ordered_delivery() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (limited, ordered) = (Receiver::start().await, Receiver::start().await);
    app.endpoint(&owner, json!({"url": limited.url, "events": ["ticket.*"], "rate_limit_per_second": 5})).await;
    app.endpoint(&owner, json!({"url": ordered.url, "events": ["feedback.*"], "ordered": true})).await;
    ordered.answer(500, None);
    ordered.slow(Duration::from_millis(20));
    for i in 0..15 {
        app.publish(owner.org, "ticket.updated", json!({"n": i})).await;
    }
    for i in 0..10 {
        app.publish(owner.org, "feedback.updated", json!({"n": i})).await;
    }
    let got = limited.wait_for(15).await;
    assert_eq!(got.len(), 15);
    let span = got[14].at - got[0].at;
    assert!(span >= Duration::from_millis(1800), "15 at 5/s took {span:?}");
    let got = ordered.wait_for(11).await;
    let order: Vec<i64> = got.iter().map(|r| r.body["data"]["n"].as_i64().unwrap()).collect();
    // The first failed once and was retried before anything after it.
    assert_eq!(order, [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    app.stop();
}

#[tokio::test]
async fn a_killed_replica_loses_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    // Slow enough that the first replica dies holding leases.
    rx.slow(Duration::from_millis(300));
    app.endpoint(&owner, json!({"url": rx.url, "events": ["ticket.*"], "max_concurrency": 50})).await;
    // No grace period: cancelling it aborts its requests mid-flight, as kill -9 would; what it
    // had claimed stays leased until the lease (3 s here) runs out.
    let doomed = CancellationToken::new();
    app.replica(doomed.clone(), &[("SHUTDOWN_GRACE_SECS", "0")]).await;
    for i in 0..40 {
        app.publish(owner.org, "ticket.created", json!({"n": i})).await;
    }
    // Kill it once requests are in flight (some of them its own, leased to it).
    rx.wait_for(1).await;
    doomed.cancel();
    // Its leases (3 s) run out and its unacked events (ack wait 15 s) come back.
    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of 40 events delivered after the replica died",
            seen.len()
        );
        seen = rx.received().iter().map(|r| r.body["data"]["n"].as_i64().unwrap()).collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.settled().await;
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status <> 'succeeded'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0);
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status <> 'succeeded'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    app.stop();
}

#[tokio::test]
async fn finished_deliveries_are_pruned_after_the_retention_period() {
    let app = spawn_app_with(&[("WEBHOOK_RETENTION_SECS", "0.5")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    app.endpoint(&owner, json!({"url": rx.url, "events": ["ticket.*"]})).await;
    app.publish(owner.org, "ticket.created", json!({})).await;
    let got = rx.wait_for(1).await;
    let path = format!("/v1/deliveries/{}", got[0].id);
    assert_eq!(
        app.http.get(app.url(&path)).bearer_auth(&owner.token).send().await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    eventually("the delivery to be pruned", || async {
        let status = app.http.get(app.url(&path)).bearer_auth(&owner.token).send().await.unwrap().status();
        (status == reqwest::StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    app.stop();
}

#[tokio::test]
async fn a_secret_that_does_not_decrypt_fails_the_attempt_and_sends_nothing() {
    let app = spawn_app_with(&[("WEBHOOK_RETRY_SCHEDULE_SECS", "0,0.2")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (broken, fine) = (Receiver::start().await, Receiver::start().await);
    let (id, _) = app.endpoint(&owner, json!({"url": broken.url, "events": ["feedback.*"]})).await;
    app.endpoint(&owner, json!({"url": fine.url, "events": ["feedback.*"]})).await;
    // As if the key ring lost the key (or the row was tampered with): it no longer opens.
    sqlx::query(
        "UPDATE endpoint_secrets SET secret = 'v1:dev:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE endpoint_id = $1",
    )
    .bind(id.parse::<uuid::Uuid>().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    app.publish(owner.org, "feedback.created", json!({})).await;
    fine.wait_for(1).await;
    app.settled().await;
    let failed = app.get_json(&format!("/v1/webhooks/{id}/deliveries?status=failed"), &owner.token).await;
    let delivery = &failed["data"][0];
    assert_eq!(delivery["attempts"], 2, "each attempt counted in the schedule: {failed}");
    assert!(delivery["last_error"].as_str().unwrap().contains("could not be decrypted"), "{delivery}");
    let detail = app.get_json(&format!("/v1/deliveries/{}", delivery["id"].as_str().unwrap()), &owner.token).await;
    assert!(detail["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["status_code"].is_null() && a["error"].as_str().unwrap().contains("nothing was sent")));
    assert!(broken.received().is_empty(), "the receiver saw nothing, not an unsigned request");
    app.stop();
}

#[tokio::test]
async fn deleting_an_endpoint_mid_delivery_still_records_the_rest_of_the_batch() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (slow, fast) = (Receiver::start().await, Receiver::start().await);
    slow.slow(Duration::from_millis(1500));
    let (doomed, _) = app.endpoint(&owner, json!({"url": slow.url, "events": ["feedback.*"]})).await;
    let (kept, _) = app.endpoint(&owner, json!({"url": fast.url, "events": ["feedback.*"]})).await;
    // One event, two deliveries made together: claimed in one batch, recorded when both answered.
    app.publish(owner.org, "feedback.created", json!({})).await;
    eventually("the slow delivery to be in flight", || async {
        let leased: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM deliveries WHERE endpoint_id = $1::uuid AND leased_until IS NOT NULL",
        )
        .bind(&doomed)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        (leased == 1).then_some(())
    })
    .await;
    let r = app.http.delete(app.url(&format!("/v1/webhooks/{doomed}"))).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    let delivery = eventually("the kept endpoint's delivery to succeed", || async {
        let list = app.get_json(&format!("/v1/webhooks/{kept}/deliveries"), &owner.token).await;
        (list["data"][0]["status"] == "succeeded").then(|| list["data"][0].clone())
    })
    .await;
    // Recorded with the first answer, not sent again once the batch's leases ran out.
    assert_eq!(delivery["attempts"], 1, "{delivery}");
    assert_eq!(fast.received().len(), 1);
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM attempts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(attempts, 1, "the deleted endpoint's attempt went with it");
    app.stop();
}
