//! Customer profiles: what agents keep about a customer, linked to a member, a contact or an
//! email, unique by each; a customer reads their own.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn create_customer(app: &TestApp, agent: &User, body: Value) -> Value {
    let r = app.post("/v1/customers", &body, &agent.token).await;
    let status = r.status();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "create {body}: {answer}");
    answer
}

#[tokio::test]
async fn agents_keep_a_profile_of_each_customer() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let c = create_customer(
        &app,
        &agent,
        json!({
            "email": "grace@example.com", "name": "  Grace Hopper ", "tier": "pro", "lifetime_value": 1234.567,
            "billing_cycle": "yearly", "token_balance": 500, "token_limit": 1000, "active_sites": 2,
            "sites_limit": 5, "context": {"browser": "Firefox", "os": "Linux"}, "preferences": {"language": "en"}
        }),
    )
    .await;
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["name"], "Grace Hopper");
    assert_eq!(c["tier"], "pro");
    assert_eq!(c["standing"], "good");
    assert_eq!(c["lifetime_value"], 1234.57);
    assert_eq!(c["billing_cycle"], "yearly");
    assert_eq!((c["token_balance"].as_i64(), c["token_limit"].as_i64()), (Some(500), Some(1000)));
    assert_eq!((c["active_sites"].as_i64(), c["sites_limit"].as_i64()), (Some(2), Some(5)));
    assert_eq!(c["context"]["browser"], "Firefox");
    assert_eq!(c["organization_id"], owner.org.as_str());
    assert_eq!(app.get_json(&format!("/v1/customers/{id}"), &agent.token).await, c);

    let r = app
        .patch(
            &format!("/v1/customers/{id}"),
            &json!({"tier": "enterprise", "standing": "warning", "billing_cycle": null, "token_limit": null}),
            &agent.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let changed: Value = r.json().await.unwrap();
    assert_eq!((changed["tier"].as_str(), changed["standing"].as_str()), (Some("enterprise"), Some("warning")));
    assert!(changed["billing_cycle"].is_null() && changed["token_limit"].is_null());
    assert_eq!(changed["email"], "grace@example.com", "fields not given are kept");

    create_customer(&app, &owner, json!({"contact_platform": "instagram", "contact_external_id": "grace.h"})).await;
    let all = app.get_json("/v1/customers", &agent.token).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let found = app.get_json("/v1/customers?q=GRACE@example", &agent.token).await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let page = app.get_json("/v1/customers?limit=1", &agent.token).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = app.get_json(&format!("/v1/customers?limit=1&cursor={cursor}"), &agent.token).await;
    assert_eq!(next["data"][0]["id"], id, "the older profile comes second");
    assert!(next["next_cursor"].is_null());
    let enterprise = app.get_json("/v1/customers?tier=enterprise", &agent.token).await;
    assert_eq!(enterprise["data"].as_array().unwrap().len(), 1);

    assert_eq!(app.delete(&format!("/v1/customers/{id}"), &agent.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/v1/customers/{id}"), &agent.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn a_customer_reads_their_own_profile_and_their_tickets_are_listed() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "grace@example.com", "customer").await;
    let profile = create_customer(&app, &owner, json!({"user_id": customer.id, "tier": "starter"})).await;
    let id = profile["id"].as_str().unwrap();
    assert_eq!(app.get_json("/v1/customers/me", &customer.token).await["id"], id);
    assert_problem(app.get("/v1/customers/me", &owner.token).await, StatusCode::NOT_FOUND).await;
    for path in ["/v1/customers".to_owned(), format!("/v1/customers/{id}"), format!("/v1/customers/{id}/tickets")] {
        assert_problem(app.get(&path, &customer.token).await, StatusCode::FORBIDDEN).await;
    }
    let r = app.patch(&format!("/v1/customers/{id}"), &json!({"tier": "pro"}), &customer.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;

    let ticket = app.create(&owner, json!({"subject": "Invoice", "description": "Wrong VAT", "customer_id": id})).await;
    app.create(&owner, json!({"subject": "Someone else", "description": "Not theirs"})).await;
    let tickets = app.get_json(&format!("/v1/customers/{id}/tickets"), &owner.token).await;
    let ids: Vec<&Value> = tickets["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, vec![&ticket["id"]]);
    app.stop().await;
}

#[tokio::test]
async fn a_person_has_one_profile() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let member = app.member(&owner, "grace@example.com", "customer").await;
    create_customer(&app, &owner, json!({"user_id": member.id})).await;
    create_customer(&app, &owner, json!({"email": "Linus@Example.com"})).await;
    let contact = json!({"contact_platform": "whatsapp", "contact_external_id": "+4912345"});
    let other = create_customer(&app, &owner, contact.clone()).await;
    for (body, what) in [
        (json!({"user_id": member.id, "email": "new@example.com"}), "user"),
        (json!({"email": "linus@example.COM"}), "email"),
        (contact, "contact"),
    ] {
        let p = assert_problem(app.post("/v1/customers", &body, &owner.token).await, StatusCode::CONFLICT).await;
        assert!(p["detail"].as_str().unwrap().contains(what), "{p}");
    }
    // A change into another profile's key is refused the same way, and changes nothing.
    let oid = other["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/customers/{oid}"), &json!({"email": "LINUS@example.com"}), &owner.token).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    assert!(app.get_json(&format!("/v1/customers/{oid}"), &owner.token).await["email"].is_null());
    // The same person may be a customer of another organization.
    let rival = app.owner("bob@example.com", "Rival").await;
    create_customer(&app, &rival, json!({"email": "linus@example.com"})).await;
    app.stop().await;
}

#[tokio::test]
async fn bad_profiles_are_refused_naming_each_field() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r = app
        .post(
            "/v1/customers",
            &json!({"email": "not-an-email", "tier": "gold", "lifetime_value": -1, "context": [1],
                    "token_balance": -5, "billing_cycle": "weekly", "name": "   "}),
            &owner.token,
        )
        .await;
    let mut fields = invalid_fields(r).await;
    fields.sort();
    assert_eq!(fields, ["billing_cycle", "context", "email", "lifetime_value", "name", "tier", "token_balance"]);
    for (body, field) in [
        (json!({}), "user_id"),
        (json!({"name": "Nobody"}), "user_id"),
        (json!({"user_id": Uuid::now_v7()}), "user_id"),
        (json!({"contact_platform": "whatsapp"}), "contact_external_id"),
        (json!({"contact_platform": "fax", "contact_external_id": "1"}), "contact_platform"),
        (json!({"email": "a@b.co", "preferences": {"x": "y".repeat(20_000)}}), "preferences"),
    ] {
        let fields = invalid_fields(app.post("/v1/customers", &body, &owner.token).await).await;
        assert_eq!(fields, [field], "{body}");
    }
    let r = app.post("/v1/customers", &json!({"email": "a@b.co", "colour": "red"}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app
        .http
        .post(app.url("/v1/customers"))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    // Clearing the last way to find the customer is refused.
    let c = create_customer(&app, &owner, json!({"email": "grace@example.com"})).await;
    let r =
        app.patch(&format!("/v1/customers/{}", c["id"].as_str().unwrap()), &json!({"email": null}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["user_id"]);
    assert_eq!(app.get_json("/v1/customers", &owner.token).await["data"].as_array().unwrap().len(), 1);
    for q in ["tier=gold", "limit=0", "cursor=nope"] {
        invalid_fields(app.get(&format!("/v1/customers?{q}"), &owner.token).await).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn other_organizations_profiles_do_not_exist_and_roles_are_checked() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let c = create_customer(&app, &owner, json!({"email": "grace@example.com"})).await;
    let id = c["id"].as_str().unwrap();
    let rival = app.owner("bob@example.com", "Rival").await;
    for r in [
        app.get(&format!("/v1/customers/{id}"), &rival.token).await,
        app.patch(&format!("/v1/customers/{id}"), &json!({"tier": "pro"}), &rival.token).await,
        app.delete(&format!("/v1/customers/{id}"), &rival.token).await,
        app.get(&format!("/v1/customers/{id}/tickets"), &rival.token).await,
    ] {
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    assert!(app.get_json("/v1/customers", &rival.token).await["data"].as_array().unwrap().is_empty());
    // A member of the rival organization is not a member here.
    let r = app.post("/v1/customers", &json!({"user_id": rival.id}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["user_id"]);
    assert_eq!(app.get_json(&format!("/v1/customers/{id}"), &owner.token).await["tier"], "free");

    let reader = app.api_key(&owner, "agent", &["tickets:read"]).await;
    assert_eq!(app.get(&format!("/v1/customers/{id}"), &reader).await.status(), StatusCode::OK);
    let r = app.post("/v1/customers", &json!({"email": "x@example.com"}), &reader).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let other = app.api_key(&owner, "agent", &["feedback:read"]).await;
    assert_problem(app.get("/v1/customers", &other).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get("/v1/customers", "nope").await, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn the_document_describes_profiles_and_projects() {
    let app = spawn_app().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    std::fs::write("/tmp/ticketing-openapi.json", serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    for path in [
        "/v1/customers",
        "/v1/customers/me",
        "/v1/customers/{id}",
        "/v1/customers/{id}/tickets",
        "/v1/projects",
        "/v1/projects/{id}",
        "/v1/projects/{id}/tickets",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} undocumented");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ProjectStatus"]["enum"], json!(["planning", "active", "on_hold", "completed", "cancelled"]));
    assert_eq!(schemas["Tier"]["enum"], json!(["free", "starter", "pro", "enterprise"]));
    assert!(doc["paths"]["/v1/projects/{id}"]["patch"]["responses"]["409"].is_object());
    app.stop().await;
}
