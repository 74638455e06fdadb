//! Attachments: size, type and signature are checked; a refused upload leaves nothing behind.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, invalid_fields, spawn_app_with};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn files_in(dir: &std::path::Path) -> usize {
    walk(dir)
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map_or(0, |entries| entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
}

#[tokio::test]
async fn uploads_are_checked_stored_and_served() {
    let app = spawn_app_with(&[("ATTACHMENT_MAX_BYTES", "1024")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let other = app.member(&owner, "d@example.com", "customer").await;
    let t = app.create(&customer, json!({"subject": "Screenshot attached"})).await;
    let id = t["id"].as_str().unwrap();

    let r = app.upload(id, &customer.token, PNG, "screen.png", "image/png").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["filename"], "screen.png");
    assert_eq!(a["content_type"], "image/png");
    assert_eq!(a["size_bytes"], PNG.len());
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    let stored = files_in(&app.attachments);
    assert_eq!(stored, 1);

    // Wrong signature, type not allowed, too large: refused, nothing kept.
    assert_problem(
        app.upload(id, &customer.token, b"not a png", "x.png", "image/png").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_problem(
        app.upload(id, &customer.token, b"MZ...", "x.exe", "application/x-msdownload").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let big = [b"%PDF-".as_slice(), &[b'a'; 2000]].concat();
    assert_problem(
        app.upload(id, &customer.token, &big, "big.pdf", "application/pdf").await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let r = app
        .http
        .post(app.url(&format!("/v1/tickets/{id}/attachments")))
        .bearer_auth(&customer.token)
        .multipart(reqwest::multipart::Form::new().text("comment_id", "nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_fields(r).await, ["comment_id"]);
    let r = app
        .http
        .post(app.url(&format!("/v1/tickets/{id}/attachments")))
        .bearer_auth(&customer.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(files_in(&app.attachments), 1);

    let path = format!("/v1/tickets/{id}/attachments/{}", a["id"].as_str().unwrap());
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    // Another customer neither sees nor deletes it.
    assert_problem(app.get(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.delete(&path, &customer.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &owner.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(files_in(&app.attachments), 0);
    app.stop().await;
}
