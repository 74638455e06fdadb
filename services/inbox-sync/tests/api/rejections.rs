//! Bad requests get a clear problem+json answer naming the field, and change nothing.

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::*;

const TEXT: &str = "whatsapp/inbound_text.json";

/// The fields a 422 names.
async fn invalid_fields(r: Response) -> Vec<String> {
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

/// PostgreSQL's text cannot hold U+0000: an agent's request carrying it is refused at the door
/// naming the field (a body's path, a query parameter), not failed as a 500 deep inside. Only a
/// platform's signed webhook is taken with it (see `webhooks`).
#[tokio::test]
async fn a_nul_character_is_422_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.connect_whatsapp(&owner).await;
    let signature = manifest_header(TEXT, "X-Hub-Signature-256");
    assert_eq!(app.meta("/webhooks/whatsapp", &fixture(TEXT), Some(&signature)).await.status(), StatusCode::OK);
    let t = owner.token.as_str();
    let list = app.get_json("/v1/conversations", t).await;
    let conversation = list["data"][0]["id"].as_str().unwrap().to_owned();
    let before = app.get_json(&format!("/v1/conversations/{conversation}"), t).await;

    // JSON bodies: the field, or its path.
    let notes = format!("/v1/conversations/{conversation}/notes");
    let messages = format!("/v1/conversations/{conversation}/messages");
    let template = json!({"template": {"name": "order_update", "language": "en_US", "parameters": ["ok", "#1\u{0}"]}});
    for (path, body, field) in [
        ("/v1/inbox/labels".to_owned(), json!({"name": "V\u{0}IP"}), "name"),
        (notes.clone(), json!({"content": "before\u{0}after"}), "content"),
        (messages.clone(), json!({"text": "hi\u{0}"}), "text"),
        (messages.clone(), template, "template.parameters[1]"),
    ] {
        assert_eq!(invalid_fields(app.post(&path, &body, t).await).await, [field], "{path} {body}");
    }
    // Query parameters.
    for (query, field) in [("q=ac%00me", "q"), ("status=open%00", "status"), ("label=%00", "label")] {
        let r = app.get(&format!("/v1/conversations?{query}"), t).await;
        assert_eq!(invalid_fields(r).await, [field], "{query}");
    }

    // Nothing changed, and nothing went to the platform.
    assert!(app.get_json("/v1/inbox/labels", t).await["data"].as_array().unwrap().is_empty());
    assert!(app.get_json(&notes, t).await["data"].as_array().unwrap().is_empty());
    assert_eq!(app.get_json(&messages, t).await["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get_json(&format!("/v1/conversations/{conversation}"), t).await, before);
    assert!(app.graph.sends().is_empty());
    app.stop().await;
}
