use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::members::org_with_member;

#[tokio::test]
async fn teams_with_members() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let t = token(&owner);
    let r = app.post("/v1/teams", &json!({"name": "Support", "description": "Front line"}), Some(&t)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let team: Value = r.json().await.unwrap();
    let id = team["id"].as_str().unwrap();
    assert_problem(app.post("/v1/teams", &json!({"name": "Support"}), Some(&t)).await, StatusCode::CONFLICT).await;
    assert_problem(app.post("/v1/teams", &json!({"name": ""}), Some(&t)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Agents read but do not write.
    assert_problem(app.post("/v1/teams", &json!({"name": "Mine"}), Some(&token(&member))).await, StatusCode::FORBIDDEN)
        .await;

    let member_id = member["user"]["id"].as_str().unwrap();
    let r = app.put(&format!("/v1/teams/{id}/members/{member_id}"), &json!({"role": "lead"}), &t).await;
    assert_eq!(r.status(), StatusCode::OK);
    let got: Value = app.get(&format!("/v1/teams/{id}"), &token(&member)).await.json().await.unwrap();
    assert_eq!(got["members"][0]["user_id"], member_id);
    assert_eq!(got["members"][0]["role"], "lead");

    let r = app.patch(&format!("/v1/teams/{id}"), &json!({"name": "Tier 1", "is_active": false}), &t).await;
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Tier 1");
    let list: Value = app.get("/v1/teams", &t).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.delete(&format!("/v1/teams/{id}/members/{member_id}"), &t).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/v1/teams/{id}"), &t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/v1/teams/{id}"), &t).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn departments_crud() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let manager = owner["user"]["id"].as_str().unwrap();
    let r = app.post("/v1/departments", &json!({"name": "Sales", "manager_id": manager}), Some(&t)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let dept: Value = r.json().await.unwrap();
    assert_eq!(dept["manager_id"], manager);
    let id = dept["id"].as_str().unwrap();
    let stranger = uuid::Uuid::now_v7().to_string();
    let r = app.post("/v1/departments", &json!({"name": "Ops", "manager_id": stranger}), Some(&t)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.patch(&format!("/v1/departments/{id}"), &json!({"description": "Revenue"}), &t).await;
    assert_eq!(r.json::<Value>().await.unwrap()["description"], "Revenue");
    assert_eq!(app.delete(&format!("/v1/departments/{id}"), &t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.delete(&format!("/v1/departments/{id}"), &t).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_teams_and_departments_are_not_found() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let eve = app.signup("eve@example.com", "Evil").await;
    let team: Value =
        app.post("/v1/teams", &json!({"name": "Support"}), Some(&token(&owner))).await.json().await.unwrap();
    let dept: Value =
        app.post("/v1/departments", &json!({"name": "Sales"}), Some(&token(&owner))).await.json().await.unwrap();
    let (tid, did) = (team["id"].as_str().unwrap(), dept["id"].as_str().unwrap());
    let e = token(&eve);
    assert_problem(app.get(&format!("/v1/teams/{tid}"), &e).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.patch(&format!("/v1/teams/{tid}"), &json!({"name": "x"}), &e).await, StatusCode::NOT_FOUND)
        .await;
    assert_problem(app.delete(&format!("/v1/teams/{tid}"), &e).await, StatusCode::NOT_FOUND).await;
    let eve_id = eve["user"]["id"].as_str().unwrap();
    assert_problem(app.put(&format!("/v1/teams/{tid}/members/{eve_id}"), &json!({}), &e).await, StatusCode::NOT_FOUND)
        .await;
    // Nor can the owner add a stranger to their own team.
    let r = app.put(&format!("/v1/teams/{tid}/members/{eve_id}"), &json!({}), &token(&owner)).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert_problem(app.get(&format!("/v1/departments/{did}"), &e).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get("/v1/teams", &e).await.json::<Value>().await.unwrap()["data"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_response() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let send = |body: Value| {
        app.http
            .post(app.url("/v1/teams"))
            .bearer_auth(token(&owner))
            .header("idempotency-key", "create-support-1")
            .json(&body)
            .send()
    };
    let first = send(json!({"name": "Support"})).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send(json!({"name": "Support"})).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let other = send(json!({"name": "Sales"})).await.unwrap();
    assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    let teams: Value = app.get("/v1/teams", &token(&owner)).await.json().await.unwrap();
    assert_eq!(teams["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn lists_and_reads_of_the_directory() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let t = token(&owner);
    app.post("/v1/departments", &json!({"name": "Sales"}), Some(&t)).await;
    app.post("/v1/departments", &json!({"name": "Ops"}), Some(&t)).await;
    let list: Value = app.get("/v1/departments", &token(&member)).await.json().await.unwrap();
    let names: Vec<&str> = list["data"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ops", "Sales"]);
    let id = member["user"]["id"].as_str().unwrap();
    let got: Value = app.get(&format!("/v1/members/{id}"), &t).await.json().await.unwrap();
    assert_eq!(got["email"], "member@example.com");
    assert_eq!(got["role"], "agent");
    let orgs: Value = app.get("/v1/orgs", &token(&member)).await.json().await.unwrap();
    assert_eq!(orgs["data"][0]["slug"], "acme");
    assert_eq!(orgs["data"][0]["role"], "agent");
    // Customers cannot read the directory.
    app.patch(&format!("/v1/members/{id}"), &json!({"role": "customer"}), &t).await;
    assert_problem(app.get("/v1/teams", &token(&member)).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get("/v1/members", &token(&member)).await, StatusCode::FORBIDDEN).await;
    app.stop().await;
}
