//! Agent profiles and round-robin: fairness, capacity, the team queue draining when an agent
//! frees up or comes online, the same fairness with two replicas, and the team mirror fed by
//! identity's events.

use std::collections::HashMap;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, eventually, invalid_fields, spawn_app, TestApp, User};

/// A team of identity with `members`; its id.
pub async fn team(app: &TestApp, owner: &User, name: &str, members: &[&User]) -> String {
    let base = format!("http://{}", app.identity_addr);
    let r = app.http.post(format!("{base}/v1/teams")).bearer_auth(&owner.token).json(&json!({"name": name})).send();
    let r = r.await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "team");
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for m in members {
        let url = format!("{base}/v1/teams/{id}/members/{}", m.id);
        let r = app.http.put(url).bearer_auth(&owner.token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "team member");
    }
    id
}

/// Sets (or creates) `user`'s agent profile as `owner`.
pub async fn agent(app: &TestApp, owner: &User, user: &User, status: &str, capacity: i64) -> Value {
    let (path, body) = (format!("/v1/agents/{}", user.id), json!({"status": status, "capacity": capacity}));
    let r = app.put(&path, &body, &owner.token).await;
    assert!(r.status() == StatusCode::CREATED || r.status() == StatusCode::OK, "agent profile: {}", r.status());
    r.json().await.unwrap()
}

/// Waits until ticketing knows `n` agent profiles in `team` (identity's events arrived).
pub async fn mirrored(app: &TestApp, owner: &User, team: &str, n: usize) {
    eventually(&format!("{n} agents in team {team}"), || async {
        let page = app.get_json(&format!("/v1/agents?team_id={team}"), &owner.token).await;
        page["data"].as_array().unwrap().len() == n
    })
    .await;
}

pub async fn ticket(app: &TestApp, base: &str, owner: &User, body: Value) -> Value {
    let r = app.http.post(format!("{base}/v1/tickets")).bearer_auth(&owner.token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "ticket {body}");
    r.json().await.unwrap()
}

fn counts(tickets: &[Value]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for t in tickets {
        let who = t["assignee_id"].as_str().unwrap_or("queued").to_owned();
        *out.entry(who).or_default() += 1;
    }
    out
}

/// An organization with three online agents in one team.
async fn desk(app: &TestApp, org: &str, capacity: i64) -> (User, Vec<User>, String) {
    let owner = app.owner(&format!("owner@{org}.test"), org).await;
    let mut agents = Vec::new();
    for i in 0..3 {
        agents.push(app.member(&owner, &format!("agent{i}@{org}.test"), "agent").await);
    }
    for a in &agents {
        agent(app, &owner, a, "online", capacity).await;
    }
    let team = team(app, &owner, "Support", &agents.iter().collect::<Vec<_>>()).await;
    mirrored(app, &owner, &team, 3).await;
    (owner, agents, team)
}

