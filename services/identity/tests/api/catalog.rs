//! The events of DESIGN.md §3's identity family beyond sign-up and membership, as a consumer of
//! the stream sees them, and the expiry every one-time link's mail carries.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::members::org_with_member;

fn org_id(body: &Value) -> &str {
    body["organization"]["id"].as_str().unwrap()
}

fn user_id(body: &Value) -> &str {
    body["user"]["id"].as_str().unwrap()
}

#[tokio::test]
async fn organization_updates_say_what_changed_and_never_the_settings_values() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let body = json!({"name": "Acme 2", "description": "Widgets", "settings": {"secret_color": "hunter2"}});
    assert_eq!(app.patch("/v1/orgs/current", &body, &token(&owner)).await.status(), StatusCode::OK);
    let e = app.event("identity.org.updated", |_| true).await;
    assert_eq!(e["orgid"], org_id(&owner));
    assert_eq!(e["data"]["organization_id"], org_id(&owner));
    assert_eq!(e["data"]["name"], "Acme 2");
    assert_eq!(e["data"]["description"], "Widgets");
    assert_eq!(e["data"]["slug"], "acme");
    assert_eq!(e["data"]["changed"], json!(["name", "description", "settings"]));
    assert_eq!(e["data"]["actor_id"], user_id(&owner));
    assert!(!e.to_string().contains("hunter2"), "settings values stay out of events: {e}");

    // Clearing with null is a change; sending the same values again is none.
    app.patch("/v1/orgs/current", &json!({"description": null}), &token(&owner)).await;
    app.patch("/v1/orgs/current", &json!({"name": "Acme 2"}), &token(&owner)).await;
    app.patch("/v1/orgs/current", &json!({"name": "Acme 3"}), &token(&owner)).await;
    app.event("identity.org.updated", |e| e["data"]["name"] == "Acme 3").await;
    let updates: Vec<Value> = app
        .events(0)
        .await
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e["type"] == "identity.org.updated")
        .map(|e| e["data"]["changed"].clone())
        .collect();
    assert_eq!(updates, [json!(["name", "description", "settings"]), json!(["description"]), json!(["name"])]);
    app.stop().await;
}

