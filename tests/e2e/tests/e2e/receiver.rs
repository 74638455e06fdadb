//! A customer's webhook receiver: a small local HTTP server that records every request it gets
//! (on arrival, so a request whose sender died mid-flight is recorded too) and answers 200.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http::HeaderMap;
use serde_json::Value;

#[derive(Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn webhook_id(&self) -> String {
        self.headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The post a `feedback.*` delivery is about.
    pub fn feedback_id(&self) -> Option<String> {
        self.json()["data"]["feedback_id"].as_str().map(str::to_owned)
    }

    /// Verified by the Standard Webhooks reference library, timestamp tolerance included.
    pub fn verify(&self, secret: &str) -> Result<(), standardwebhooks::WebhookError> {
        standardwebhooks::Webhook::new(secret)?.verify(&self.body, &self.headers)
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_answering_after(Duration::ZERO).await
    }

    /// Answers each request only after `delay`, so a sender has requests in flight.
    pub async fn start_answering_after(delay: Duration) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let record = got.clone();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(Received { headers, body });
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                "ok"
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("receiver binds");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let router = axum::Router::new().route("/hook", axum::routing::post(handler));
            let _ = axum::serve(listener, router).await;
        });
        Self { url: format!("http://{addr}/hook"), got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The posts some delivery has been about so far.
    pub fn posts_seen(&self) -> HashSet<String> {
        self.received().iter().filter_map(Received::feedback_id).collect()
    }
}

/// Asserts, over everything `rx` got: every request is signed with `secret`; a webhook-id seen
/// twice (a retry) carries the same payload; each of `posts` was delivered under exactly one
/// webhook-id, and nothing else was delivered.
pub fn assert_each_delivered_once(rx: &Receiver, secret: &str, posts: &[String]) {
    let received = rx.received();
    let unsigned: Vec<String> =
        received.iter().filter_map(|r| r.verify(secret).err().map(|e| format!("{}: {e}", r.webhook_id()))).collect();
    assert!(unsigned.is_empty(), "deliveries that fail verification: {unsigned:?}");
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for r in &received {
        let body = r.json();
        assert_eq!(body["type"], "feedback.created", "only what the endpoint subscribed to: {body}");
        if let Some(earlier) = by_id.insert(r.webhook_id(), body.clone()) {
            assert_eq!(earlier, body, "a retry of {} carries the same payload", r.webhook_id());
        }
    }
    let mut ids_per_post: HashMap<String, usize> = HashMap::new();
    for body in by_id.values() {
        let post = body["data"]["feedback_id"].as_str().expect("a feedback id").to_owned();
        *ids_per_post.entry(post).or_default() += 1;
    }
    let twice: Vec<_> = ids_per_post.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "posts delivered under more than one webhook-id: {twice:?}");
    let expected: HashSet<&String> = posts.iter().collect();
    let delivered: HashSet<&String> = ids_per_post.keys().collect();
    let lost: Vec<_> = expected.difference(&delivered).collect();
    let extra: Vec<_> = delivered.difference(&expected).collect();
    assert!(lost.is_empty() && extra.is_empty(), "lost: {lost:?}; not posted: {extra:?}");
    assert_eq!(by_id.len(), posts.len());
}
