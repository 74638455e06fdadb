use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_vote_can_be_cast_changed_and_retracted() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let bob = app.member(&owner, "bob@example.com", "customer").await;
    let post = app.create(&owner, json!({"title": "Keyboard shortcuts"})).await;
    let id = post["id"].as_str().unwrap();
    let path = format!("/v1/feedback/{id}/vote");
    let vote = |user: &User, t: &str| {
        app.http.put(app.url(&path)).bearer_auth(user.token.clone()).json(&json!({"type": t})).send()
    };

    let t: Value = vote(&owner, "up").await.unwrap().json().await.unwrap();
    assert_eq!(
        (t["vote_count"].as_i64(), t["upvotes"].as_i64(), t["your_vote"].as_str()),
        (Some(1), Some(1), Some("up"))
    );
    let t: Value = vote(&bob, "down").await.unwrap().json().await.unwrap();
    assert_eq!((t["vote_count"].as_i64(), t["downvotes"].as_i64()), (Some(0), Some(1)));
    // Voting the same again changes nothing; changing moves both counts.
    let t: Value = vote(&bob, "down").await.unwrap().json().await.unwrap();
    assert_eq!(t["vote_count"], 0);
    let t: Value = vote(&bob, "up").await.unwrap().json().await.unwrap();
    assert_eq!((t["vote_count"].as_i64(), t["upvotes"].as_i64(), t["downvotes"].as_i64()), (Some(2), Some(2), Some(0)));
    let t: Value = app.delete(&format!("/v1/feedback/{id}/vote"), &bob.token).await.json().await.unwrap();
    assert_eq!(t["vote_count"], 1);
    // Retracting twice is fine.
    assert_eq!(app.delete(&format!("/v1/feedback/{id}/vote"), &bob.token).await.status(), StatusCode::OK);
    assert_problem(vote(&bob, "sideways").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), &bob.token).await["vote_count"], 1);
    app.stop().await;
}

#[tokio::test]
async fn a_deleted_post_takes_no_votes() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Gone soon"})).await;
    let id = post["id"].as_str().unwrap();
    app.delete(&format!("/v1/feedback/{id}"), &owner.token).await;
    let r = app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "up"}), &owner.token).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    app.stop().await;
}

#[tokio::test]
async fn concurrent_votes_are_counted_exactly() {
    let app = spawn_app_with(&[("PUBLIC_RATE_PER_MINUTE", "100000")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.put("/v1/feedback/settings", &json!({"allow_anonymous_votes": true}), &owner.token).await;
    let post = app.create(&owner, json!({"title": "Popular idea"})).await;
    let url = app.url(&format!("/v1/public/{}/feedback/{}/vote", owner.slug, post["id"].as_str().unwrap()));
    let voters = 300;
    let mut tasks = Vec::new();
    for i in 0..voters {
        let (http, url) = (app.http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let t = if i % 3 == 0 { "down" } else { "up" };
            http.put(&url)
                .header("user-agent", format!("voter-{i}"))
                .json(&json!({"type": t}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let got = app.get_json(&format!("/v1/feedback/{}", post["id"].as_str().unwrap()), &owner.token).await;
    let downs = (0..voters).filter(|i| i % 3 == 0).count() as i64;
    assert_eq!(got["downvotes"].as_i64().unwrap(), downs);
    assert_eq!(got["upvotes"].as_i64().unwrap(), voters - downs);
    assert_eq!(got["vote_count"].as_i64().unwrap(), voters - 2 * downs);
    app.stop().await;
}

#[tokio::test]
async fn every_replica_sees_a_vote_within_a_second() {
    // A long TTL: only the change broadcast can explain a fresh count on the other replica.
    let app = spawn_app_with(&[("POST_CACHE_TTL_SECS", "600")]).await;
    let other = app.replica().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Cached everywhere"})).await;
    let id = post["id"].as_str().unwrap();
    let read = |base: String| {
        let (http, token) = (app.http.clone(), owner.token.clone());
        async move {
            let v: Value = http
                .get(format!("{base}/v1/feedback/{id}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["vote_count"].as_i64().unwrap()
        }
    };
    assert_eq!(read(other.clone()).await, 0);
    assert_eq!(read(app.url("")).await, 0);
    app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "up"}), &owner.token).await;
    assert_eq!(read(app.url("")).await, 1, "the replica that wrote sees it at once");
    let started = std::time::Instant::now();
    while read(other.clone()).await != 1 {
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "stale count after a second");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.stop().await;
}