#[tokio::test]
async fn team_lifecycle_and_membership_events() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let t = token(&owner);
    let team: Value = app
        .post("/v1/teams", &json!({"name": "Support", "description": "Front line"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    let id = team["id"].as_str().unwrap();
    let mid = user_id(&member);
    app.put(&format!("/v1/teams/{id}/members/{mid}"), &json!({}), &t).await;
    app.put(&format!("/v1/teams/{id}/members/{mid}"), &json!({}), &t).await;
    app.put(&format!("/v1/teams/{id}/members/{mid}"), &json!({"role": "lead"}), &t).await;
    app.patch(&format!("/v1/teams/{id}"), &json!({"name": "Tier 1", "manager_id": mid}), &t).await;
    assert_eq!(app.delete(&format!("/v1/teams/{id}/members/{mid}"), &t).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/v1/teams/{id}"), &t).await.status(), StatusCode::NO_CONTENT);

    let created = app.event("identity.team.created", |_| true).await;
    assert_eq!(created["orgid"], org_id(&owner));
    assert_eq!(created["subject"], id);
    assert_eq!(created["data"]["id"], id);
    assert_eq!(created["data"]["name"], "Support");
    assert_eq!(created["data"]["description"], "Front line");
    assert_eq!(created["data"]["is_active"], true);
    assert_eq!(created["data"]["actor_id"], user_id(&owner));

    let updated = app.event("identity.team.updated", |_| true).await;
    assert_eq!(updated["data"]["name"], "Tier 1");
    assert_eq!(updated["data"]["manager_id"], mid);
    assert_eq!(updated["data"]["changed"], json!(["name", "manager_id"]));

    let deleted = app.event("identity.team.deleted", |_| true).await;
    assert_eq!(
        deleted["data"],
        json!({"id": id, "organization_id": org_id(&owner), "name": "Tier 1", "actor_id": user_id(&owner)})
    );

    let removed = app.event("identity.team.member_removed", |_| true).await;
    assert_eq!(removed["data"]["team_id"], id);
    assert_eq!(removed["data"]["user_id"], mid);

    // Joining, then the role change; the repeated PUT changed nothing and told nothing.
    let added: Vec<Value> = app
        .events(0)
        .await
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e["type"] == "identity.team.member_added")
        .map(|e| json!([e["data"]["role"], e["data"]["previous_role"], e["data"]["user_id"]]))
        .collect();
    assert_eq!(added, [json!(["member", null, mid]), json!(["lead", "member", mid])]);
    app.stop().await;
}

#[tokio::test]
async fn leaving_the_organization_leaves_its_teams_with_an_event_each() {
    let app = spawn_app().await;
    let (owner, member) = org_with_member(&app, "agent").await;
    let t = token(&owner);
    let mid = user_id(&member);
    let mut teams = Vec::new();
    for name in ["One", "Two"] {
        let team: Value = app.post("/v1/teams", &json!({"name": name}), Some(&t)).await.json().await.unwrap();
        let id = team["id"].as_str().unwrap().to_owned();
        app.put(&format!("/v1/teams/{id}/members/{mid}"), &json!({}), &t).await;
        teams.push(id);
    }
    assert_eq!(app.delete(&format!("/v1/members/{mid}"), &t).await.status(), StatusCode::NO_CONTENT);
    app.event("identity.member.removed", |e| e["data"]["user_id"] == mid).await;
    let mut left: Vec<String> = app
        .events(0)
        .await
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e["type"] == "identity.team.member_removed" && e["data"]["user_id"] == mid)
        .map(|e| e["data"]["team_id"].as_str().unwrap().to_owned())
        .collect();
    left.sort();
    teams.sort();
    assert_eq!(left, teams);
    app.stop().await;
}

#[tokio::test]
async fn department_lifecycle_events() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let dept: Value = app.post("/v1/departments", &json!({"name": "Sales"}), Some(&t)).await.json().await.unwrap();
    let id = dept["id"].as_str().unwrap();
    app.patch(&format!("/v1/departments/{id}"), &json!({"is_active": false}), &t).await;
    app.delete(&format!("/v1/departments/{id}"), &t).await;
    let created = app.event("identity.department.created", |_| true).await;
    assert_eq!(created["data"]["name"], "Sales");
    assert_eq!(created["data"]["changed"], json!([]));
    let updated = app.event("identity.department.updated", |_| true).await;
    assert_eq!(updated["data"]["is_active"], false);
    assert_eq!(updated["data"]["changed"], json!(["is_active"]));
    let deleted = app.event("identity.department.deleted", |_| true).await;
    assert_eq!(deleted["data"]["id"], id);
    assert_eq!(deleted["data"]["name"], "Sales");
    app.stop().await;
}

