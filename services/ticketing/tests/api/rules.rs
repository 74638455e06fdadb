//! Decision rules through the API: conditions and every action on tickets created and changed
//! over HTTP, ordering, all/any, disabled rules, triggers, no loops, counts and rejections.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, invalid_fields, spawn_app, TestApp, User};

async fn rule(app: &TestApp, manager: &User, body: Value) -> Value {
    let r = app.post("/v1/rules", &body, &manager.token).await;
    assert_eq!(r.status(), StatusCode::CREATED, "rule {body}");
    r.json().await.unwrap()
}

async fn ticket(app: &TestApp, agent: &User, body: Value) -> Value {
    let t = app.create(agent, body).await;
    app.get_json(&format!("/v1/tickets/{}", t["id"].as_str().unwrap()), &agent.token).await
}

async fn count(app: &TestApp, manager: &User, rule: &Value) -> i64 {
    let r = app.get_json(&format!("/v1/rules/{}", rule["id"].as_str().unwrap()), &manager.token).await;
    r["trigger_count"].as_i64().unwrap()
}

fn tags(t: &Value) -> Vec<&str> {
    t["tags"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

/// A team of the organization, made in identity.
async fn team(app: &TestApp, owner: &User, name: &str) -> String {
    let r = app
        .http
        .post(format!("http://{}/v1/teams", app.identity_addr))
        .bearer_auth(&owner.token)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "team");
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn matching_rules_act_in_priority_order_and_count_their_triggers() {
    let app = spawn_app().await;
    let owner = app.owner("rules-order@example.com", "Rules Order").await;
    // Created out of order: priority, not age, decides.
    let second = rule(
        &app,
        &owner,
        json!({"name": "billing or vip", "priority": 20, "match": "any",
               "conditions": [{"field": "category", "operator": "eq", "value": "billing_payment"},
                              {"field": "tags", "operator": "contains", "value": "vip"}],
               "actions": [{"type": "add_tag", "tag": "second"}]}),
    )
    .await;
    let first = rule(
        &app,
        &owner,
        json!({"name": "refunds", "priority": 10,
               "conditions": [{"field": "text", "operator": "contains", "value": "REFUND"},
                              {"field": "priority", "operator": "lt", "value": "urgent"}],
               "actions": [{"type": "add_tag", "tag": "first"}, {"type": "set_priority", "priority": "urgent"}]}),
    )
    .await;
    assert_eq!(first["match"], "all");
    assert_eq!(first["triggers"], json!(["created"]));
    assert_eq!(first["trigger_count"], 0);
    let disabled = rule(
        &app,
        &owner,
        json!({"name": "off", "priority": 1, "enabled": false, "actions": [{"type": "add_tag", "tag": "disabled"}]}),
    )
    .await;
    let on_update = rule(
        &app,
        &owner,
        json!({"name": "later", "priority": 5, "triggers": ["updated"], "actions": [{"type": "add_tag", "tag": "updated"}]}),
    )
    .await;
    let all_fail = rule(
        &app,
        &owner,
        json!({"name": "all must hold", "priority": 30,
               "conditions": [{"field": "category", "operator": "eq", "value": "billing_payment"},
                              {"field": "channel", "operator": "eq", "value": "email"}],
               "actions": [{"type": "add_tag", "tag": "never"}]}),
    )
    .await;

    let t = ticket(
        &app,
        &owner,
        json!({"subject": "Refund for order 1234", "description": "Charged twice", "category": "billing_payment"}),
    )
    .await;
    assert_eq!(tags(&t), ["first", "second"]);
    assert_eq!(t["priority"], "urgent");

    let listed = app.get_json("/v1/rules", &owner.token).await;
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["off", "later", "refunds", "billing or vip", "all must hold"]);

    let plain = ticket(&app, &owner, json!({"subject": "Hello there"})).await;
    assert!(tags(&plain).is_empty());
    assert_eq!(plain["priority"], "normal");

    assert_eq!(count(&app, &owner, &first).await, 1);
    assert_eq!(count(&app, &owner, &second).await, 1);
    assert_eq!(count(&app, &owner, &disabled).await, 0);
    assert_eq!(count(&app, &owner, &on_update).await, 0);
    assert_eq!(count(&app, &owner, &all_fail).await, 0);
    let got = app.get_json(&format!("/v1/rules/{}", first["id"].as_str().unwrap()), &owner.token).await;
    assert!(got["last_triggered_at"].is_string());
    assert!(got["updated_at"] == first["updated_at"], "counting a trigger is not an edit");

    // Enabling the disabled rule makes it act on the next ticket.
    let r = app
        .patch(&format!("/v1/rules/{}", disabled["id"].as_str().unwrap()), &json!({"enabled": true}), &owner.token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t = ticket(&app, &owner, json!({"subject": "Another"})).await;
    assert_eq!(tags(&t), ["disabled"]);
    app.stop().await;
}

#[tokio::test]
async fn every_action_kind_applies_to_a_new_ticket() {
    let app = spawn_app().await;
    let owner = app.owner("rules-actions@example.com", "Rules Actions").await;
    let agent = app.member(&owner, "rules-agent@example.com", "agent").await;
    let support = team(&app, &owner, "Support").await;
    let queue = team(&app, &owner, "Queue").await;
    let r = app
        .post("/v1/articles", &json!({"title": "Resetting a password", "content": "Use the reset link."}), &owner.token)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let article: Value = r.json().await.unwrap();
    let r =
        app.post(&format!("/v1/articles/{}/publish", article["id"].as_str().unwrap()), &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);

    let when = |word: &str| json!([{"field": "subject", "operator": "contains", "value": word}]);
    for (word, action) in [
        ("assignuser", json!({"type": "assign_user", "user_id": agent.id})),
        ("assignteam", json!({"type": "assign_team", "team_id": support})),
        ("roundrobin", json!({"type": "round_robin", "team_id": queue})),
        ("setstatus", json!({"type": "set_status", "status": "in_progress"})),
        ("escalate", json!({"type": "escalate", "reason": "customer_request", "priority": "urgent"})),
        ("article", json!({"type": "reply_with_article", "article_id": article["id"]})),
    ] {
        rule(&app, &owner, json!({"name": word, "conditions": when(word), "actions": [action]})).await;
    }

    let t = ticket(&app, &owner, json!({"subject": "assignuser please"})).await;
    assert_eq!(t["assignee_id"], agent.id.as_str());
    let t = ticket(&app, &owner, json!({"subject": "assignteam please"})).await;
    assert_eq!(t["team_id"], support.as_str());
    let t = ticket(&app, &owner, json!({"subject": "roundrobin please"})).await;
    assert_eq!(t["team_id"], queue.as_str());
    let t = ticket(&app, &owner, json!({"subject": "setstatus please"})).await;
    assert_eq!(t["status"], "in_progress");

    let t = ticket(&app, &owner, json!({"subject": "escalate please"})).await;
    let escalated = app.messages("EVENTS", "events.ticket.escalated", 1).await;
    let (_, event) = &escalated[0];
    assert_eq!(event["data"]["ticket_id"], t["id"]);
    assert_eq!(event["data"]["reason"], "customer_request");
    assert_eq!(event["data"]["priority"], "urgent");
    assert_eq!(event["data"]["origin"], "rule");

    let t = ticket(&app, &owner, json!({"subject": "article please"})).await;
    let comments = app.get_json(&format!("/v1/tickets/{}/comments", t["id"].as_str().unwrap()), &owner.token).await;
    let replies: Vec<&Value> = comments["data"].as_array().unwrap().iter().collect();
    assert_eq!(replies.len(), 1, "{comments}");
    assert_eq!(replies[0]["author_kind"], "system");
    assert_eq!(replies[0]["is_internal"], false);
    assert!(replies[0]["body"].as_str().unwrap().contains("Use the reset link."));
    app.stop().await;
}

#[tokio::test]
async fn actions_never_set_off_rules_again() {
    let app = spawn_app().await;
    let owner = app.owner("rules-loops@example.com", "Rules Loops").await;
    // A tags what B looks for; B raises what C lowers; C's action would make B match again.
    let a = rule(
        &app,
        &owner,
        json!({"name": "a", "priority": 1, "triggers": ["created", "updated"],
               "conditions": [{"field": "subject", "operator": "contains", "value": "loop"}],
               "actions": [{"type": "add_tag", "tag": "looped"}]}),
    )
    .await;
    let b = rule(
        &app,
        &owner,
        json!({"name": "b", "priority": 2, "triggers": ["created", "updated"],
               "conditions": [{"field": "tags", "operator": "contains", "value": "looped"}],
               "actions": [{"type": "set_priority", "priority": "urgent"}]}),
    )
    .await;
    let c = rule(
        &app,
        &owner,
        json!({"name": "c", "priority": 3, "triggers": ["created", "updated"],
               "conditions": [{"field": "priority", "operator": "eq", "value": "urgent"}],
               "actions": [{"type": "set_priority", "priority": "low"}, {"type": "add_tag", "tag": "lowered"}]}),
    )
    .await;
    let t = ticket(&app, &owner, json!({"subject": "loop test"})).await;
    // Only A saw a matching ticket (the one created); its tag set off nothing.
    assert_eq!(tags(&t), ["looped"]);
    assert_eq!(t["priority"], "normal");
    assert_eq!(
        [count(&app, &owner, &a).await, count(&app, &owner, &b).await, count(&app, &owner, &c).await],
        [1, 0, 0]
    );

    // An edit is one evaluation, on the ticket as edited: A and B match; B's urgent does not
    // reach C, and A's own action (a tag it already has) does not run A again.
    let id = t["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/tickets/{id}"), &json!({"description": "edited"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert_eq!(t["priority"], "urgent");
    assert_eq!(tags(&t), ["looped"]);
    assert_eq!(
        [count(&app, &owner, &a).await, count(&app, &owner, &b).await, count(&app, &owner, &c).await],
        [2, 1, 0]
    );

    // The next edit sees the urgent ticket: B (still matching) and C act in order, C last, and
    // the low priority C leaves does not run B again — which, re-evaluated, would raise it
    // again, and C lower it, without end.
    let r = app.patch(&format!("/v1/tickets/{id}"), &json!({"description": "edited again"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert_eq!(t["priority"], "low");
    assert_eq!(tags(&t), ["looped", "lowered"]);
    assert_eq!(
        [count(&app, &owner, &a).await, count(&app, &owner, &b).await, count(&app, &owner, &c).await],
        [3, 2, 1]
    );
    app.stop().await;
}

#[tokio::test]
async fn customer_replies_run_their_rules_with_text_and_sentiment() {
    let app = spawn_app().await;
    let owner = app.owner("rules-reply@example.com", "Rules Reply").await;
    let customer = app.member(&owner, "rules-customer@example.com", "customer").await;
    rule(
        &app,
        &owner,
        json!({"name": "unhappy", "triggers": ["customer_reply"],
               "conditions": [{"field": "sentiment", "operator": "lt", "value": -0.3}],
               "actions": [{"type": "add_tag", "tag": "unhappy"}, {"type": "set_priority", "priority": "high"}]}),
    )
    .await;
    rule(
        &app,
        &owner,
        json!({"name": "mentions a chargeback", "triggers": ["customer_reply"],
               "conditions": [{"field": "text", "operator": "contains", "value": "chargeback"}],
               "actions": [{"type": "add_tag", "tag": "chargeback"}]}),
    )
    .await;
    let t = app.create(&customer, json!({"subject": "My order", "description": "Where is it?"})).await;
    let id = t["id"].as_str().unwrap();
    let t = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert!(tags(&t).is_empty(), "customer_reply rules do not run on create");

    let r = app
        .post(&format!("/v1/tickets/{id}/comments"), &json!({"body": "Thanks, lovely service!"}), &customer.token)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert!(t["sentiment"].as_f64().unwrap() > 0.3, "{}", t["sentiment"]);
    assert!(tags(&t).is_empty());

    let r = app
        .post(
            &format!("/v1/tickets/{id}/comments"),
            &json!({"body": "This is terrible and I am furious. I will file a chargeback."}),
            &customer.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await;
    assert!(t["sentiment"].as_f64().unwrap() < -0.3, "{}", t["sentiment"]);
    assert_eq!(tags(&t), ["unhappy", "chargeback"]);
    assert_eq!(t["priority"], "high");
    app.stop().await;
}

#[tokio::test]
async fn bad_rules_are_refused_naming_the_path_and_change_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("rules-bad@example.com", "Rules Bad").await;
    let customer = app.member(&owner, "rules-bad-customer@example.com", "customer").await;
    let agent = app.member(&owner, "rules-bad-agent@example.com", "agent").await;
    let ok_action = json!([{"type": "add_tag", "tag": "x"}]);
    let cases = [
        (
            json!({"name": "r", "conditions": [{"field": "mood", "operator": "eq", "value": "x"}], "actions": ok_action}),
            "conditions[0].field",
        ),
        (
            json!({"name": "r", "conditions": [{"field": "priority", "operator": "eq", "value": "high"},
                                               {"field": "priority", "operator": "like", "value": "high"}], "actions": ok_action}),
            "conditions[1].operator",
        ),
        (
            json!({"name": "r", "conditions": [{"field": "sentiment", "operator": "contains", "value": "sad"}], "actions": ok_action}),
            "conditions[0].operator",
        ),
        (
            json!({"name": "r", "conditions": [{"field": "hours_open", "operator": "gt", "value": "ten"}], "actions": ok_action}),
            "conditions[0].value",
        ),
        (
            json!({"name": "r", "conditions": [{"field": "priority", "operator": "eq", "value": "huge"}], "actions": ok_action}),
            "conditions[0].value",
        ),
        (
            json!({"name": "r", "actions": [{"type": "add_tag", "tag": "ok"}, {"type": "delete_ticket"}]}),
            "actions[1].type",
        ),
        (json!({"name": "r", "actions": [{"type": "set_priority", "priority": 3}]}), "actions[0].priority"),
        (json!({"name": "r", "actions": [{"type": "set_status", "status": "merged"}]}), "actions[0].status"),
        (json!({"name": "r", "actions": [{"type": "assign_user", "user_id": customer.id}]}), "actions[0].user_id"),
        (
            json!({"name": "r", "actions": [{"type": "assign_team", "team_id": uuid::Uuid::now_v7()}]}),
            "actions[0].team_id",
        ),
        (
            json!({"name": "r", "actions": [{"type": "reply_with_article", "article_id": uuid::Uuid::now_v7()}]}),
            "actions[0].article_id",
        ),
        (json!({"name": "r", "actions": []}), "actions"),
        (json!({"name": "r", "triggers": ["deleted"], "actions": ok_action}), "triggers[0]"),
        (json!({"name": " ", "actions": ok_action}), "name"),
    ];
    for (body, path) in cases {
        let fields = invalid_fields(app.post("/v1/rules", &body, &owner.token).await).await;
        assert!(fields.contains(&path.to_owned()), "{body}: {fields:?}");
    }
    assert_eq!(app.get_json("/v1/rules", &owner.token).await["data"], json!([]));

    let good = json!({"name": "fine", "actions": ok_action});
    assert_problem(app.post("/v1/rules", &good, &agent.token).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get("/v1/rules", &customer.token).await, StatusCode::FORBIDDEN).await;
    let r = rule(&app, &owner, good).await;
    let path = format!("/v1/rules/{}", r["id"].as_str().unwrap());
    let fields = invalid_fields(
        app.patch(&path, &json!({"conditions": [{"field": "tags", "operator": "gt", "value": "x"}]}), &owner.token)
            .await,
    )
    .await;
    assert_eq!(fields, ["conditions[0].operator"]);
    assert_eq!(app.get_json(&path, &owner.token).await["conditions"], json!([]));

    let other = app.owner("rules-other@example.com", "Rules Other").await;
    assert_problem(app.get(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.delete(&path, &owner.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &owner.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}
