//! Creating and reading tickets: numbers, fields, who may set what, the prefix setting.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, invalid_fields, spawn_app};

fn year() -> i32 {
    use chrono::Datelike;
    chrono::Utc::now().year()
}

#[tokio::test]
async fn a_ticket_is_numbered_and_found_by_id_or_number() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let t = app
        .create(
            &owner,
            json!({"subject": "  Printer on fire ", "description": "Smoke everywhere", "priority": "urgent",
                   "severity": "critical", "category": "incident", "tags": ["HW", "hw", "office-2"],
                   "due_at": "2030-01-01T00:00:00Z", "estimated_hours": 1.5,
                   "requester": {"email": "bob@example.com", "name": "Bob"}}),
        )
        .await;
    assert_eq!(t["number"], format!("TKT-{}-000001", year()));
    assert_eq!(t["subject"], "Printer on fire");
    assert_eq!(t["status"], "open");
    assert_eq!(t["priority"], "urgent");
    assert_eq!(t["severity"], "critical");
    assert_eq!(t["category"], "incident");
    assert_eq!(t["tags"], json!(["hw", "office-2"]));
    assert_eq!(t["source"], "web");
    assert_eq!(t["estimated_hours"], 1.5);
    assert_eq!(t["actual_hours"], 0.0);
    assert_eq!(t["requester_email"], "bob@example.com");
    assert_eq!(t["reopen_count"], 0);
    let second = app.create(&owner, json!({"subject": "Second"})).await;
    assert_eq!(second["number"], format!("TKT-{}-000002", year()));
    assert_eq!(second["priority"], "normal");
    assert_eq!(second["category"], "general");

    let id = t["id"].as_str().unwrap();
    let number = t["number"].as_str().unwrap();
    assert_eq!(app.get_json(&format!("/v1/tickets/{id}"), &owner.token).await["number"], number);
    assert_eq!(app.get_json(&format!("/v1/tickets/{number}"), &owner.token).await["id"], id);
    // Numbers are matched whatever their case.
    let lower = number.to_lowercase();
    assert_eq!(app.get_json(&format!("/v1/tickets/{lower}"), &owner.token).await["id"], id);
    assert_problem(app.get("/v1/tickets/TKT-1999-000001", &owner.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn the_prefix_is_an_admin_setting_and_numbers_follow_it() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let settings = app.get_json("/v1/tickets/settings", &agent.token).await;
    assert_eq!(settings["ticket_prefix"], "TKT");
    assert_problem(
        app.put("/v1/tickets/settings", &json!({"ticket_prefix": "SUP"}), &agent.token).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    for bad in ["sup", "1SUP", "", "WAYTOOLONGPREFIX", "S-P"] {
        let r = app.put("/v1/tickets/settings", &json!({"ticket_prefix": bad}), &owner.token).await;
        assert_eq!(invalid_fields(r).await, ["ticket_prefix"], "{bad}");
    }
    let first = app.create(&agent, json!({"subject": "Before"})).await;
    let r = app.put("/v1/tickets/settings", &json!({"ticket_prefix": "SUP"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get_json("/v1/tickets/settings", &agent.token).await["ticket_prefix"], "SUP");
    let second = app.create(&agent, json!({"subject": "After"})).await;
    assert_eq!(first["number"], format!("TKT-{}-000001", year()));
    assert_eq!(second["number"], format!("SUP-{}-000002", year()));
    // The old number still finds its ticket, and `settings` is no ticket.
    assert_eq!(
        app.get_json(&format!("/v1/tickets/{}", first["number"].as_str().unwrap()), &agent.token).await["id"],
        first["id"]
    );
    app.stop().await;
}

#[tokio::test]
async fn customers_open_their_own_tickets_and_see_only_those() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let alice = app.member(&owner, "alice@example.com", "customer").await;
    let bob = app.member(&owner, "bob@example.com", "customer").await;
    let mine = app.create(&alice, json!({"subject": "My login fails", "category": "account_management"})).await;
    assert_eq!(mine["requester_user_id"], alice.id);
    assert_eq!(mine["sentiment"], Value::Null);
    for field in [json!({"priority": "urgent"}), json!({"assignee_id": owner.id}), json!({"tags": ["x"]})] {
        let mut body = json!({"subject": "Sneaky"});
        body.as_object_mut().unwrap().extend(field.as_object().unwrap().clone());
        assert_problem(app.post("/v1/tickets", &body, &alice.token).await, StatusCode::FORBIDDEN).await;
    }
    let theirs = app.create(&owner, json!({"subject": "Staff only"})).await;
    let path = format!("/v1/tickets/{}", mine["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &alice.token).await.status(), StatusCode::OK);
    assert_problem(app.get(&path, &bob.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(
        app.get(&format!("/v1/tickets/{}", theirs["id"].as_str().unwrap()), &alice.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let list = app.get_json("/v1/tickets", &alice.token).await;
    let ids: Vec<&Value> = list["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&mine["id"]]);
    assert!(app.get_json("/v1/tickets", &bob.token).await["data"].as_array().unwrap().is_empty());
    // Customers do not change tickets; agents do.
    assert_problem(app.patch(&path, &json!({"priority": "high"}), &alice.token).await, StatusCode::FORBIDDEN).await;
    app.stop().await;
}

#[tokio::test]
async fn other_tenants_tickets_are_not_found() {
    let app = spawn_app().await;
    let acme = app.owner("ada@example.com", "Acme").await;
    let globex = app.owner("hank@example.com", "Globex").await;
    let t = app.create(&acme, json!({"subject": "Acme's"})).await;
    let (id, number) = (t["id"].as_str().unwrap(), t["number"].as_str().unwrap());
    for key in [id, number] {
        let base = format!("/v1/tickets/{key}");
        assert_problem(app.get(&base, &globex.token).await, StatusCode::NOT_FOUND).await;
        assert_problem(app.patch(&base, &json!({"priority": "low"}), &globex.token).await, StatusCode::NOT_FOUND).await;
        assert_problem(app.delete(&base, &globex.token).await, StatusCode::NOT_FOUND).await;
        for sub in ["comments", "history", "attachments", "time-entries", "watchers"] {
            assert_problem(app.get(&format!("{base}/{sub}"), &globex.token).await, StatusCode::NOT_FOUND).await;
        }
        let r = app.post(&format!("{base}/comments"), &json!({"body": "hi"}), &globex.token).await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
        let r = app.post(&format!("{base}/csat"), &json!({"rating": 5}), &globex.token).await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
        let r = app.put(&format!("{base}/watchers/{}", globex.id), &json!({}), &globex.token).await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    // Merging into another tenant's ticket finds no target.
    let own = app.create(&globex, json!({"subject": "Globex's"})).await;
    let r = app
        .post(&format!("/v1/tickets/{}/merge", own["id"].as_str().unwrap()), &json!({"target": id}), &globex.token)
        .await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert!(app.get_json("/v1/tickets", &globex.token).await["data"].as_array().unwrap().len() == 1);
    // Nothing changed for Acme.
    let again = app.get_json(&format!("/v1/tickets/{id}"), &acme.token).await;
    assert_eq!(again["priority"], "normal");
    assert_eq!(again["status"], "open");
    app.stop().await;
}

#[tokio::test]
async fn agents_set_the_fields_assignees_are_checked_with_identity() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let other = app.owner("hank@example.com", "Globex").await;
    let t = app.create(&owner, json!({"subject": "Route me", "assignee_id": agent.id})).await;
    assert_eq!(t["assignee_id"], agent.id);
    for (who, why) in
        [(&customer.id, "must have the agent role or higher"), (&other.id, "is not a member of this organization")]
    {
        let r = app.post("/v1/tickets", &json!({"subject": "x", "assignee_id": who}), &owner.token).await;
        let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "assignee_id");
        assert_eq!(body["errors"][0]["message"], why);
    }
    let path = format!("/v1/tickets/{}", t["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &json!({"subject": "Routed", "tags": ["a"], "due_at": null, "estimated_hours": 2, "assignee_id": null}),
            &owner.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["subject"], "Routed");
    assert_eq!(after["tags"], json!(["a"]));
    assert_eq!(after["estimated_hours"], 2.0);
    assert_eq!(after["assignee_id"], Value::Null);
    let r = app
        .post(
            "/v1/tickets",
            &json!({"subject": "x", "customer_id": uuid::Uuid::new_v4(), "project_id": uuid::Uuid::new_v4()}),
            &owner.token,
        )
        .await;
    let mut fields = invalid_fields(r).await;
    fields.sort();
    assert_eq!(fields, ["customer_id", "project_id"]);
    let r = app.post("/v1/tickets", &json!({"subject": "x", "team_id": uuid::Uuid::new_v4()}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["team_id"]);
    app.stop().await;
}

#[tokio::test]
async fn managers_delete_tickets() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let t = app.create(&agent, json!({"subject": "Spam"})).await;
    let path = format!("/v1/tickets/{}", t["id"].as_str().unwrap());
    assert_problem(app.delete(&path, &agent.token).await, StatusCode::FORBIDDEN).await;
    assert_eq!(app.delete(&path, &owner.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &owner.token).await, StatusCode::NOT_FOUND).await;
    let events = app.messages("EVENTS", "events.ticket.deleted", 1).await;
    assert_eq!(events[0].1["data"]["ticket_id"], t["id"]);
    app.stop().await;
}
