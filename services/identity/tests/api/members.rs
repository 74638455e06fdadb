use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// An owner and an invited member of `role`: (owner body, member body).
pub async fn org_with_member(app: &TestApp, role: &str) -> (Value, Value) {
    let owner = app.signup("owner@example.com", "Acme").await;
    app.post("/v1/invitations", &json!({"email": "member@example.com", "role": role}), Some(&token(&owner))).await;
    let t = app.token_from_mail("member@example.com", "invitation").await;
    let member: Value = app
        .post("/v1/invitations/accept", &json!({"token": t, "name": "Member", "password": PASSWORD}), None)
        .await
        .json()
        .await
        .unwrap();
    (owner, member)
}

#[tokio::test]
async fn members_are_listed_paginated_and_filtered() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let page1: Value = app.get("/v1/members?limit=1", &token(&owner)).await.json().await.unwrap();
    assert_eq!(page1["data"].as_array().unwrap().len(), 1);
    assert_eq!(page1["data"][0]["role"], "owner");
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value =
        app.get(&format!("/v1/members?limit=1&cursor={cursor}"), &token(&owner)).await.json().await.unwrap();
    assert_eq!(page2["data"][0]["user_id"], member["user"]["id"]);
    assert!(page2["next_cursor"].is_null());
    let agents: Value = app.get("/v1/members?role=agent", &token(&owner)).await.json().await.unwrap();
    assert_eq!(agents["data"].as_array().unwrap().len(), 1);
    assert_problem(app.get("/v1/members?role=wizard", &token(&owner)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_problem(app.get("/v1/members?limit=0", &token(&owner)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_problem(app.get("/v1/members?cursor=zzz", &token(&owner)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.stop().await;
}

#[tokio::test]
async fn role_changes_take_effect_at_once() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let id = member["user"]["id"].as_str().unwrap();
    // An agent cannot change roles.
    let r = app.patch(&format!("/v1/members/{id}"), &json!({"role": "admin"}), &token(&member)).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    // The member's cached session sees its new role immediately.
    assert_eq!(app.get("/v1/me", &token(&member)).await.json::<Value>().await.unwrap()["role"], "agent");
    let r = app.patch(&format!("/v1/members/{id}"), &json!({"role": "admin"}), &token(&owner)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "admin");
    assert_eq!(app.get("/v1/me", &token(&member)).await.json::<Value>().await.unwrap()["role"], "admin");
    let r = app.patch(&format!("/v1/members/{id}"), &json!({"role": "emperor"}), &token(&owner)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // An admin cannot make owners.
    let r = app.patch(&format!("/v1/members/{id}"), &json!({"role": "owner"}), &token(&member)).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    app.stop().await;
}

#[tokio::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "admin").await;
    let owner_id = owner["user"]["id"].as_str().unwrap();
    let member_id = member["user"]["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/members/{owner_id}"), &json!({"role": "admin"}), &token(&owner)).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    assert_problem(app.delete(&format!("/v1/members/{owner_id}"), &token(&owner)).await, StatusCode::CONFLICT).await;
    // With a second owner, the first may step down.
    let r = app.patch(&format!("/v1/members/{member_id}"), &json!({"role": "owner"}), &token(&owner)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.patch(&format!("/v1/members/{owner_id}"), &json!({"role": "admin"}), &token(&owner)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let owners: Value = app.get("/v1/members?role=owner", &token(&member)).await.json().await.unwrap();
    assert_eq!(owners["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn removing_a_member_ends_their_sessions_there() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let id = member["user"]["id"].as_str().unwrap();
    assert_eq!(app.get("/v1/me", &token(&member)).await.status(), StatusCode::OK);
    assert_eq!(app.delete(&format!("/v1/members/{id}"), &token(&owner)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", &token(&member)).await.status(), StatusCode::UNAUTHORIZED);
    assert_problem(app.get(&format!("/v1/members/{id}"), &token(&owner)).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_members_are_not_found() {
    let app = spawn_app().await;
    let (owner, _) = org_with_member(&app, "agent").await;
    let eve = app.signup("eve@example.com", "Evil").await;
    let owner_id = owner["user"]["id"].as_str().unwrap();
    assert_problem(app.get(&format!("/v1/members/{owner_id}"), &token(&eve)).await, StatusCode::NOT_FOUND).await;
    let r = app.patch(&format!("/v1/members/{owner_id}"), &json!({"role": "agent"}), &token(&eve)).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&format!("/v1/members/{owner_id}"), &token(&eve)).await, StatusCode::NOT_FOUND).await;
    let list: Value = app.get("/v1/members", &token(&eve)).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_problem(app.get("/v1/members/not-a-uuid", &token(&eve)).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn organization_settings_are_updated_by_admins_only() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let r = app
        .patch("/v1/orgs/current", &json!({"name": "Acme 2", "settings": {"allow_anonymous": true}}), &token(&owner))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let org: Value = r.json().await.unwrap();
    assert_eq!(org["name"], "Acme 2");
    assert_eq!(org["settings"]["allow_anonymous"], true);
    let r = app.patch("/v1/orgs/current", &json!({"name": "Hacked"}), &token(&member)).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app.patch("/v1/orgs/current", &json!({"plan": "enterprise"}), &token(&owner)).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let current: Value = app.get("/v1/orgs/current", &token(&member)).await.json().await.unwrap();
    assert_eq!(current["name"], "Acme 2");
    assert_eq!(current["plan"], "free");
    app.stop().await;
}

#[tokio::test]
async fn profile_views_follow_changes_on_every_replica() {
    let ttl = [("AUTH_CACHE_TTL_SECS", "600")];
    let a = spawn_app_with(&ttl).await;
    let b = spawn_on(&a.database_url, &a.prefix, &ttl).await;
    let (owner, member) = org_with_member(&a, "agent").await;
    // The member also owns an organization of their own, whose /v1/me names Acme too.
    let own: Value = a
        .post("/v1/orgs", &json!({"name": "Member Co", "slug": "member-co"}), Some(&token(&member)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["role"], "owner");
    let r = a
        .post(
            "/v1/auth/login",
            &json!({"email": "member@example.com", "password": PASSWORD, "organization": "member-co"}),
            None,
        )
        .await;
    let elsewhere: Value = r.json().await.unwrap();
    // Warm both replicas' caches.
    for app in [&a, &b] {
        let me: Value = app.get("/v1/me", &token(&member)).await.json().await.unwrap();
        assert_eq!(me["organization"]["name"], "Acme");
        let me: Value = app.get("/v1/me", &token(&elsewhere)).await.json().await.unwrap();
        assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
    }
    a.patch("/v1/orgs/current", &json!({"name": "Acme Renamed"}), &token(&owner)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let mut fresh = true;
        for app in [&a, &b] {
            let me: Value = app.get("/v1/me", &token(&member)).await.json().await.unwrap();
            fresh &= me["organization"]["name"] == "Acme Renamed";
            let me: Value = app.get("/v1/me", &token(&elsewhere)).await.json().await.unwrap();
            fresh &= me["memberships"].as_array().unwrap().iter().any(|m| m["organization"]["name"] == "Acme Renamed");
        }
        if fresh {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "stale profile after a second");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The rename is seen at once on the replica that made it.
    let me: Value = a.get("/v1/me", &token(&owner)).await.json().await.unwrap();
    assert_eq!(me["organization"]["name"], "Acme Renamed");
    b.stop().await;
    a.stop().await;
}
