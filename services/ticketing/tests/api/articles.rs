//! Knowledge articles through the API: the lifecycle and who reads what, views, one vote per
//! voter, ranked search with cursors, articles written from tickets, rejections.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, invalid_fields, spawn_app, TestApp, User};

pub async fn article(app: &TestApp, agent: &User, title: &str, content: &str, publish: bool) -> Value {
    let r = app.post("/v1/articles", &json!({"title": title, "content": content}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    if !publish {
        return a;
    }
    let r = app.post(&format!("/v1/articles/{}/publish", a["id"].as_str().unwrap()), &json!({}), &agent.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn customers_read_published_articles_only_and_each_read_is_a_view() {
    let app = spawn_app().await;
    let owner = app.owner("kb-life@example.com", "KB Life").await;
    let agent = app.member(&owner, "kb-agent@example.com", "agent").await;
    let customer = app.member(&owner, "kb-customer@example.com", "customer").await;
    let a = article(&app, &agent, "  Exporting invoices ", "Open Billing, then Export.", false).await;
    assert_eq!(a["status"], "draft");
    assert_eq!(a["title"], "Exporting invoices");
    assert_eq!(a["source"], "manual");
    assert_eq!(a["effectiveness"], Value::Null);
    let path = format!("/v1/articles/{}", a["id"].as_str().unwrap());

    assert_problem(app.get(&path, &customer.token).await, StatusCode::NOT_FOUND).await;
    assert!(ids(&app.get_json("/v1/articles", &customer.token).await).is_empty());
    assert!(ids(&app.get_json("/v1/articles?status=draft", &customer.token).await).is_empty());
    assert_eq!(ids(&app.get_json("/v1/articles", &agent.token).await), [a["id"].as_str().unwrap()]);
    let r = app.post("/v1/articles", &json!({"title": "Mine", "content": "x"}), &customer.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;

    let published: Value = app.post(&format!("{path}/publish"), &json!({}), &agent.token).await.json().await.unwrap();
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    let seen = app.get_json(&path, &customer.token).await;
    assert_eq!(seen["content"], "Open Billing, then Export.");
    assert_eq!(seen["created_by"], Value::Null, "customers do not see who wrote it");
    let before = seen["view_count"].as_i64().unwrap();
    let again = app.get_json(&path, &customer.token).await;
    assert_eq!(again["view_count"].as_i64().unwrap(), before + 1);
    assert_eq!(again["updated_at"], published["updated_at"], "a view is not an edit");
    assert_eq!(ids(&app.get_json("/v1/articles", &customer.token).await), [a["id"].as_str().unwrap()]);

    let r = app
        .patch(
            &path,
            &json!({"title": "Exporting invoices as CSV", "category": "billing", "tags": ["Billing"]}),
            &agent.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["category"], "billing");
    assert_eq!(edited["tags"], json!(["billing"]));
    assert_eq!(edited["status"], "published");
    let r = app.patch(&path, &json!({"category": null}), &agent.token).await;
    assert_eq!(r.json::<Value>().await.unwrap()["category"], Value::Null);

    let archived: Value = app.post(&format!("{path}/archive"), &json!({}), &agent.token).await.json().await.unwrap();
    assert_eq!(archived["status"], "archived");
    assert_problem(app.get(&path, &customer.token).await, StatusCode::NOT_FOUND).await;
    assert!(ids(&app.get_json("/v1/articles", &customer.token).await).is_empty());
    assert_eq!(app.get_json(&path, &agent.token).await["status"], "archived");

    let other = app.owner("kb-other@example.com", "KB Other").await;
    assert_problem(app.get(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.post(&format!("{path}/publish"), &json!({}), &other.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&path, &customer.token).await, StatusCode::FORBIDDEN).await;
    assert_eq!(app.delete(&path, &agent.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &agent.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn each_voter_votes_once_and_effectiveness_follows() {
    let app = spawn_app().await;
    let owner = app.owner("kb-votes@example.com", "KB Votes").await;
    let customer = app.member(&owner, "kb-voter@example.com", "customer").await;
    let draft = article(&app, &owner, "Draft", "Not yet.", false).await;
    let a = article(&app, &owner, "Changing your email", "Settings, then Email.", true).await;
    let vote = |id: &Value, helpful: bool, user: &User| {
        let path = format!("/v1/articles/{}/vote", id.as_str().unwrap());
        let token = user.token.clone();
        let app = &app;
        async move { app.post(&path, &json!({"helpful": helpful}), &token).await }
    };
    let r = vote(&a["id"], true, &customer).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = vote(&a["id"], true, &customer).await;
    let once: Value = r.json().await.unwrap();
    assert_eq!((once["helpful_votes"].as_i64(), once["unhelpful_votes"].as_i64()), (Some(1), Some(0)));
    assert_eq!(once["effectiveness"], 1.0);

    let changed: Value = vote(&a["id"], false, &customer).await.json().await.unwrap();
    assert_eq!((changed["helpful_votes"].as_i64(), changed["unhelpful_votes"].as_i64()), (Some(0), Some(1)));
    let both: Value = vote(&a["id"], true, &owner).await.json().await.unwrap();
    assert_eq!((both["helpful_votes"].as_i64(), both["unhelpful_votes"].as_i64()), (Some(1), Some(1)));
    assert_eq!(both["effectiveness"], 0.5);

    assert_problem(vote(&draft["id"], true, &owner).await, StatusCode::CONFLICT).await;
    assert_problem(vote(&draft["id"], true, &customer).await, StatusCode::NOT_FOUND).await;
    let bad = app
        .post(&format!("/v1/articles/{}/vote", a["id"].as_str().unwrap()), &json!({"helpful": "yes"}), &customer.token)
        .await;
    assert_eq!(invalid_fields(bad).await, ["helpful"]);
    let seen = app.get_json(&format!("/v1/articles/{}", a["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!((seen["helpful_votes"].as_i64(), seen["unhelpful_votes"].as_i64()), (Some(1), Some(1)));
    app.stop().await;
}

#[tokio::test]
async fn search_ranks_matches_and_pages_through_every_one() {
    let app = spawn_app().await;
    let owner = app.owner("kb-search@example.com", "KB Search").await;
    let customer = app.member(&owner, "kb-searcher@example.com", "customer").await;
    let best =
        article(&app, &owner, "Reset your password", "Forgot your password? Use the password reset link.", true).await;
    let some = article(&app, &owner, "Security settings", "Two-factor login and your password policy.", true).await;
    article(&app, &owner, "Invoices", "Download invoices from Billing.", true).await;
    let hidden =
        article(&app, &owner, "Password reset (internal draft)", "Password reset steps for agents.", false).await;

    let page = app.get_json("/v1/articles?q=password%20reset", &customer.token).await;
    assert_eq!(ids(&page), [best["id"].as_str().unwrap()], "both words needed; drafts hidden");
    let page = app.get_json("/v1/articles?q=password", &customer.token).await;
    assert_eq!(ids(&page), [best["id"].as_str().unwrap(), some["id"].as_str().unwrap()]);
    let page = app.get_json("/v1/articles?q=password", &owner.token).await;
    assert_eq!(ids(&page).len(), 3);
    assert!(ids(&page).contains(&hidden["id"].as_str().unwrap().to_owned()));

    // One at a time, each match exactly once, in rank order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/articles?q=password&limit=1&cursor={c}"),
            None => "/v1/articles?q=password&limit=1".to_owned(),
        };
        let page = app.get_json(&path, &owner.token).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids(&app.get_json("/v1/articles?q=password", &owner.token).await));

    assert!(ids(&app.get_json("/v1/articles?q=%22the%22", &owner.token).await).is_empty());
    assert_eq!(invalid_fields(app.get("/v1/articles?limit=0", &owner.token).await).await, ["limit"]);
    assert_eq!(invalid_fields(app.get("/v1/articles?cursor=nonsense", &owner.token).await).await, ["cursor"]);
    app.stop().await;
}

#[tokio::test]
async fn an_article_written_from_a_ticket_starts_from_it() {
    let app = spawn_app().await;
    let owner = app.owner("kb-ticket@example.com", "KB Ticket").await;
    let t = app
        .create(&owner, json!({"subject": "VPN drops every hour", "description": "The VPN client disconnects."}))
        .await;
    let r = app.post("/v1/articles", &json!({"source_ticket_id": t["id"], "tags": ["vpn"]}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["source"], "ticket");
    assert_eq!(a["source_ticket_id"], t["id"]);
    assert_eq!(a["title"], "VPN drops every hour");
    assert!(a["content"].as_str().unwrap().contains("The VPN client disconnects."));
    assert_eq!(a["status"], "draft");

    let r = app
        .post(
            "/v1/articles",
            &json!({"source_ticket_id": t["id"], "title": "VPN timeouts", "content": "Renew the lease."}),
            &owner.token,
        )
        .await;
    let own: Value = r.json().await.unwrap();
    assert_eq!((own["title"].as_str(), own["content"].as_str()), (Some("VPN timeouts"), Some("Renew the lease.")));

    let other = app.owner("kb-ticket-other@example.com", "KB Ticket Other").await;
    let r = app.post("/v1/articles", &json!({"source_ticket_id": t["id"]}), &other.token).await;
    assert_eq!(invalid_fields(r).await, ["source_ticket_id"]);
    let mut fields = invalid_fields(app.post("/v1/articles", &json!({"tags": ["x"]}), &owner.token).await).await;
    fields.sort();
    assert_eq!(fields, ["content", "title"]);
    let r = app
        .post("/v1/articles", &json!({"title": "t", "content": "c", "tags": ["no spaces allowed"]}), &owner.token)
        .await;
    assert_eq!(invalid_fields(r).await, ["tags"]);
    let r = app.post("/v1/articles", &json!({"title": "t", "content": "c", "colour": "red"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ids(&app.get_json("/v1/articles", &other.token).await).len(), 0);
    assert_eq!(ids(&app.get_json("/v1/articles", &owner.token).await).len(), 2);
    app.stop().await;
}
