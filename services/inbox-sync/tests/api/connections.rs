//! Connecting WhatsApp Cloud numbers: the token is checked with Meta first, stored only as
//! ciphertext bound to its row and column, never shown; one live connection per number;
//! disconnecting erases the secrets; other organizations see nothing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_number_connects_with_a_token_meta_accepts_and_the_token_never_shows() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let c = app.connect_whatsapp(&owner).await;
    assert_eq!(c["platform"], "whatsapp");
    assert_eq!(c["account_id"], PHONE_ID);
    assert_eq!(c["display_name"], "Acme Support");
    assert_eq!(c["status"], "active");
    let id = c["id"].as_str().unwrap();
    for shown in [
        c.clone(),
        app.get_json(&format!("/v1/connections/{id}"), &owner.token).await,
        app.get_json("/v1/connections", &owner.token).await,
    ] {
        let text = shown.to_string();
        assert!(!text.contains(GOOD_TOKEN) && !text.contains("access_token"), "{text}");
    }
    // At rest: a ciphertext of the development key ring, bound to this row and column.
    let stored: String = sqlx::query_scalar("SELECT access_token FROM connections").fetch_one(&app.pool).await.unwrap();
    assert!(stored.starts_with("v1:dev:") && !stored.contains(GOOD_TOKEN));
    let keys = platform::crypto::KeyRing::parse(&platform::crypto::DEVELOPMENT_KEYS.to_owned().into()).unwrap();
    let row: uuid::Uuid = id.parse().unwrap();
    assert_eq!(keys.decrypt(&stored, &inbox_sync::sealed_for(row, "access_token")).unwrap(), GOOD_TOKEN);
    assert!(keys.decrypt(&stored, &inbox_sync::sealed_for(row, "app_secret")).is_err(), "another column");
    assert!(
        keys.decrypt(&stored, &inbox_sync::sealed_for(uuid::Uuid::now_v7(), "access_token")).is_err(),
        "another row"
    );
    // The event says what connected, and nothing secret.
    let connected = app.messages("EVENTS", "events.inbox.connection.connected", 1).await;
    assert_eq!(connected[0]["data"]["account_id"], PHONE_ID);
    assert!(!connected[0].to_string().contains(GOOD_TOKEN));

    // The same number again: here or in another organization.
    let again = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA_ID, "access_token": GOOD_TOKEN});
    assert_problem(app.post("/v1/connections/whatsapp", &again, &owner.token).await, StatusCode::CONFLICT).await;
    let other = app.owner("bob@example.com", "Other").await;
    let p =
        assert_problem(app.post("/v1/connections/whatsapp", &again, &other.token).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("another organization"));
    // Other organizations see nothing of it.
    assert_problem(app.get(&format!("/v1/connections/{id}"), &other.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_json("/v1/connections", &other.token).await["data"], json!([]));
    let r = app.http.delete(app.url(&format!("/v1/connections/{id}"))).bearer_auth(&other.token).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;

    // Disconnected: secrets erased, the event sent; then the other organization may have it.
    let r = app.http.delete(app.url(&format!("/v1/connections/{id}"))).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "disconnected");
    let left: String = sqlx::query_scalar("SELECT access_token FROM connections").fetch_one(&app.pool).await.unwrap();
    assert_eq!(left, "");
    app.messages("EVENTS", "events.inbox.connection.disconnected", 1).await;
    let r = app.post("/v1/connections/whatsapp", &again, &other.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_and_refused_tokens_change_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let refused = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA_ID, "access_token": "EAAG-revoked"});
    let r = app.post("/v1/connections/whatsapp", &refused, &owner.token).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "access_token");
    let bad = json!({"phone_number_id": "+1 555", "business_account_id": "", "access_token": "with space"});
    let p = assert_problem(
        app.post("/v1/connections/whatsapp", &bad, &owner.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["phone_number_id", "business_account_id", "access_token"]);
    let r = app
        .http
        .post(app.url("/v1/connections/whatsapp"))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.count("SELECT count(*) FROM connections").await, 0);
    // Without a credential, nothing.
    let r = app.http.get(app.url("/v1/connections")).send().await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn a_connection_with_its_own_meta_app_verifies_with_its_secret_on_its_own_path() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let body = json!({"phone_number_id": PHONE_ID, "business_account_id": WABA_ID, "access_token": GOOD_TOKEN,
        "app_secret": "own-app-secret-42", "verify_token": "own-verify"});
    let r = app.post("/v1/connections/whatsapp", &body, &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["own_app"], true);
    let path = format!("/webhooks/meta/{}", c["id"].as_str().unwrap());
    let hs = app
        .http
        .get(app.url(&format!("{path}?hub.mode=subscribe&hub.verify_token=own-verify&hub.challenge=42")))
        .send()
        .await
        .unwrap();
    assert_eq!(hs.text().await.unwrap(), "42");
    let wrong = app
        .http
        .get(app.url(&format!("{path}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let inbound = fixture("whatsapp/inbound_text.json");
    // The platform app's signature is not this app's.
    let platform_signed = manifest_header("whatsapp/inbound_text.json", "X-Hub-Signature-256");
    assert_problem(app.meta(&path, &inbound, Some(&platform_signed)).await, StatusCode::UNAUTHORIZED).await;
    let own = inbox_sync::platforms::signature::meta_sign(b"own-app-secret-42", &inbound);
    let r = app.meta(&path, &inbound, Some(&own)).await;
    assert_eq!(r.json::<Value>().await.unwrap()["stored"], 1);
    let unknown = format!("/webhooks/meta/{}", uuid::Uuid::now_v7());
    assert_problem(app.meta(&unknown, &inbound, Some(&own)).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

/// The methods an OpenAPI path item holds operations under.
const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// One operation of the served OpenAPI document.
struct Operation {
    method: Method,
    /// As the document names it (`/v1/conversations/{id}`).
    template: String,
    /// With every path parameter filled in.
    path: String,
    /// Its `security` (or the document's) requires a credential: it is neither missing, empty nor
    /// offers the empty requirement `{}`.
    authenticated: bool,
    documents_401: bool,
}

/// `schema`, or what its `$ref` names in `doc`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')).and_then(|at| doc.pointer(at)).unwrap_or(schema)
}

/// A value for path parameter `name` of `op`: its enum's first value, `1` for an integer and a
/// fresh UUID otherwise.
fn stand_in(doc: &Value, item: &Value, op: &Value, name: &str) -> String {
    let declared = op["parameters"]
        .as_array()
        .into_iter()
        .chain(item["parameters"].as_array())
        .flatten()
        .find(|p| p["in"] == "path" && p["name"] == name);
    let schema = declared.map(|p| resolve(doc, &p["schema"]));
    let first = schema.and_then(|s| s["enum"].as_array()).and_then(|e| e.first()).and_then(Value::as_str);
    if let Some(value) = first {
        return value.to_owned();
    }
    match schema.and_then(|s| s["type"].as_str()) {
        Some("integer") => "1".to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// `template` with each `{name}` replaced by `value(name)`.
fn fill(template: &str, mut value: impl FnMut(&str) -> String) -> String {
    let (mut out, mut rest) = (String::new(), template);
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}').expect("a closed path parameter");
        out.push_str(&rest[..open]);
        out.push_str(&value(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Every operation `doc` lists.
fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("the document lists paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let security = op.get("security").unwrap_or(&doc["security"]);
            let authenticated = security.as_array().is_some_and(|alternatives| {
                !alternatives.is_empty() && alternatives.iter().all(|a| a.as_object().is_some_and(|o| !o.is_empty()))
            });
            out.push(Operation {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                template: template.clone(),
                path: fill(template, |name| stand_in(doc, item, op, name)),
                authenticated,
                documents_401: op["responses"].get("401").is_some(),
            });
        }
    }
    out
}

/// What inbox-sync serves without a credential: the platforms' webhooks (each checks the
/// platform's signature or verify token) and the OAuth callback (its signed `state` names the
/// organization).
fn public(method: &Method, template: &str) -> bool {
    template.starts_with("/webhooks/") || (*method == Method::GET && template == "/v1/connections/oauth/callback")
}

/// Walks the served document rather than a list kept by hand: a route added later is covered.
#[tokio::test]
async fn every_documented_operation_but_the_public_ones_needs_a_valid_credential() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    let ops = operations(&doc);
    for o in &ops {
        assert_eq!(
            !o.authenticated,
            public(&o.method, &o.template),
            "{} {}: documented as public exactly when listed as public",
            o.method,
            o.template
        );
    }
    let mut walked = 0;
    for Operation { method, template, path, documents_401, .. } in ops.iter().filter(|o| o.authenticated) {
        assert!(*documents_401, "{method} {template} documents its 401");
        for token in [None, Some("sbat_not-a-real-token"), Some("sbk_not-a-real-key")] {
            let mut req = app.http.request(method.clone(), app.url(path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if [Method::POST, Method::PUT, Method::PATCH].contains(method) {
                req = req.json(&json!({}));
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path} with {token:?}");
            assert_eq!(
                r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
                Some("Bearer"),
                "{method} {path} with {token:?}"
            );
            let problem = assert_problem(r, StatusCode::UNAUTHORIZED).await;
            assert_eq!(problem["status"], 401, "{method} {path}: {problem}");
        }
        walked += 1;
    }
    assert!(walked > 15, "only {walked} operations walked: is the document served whole?");
    app.stop().await;
}