#[tokio::test]
async fn api_key_events_never_carry_the_key() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let created: Value = app
        .post("/v1/api-keys", &json!({"name": "CI", "scopes": ["feedback:read"], "role": "manager"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/api-keys/{id}"), &t).await.status(), StatusCode::NO_CONTENT);
    let made = app.event("identity.api_key.created", |_| true).await;
    assert_eq!(made["orgid"], org_id(&owner));
    assert_eq!(made["data"]["api_key_id"], id);
    assert_eq!(made["data"]["name"], "CI");
    assert_eq!(made["data"]["prefix"], created["prefix"]);
    assert_eq!(made["data"]["scopes"], json!(["feedback:read"]));
    assert_eq!(made["data"]["role"], "manager");
    assert_eq!(made["data"]["created_by"], user_id(&owner));
    let revoked = app.event("identity.api_key.revoked", |_| true).await;
    assert_eq!(revoked["data"]["api_key_id"], id);
    assert_eq!(revoked["data"]["revoked_by"], user_id(&owner));
    let hash: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM api_keys WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for e in [made, revoked] {
        let text = e.to_string();
        assert!(!text.contains(key) && !text.contains(&hex::encode(&hash)), "no key in {text}");
        assert!(!text.contains(&key[12..]), "not even the secret part: {text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cancelled_and_replaced_invitations_are_told() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let t = token(&owner);
    let first: Value = app
        .post("/v1/invitations", &json!({"email": "bob@example.com", "role": "agent"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    // A new invitation to the same address replaces the pending one.
    let second: Value = app
        .post("/v1/invitations", &json!({"email": "bob@example.com", "role": "manager"}), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    let id = second["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/invitations/{id}"), &t).await.status(), StatusCode::NO_CONTENT);
    let replaced = app.event("identity.invitation.cancelled", |e| e["data"]["reason"] == "replaced").await;
    assert_eq!(replaced["data"]["invitation_id"], first["id"]);
    assert_eq!(replaced["data"]["role"], "agent");
    let cancelled = app.event("identity.invitation.cancelled", |e| e["data"]["reason"] == "cancelled").await;
    assert_eq!(cancelled["orgid"], org_id(&owner));
    assert_eq!(cancelled["data"]["invitation_id"], id);
    assert_eq!(cancelled["data"]["email"], "bob@example.com");
    assert_eq!(cancelled["data"]["role"], "manager");
    assert_eq!(cancelled["data"]["actor_id"], user_id(&owner));
    assert!(!cancelled.to_string().contains("token"), "{cancelled}");
    app.stop().await;
}

#[tokio::test]
async fn verifying_the_email_is_told_once() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    app.post("/v1/auth/verify-email/resend", &json!({}), Some(&token(&owner))).await;
    let first = app.token_from_mail("ada@example.com", "email_verification").await;
    let second = app.token_from_mail("ada@example.com", "email_verification").await;
    for t in [&first, &second] {
        assert_eq!(
            app.post("/v1/auth/verify-email", &json!({"token": t}), None).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    let e = app.event("identity.user.email_verified", |_| true).await;
    assert_eq!(e["data"], json!({"user_id": user_id(&owner), "email": "ada@example.com"}));
    // Something later happened (an org update); still one verification event.
    app.patch("/v1/orgs/current", &json!({"name": "Later"}), &token(&owner)).await;
    app.event("identity.org.updated", |_| true).await;
    let n = app.events(0).await.iter().filter(|(_, e)| e["type"] == "identity.user.email_verified").count();
    assert_eq!(n, 1);
    app.stop().await;
}

/// The mail's `link_expires_at` is the link's real lifetime (the dispatcher drops a parked mail
/// then).
#[tokio::test]
async fn every_one_time_link_mail_says_when_it_expires() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    app.post("/v1/invitations", &json!({"email": "bob@example.com", "role": "agent"}), Some(&token(&owner))).await;
    app.post("/v1/auth/password-reset", &json!({"email": "ada@example.com"}), None).await;
    let mut seen = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while seen.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "mails: {seen:?}");
        for m in app.mails(1).await {
            seen.insert(m["data"]["template"].as_str().unwrap().to_owned(), m["data"].clone());
        }
    }
    let now = chrono::Utc::now();
    for (template, hours) in [("email_verification", 48), ("invitation", 72), ("password_reset", 1)] {
        let mail = &seen[template];
        let at = chrono::DateTime::parse_from_rfc3339(mail["link_expires_at"].as_str().unwrap()).unwrap();
        let left = at.with_timezone(&chrono::Utc) - now;
        assert!(
            left <= chrono::Duration::hours(hours)
                && left > chrono::Duration::hours(hours) - chrono::Duration::minutes(1),
            "{template}: {left}"
        );
    }
    let table_expiry: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT expires_at FROM invitations").fetch_one(&app.pool).await.unwrap();
    let mailed = chrono::DateTime::parse_from_rfc3339(seen["invitation"]["link_expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(mailed.timestamp_micros(), table_expiry.timestamp_micros());
    app.stop().await;
}
