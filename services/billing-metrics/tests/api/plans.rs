//! The catalog as a visitor and an operator see it: public, seeded with five plans; changed only
//! with the operator token; read-only without one.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

fn starter_plus() -> Value {
    json!({"display_name": "Starter Plus", "price_cents": 2900, "position": 1,
        "limits": {"tickets": {"limit": 2000, "hard": true}, "messages": {"limit": 20000, "hard": false}},
        "numbers": {"history_days": 180}, "flags": {"api_access": true}})
}

#[tokio::test]
async fn the_catalog_is_public_and_only_the_operator_changes_it() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/v1/billing/plans")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let plans: Value = r.json().await.unwrap();
    let names: Vec<&str> = plans["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["free", "starter", "pro", "business", "enterprise"]);
    let free = &plans["data"][0];
    assert_eq!(free["limits"]["tickets"], json!({"limit": 100, "hard": true}));
    assert_eq!(free["numbers"]["history_days"], 30);
    assert_eq!(plans["data"][4]["limits"]["seats"]["limit"], -1);

    let url = app.url("/v1/billing/plans/starter-plus");
    let put = |token: Option<&str>, body: Value| {
        let mut r = app.http.put(&url).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_problem(put(None, starter_plus()).await.unwrap(), StatusCode::UNAUTHORIZED).await;
    assert_problem(
        put(Some("operator-token-0123456789abcdeX"), starter_plus()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A member's session is not the operator's token either.
    let owner = app.owner("ada@example.com", "Acme").await;
    assert_problem(put(Some(&owner.token), starter_plus()).await.unwrap(), StatusCode::UNAUTHORIZED).await;
    let bad = json!({"display_name": "", "price_cents": -1, "limits": {"unicorns": {"limit": 1, "hard": true}}});
    let p = assert_problem(put(Some(OPERATOR), bad).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["display_name", "price_cents", "limits.unicorns"]);
    assert_eq!(app.count("SELECT count(*) FROM plans").await, 5);

    assert_eq!(put(Some(OPERATOR), starter_plus()).await.unwrap().status(), StatusCode::CREATED);
    let mut changed = starter_plus();
    changed["price_cents"] = json!(3900);
    assert_eq!(put(Some(OPERATOR), changed).await.unwrap().status(), StatusCode::OK);
    let plan = app.http.get(&url).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!((plan["price_cents"].as_i64(), plan["numbers"]["history_days"].as_i64()), (Some(3900), Some(180)));
    assert_problem(app.http.get(app.url("/v1/billing/plans/nope")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn without_an_operator_token_the_catalog_is_read_only() {
    let app = spawn_app_with(&[("BILLING_OPERATOR_TOKEN", "")]).await;
    let r = app.http.put(app.url("/v1/billing/plans/free")).bearer_auth(OPERATOR).json(&starter_plus()).send().await;
    let p = assert_problem(r.unwrap(), StatusCode::FORBIDDEN).await;
    assert!(p["detail"].as_str().unwrap().contains("read-only"), "{p}");
    let free = app.http.get(app.url("/v1/billing/plans/free")).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(free["display_name"], "Free");
    app.stop().await;
}

/// The methods an OpenAPI path item holds operations under.
const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// One operation of the served OpenAPI document.
struct Operation {
    method: Method,
    /// As the document names it (`/v1/refunds/{id}`).
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

/// What billing-metrics serves without a user's credential: Stripe's webhook (its signature), the
/// plan catalog, and writing a plan (the operator token, documented as no bearer scheme of ours).
fn public(method: &Method, template: &str) -> bool {
    matches!(
        (method.as_str(), template),
        ("POST", "/webhooks/stripe") | ("GET", "/v1/billing/plans") | ("GET" | "PUT", "/v1/billing/plans/{name}")
    )
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
    assert!(walked > 12, "only {walked} operations walked: is the document served whole?");
    app.stop().await;
}
