use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake but signed";

fn file(bytes: &[u8], name: &str, mime: &str) -> Form {
    Form::new().part("file", Part::bytes(bytes.to_vec()).file_name(name.to_owned()).mime_str(mime).unwrap())
}

#[tokio::test]
async fn files_are_uploaded_downloaded_and_deleted_like_their_post() {
    let app = spawn_app_with(&[("ATTACHMENT_MAX_BYTES", "1000")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let post = app.create(&customer, json!({"title": "Screenshot of the bug"})).await;
    let id = post["id"].as_str().unwrap();
    let url = app.url(&format!("/v1/feedback/{id}/attachments"));

    let r = app
        .http
        .post(&url)
        .bearer_auth(&customer.token)
        .multipart(file(PNG, "../../etc/shot.png", "image/png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["original_filename"], "shot.png");
    assert_eq!(a["size_bytes"], PNG.len());
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    let aid = a["id"].as_str().unwrap();

    let r = app.get(&format!("/v1/feedback/{id}/attachments/{aid}"), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("shot.png"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    assert_eq!(
        app.get_json(&format!("/v1/feedback/{id}/attachments"), &customer.token).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Too large, a type not allowed, a lying type, no file: refused, nothing stored.
    let big = vec![b'a'; 2000];
    let r = app
        .http
        .post(&url)
        .bearer_auth(&customer.token)
        .multipart(file(&big, "big.txt", "text/plain"))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    let r = app
        .http
        .post(&url)
        .bearer_auth(&customer.token)
        .multipart(file(b"MZ", "x.exe", "application/x-msdownload"))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let r = app
        .http
        .post(&url)
        .bearer_auth(&customer.token)
        .multipart(file(b"not a png", "x.png", "image/png"))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let r = app.http.post(&url).bearer_auth(&customer.token).json(&json!({})).send().await.unwrap();
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments").fetch_one(&app.pool).await.unwrap();
    assert_eq!(rows, 1);
    let files = walk(&app.attachments);
    assert_eq!(files, 1, "refused uploads leave no file behind");

    // Another tenant sees nothing; only the uploader or a manager deletes.
    let evil = app.owner("eve@example.com", "Evil").await;
    assert_problem(app.get(&format!("/v1/feedback/{id}/attachments/{aid}"), &evil.token).await, StatusCode::NOT_FOUND)
        .await;
    let other = app.member(&owner, "o@example.com", "customer").await;
    assert_problem(
        app.delete(&format!("/v1/feedback/{id}/attachments/{aid}"), &other.token).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/v1/feedback/{id}/attachments/{aid}"), &customer.token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.get(&format!("/v1/feedback/{id}/attachments/{aid}"), &owner.token).await, StatusCode::NOT_FOUND)
        .await;
    assert_eq!(walk(&app.attachments), 0);
    app.stop().await;
}

#[tokio::test]
async fn files_on_internal_notes_are_for_staff_only() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "c@example.com", "customer").await;
    let post = app.create(&customer, json!({"title": "Billing question"})).await;
    let id = post["id"].as_str().unwrap();
    let note: Value = app
        .post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "see log", "is_internal": true}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    let form = file(b"log line\n", "log.txt", "text/plain").text("comment_id", note["id"].as_str().unwrap().to_owned());
    let r = app
        .http
        .post(app.url(&format!("/v1/feedback/{id}/attachments")))
        .bearer_auth(&owner.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["comment_id"], note["id"]);
    assert!(app.get_json(&format!("/v1/feedback/{id}/attachments"), &customer.token).await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    let aid = a["id"].as_str().unwrap();
    assert_problem(
        app.get(&format!("/v1/feedback/{id}/attachments/{aid}"), &customer.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(app.get(&format!("/v1/feedback/{id}/attachments/{aid}"), &owner.token).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn the_form_takes_its_parts_once_and_no_others() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let post = app.create(&owner, json!({"title": "Screenshot"})).await;
    let url = app.url(&format!("/v1/feedback/{}/attachments", post["id"].as_str().unwrap()));
    let send = |form: Form| app.http.post(&url).bearer_auth(&owner.token).multipart(form).send();
    // The document says `additionalProperties: false`; the file written before is removed.
    let r = send(file(PNG, "a.png", "image/png").text("caption", "hello")).await.unwrap();
    assert_eq!(invalid_fields(r).await, ["caption"]);
    let r = send(
        file(PNG, "a.png", "image/png")
            .part("file", Part::bytes(PNG.to_vec()).file_name("b.png").mime_str("image/png").unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(invalid_fields(r).await, ["file"]);
    let id = uuid::Uuid::now_v7().to_string();
    let r = send(file(PNG, "a.png", "image/png").text("comment_id", id.clone()).text("comment_id", id)).await.unwrap();
    assert_eq!(invalid_fields(r).await, ["comment_id"]);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments").fetch_one(&app.pool).await.unwrap();
    assert_eq!((rows, walk(&app.attachments)), (0, 0));
    let r = send(file(PNG, "a.png", "image/png")).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
}
