//! What operators and other services see: the dispatcher's own events on the stream and its
//! metrics.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn endpoint_changes_are_announced_without_the_secret() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let (id, secret) = app.endpoint(&owner, json!({"url": "http://127.0.0.1:9/hook", "events": ["ticket.*"]})).await;
    let r = app
        .http
        .patch(app.url(&format!("/v1/webhooks/{id}")))
        .bearer_auth(&owner.token)
        .json(&json!({"description": "CRM", "rate_limit_per_second": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.post(&format!("/v1/webhooks/{id}/rotate-secret"), &json!({}), &owner.token).await;
    let rotated = r.json::<serde_json::Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    let r = app.http.delete(app.url(&format!("/v1/webhooks/{id}"))).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let events = app.events("webhook.endpoint.", 3).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["webhook.endpoint.created", "webhook.endpoint.updated", "webhook.endpoint.deleted"]);
    for e in &events {
        assert_eq!(e.orgid, Some(owner.org));
        assert_eq!(e.subject.as_deref(), Some(id.as_str()));
        assert_eq!(e.data["endpoint_id"], id.as_str());
        assert_eq!(e.data["organization_id"], owner.org.to_string());
        assert_eq!(e.data["actor_id"], owner.id.to_string());
        let text = e.data.to_string();
        assert!(
            !text.contains("whsec_")
                && !text.contains(secret.trim_start_matches("whsec_"))
                && !text.contains(rotated.trim_start_matches("whsec_"))
        );
    }
    let created: proto::events::WebhookEndpoint = serde_json::from_value(events[0].data.clone()).unwrap();
    assert_eq!(
        (created.url.as_str(), created.events.clone()),
        ("http://127.0.0.1:9/hook", vec!["ticket.*".to_owned()])
    );
    let updated: proto::events::WebhookEndpoint = serde_json::from_value(events[1].data.clone()).unwrap();
    assert_eq!(updated.description.as_deref(), Some("CRM"));
    let deleted: proto::events::WebhookEndpointDeleted = serde_json::from_value(events[2].data.clone()).unwrap();
    assert_eq!(deleted.url, "http://127.0.0.1:9/hook");
    app.stop();
}

#[tokio::test]
async fn deliveries_and_the_event_consumer_have_metrics() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let rx = Receiver::start().await;
    rx.answer(500, None);
    app.endpoint(&owner, json!({"url": rx.url, "events": ["ticket.*"]})).await;
    app.publish(owner.org, "ticket.created", json!({})).await;
    rx.wait_for(2).await;
    app.settled().await;
    let wanted = [
        "switchboard_consumer_pending{consumer=\"webhooks-dispatcher-events\"}",
        "switchboard_webhook_delivery_attempts_total{outcome=\"success\"} 1",
        "switchboard_webhook_delivery_attempts_total{outcome=\"http_error\"} 1",
        "switchboard_webhook_attempt_duration_seconds_count 2",
        "switchboard_webhook_delivery_latency_seconds_count 1",
        "switchboard_webhook_deliveries_pending 0",
    ];
    let text = eventually("the delivery metrics", || async {
        let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        wanted.iter().all(|w| text.contains(w)).then_some(text)
    })
    .await;
    assert!(text.contains("# TYPE switchboard_webhook_delivery_latency_seconds histogram"), "{text}");
    // What a dead replica pulled comes back after 15 s, not 30.
    let stream = app.bus.jetstream.get_stream(app.bus.stream_name(platform::bus::EVENTS_STREAM)).await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(&app.bus.stream_name("webhooks-dispatcher-events")).await.unwrap();
    assert_eq!(consumer.cached_info().config.ack_wait, std::time::Duration::from_secs(15));
    app.stop();
}
