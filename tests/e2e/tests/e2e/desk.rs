//! The support desk as its people use it, over HTTP only: an owner with a team, an agent of that
//! team who is online in ticketing, and an endpoint for `ticket.*`; then tickets, comments and
//! notifications as they see them.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::client::{eventually, expect, DEADLINE};
use crate::helpers::Stack;
use crate::receiver::{Received, Receiver};

/// A signed-in member of the organization.
pub struct Member {
    pub token: String,
    pub id: String,
}

impl Member {
    /// From the answer to signup or to an invitation's acceptance.
    fn of(session: &Value) -> Self {
        Self {
            token: session["access_token"].as_str().expect("a session").to_owned(),
            id: session["user"]["id"].as_str().expect("the user").to_owned(),
        }
    }
}

pub struct Desk {
    pub org: String,
    pub owner: Member,
    pub agent: Member,
    pub team: String,
    /// The signing secret of the owner's `ticket.*` endpoint.
    pub secret: String,
}

impl Stack {
    /// `method url` as `token`, with `body` as JSON if any; the answer, which must have `status`.
    pub async fn call(&self, method: Method, url: &str, token: &str, body: Option<Value>, status: StatusCode) -> Value {
        let mut request = self.http.request(method.clone(), url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        expect(r, status, &format!("{method} {url}")).await
    }

    /// An owner signs up and creates the team "Support"; an agent joins through an invitation
    /// and is added to it. The owner (a manager) sets up the agent's profile, the agent comes
    /// online, and the owner subscribes an endpoint at `rx` to `ticket.*`.
    pub async fn support_desk(&self, rx: &Receiver) -> Desk {
        let session = self.signup_session("owner@example.com", "Acme").await;
        let (owner, org) = (Member::of(&session), session["organization"]["id"].as_str().unwrap().to_owned());
        let agent = Member::of(&self.join(&owner.token, "agent@example.com", "agent", "Agnes").await);

        let url = format!("{}/v1/teams", self.identity);
        let body = json!({"name": "Support"});
        let team = self.call(Method::POST, &url, &owner.token, Some(body), StatusCode::CREATED).await;
        let team = team["id"].as_str().expect("the team's id").to_owned();
        let url = format!("{}/v1/teams/{team}/members/{}", self.identity, agent.id);
        let view = self.call(Method::PUT, &url, &owner.token, None, StatusCode::OK).await;
        let members = view["members"].as_array().expect("the members");
        assert!(members.iter().any(|m| m["user_id"] == agent.id.as_str()), "the agent is in the team: {view}");

        let url = format!("{}/v1/agents/{}", self.ticketing, agent.id);
        let body = json!({"role": "senior_support", "capacity": 5});
        let profile = self.call(Method::PUT, &url, &owner.token, Some(body), StatusCode::CREATED).await;
        assert_eq!((profile["role"].as_str(), profile["status"].as_str()), (Some("senior_support"), Some("offline")));
        let url = format!("{}/v1/agents/me/status", self.ticketing);
        let body = json!({"status": "online"});
        let profile = self.call(Method::PUT, &url, &agent.token, Some(body), StatusCode::OK).await;
        assert_eq!(profile["status"], "online");

        let url = format!("{}/v1/webhooks", self.dispatcher);
        let body = json!({"url": rx.url, "events": ["ticket.*"]});
        let endpoint = self.call(Method::POST, &url, &owner.token, Some(body), StatusCode::CREATED).await;
        let secret = endpoint["secret"].as_str().expect("the secret, shown once").to_owned();
        Desk { org, owner, agent, team, secret }
    }

    /// `GET` of a ticketing path as `token`; must answer 200.
    pub async fn ticketing_get(&self, path: &str, token: &str) -> Value {
        self.call(Method::GET, &format!("{}{path}", self.ticketing), token, None, StatusCode::OK).await
    }

    /// `POST` of `body` to a ticketing path as `token`; must answer 201.
    pub async fn ticketing_post(&self, path: &str, token: &str, body: Value) -> Value {
        self.call(Method::POST, &format!("{}{path}", self.ticketing), token, Some(body), StatusCode::CREATED).await
    }

    /// `GET` of an inbox-sync path as `token`; must answer 200.
    pub async fn inbox_get(&self, path: &str, token: &str) -> Value {
        self.call(Method::GET, &format!("{}{path}", self.inbox), token, None, StatusCode::OK).await
    }

    /// The ticket `id` as `token` sees it, once `holds` accepts it.
    pub async fn ticket_until(&self, token: &str, id: &str, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/v1/tickets/{id}");
        eventually(what, DEADLINE, || async {
            let ticket = self.ticketing_get(&path, token).await;
            holds(&ticket).then_some(ticket)
        })
        .await
    }

    /// The first of `token`'s in-app notifications that `holds` accepts, once it is there.
    pub async fn notification(&self, token: &str, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
        let url = format!("{}/v1/notifications", self.dispatcher);
        eventually(what, DEADLINE, || async {
            let page = self.call(Method::GET, &url, token, None, StatusCode::OK).await;
            page["data"].as_array()?.iter().find(|n| holds(n)).cloned()
        })
        .await
    }
}

/// The first delivery `rx` got of an event of `kind` whose `data` `holds` accepts, once it came.
pub async fn delivery(rx: &Receiver, kind: &str, holds: impl Fn(&Value) -> bool) -> Received {
    eventually(&format!("a {kind} delivery"), DEADLINE, || async {
        rx.received().into_iter().find(|r| {
            let body = r.json();
            body["type"] == kind && holds(&body["data"])
        })
    })
    .await
}
