use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn the_public_board_shows_public_posts_and_public_comments() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let public = app.create(&owner, json!({"title": "Public roadmap item"})).await;
    let private = app.create(&owner, json!({"title": "Private thing", "is_public": false})).await;
    let pid = public["id"].as_str().unwrap();
    app.post(&format!("/v1/feedback/{pid}/comments"), &json!({"content": "Thanks all"}), &owner.token).await;
    app.post(
        &format!("/v1/feedback/{pid}/comments"),
        &json!({"content": "secret note", "is_internal": true}),
        &owner.token,
    )
    .await;
    let base = format!("/v1/public/{}/feedback", owner.slug);

    let list: Value = app.http.get(app.url(&base)).send().await.unwrap().json().await.unwrap();
    let titles: Vec<&str> = list["data"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Public roadmap item"]);
    let got = app.http.get(app.url(&format!("{base}/{pid}"))).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let r = app.http.get(app.url(&format!("{base}/{}", private["id"].as_str().unwrap()))).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let comments: Value =
        app.http.get(app.url(&format!("{base}/{pid}/comments"))).send().await.unwrap().json().await.unwrap();
    let text = comments.to_string();
    assert!(text.contains("Thanks all") && !text.contains("secret note"));
    assert_problem(
        app.http.get(app.url("/v1/public/no-such-org/feedback")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;

    // Anonymous posts and votes are off until the organization allows them.
    let r = app.http.post(app.url(&base)).json(&json!({"title": "Anon idea"})).send().await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app.http.put(app.url(&format!("{base}/{pid}/vote"))).json(&json!({"type": "up"})).send().await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN).await;
    // A closed board is not found at all.
    app.put("/v1/feedback/settings", &json!({"public_enabled": false}), &owner.token).await;
    assert_problem(app.http.get(app.url(&base)).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn anonymous_posts_and_votes_when_allowed_and_rate_limited() {
    let app = spawn_app_with(&[("PUBLIC_RATE_PER_MINUTE", "3")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let r = app
        .put(
            "/v1/feedback/settings",
            &json!({"allow_anonymous_posts": true, "allow_anonymous_votes": true}),
            &customer.token,
        )
        .await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .put(
            "/v1/feedback/settings",
            &json!({"allow_anonymous_posts": true, "allow_anonymous_votes": true}),
            &owner.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let base = format!("/v1/public/{}/feedback", owner.slug);

    let r = app
        .http
        .post(app.url(&base))
        .header("x-forwarded-for", "203.0.113.7")
        .header("user-agent", "browser-a")
        .json(&json!({"title": "Anonymous idea", "author_name": "Sam"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let post: Value = r.json().await.unwrap();
    assert_eq!(post["anonymous"], true);
    assert!(post["author_id"].is_null());
    let vote_url = app.url(&format!("{base}/{}/vote", post["id"].as_str().unwrap()));
    let vote = |ip: &str, ua: &str, t: &str| {
        app.http
            .put(&vote_url)
            .header("x-forwarded-for", ip.to_owned())
            .header("user-agent", ua.to_owned())
            .json(&json!({"type": t}))
            .send()
    };
    let t: Value = vote("203.0.113.7", "browser-a", "up").await.unwrap().json().await.unwrap();
    assert_eq!(t["vote_count"], 1);
    // The same visitor again changes their vote rather than adding one.
    let t: Value = vote("203.0.113.7", "browser-a", "down").await.unwrap().json().await.unwrap();
    assert_eq!((t["vote_count"].as_i64(), t["downvotes"].as_i64()), (Some(-1), Some(1)));
    let t: Value = vote("198.51.100.1", "browser-b", "up").await.unwrap().json().await.unwrap();
    assert_eq!(t["vote_count"], 0);
    // The raw address is stored nowhere.
    let raw: i64 =
        sqlx::query_scalar("SELECT count(*) FROM votes WHERE encode(voter_key, 'escape') LIKE '%203.0.113.7%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(raw, 0);
    // A fourth vote this minute from the same visitor is refused.
    assert_eq!(vote("203.0.113.7", "browser-a", "up").await.unwrap().status(), StatusCode::OK);
    let r = vote("203.0.113.7", "browser-a", "down").await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    // Another user agent from the same address is the same client to the rate limit.
    let r = vote("203.0.113.7", "browser-c", "up").await.unwrap();
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    let r = app.http.post(app.url(&base)).json(&json!({"title": "x"})).send().await.unwrap();
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.stop().await;
}
