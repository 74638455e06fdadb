//! Projects: managers run them through their workflow, agents read them, tickets belong to them.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn create_project(app: &TestApp, manager: &User, body: Value) -> Value {
    let r = app.post("/v1/projects", &body, &manager.token).await;
    assert_eq!(r.status(), StatusCode::CREATED, "create {body}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn managers_run_a_project_through_its_workflow() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let manager = app.member(&owner, "manager@example.com", "manager").await;
    let client = app.member(&owner, "client@example.com", "customer").await;
    let p = create_project(
        &app,
        &manager,
        json!({"title": "New storefront", "project_type": "e_commerce", "budget": 12500.005,
               "start_date": "2025-03-01", "end_date": "2025-06-30", "requirements": "Stripe checkout",
               "client_user_id": client.id}),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(p["status"], "planning");
    assert_eq!(p["project_type"], "e_commerce");
    assert_eq!(p["budget"], 12500.01);
    assert_eq!((p["start_date"].as_str(), p["end_date"].as_str()), (Some("2025-03-01"), Some("2025-06-30")));
    assert_eq!(p["client_user_id"], client.id.as_str());
    assert_eq!(p["created_by"], manager.id.as_str());

    let path = format!("/v1/projects/{id}");
    let move_to = |status: &'static str| {
        let (app, path, token) = (&app, path.clone(), manager.token.clone());
        async move { app.patch(&path, &json!({"status": status}), &token).await }
    };
    let refused = assert_problem(move_to("completed").await, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().unwrap().ends_with("it can move to: active, cancelled"), "{refused}");
    for status in ["active", "on_hold", "active", "completed"] {
        let r = move_to(status).await;
        assert_eq!(r.status(), StatusCode::OK, "→ {status}");
        assert_eq!(r.json::<Value>().await.unwrap()["status"], status);
    }
    let refused = assert_problem(move_to("active").await, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().unwrap().ends_with("it can move to: cancelled"), "{refused}");
    assert_eq!(move_to("cancelled").await.status(), StatusCode::OK);
    let refused = assert_problem(move_to("planning").await, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().unwrap().contains("nothing"), "{refused}");
    assert_eq!(app.get_json(&path, &manager.token).await["status"], "cancelled");

    let r =
        app.patch(&path, &json!({"title": "Storefront v2", "budget": null, "requirements": null}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let changed: Value = r.json().await.unwrap();
    assert_eq!(changed["title"], "Storefront v2");
    assert!(changed["budget"].is_null() && changed["requirements"].is_null());
    assert_eq!(changed["start_date"], "2025-03-01", "fields not given are kept");
    app.stop().await;
}

#[tokio::test]
async fn agents_read_projects_and_customers_do_not() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let customer = app.member(&owner, "grace@example.com", "customer").await;
    let p = create_project(&app, &owner, json!({"title": "Help desk rollout"})).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(p["project_type"], "support");
    assert_eq!(app.get_json(&format!("/v1/projects/{id}"), &agent.token).await["title"], "Help desk rollout");
    assert_eq!(app.get_json("/v1/projects", &agent.token).await["data"].as_array().unwrap().len(), 1);
    for r in [
        app.post("/v1/projects", &json!({"title": "Mine"}), &agent.token).await,
        app.patch(&format!("/v1/projects/{id}"), &json!({"status": "active"}), &agent.token).await,
        app.delete(&format!("/v1/projects/{id}"), &agent.token).await,
        app.get("/v1/projects", &customer.token).await,
        app.get(&format!("/v1/projects/{id}"), &customer.token).await,
        app.get(&format!("/v1/projects/{id}/tickets"), &customer.token).await,
    ] {
        assert_problem(r, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(app.get_json(&format!("/v1/projects/{id}"), &agent.token).await["status"], "planning");
    app.stop().await;
}

#[tokio::test]
async fn a_projects_tickets_and_what_deleting_it_leaves() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let c = app.post("/v1/customers", &json!({"email": "grace@example.com"}), &owner.token).await;
    let customer: Value = c.json().await.unwrap();
    let p = create_project(&app, &owner, json!({"title": "Migration", "client_customer_id": customer["id"]})).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(p["client_customer_id"], customer["id"]);
    let filtered = app
        .get_json(&format!("/v1/projects?client_customer_id={}", customer["id"].as_str().unwrap()), &owner.token)
        .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    assert!(app.get_json("/v1/projects?status=active", &owner.token).await["data"].as_array().unwrap().is_empty());

    let ticket = app.create(&owner, json!({"subject": "Export fails", "description": "CSV", "project_id": id})).await;
    app.create(&owner, json!({"subject": "Unrelated", "description": "Other"})).await;
    let tickets = app.get_json(&format!("/v1/projects/{id}/tickets"), &owner.token).await;
    let ids: Vec<&Value> = tickets["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, vec![&ticket["id"]]);

    // Deleting the client's profile leaves the project without a client.
    let cid = customer["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/customers/{cid}"), &owner.token).await.status(), StatusCode::NO_CONTENT);
    assert!(app.get_json(&format!("/v1/projects/{id}"), &owner.token).await["client_customer_id"].is_null());
    assert_eq!(app.delete(&format!("/v1/projects/{id}"), &owner.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/v1/projects/{id}"), &owner.token).await, StatusCode::NOT_FOUND).await;
    let tid = ticket["id"].as_str().unwrap();
    assert!(app.get_json(&format!("/v1/tickets/{tid}"), &owner.token).await["project_id"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn bad_projects_are_refused_naming_each_field() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r =
        app.post("/v1/projects", &json!({"title": " ", "project_type": "spaceship", "budget": -5}), &owner.token).await;
    let mut fields = invalid_fields(r).await;
    fields.sort();
    assert_eq!(fields, ["budget", "project_type", "title"]);
    let rival = app.owner("bob@example.com", "Rival").await;
    let theirs = app.post("/v1/customers", &json!({"email": "x@example.com"}), &rival.token).await;
    let theirs: Value = theirs.json().await.unwrap();
    for (body, field) in [
        (json!({"title": "Late", "start_date": "2025-03-01", "end_date": "2025-02-28"}), "end_date"),
        (json!({"title": "Odd", "start_date": "2025-02-30"}), "start_date"),
        (json!({"title": "Long", "requirements": "r".repeat(20_001)}), "requirements"),
        (
            json!({"title": "Two", "client_user_id": owner.id, "client_customer_id": Uuid::now_v7()}),
            "client_customer_id",
        ),
        (json!({"title": "Stranger", "client_user_id": rival.id}), "client_user_id"),
        (json!({"title": "Theirs", "client_customer_id": theirs["id"]}), "client_customer_id"),
    ] {
        let fields = invalid_fields(app.post("/v1/projects", &body, &owner.token).await).await;
        assert_eq!(fields, [field], "{body}");
    }
    // A project starts in planning: the status is not a field of a new one.
    let r = app.post("/v1/projects", &json!({"title": "Started", "status": "active"}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(app.get_json("/v1/projects", &owner.token).await["data"].as_array().unwrap().is_empty());

    let p = create_project(&app, &owner, json!({"title": "Dated", "start_date": "2025-03-01"})).await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap());
    let r = app.patch(&path, &json!({"end_date": "2025-01-01"}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["end_date"]);
    let r = app.patch(&path, &json!({"status": "paused"}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["status"]);
    let r = app.patch(&path, &json!({"title": null}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["title"]);
    assert!(app.get_json(&path, &owner.token).await["end_date"].is_null());
    for q in ["status=paused", "limit=500", "cursor=x"] {
        invalid_fields(app.get(&format!("/v1/projects?{q}"), &owner.token).await).await;
    }

    for r in [
        app.get(&path, &rival.token).await,
        app.patch(&path, &json!({"title": "Mine now"}), &rival.token).await,
        app.delete(&path, &rival.token).await,
        app.get(&format!("{path}/tickets"), &rival.token).await,
    ] {
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(app.get_json(&path, &owner.token).await["title"], "Dated");
    app.stop().await;
}
