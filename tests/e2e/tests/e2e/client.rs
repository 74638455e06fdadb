//! What a client does, over HTTP only: sign up, invite, read the mail, accept, sign in, create a
//! webhook endpoint, post feedback; and deadline polling for what happens asynchronously.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::Stack;
use crate::receiver::{assert_each_delivered_once, Receiver};

pub const PASSWORD: &str = "correct horse battery staple";

/// How long anything asynchronous may take.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `check` until it answers `Some`, failing with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < until, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The body of a response that must have `status`; otherwise the whole answer, to see why.
pub async fn expect(response: Response, status: StatusCode, what: &str) -> Value {
    let got = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A signed-in teammate whose organization has an endpoint for `feedback.created`.
pub struct Team {
    pub token: String,
    pub secret: String,
}

impl Stack {
    pub async fn signup(&self, email: &str, org: &str) -> String {
        self.signup_session(email, org).await["access_token"].as_str().unwrap().to_owned()
    }

    /// Signup's whole answer: session, user and organization.
    pub async fn signup_session(&self, email: &str, org: &str) -> Value {
        let body = json!({"email": email, "password": PASSWORD, "name": "Owner", "organization_name": org});
        let r = self.http.post(format!("{}/v1/auth/signup", self.identity)).json(&body).send().await.unwrap();
        expect(r, StatusCode::CREATED, "signup").await
    }

    pub async fn login(&self, email: &str) -> String {
        let body = json!({"email": email, "password": PASSWORD});
        let r = self.http.post(format!("{}/v1/auth/login", self.identity)).json(&body).send().await.unwrap();
        expect(r, StatusCode::OK, "login").await["access_token"].as_str().unwrap().to_owned()
    }

    /// The link of the newest `template` mail to `to` in the dispatcher's development mailbox.
    pub async fn mail_link(&self, to: &str, template: &str) -> String {
        let url = format!("{}/v1/dev/mailbox", self.dispatcher);
        eventually(&format!("a {template} mail to {to}"), DEADLINE, || async {
            let r = self.http.get(&url).query(&[("to", to)]).send().await.ok()?;
            let mails: Value = expect(r, StatusCode::OK, "mailbox").await;
            let mail = mails["data"].as_array()?.iter().find(|m| m["template"] == template)?.clone();
            Some(mail["link"].as_str().expect("the mail has a link").to_owned())
        })
        .await
    }

    /// Invites `email` as `role` on behalf of `owner`; the invitee accepts through the link
    /// mailed to the development mailbox. The acceptance's answer (session, user, organization).
    pub async fn join(&self, owner: &str, email: &str, role: &str, name: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/v1/invitations", self.identity))
            .bearer_auth(owner)
            .json(&json!({"email": email, "role": role}))
            .send()
            .await
            .unwrap();
        expect(r, StatusCode::CREATED, "invitation").await;
        let link = url::Url::parse(&self.mail_link(email, "invitation").await).expect("a link");
        let (_, invite) = link.query_pairs().find(|(k, _)| k == "token").expect("the link carries a token");
        let r = self
            .http
            .post(format!("{}/v1/invitations/accept", self.identity))
            .json(&json!({"token": invite, "name": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        expect(r, StatusCode::OK, "accept").await
    }

    /// The flow's start: an owner signs up and invites a teammate as admin, who accepts through
    /// the mailed link, signs in and creates an endpoint for `feedback.created` at `rx`.
    pub async fn team_with_webhook(&self, rx: &Receiver) -> Team {
        let owner = self.signup("owner@example.com", "Acme").await;
        let mate = "mate@example.com";
        self.join(&owner, mate, "admin", "Mate").await;
        let token = self.login(mate).await;
        let r = self
            .http
            .post(format!("{}/v1/webhooks", self.dispatcher))
            .bearer_auth(&token)
            .json(&json!({"url": rx.url, "events": ["feedback.created"], "max_concurrency": 20}))
            .send()
            .await
            .unwrap();
        let endpoint = expect(r, StatusCode::CREATED, "webhook endpoint").await;
        Team { token, secret: endpoint["secret"].as_str().expect("the secret, shown once").to_owned() }
    }

    /// Posts feedback as `token`; its id.
    pub async fn post_feedback(&self, token: &str, title: &str) -> String {
        post_feedback(&self.http, &self.feedback, token, title).await
    }

    /// Waits until every one of `posts` reached `rx`, then posts one more and waits for it too, so
    /// that a duplicate would have had time to arrive; then asserts each was delivered once.
    pub async fn assert_all_delivered_once(&self, team: &Team, rx: &Receiver, mut posts: Vec<String>) {
        let wanted: std::collections::HashSet<String> = posts.iter().cloned().collect();
        eventually(&format!("{} deliveries", posts.len()), DEADLINE, || async {
            wanted.is_subset(&rx.posts_seen()).then_some(())
        })
        .await;
        let last = self.post_feedback(&team.token, "The last one").await;
        eventually("the last delivery", DEADLINE, || async { rx.posts_seen().contains(&last).then_some(()) }).await;
        posts.push(last);
        assert_each_delivered_once(rx, &team.secret, &posts);
    }
}

async fn post_feedback(http: &reqwest::Client, base: &str, token: &str, title: &str) -> String {
    let body = json!({"title": title, "description": "From the end-to-end suite"});
    let r = http.post(format!("{base}/v1/feedback")).bearer_auth(token).json(&body).send().await.unwrap();
    expect(r, StatusCode::CREATED, "post feedback").await["id"].as_str().unwrap().to_owned()
}

/// Many posts, a few at a time, in the background; how many have been created so far is visible.
pub struct Burst {
    created: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl Burst {
    pub fn start(stack: &Stack, token: &str, posts: usize) -> Self {
        let created = Arc::new(AtomicUsize::new(0));
        let (http, base, token, count) =
            (stack.http.clone(), stack.feedback.clone(), token.to_owned(), created.clone());
        let task = tokio::spawn(async move {
            futures::stream::iter(0..posts)
                .map(|i| {
                    let (http, base, token, count) = (&http, &base, &token, &count);
                    async move {
                        let id = post_feedback(http, base, token, &format!("Burst post {i}")).await;
                        count.fetch_add(1, Ordering::SeqCst);
                        id
                    }
                })
                .buffer_unordered(4)
                .collect()
                .await
        });
        Self { created, task }
    }

    pub async fn reached(&self, n: usize) {
        eventually(&format!("{n} posts created"), DEADLINE, || async {
            (self.created.load(Ordering::SeqCst) >= n).then_some(())
        })
        .await;
    }

    /// Every post's id, once all were created.
    pub async fn finish(self) -> Vec<String> {
        self.task.await.expect("every post was created")
    }
}
