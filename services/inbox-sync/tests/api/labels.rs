//! Labels and internal notes as agents use them: labels unique by name in the organization, put
//! on and taken off conversations idempotently (one `inbox.conversation.updated` per change)
//! and filtering the list; notes that never reach the platform or the unread count and that
//! only their author or an admin deletes; nothing of it visible to another organization or to a
//! caller below the agent role.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const TEXT: &str = "whatsapp/inbound_text.json";

/// An organization with the fixtures' WhatsApp number connected and the conversation the
/// fixture's inbound message creates: the owner and the conversation's id.
async fn setup(app: &TestApp) -> (User, String) {
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let signature = manifest_header(TEXT, "X-Hub-Signature-256");
    let r = app.meta("/webhooks/whatsapp", &fixture(TEXT), Some(signature.as_str())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = app.get_json("/v1/conversations", &owner.token).await;
    let list = page["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{page}");
    (owner, list[0]["id"].as_str().unwrap().to_owned())
}

async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>, token: &str) -> Response {
    let mut r = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        r = r.json(&body);
    }
    r.send().await.unwrap()
}

/// Creates a label; the 201's label.
async fn label(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/v1/inbox/labels", &body, token).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{body}");
    r.json().await.unwrap()
}

/// The names of the organization's labels, in the list's order.
async fn label_names(app: &TestApp, token: &str) -> Vec<String> {
    let list = app.get_json("/v1/inbox/labels", token).await;
    list["data"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect()
}

/// Puts (`PUT`) or takes off (`DELETE`) a label; the 200's conversation.
async fn relabel(app: &TestApp, method: Method, conversation: &str, label: &str, token: &str) -> Value {
    let r = call(app, method, &format!("/v1/conversations/{conversation}/labels/{label}"), None, token).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The `inbox.conversation.updated` events of the conversation, in order, once one of them
/// changed `marker`: the relay publishes in the order of writing, so every event written before
/// the marker is among them.
async fn updated_until(app: &TestApp, conversation: &str, marker: &str) -> Vec<Value> {
    until_some(&format!("an inbox.conversation.updated event of {marker}"), || async {
        let events: Vec<Value> = app
            .messages("EVENTS", "events.inbox.conversation.updated", 1)
            .await
            .into_iter()
            .filter(|e| e["data"]["conversation_id"] == conversation)
            .collect();
        if events.iter().any(|e| e["data"]["changed"] == json!([marker])) {
            Some(events)
        } else {
            None
        }
    })
    .await
}

/// The field a 422 names first.
async fn invalid_field(r: Response) -> String {
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    p["errors"][0]["field"].as_str().unwrap().to_owned()
}

/// An API key of `owner`'s organization acting with `role` and `scopes`.
async fn api_key(app: &TestApp, owner: &User, role: &str, scopes: &[&str]) -> String {
    let r = app
        .http
        .post(format!("http://{}/v1/api-keys", app.identity_addr))
        .bearer_auth(&owner.token)
        .json(&json!({"name": format!("{role} key"), "role": role, "scopes": scopes}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "api key");
    r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn labels_are_created_listed_renamed_recolored_and_deleted() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let t = owner.token.as_str();

    let vip = label(&app, t, json!({"name": "  VIP  "})).await;
    assert_eq!(vip["name"], "VIP");
    assert_eq!(vip["color"], "#6366f1");
    assert_eq!(vip["organization_id"], owner.org.as_str());
    let billing = label(&app, t, json!({"name": "Billing", "color": "#FF0000"})).await;
    assert_eq!(billing["color"], "#ff0000");
    assert_eq!(label_names(&app, t).await, ["Billing", "VIP"]);

    // A name is unique in the organization, after trimming.
    let p = assert_problem(app.post("/v1/inbox/labels", &json!({"name": "VIP "}), t).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("name"), "{p}");
    for (body, field) in [
        (json!({"name": "Red", "color": "red"}), "color"),
        (json!({"name": "Red", "color": "#ff00000"}), "color"),
        (json!({"name": "   "}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(51)}), "name"),
        (json!({"name": "bell\u{7}"}), "name"),
    ] {
        assert_eq!(invalid_field(app.post("/v1/inbox/labels", &body, t).await).await, field, "{body}");
    }
    let unknown = app.post("/v1/inbox/labels", &json!({"name": "Red", "icon": "star"}), t).await;
    assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(label_names(&app, t).await, ["Billing", "VIP"]);

    let path = format!("/v1/inbox/labels/{}", vip["id"].as_str().unwrap());
    let r = call(&app, Method::PATCH, &path, Some(json!({"name": "Priority"})), t).await;
    assert_eq!(r.status(), StatusCode::OK);
    let renamed: Value = r.json().await.unwrap();
    assert_eq!((renamed["name"].as_str(), renamed["color"].as_str()), (Some("Priority"), Some("#6366f1")));
    let r = call(&app, Method::PATCH, &path, Some(json!({"color": "#00AA00"})), t).await;
    assert_eq!(r.status(), StatusCode::OK);
    let recolored: Value = r.json().await.unwrap();
    assert_eq!((recolored["name"].as_str(), recolored["color"].as_str()), (Some("Priority"), Some("#00aa00")));
    assert_eq!(recolored["id"], vip["id"]);
    let taken = call(&app, Method::PATCH, &path, Some(json!({"name": "Billing"})), t).await;
    assert_problem(taken, StatusCode::CONFLICT).await;
    let bad = call(&app, Method::PATCH, &path, Some(json!({"color": "#12345"})), t).await;
    assert_eq!(invalid_field(bad).await, "color");
    let missing = format!("/v1/inbox/labels/{}", uuid::Uuid::now_v7());
    assert_problem(call(&app, Method::PATCH, &missing, Some(json!({"name": "X"})), t).await, StatusCode::NOT_FOUND)
        .await;

    let billing_path = format!("/v1/inbox/labels/{}", billing["id"].as_str().unwrap());
    assert_eq!(call(&app, Method::DELETE, &billing_path, None, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(call(&app, Method::DELETE, &billing_path, None, t).await, StatusCode::NOT_FOUND).await;
    assert_eq!(label_names(&app, t).await, ["Priority"]);
    // Its name is free again.
    label(&app, t, json!({"name": "Billing"})).await;
    app.stop().await;
}

#[tokio::test]
async fn a_label_on_a_conversation_shows_filters_and_comes_off_with_one_event_per_change() {
    let app = spawn_app().await;
    let (owner, conversation) = setup(&app).await;
    let t = owner.token.as_str();
    let vip = label(&app, t, json!({"name": "VIP"})).await;
    let vip = vip["id"].as_str().unwrap();
    label(&app, t, json!({"name": "Spam"})).await;

    // Twice: the second changes nothing.
    assert_eq!(relabel(&app, Method::PUT, &conversation, vip, t).await["labels"], json!(["VIP"]));
    assert_eq!(relabel(&app, Method::PUT, &conversation, vip, t).await["labels"], json!(["VIP"]));
    let shown = app.get_json(&format!("/v1/conversations/{conversation}"), t).await;
    assert_eq!(shown["labels"], json!(["VIP"]));
    let by_label = app.get_json("/v1/conversations?label=VIP", t).await;
    let ids: Vec<&str> = by_label["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [conversation.as_str()]);
    assert_eq!(app.get_json("/v1/conversations?label=Spam", t).await["data"], json!([]));

    // Off, twice.
    assert_eq!(relabel(&app, Method::DELETE, &conversation, vip, t).await["labels"], json!([]));
    assert_eq!(relabel(&app, Method::DELETE, &conversation, vip, t).await["labels"], json!([]));
    assert_eq!(app.get_json("/v1/conversations?label=VIP", t).await["data"], json!([]));

    // A status change as the marker: once its event is out, so is every labels event before it.
    let path = format!("/v1/conversations/{conversation}");
    let closed = call(&app, Method::PATCH, &path, Some(json!({"status": "closed"})), t).await;
    assert_eq!(closed.status(), StatusCode::OK);
    let events = updated_until(&app, &conversation, "status").await;
    let labelled: Vec<&Value> = events.iter().filter(|e| e["data"]["changed"] == json!(["labels"])).collect();
    assert_eq!(labelled.len(), 2, "one for on, one for off: {events:?}");
    assert_eq!(labelled[0]["data"]["organization_id"], owner.org.as_str());

    // Deleting a label takes it off its conversations.
    relabel(&app, Method::PUT, &conversation, vip, t).await;
    let r = call(&app, Method::DELETE, &format!("/v1/inbox/labels/{vip}"), None, t).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_json(&format!("/v1/conversations/{conversation}"), t).await["labels"], json!([]));

    // Unknown labels and conversations.
    let nobody = uuid::Uuid::now_v7().to_string();
    for c in [conversation.as_str(), nobody.as_str()] {
        let path = format!("/v1/conversations/{c}/labels/{vip}");
        for method in [Method::PUT, Method::DELETE] {
            assert_problem(call(&app, method, &path, None, t).await, StatusCode::NOT_FOUND).await;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn notes_stay_internal_and_only_their_author_or_an_admin_deletes_them() {
    let app = spawn_app().await;
    let (owner, conversation) = setup(&app).await;
    let t = owner.token.as_str();
    let before = app.get_json(&format!("/v1/conversations/{conversation}"), t).await;
    let notes = format!("/v1/conversations/{conversation}/notes");

    let r = app.post(&notes, &json!({"content": "  Called them: ships Monday.\n"}), t).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["content"], "Called them: ships Monday.");
    assert_eq!(first["author_id"], owner.id.as_str());
    assert_eq!(first["conversation_id"], conversation.as_str());
    let r = app.post(&notes, &json!({"content": "Refund approved"}), t).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let second: Value = r.json().await.unwrap();
    for body in [json!({"content": " \n\t "}), json!({"content": ""}), json!({"content": "x".repeat(10_001)})] {
        assert_eq!(invalid_field(app.post(&notes, &body, t).await).await, "content");
    }

    // Oldest first, a page at a time.
    let page = app.get_json(&format!("{notes}?limit=1"), t).await;
    assert_eq!(page["data"][0]["id"], first["id"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let page = app.get_json(&format!("{notes}?limit=1&cursor={cursor}"), t).await;
    assert_eq!(page["data"][0]["id"], second["id"]);
    assert_eq!(page["next_cursor"], Value::Null);

    // Neither the platform nor the conversation's counters saw them.
    let after = app.get_json(&format!("/v1/conversations/{conversation}"), t).await;
    for field in ["unread_count", "last_message_preview", "last_message_at"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    let messages = app.get_json(&format!("/v1/conversations/{conversation}/messages"), t).await;
    assert_eq!(messages["data"].as_array().unwrap().len(), 1, "{messages}");
    assert!(app.graph.sends().is_empty());

    // An agent's API key writes notes without an author, and cannot delete another's.
    let agent = api_key(&app, &owner, "agent", &["inbox:*"]).await;
    let r = app.post(&notes, &json!({"content": "Escalated"}), &agent).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let by_key: Value = r.json().await.unwrap();
    assert_eq!(by_key["author_id"], Value::Null);
    let first_path = format!("{notes}/{}", first["id"].as_str().unwrap());
    assert_problem(call(&app, Method::DELETE, &first_path, None, &agent).await, StatusCode::FORBIDDEN).await;

    // The owner deletes their own and, as an admin, the key's.
    assert_eq!(call(&app, Method::DELETE, &first_path, None, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(call(&app, Method::DELETE, &first_path, None, t).await, StatusCode::NOT_FOUND).await;
    let key_path = format!("{notes}/{}", by_key["id"].as_str().unwrap());
    assert_eq!(call(&app, Method::DELETE, &key_path, None, t).await.status(), StatusCode::NO_CONTENT);
    let left = app.get_json(&notes, t).await;
    let ids: Vec<&Value> = left["data"].as_array().unwrap().iter().map(|n| &n["id"]).collect();
    assert_eq!(ids, [&second["id"]]);

    let nobody = uuid::Uuid::now_v7();
    assert_problem(app.get(&format!("/v1/conversations/{nobody}/notes"), t).await, StatusCode::NOT_FOUND).await;
    let r = app.post(&format!("/v1/conversations/{nobody}/notes"), &json!({"content": "hi"}), t).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn another_organization_reaches_none_of_it() {
    let app = spawn_app().await;
    let (owner, conversation) = setup(&app).await;
    let t = owner.token.as_str();
    let vip = label(&app, t, json!({"name": "VIP"})).await;
    let vip = vip["id"].as_str().unwrap();
    relabel(&app, Method::PUT, &conversation, vip, t).await;
    let notes = format!("/v1/conversations/{conversation}/notes");
    let r = app.post(&notes, &json!({"content": "Internal only"}), t).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let note: Value = r.json().await.unwrap();
    let note_path = format!("{notes}/{}", note["id"].as_str().unwrap());

    let other = app.owner("bob@example.com", "Other").await;
    let o = other.token.as_str();
    let theirs = label(&app, o, json!({"name": "VIP"})).await;
    let theirs = theirs["id"].as_str().unwrap();
    assert_eq!(label_names(&app, o).await, ["VIP"]);

    let label_path = format!("/v1/inbox/labels/{vip}");
    let r = call(&app, Method::PATCH, &label_path, Some(json!({"name": "Mine"})), o).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert_problem(call(&app, Method::DELETE, &label_path, None, o).await, StatusCode::NOT_FOUND).await;
    for id in [vip, theirs] {
        let path = format!("/v1/conversations/{conversation}/labels/{id}");
        for method in [Method::PUT, Method::DELETE] {
            let p = assert_problem(call(&app, method, &path, None, o).await, StatusCode::NOT_FOUND).await;
            assert!(p["detail"].as_str().unwrap().contains("conversation"), "{p}");
        }
    }
    // Nor does the owner's organization reach the other's label.
    let path = format!("/v1/conversations/{conversation}/labels/{theirs}");
    let p = assert_problem(call(&app, Method::PUT, &path, None, t).await, StatusCode::NOT_FOUND).await;
    assert!(p["detail"].as_str().unwrap().contains("label"), "{p}");

    assert_problem(app.get(&notes, o).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.post(&notes, &json!({"content": "peek"}), o).await, StatusCode::NOT_FOUND).await;
    assert_problem(call(&app, Method::DELETE, &note_path, None, o).await, StatusCode::NOT_FOUND).await;

    // All of it is still there.
    assert_eq!(app.get_json(&format!("/v1/conversations/{conversation}"), t).await["labels"], json!(["VIP"]));
    assert_eq!(app.get_json(&notes, t).await["data"][0]["id"], note["id"]);
    assert_eq!(app.count("SELECT count(*) FROM conversation_notes").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn customers_and_read_only_keys_are_refused() {
    let app = spawn_app().await;
    let (owner, conversation) = setup(&app).await;
    let vip = label(&app, &owner.token, json!({"name": "VIP"})).await;
    let vip = vip["id"].as_str().unwrap();
    let notes = format!("/v1/conversations/{conversation}/notes");
    let on = format!("/v1/conversations/{conversation}/labels/{vip}");

    let customer = api_key(&app, &owner, "customer", &["*"]).await;
    assert_problem(app.get("/v1/inbox/labels", &customer).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get(&notes, &customer).await, StatusCode::FORBIDDEN).await;
    assert_problem(call(&app, Method::PUT, &on, None, &customer).await, StatusCode::FORBIDDEN).await;

    let read_only = api_key(&app, &owner, "agent", &["inbox:read"]).await;
    assert_eq!(app.get_json("/v1/inbox/labels", &read_only).await["data"][0]["name"], "VIP");
    assert_eq!(app.get_json(&notes, &read_only).await["data"], json!([]));
    let r = app.post("/v1/inbox/labels", &json!({"name": "Spam"}), &read_only).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    assert_problem(call(&app, Method::PUT, &on, None, &read_only).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.post(&notes, &json!({"content": "hi"}), &read_only).await, StatusCode::FORBIDDEN).await;

    assert_eq!(app.get_json(&format!("/v1/conversations/{conversation}"), &owner.token).await["labels"], json!([]));
    assert_eq!(app.count("SELECT count(*) FROM conversation_notes").await, 0);
    app.stop().await;
}
