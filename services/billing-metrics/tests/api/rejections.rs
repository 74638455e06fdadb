//! Bad requests get a clear problem+json answer naming the field, and change nothing.

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// The fields a 422 names.
async fn invalid_fields(r: Response) -> Vec<String> {
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

/// PostgreSQL's text cannot hold U+0000: a request carrying it is refused at the door naming the
/// field (a body's, a query parameter), not failed as a 500 deep inside. Only Stripe's signed
/// webhook is taken with it (see `stripe`).
#[tokio::test]
async fn a_nul_character_is_422_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let t = owner.token.as_str();
    let before = app.get_json("/v1/billing/subscription", t).await;

    // JSON bodies.
    let budget = json!({"name": "Ref\u{0}unds", "budget_type": "refund", "period": "monthly", "limit_cents": 100});
    let refund = json!({"amount_cents": 100, "reason": "other", "customer_id": "cus-1", "note": "a\u{0}b"});
    for (path, body, field) in [("/v1/budgets", budget, "name"), ("/v1/refunds", refund, "note")] {
        let r = app.http.post(app.url(path)).bearer_auth(t).json(&body).send().await.unwrap();
        assert_eq!(invalid_fields(r).await, [field], "{path} {body}");
    }
    let r = app.put("/v1/billing/subscription", &json!({"plan": "pro\u{0}"}), t).await;
    assert_eq!(invalid_fields(r).await, ["plan"]);
    // Query parameters.
    for (path, field) in [("/v1/activity?action=ticket.%00", "action"), ("/v1/refunds?status=pending%00", "status")] {
        assert_eq!(invalid_fields(app.get(path, t).await).await, [field], "{path}");
    }

    // Nothing changed.
    assert!(app.get_json("/v1/budgets", t).await["data"].as_array().unwrap().is_empty());
    assert!(app.get_json("/v1/refunds", t).await["data"].as_array().unwrap().is_empty());
    assert_eq!(app.get_json("/v1/billing/subscription", t).await, before);
    app.stop().await;
}
