//! Numbers come from a counter row locked by the creating transaction: concurrent creators (on
//! two replicas) never collide, and a create that rolls back gives its number back.

use std::collections::BTreeSet;

use chrono::Datelike;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn concurrent_creates_on_two_replicas_take_every_number_once() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let second = app.replica().await;
    let org: uuid::Uuid = owner.org.parse().unwrap();

    // A creating transaction that rolls back in the middle of the run: its number is reused.
    let mut tx = app.pool.begin().await.unwrap();
    let taken = ticketing::store::tickets::next_number(&mut tx, org).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(taken.ends_with("-000001"), "{taken}");

    let creates = (0..40).map(|i| {
        let base = if i % 2 == 0 { app.url("") } else { second.clone() };
        let (http, token) = (app.http.clone(), owner.token.clone());
        tokio::spawn(async move {
            let r = http
                .post(format!("{base}/v1/tickets"))
                .bearer_auth(token)
                .json(&json!({"subject": format!("Ticket {i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<serde_json::Value>().await.unwrap()["number"].as_str().unwrap().to_owned()
        })
    });
    let mut numbers = Vec::new();
    for c in creates {
        numbers.push(c.await.unwrap());
    }
    let year = chrono::Utc::now().year();
    let unique: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(unique.len(), 40, "duplicates in {numbers:?}");
    let expected: BTreeSet<String> = (1..=40).map(|n| format!("TKT-{year}-{n:06}")).collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), expected, "a gap or a stray number");
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_create_takes_no_number() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let first = app.create(&owner, json!({"subject": "One"})).await;
    // Refused creates (a bad field, an unknown customer profile) leave the counter alone.
    let r = app.post("/v1/tickets", &json!({"subject": ""}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.post("/v1/tickets", &json!({"subject": "x", "customer_id": uuid::Uuid::new_v4()}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let second = app.create(&owner, json!({"subject": "Two"})).await;
    let n = |t: &serde_json::Value| t["number"].as_str().unwrap().rsplit('-').next().unwrap().to_owned();
    assert_eq!((n(&first), n(&second)), ("000001".to_owned(), "000002".to_owned()));
    // Each organization counts on its own.
    let other = app.owner("hank@example.com", "Globex").await;
    assert_eq!(n(&app.create(&other, json!({"subject": "Theirs"})).await), "000001");
    app.stop().await;
}
