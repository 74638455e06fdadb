use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn titles(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn sorts_filters_and_cursors() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let voters = [
        app.member(&owner, "v1@example.com", "customer").await,
        app.member(&owner, "v2@example.com", "customer").await,
    ];
    let cat: Value =
        app.post("/v1/categories", &json!({"name": "Integrations"}), &owner.token).await.json().await.unwrap();
    let a = app.create(&owner, json!({"title": "Alpha idea", "tags": ["api"]})).await;
    let b = app.create(&owner, json!({"title": "Beta idea", "category_id": cat["id"]})).await;
    let c = app.create(&owner, json!({"title": "Gamma idea", "tags": ["api"]})).await;
    for v in &voters {
        app.put(&format!("/v1/feedback/{}/vote", b["id"].as_str().unwrap()), &json!({"type": "up"}), &v.token).await;
    }
    app.put(&format!("/v1/feedback/{}/vote", a["id"].as_str().unwrap()), &json!({"type": "up"}), &voters[0].token)
        .await;
    for _ in 0..3 {
        app.post(
            &format!("/v1/feedback/{}/comments", c["id"].as_str().unwrap()),
            &json!({"content": "+1"}),
            &owner.token,
        )
        .await;
    }
    app.patch(&format!("/v1/feedback/{}", a["id"].as_str().unwrap()), &json!({"is_pinned": true}), &owner.token).await;

    assert_eq!(
        titles(&app.get_json("/v1/feedback?sort=new", &owner.token).await),
        ["Gamma idea", "Beta idea", "Alpha idea"]
    );
    assert_eq!(
        titles(&app.get_json("/v1/feedback?sort=top", &owner.token).await),
        ["Beta idea", "Alpha idea", "Gamma idea"]
    );
    assert_eq!(titles(&app.get_json("/v1/feedback?sort=discussed", &owner.token).await)[0], "Gamma idea");
    // Trending weighs comments (2) over votes (1): three comments beat two votes.
    assert_eq!(
        titles(&app.get_json("/v1/feedback?sort=trending", &owner.token).await),
        ["Gamma idea", "Beta idea", "Alpha idea"]
    );
    assert_eq!(
        titles(&app.get_json("/v1/feedback?sort=top&pinned_first=true", &owner.token).await),
        ["Alpha idea", "Beta idea", "Gamma idea"]
    );
    assert_eq!(
        titles(&app.get_json("/v1/feedback?tag=api&sort=new", &owner.token).await),
        ["Gamma idea", "Alpha idea"]
    );
    let by_cat = app.get_json(&format!("/v1/feedback?category_id={}", cat["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!(titles(&by_cat), ["Beta idea"]);
    app.post(
        &format!("/v1/feedback/{}/status", c["id"].as_str().unwrap()),
        &json!({"status": "planned"}),
        &owner.token,
    )
    .await;
    assert_eq!(titles(&app.get_json("/v1/feedback?status=planned", &owner.token).await), ["Gamma idea"]);

    // Walk every sort a page at a time: each post exactly once, in the same order.
    for sort in ["new", "top", "trending", "discussed"] {
        let full = titles(&app.get_json(&format!("/v1/feedback?sort={sort}&pinned_first=true"), &owner.token).await);
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        let mut cursors = Vec::new();
        loop {
            assert!(walked.len() <= full.len(), "{sort}: the walk repeats: {walked:?} via {cursors:?}");
            let path = match &cursor {
                Some(c) => format!("/v1/feedback?sort={sort}&pinned_first=true&limit=1&cursor={c}"),
                None => format!("/v1/feedback?sort={sort}&pinned_first=true&limit=1"),
            };
            let page = app.get_json(&path, &owner.token).await;
            walked.extend(titles(&page));
            match page["next_cursor"].as_str() {
                Some(c) => {
                    cursors.push(c.to_owned());
                    cursor = Some(c.to_owned());
                }
                None => break,
            }
        }
        assert_eq!(walked, full, "{sort}");
    }
    for bad in ["sort=hot", "status=nope", "limit=0", "limit=101", "cursor=zzz"] {
        assert_problem(app.get(&format!("/v1/feedback?{bad}"), &owner.token).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }
    // Relevance with nothing to rank by is the newest first, cursors included.
    let newest = app.get_json("/v1/feedback?sort=new&limit=2", &owner.token).await;
    for q in ["", "&q=", "&q=%21%21"] {
        let page = app.get_json(&format!("/v1/feedback?sort=relevance&limit=2{q}"), &owner.token).await;
        assert_eq!(titles(&page), titles(&newest), "{q}");
        let next = page["next_cursor"].as_str().unwrap();
        let rest = app.get_json(&format!("/v1/feedback?sort=relevance{q}&limit=2&cursor={next}"), &owner.token).await;
        let after = app.get_json(&format!("/v1/feedback?sort=new&limit=2&cursor={next}"), &owner.token).await;
        assert_eq!(titles(&rest), titles(&after), "{q}");
    }
    app.stop().await;
}

#[tokio::test]
async fn search_ranks_titles_higher_and_matches_prefixes() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.create(&owner, json!({"title": "Export reports", "description": "CSV and PDF exports of dashboards"})).await;
    app.create(&owner, json!({"title": "Dashboard widgets", "description": "A way to export one widget"})).await;
    app.create(&owner, json!({"title": "Mobile app", "description": "iOS and Android"})).await;
    let found = titles(&app.get_json("/v1/feedback?q=expo", &owner.token).await);
    assert_eq!(found, ["Export reports", "Dashboard widgets"]);
    let found = titles(&app.get_json("/v1/feedback?q=android%20ios", &owner.token).await);
    assert_eq!(found, ["Mobile app"]);
    assert!(titles(&app.get_json("/v1/feedback?q=%27%3B%20drop", &owner.token).await).is_empty());
    let page = app.get_json("/v1/feedback?q=export&limit=1", &owner.token).await;
    let next = page["next_cursor"].as_str().unwrap();
    let rest = app.get_json(&format!("/v1/feedback?q=export&limit=1&cursor={next}"), &owner.token).await;
    assert_eq!(titles(&rest), ["Dashboard widgets"]);

    let similar = app.get_json("/v1/feedback/similar?title=Exporting%20my%20dashboard", &owner.token).await;
    let names: Vec<&str> = similar["data"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"Export reports") && names.contains(&"Dashboard widgets"));
    assert!(app.get_json("/v1/feedback/similar?title=zzzz", &owner.token).await["data"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn views_are_counted_and_more_filters() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let voter = app.member(&owner, "voter@example.com", "customer").await;
    app.put("/v1/feedback/settings", &json!({"auto_subscribe_voters": true}), &owner.token).await;
    let mine = app.create(&owner, json!({"title": "Owner's idea"})).await;
    app.create(&agent, json!({"title": "Agent's idea", "is_public": false})).await;
    let id = mine["id"].as_str().unwrap();
    app.patch(&format!("/v1/feedback/{id}"), &json!({"assignee_id": agent.id}), &owner.token).await;

    for _ in 0..3 {
        app.get_json(&format!("/v1/feedback/{id}"), &voter.token).await;
    }
    eventually("three views counted", || async {
        let views: i64 = sqlx::query_scalar("SELECT view_count FROM feedback WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(views <= 3, "{views} views of 3 reads");
        views == 3
    })
    .await;

    let by_author = app.get_json(&format!("/v1/feedback?author_id={}", agent.id), &owner.token).await;
    assert_eq!(titles(&by_author), ["Agent's idea"]);
    let by_assignee = app.get_json(&format!("/v1/feedback?assignee_id={}", agent.id), &owner.token).await;
    assert_eq!(titles(&by_assignee), ["Owner's idea"]);
    assert_eq!(titles(&app.get_json("/v1/feedback?is_public=false", &owner.token).await), ["Agent's idea"]);

    // With the board's setting on, voting subscribes the voter.
    app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "up"}), &voter.token).await;
    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned"}), &owner.token).await;
    let notes = app.notifications(1).await;
    let recipients = notes[0]["data"]["recipients"].as_array().unwrap();
    assert!(recipients.iter().any(|r| r == voter.id.as_str()));
    app.stop().await;
}