#[tokio::test]
async fn thirty_tickets_to_three_online_agents_give_ten_each() {
    let app = spawn_app().await;
    let (owner, agents, team) = desk(&app, "fair", 50).await;
    let base = format!("http://{}", app.addr);
    let created = join_all((0..30).map(|i| {
        let (app, owner, base) = (&app, &owner, &base);
        let body = json!({"subject": format!("Help {i}"), "team_id": team});
        async move { ticket(app, base, owner, body).await }
    }))
    .await;
    let by_agent = counts(&created);
    for a in &agents {
        assert_eq!(by_agent.get(&a.id), Some(&10), "{by_agent:?}");
    }
    // The load the API shows is the same count.
    for a in &agents {
        assert_eq!(app.get_json(&format!("/v1/agents/{}", a.id), &owner.token).await["load"], 10);
    }
    // Each assignment is announced.
    let assigned = app.messages("EVENTS", "events.ticket.assigned", 30).await;
    assert!(assigned.iter().all(|(_, e)| e["data"]["team_id"] == team.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_creating_at_once_stay_fair_and_within_capacity() {
    let app = spawn_app().await;
    let (owner, agents, team) = desk(&app, "replicas", 10).await;
    let bases = [format!("http://{}", app.addr), app.replica().await];
    // 33 tickets for 30 places: ten each, three wait in the queue.
    let created = join_all((0..33).map(|i| {
        let (app, owner, base) = (&app, &owner, &bases[i % 2]);
        let body = json!({"subject": format!("Replica {i}"), "team_id": team});
        async move { ticket(app, base, owner, body).await }
    }))
    .await;
    let by_agent = counts(&created);
    for a in &agents {
        assert_eq!(by_agent.get(&a.id), Some(&10), "{by_agent:?}");
    }
    assert_eq!(by_agent.get("queued"), Some(&3), "{by_agent:?}");
    assert!(created.iter().filter(|t| t["assignee_id"].is_null()).all(|t| t["queued_at"].is_string()));
    app.stop().await;
}

#[tokio::test]
async fn a_full_team_queues_and_drains_on_resolve_on_coming_online_and_on_more_capacity() {
    let app = spawn_app().await;
    let owner = app.owner("owner@queue.test", "Queue").await;
    let ann = app.member(&owner, "ann@queue.test", "agent").await;
    let bob = app.member(&owner, "bob@queue.test", "agent").await;
    agent(&app, &owner, &ann, "online", 1).await;
    agent(&app, &owner, &bob, "offline", 1).await;
    let team = team(&app, &owner, "Queue", &[&ann, &bob]).await;
    mirrored(&app, &owner, &team, 2).await;
    let base = format!("http://{}", app.addr);
    let mut t = Vec::new();
    for i in 0..4 {
        t.push(ticket(&app, &base, &owner, json!({"subject": format!("Queued {i}"), "team_id": team})).await);
    }
    assert_eq!(t[0]["assignee_id"], ann.id.as_str());
    for queued in &t[1..] {
        assert!(queued["assignee_id"].is_null() && queued["queued_at"].is_string(), "{queued}");
    }
    let get = |t: &Value| {
        let path = format!("/v1/tickets/{}", t["id"].as_str().unwrap());
        let (app, token) = (&app, owner.token.clone());
        async move { app.get_json(&path, &token).await }
    };

    // Ann resolves hers: the oldest queued ticket is hers now, the others still wait.
    let path = format!("/v1/tickets/{}", t[0]["id"].as_str().unwrap());
    assert_eq!(app.patch(&path, &json!({"status": "resolved"}), &owner.token).await.status(), StatusCode::OK);
    assert_eq!(get(&t[1]).await["assignee_id"], ann.id.as_str());
    assert!(get(&t[1]).await["queued_at"].is_null());
    assert!(get(&t[2]).await["assignee_id"].is_null());

    // Bob comes online by himself: he takes the next one.
    let r = app.put("/v1/agents/me/status", &json!({"status": "online"}), &bob.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["load"], 1);
    assert_eq!(get(&t[2]).await["assignee_id"], bob.id.as_str());
    assert!(get(&t[3]).await["assignee_id"].is_null());

    // Ann gets room for one more: the last one goes to her.
    agent(&app, &owner, &ann, "online", 2).await;
    assert_eq!(get(&t[3]).await["assignee_id"], ann.id.as_str());

    // The drained tickets were announced like any assignment, by the system.
    let events = app.messages("EVENTS", "events.ticket.assigned", 4).await;
    for drained in &t[1..] {
        let e = events.iter().find(|(_, e)| e["data"]["ticket_id"] == drained["id"]).expect("an assigned event");
        assert!(e.1["data"]["actor_id"].is_null());
    }
    let history = app.get_json(&format!("/v1/tickets/{}/history", t[3]["id"].as_str().unwrap()), &owner.token).await;
    let entries = history["data"].as_array().unwrap();
    assert!(entries.iter().any(|h| h["field"] == "assignee_id" && h["after"] == ann.id.as_str()), "{history}");
    app.stop().await;
}

#[tokio::test]
async fn the_team_mirror_follows_identity_and_offline_or_removed_agents_get_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("owner@mirror.test", "Mirror").await;
    let ann = app.member(&owner, "ann@mirror.test", "agent").await;
    let bob = app.member(&owner, "bob@mirror.test", "agent").await;
    agent(&app, &owner, &ann, "online", 5).await;
    agent(&app, &owner, &bob, "away", 5).await;
    let team = team(&app, &owner, "Mirror", &[&ann, &bob]).await;
    mirrored(&app, &owner, &team, 2).await;
    let base = format!("http://{}", app.addr);
    // Bob is away: everything goes to Ann.
    for i in 0..3 {
        let t = ticket(&app, &base, &owner, json!({"subject": format!("Away {i}"), "team_id": team})).await;
        assert_eq!(t["assignee_id"], ann.id.as_str());
    }
    // Ann leaves the team in identity; Bob comes online.
    let url = format!("http://{}/v1/teams/{team}/members/{}", app.identity_addr, ann.id);
    let r = app.http.delete(url).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    eventually("Ann out of the team", || async {
        app.get_json(&format!("/v1/agents/{}", ann.id), &owner.token).await["teams"] == json!([])
    })
    .await;
    agent(&app, &owner, &bob, "online", 5).await;
    let t = ticket(&app, &base, &owner, json!({"subject": "After", "team_id": team})).await;
    assert_eq!(t["assignee_id"], bob.id.as_str());
    assert_eq!(app.get_json(&format!("/v1/agents/{}", bob.id), &owner.token).await["teams"], json!([team]));
    app.stop().await;
}

#[tokio::test]
async fn agent_profiles_reject_what_the_caller_may_not_do_or_is_not_valid() {
    let app = spawn_app().await;
    let owner = app.owner("owner@profiles.test", "Profiles").await;
    let ann = app.member(&owner, "ann@profiles.test", "agent").await;
    let bob = app.member(&owner, "bob@profiles.test", "agent").await;
    let carl = app.member(&owner, "carl@profiles.test", "customer").await;
    let created = app.put(&format!("/v1/agents/{}", ann.id), &json!({"role": "senior_support"}), &owner.token).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let ann_profile: Value = created.json().await.unwrap();
    assert_eq!(ann_profile["status"], "offline");
    assert_eq!(ann_profile["capacity"], 10);
    assert_eq!(ann_profile["load"], 0);
    assert!(ann_profile["rating"].is_null());

    // An agent sets their own status, nothing else, and nobody else's.
    let own = app.put(&format!("/v1/agents/{}", ann.id), &json!({"status": "away"}), &ann.token).await;
    assert_eq!(own.status(), StatusCode::OK);
    let r = app.put(&format!("/v1/agents/{}", ann.id), &json!({"capacity": 99}), &ann.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app.put(&format!("/v1/agents/{}", ann.id), &json!({"status": "online"}), &bob.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    // Customers neither read nor write profiles.
    assert_problem(app.get("/v1/agents", &carl.token).await, StatusCode::FORBIDDEN).await;
    let r = app.put("/v1/agents/me/status", &json!({"status": "online"}), &carl.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;

    // Only members of the agent role or above get a profile; strangers are not found.
    let r = app.put(&format!("/v1/agents/{}", carl.id), &json!({}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["user_id"]);
    let r = app.put(&format!("/v1/agents/{}", uuid::Uuid::new_v4()), &json!({}), &owner.token).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    for (body, field) in [
        (json!({"capacity": 10001}), "capacity"),
        (json!({"capacity": -1}), "capacity"),
        (json!({"status": "busy"}), "status"),
        (json!({"role": "boss"}), "role"),
        (json!({"colour": "red"}), ""),
    ] {
        let r = app.put(&format!("/v1/agents/{}", ann.id), &body, &owner.token).await;
        let fields = invalid_fields(r).await;
        assert!(fields.iter().any(|f| f == field || f.starts_with(field)), "{body}: {fields:?}");
    }
    let r = app.get("/v1/agents?status=busy&limit=0", &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["status", "limit"]);
    // Nothing of that changed Ann's profile.
    let now = app.get_json(&format!("/v1/agents/{}", ann.id), &owner.token).await;
    assert_eq!((now["status"].clone(), now["capacity"].clone()), (json!("away"), json!(10)));

    // Another organization does not see her.
    let other = app.owner("owner@elsewhere.test", "Elsewhere").await;
    assert_problem(app.get(&format!("/v1/agents/{}", ann.id), &other.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_json("/v1/agents", &other.token).await["data"], json!([]));
    let r = app.put(&format!("/v1/agents/{}", ann.id), &json!({"status": "online"}), &other.token).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn a_team_ticketing_never_heard_of_is_filled_from_identity_on_first_use() {
    let app = spawn_app().await;
    let owner = app.owner("owner@old-team.test", "Old team").await;
    let ann = app.member(&owner, "ann@old-team.test", "agent").await;
    agent(&app, &owner, &ann, "online", 5).await;
    let team = team(&app, &owner, "Older than the stream", &[&ann]).await;
    mirrored(&app, &owner, &team, 1).await;
    // As if its events predated the stream: ticketing forgets everything about the team.
    let team_id: uuid::Uuid = team.parse().unwrap();
    for table in ["team_members", "team_member_state"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE team_id = $1")).bind(team_id).execute(&app.pool).await.unwrap();
    }
    let base = format!("http://{}", app.addr);
    let t = ticket(&app, &base, &owner, json!({"subject": "First use", "team_id": team})).await;
    assert_eq!(t["assignee_id"], ann.id.as_str());
    assert_eq!(app.get_json(&format!("/v1/agents/{}", ann.id), &owner.token).await["teams"], json!([team]));
    app.stop().await;
}
