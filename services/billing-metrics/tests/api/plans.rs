//! The catalog as a visitor and an operator see it: public, seeded with five plans; changed only
//! with the operator token; read-only without one.

use reqwest::StatusCode;
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

/// Walks the served document rather than a list kept by hand: a route added later is covered.
#[tokio::test]
async fn every_documented_operation_but_the_public_ones_needs_a_valid_credential() {
    let app = spawn_app().await;
    // Public: Stripe's webhook (its signature), the plan catalog, and writing a plan (the
    // operator token, documented as no bearer scheme of ours).
    platform::testing::assert_every_secured_operation_needs_a_credential(
        &app.http,
        &app.url(""),
        |method, template| {
            matches!(
                (method, template),
                ("POST", "/webhooks/stripe")
                    | ("GET", "/v1/billing/plans")
                    | ("GET" | "PUT", "/v1/billing/plans/{name}")
            )
        },
        None,
        12,
    )
    .await;
    app.stop().await;
}
