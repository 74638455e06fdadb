//! `GET /v1/tickets/{id}` answers from a replica-local cache; every change to a ticket — made
//! through the API on this replica or another, by the inbox consumer, or by routing handing out
//! a queued ticket as a side effect of another ticket's change — shows in the next read. The
//! cache's TTL is set far beyond the test's deadline, so only evictions can make these pass.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::inbox::{customer_of, publish, tickets_of, Conversation};
use crate::routing::{agent, mirrored, team, ticket};

const LONG_TTL: (&str, &str) = ("TICKET_CACHE_TTL_SECS", "600");

async fn read(app: &TestApp, base: &str, user: &User, id: &str) -> Value {
    let r = app.http.get(format!("{base}/v1/tickets/{id}")).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_change_on_either_replica_shows_in_the_next_read_on_both() {
    let app = spawn_app_with(&[LONG_TTL]).await;
    let owner = app.owner("owner@cache.test", "Cache").await;
    let (a, b) = (format!("http://{}", app.addr), app.replica().await);
    let t = ticket(&app, &a, &owner, json!({"subject": "Cached"})).await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(read(&app, &a, &owner, id).await["priority"], "normal");
    assert_eq!(read(&app, &b, &owner, id).await["priority"], "normal");

    // Written on B: B's own next read has it at once, A's as soon as the broadcast lands.
    let r = app.http.patch(format!("{b}/v1/tickets/{id}")).bearer_auth(&owner.token);
    assert_eq!(r.json(&json!({"priority": "urgent"})).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(read(&app, &b, &owner, id).await["priority"], "urgent");
    eventually("replica A to drop its copy", || async { read(&app, &a, &owner, id).await["priority"] == "urgent" })
        .await;

    // Statements outside the core write evict too: time entries and a delete.
    let r = app.post(&format!("/v1/tickets/{id}/time-entries"), &json!({"minutes": 90}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(read(&app, &a, &owner, id).await["actual_hours"], 1.5);
    assert_eq!(app.delete(&format!("/v1/tickets/{id}"), &owner.token).await.status(), StatusCode::NO_CONTENT);
    let gone = app.http.get(format!("{a}/v1/tickets/{id}")).bearer_auth(&owner.token).send().await.unwrap();
    assert_problem(gone, StatusCode::NOT_FOUND).await;
    eventually("replica B to forget the deleted ticket", || async {
        let r = app.http.get(format!("{b}/v1/tickets/{id}")).bearer_auth(&owner.token).send().await.unwrap();
        r.status() == StatusCode::NOT_FOUND
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_ticket_another_change_assigns_or_the_inbox_updates_is_read_fresh() {
    let app = spawn_app_with(&[LONG_TTL]).await;
    let owner = app.owner("owner@ripple.test", "Ripple").await;
    let base = format!("http://{}", app.addr);
    // One agent with room for one: the second ticket waits in the queue.
    let ann = app.member(&owner, "ann@ripple.test", "agent").await;
    agent(&app, &owner, &ann, "online", 1).await;
    let team = team(&app, &owner, "Ripple", &[&ann]).await;
    mirrored(&app, &owner, &team, 1).await;
    let first = ticket(&app, &base, &owner, json!({"subject": "First", "team_id": team})).await;
    let queued = ticket(&app, &base, &owner, json!({"subject": "Second", "team_id": team})).await;
    let queued_id = queued["id"].as_str().unwrap();
    assert!(read(&app, &base, &owner, queued_id).await["assignee_id"].is_null());
    // Resolving the first frees Ann, and routing gives her the queued one in that request.
    let path = format!("/v1/tickets/{}", first["id"].as_str().unwrap());
    let r = app.patch(&path, &json!({"status": "resolved"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(read(&app, &base, &owner, queued_id).await["assignee_id"], ann.id.as_str());

    // The inbox consumer's comment moves `last_replied_at` of a ticket read before it.
    let chat = Conversation::new(&owner.org, "+33 6 11 22 33 44");
    publish(&app, &chat.message(Uuid::now_v7(), "Where is my parcel?")).await;
    let customer = customer_of(&app, &owner, "+33 6 11 22 33 44").await;
    let opened = until_some("the conversation's ticket", || async {
        tickets_of(&app, &owner, customer["id"].as_str().unwrap()).await.first().cloned()
    })
    .await;
    let id = opened["id"].as_str().unwrap();
    let before = read(&app, &base, &owner, id).await["last_replied_at"].clone();
    publish(&app, &chat.message(Uuid::now_v7(), "Hello?")).await;
    eventually("the new message on the cached ticket", || async {
        read(&app, &base, &owner, id).await["last_replied_at"] != before
    })
    .await;
    app.stop().await;
}
