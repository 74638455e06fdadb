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
