use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_post_is_created_read_updated_and_deleted() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let cat: Value = app
        .post("/v1/categories", &json!({"name": "UI", "color": "#FF0000"}), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    let post = app
        .create(
            &owner,
            json!({"title": "Dark mode", "description": "Please", "category_id": cat["id"], "tags": ["UI", "theme"]}),
        )
        .await;
    assert_eq!(post["status"], "open");
    assert_eq!(post["vote_count"], 0);
    assert_eq!(post["comment_count"], 0);
    assert_eq!(post["priority"], "medium");
    assert_eq!(post["tags"], json!(["ui", "theme"]));
    assert_eq!(post["author_id"], owner.id.as_str());
    let id = post["id"].as_str().unwrap();

    let got = app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await;
    assert_eq!(got["title"], "Dark mode");
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let r = app
        .patch(
            &format!("/v1/feedback/{id}"),
            &json!({"priority": "high", "assignee_id": agent.id, "is_pinned": true}),
            &owner.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["priority"], "high");
    assert_eq!(updated["assignee_id"], agent.id.as_str());
    assert_eq!(updated["is_pinned"], true);
    let r = app.patch(&format!("/v1/feedback/{id}"), &json!({"category_id": null}), &owner.token).await;
    assert!(r.json::<Value>().await.unwrap()["category_id"].is_null());

    assert_eq!(app.delete(&format!("/v1/feedback/{id}"), &owner.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/v1/feedback/{id}"), &owner.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r = app
        .post("/v1/feedback", &json!({"title": "x", "tags": ["has space"], "priority": "urgent"}), &owner.token)
        .await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["title", "tags", "priority"]);
    let r = app
        .post("/v1/feedback", &json!({"title": "Fine title", "category_id": uuid::Uuid::now_v7()}), &owner.token)
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.post("/v1/feedback", &json!({"title": "Fine title", "surprise": 1}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let post = app.create(&owner, json!({"title": "Export to CSV"})).await;
    let id = post["id"].as_str().unwrap();
    let r = app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "done"}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.patch(&format!("/v1/feedback/{id}"), &json!({"assignee_id": uuid::Uuid::now_v7()}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM feedback").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await["status"], "open");
    app.stop().await;
}

#[tokio::test]
async fn customers_see_public_posts_and_their_own() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "cust@example.com", "customer").await;
    let private = app.create(&owner, json!({"title": "Internal roadmap item", "is_public": false})).await;
    let mine = app.create(&customer, json!({"title": "My private idea", "is_public": false})).await;
    app.create(&owner, json!({"title": "Public idea"})).await;
    let list = app.get_json("/v1/feedback", &customer.token).await;
    let titles: Vec<&str> = list["data"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Public idea", "My private idea"]);
    let pid = private["id"].as_str().unwrap();
    assert_problem(app.get(&format!("/v1/feedback/{pid}"), &customer.token).await, StatusCode::NOT_FOUND).await;
    // Customers edit their words, not the triage fields.
    let mid = mine["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/feedback/{mid}"), &json!({"title": "My better idea"}), &customer.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.patch(&format!("/v1/feedback/{mid}"), &json!({"priority": "critical"}), &customer.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app.post(&format!("/v1/feedback/{mid}/status"), &json!({"status": "planned"}), &customer.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    assert_eq!(app.get_json("/v1/feedback", &owner.token).await["data"].as_array().unwrap().len(), 3);
    // Triage fields are the staff's from the start, and private posts of others stay unseen.
    let r = app.post("/v1/feedback", &json!({"title": "Urgent please", "priority": "critical"}), &customer.token).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    assert_problem(app.delete(&format!("/v1/feedback/{pid}"), &customer.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_posts_are_not_found() {
    let app = spawn_app().await;
    let acme = app.owner("ada@example.com", "Acme").await;
    let evil = app.owner("eve@example.com", "Evil").await;
    let post = app.create(&acme, json!({"title": "Acme secret plan"})).await;
    let id = post["id"].as_str().unwrap();
    for r in [
        app.get(&format!("/v1/feedback/{id}"), &evil.token).await,
        app.patch(&format!("/v1/feedback/{id}"), &json!({"title": "pwned!"}), &evil.token).await,
        app.delete(&format!("/v1/feedback/{id}"), &evil.token).await,
        app.put(&format!("/v1/feedback/{id}/vote"), &json!({"type": "up"}), &evil.token).await,
        app.post(&format!("/v1/feedback/{id}/comments"), &json!({"content": "hi"}), &evil.token).await,
        app.get(&format!("/v1/feedback/{id}/comments"), &evil.token).await,
        app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned"}), &evil.token).await,
    ] {
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    let theirs = app.create(&evil, json!({"title": "Evil post"})).await;
    let r = app.post(&format!("/v1/feedback/{id}/merge"), &json!({"into": theirs["id"]}), &acme.token).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert!(app.get_json("/v1/feedback", &evil.token).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["title"] != "Acme secret plan"));
    assert!(app.get_json("/v1/feedback?q=secret", &evil.token).await["data"].as_array().unwrap().is_empty());
    let cat: Value = app.post("/v1/categories", &json!({"name": "Mine"}), &acme.token).await.json().await.unwrap();
    let cid = cat["id"].as_str().unwrap();
    assert_problem(app.get(&format!("/v1/categories/{cid}"), &evil.token).await, StatusCode::NOT_FOUND).await;
    let r = app.post("/v1/feedback", &json!({"title": "Steal category", "category_id": cid}), &evil.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.stop().await;
}

#[tokio::test]
async fn status_changes_keep_a_public_note_and_notify_subscribers() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let customer = app.member(&owner, "cust@example.com", "customer").await;
    let post = app.create(&customer, json!({"title": "Slack integration"})).await;
    let id = post["id"].as_str().unwrap();
    let r =
        app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned", "note": "Q3"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["status"], "planned");
    assert_eq!(got["status_note"], "Q3");
    let notes = app.notifications(1).await;
    assert_eq!(notes[0]["type"], "notify.send");
    assert_eq!(notes[0]["data"]["recipients"], json!([customer.id]));
    assert_eq!(notes[0]["data"]["reason"], "feedback.status_changed");
    assert!(notes[0]["data"]["link"].as_str().unwrap().ends_with(id));
    // Unsubscribed, the author hears nothing more.
    assert_eq!(
        app.delete(&format!("/v1/feedback/{id}/subscription"), &customer.token).await.status(),
        StatusCode::NO_CONTENT
    );
    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "in_progress"}), &owner.token).await;
    // A later notification that must arrive: nothing came before it.
    let marker = app.create(&customer, json!({"title": "Teams integration"})).await;
    let mid = marker["id"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/feedback/{mid}/status"), &json!({"status": "planned"}), &owner.token).await;
    let notes = app.notifications_until(|n| n["data"]["link"].as_str().is_some_and(|l| l.ends_with(&mid))).await;
    assert_eq!(notes.len(), 1, "the unsubscribed author heard of the first post again: {notes:?}");
    let r = app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "duplicate"}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.stop().await;
}

#[tokio::test]
async fn merging_moves_votes_without_counting_anyone_twice() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let a = app.member(&owner, "a@example.com", "customer").await;
    let b = app.member(&owner, "b@example.com", "customer").await;
    let source = app.create(&a, json!({"title": "Dark theme please"})).await;
    let target = app.create(&b, json!({"title": "Dark mode"})).await;
    let (sid, tid) = (source["id"].as_str().unwrap(), target["id"].as_str().unwrap());
    for (user, post) in [(&a, sid), (&b, sid), (&owner, sid), (&b, tid)] {
        let r = app.put(&format!("/v1/feedback/{post}/vote"), &json!({"type": "up"}), &user.token).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = app.post(&format!("/v1/feedback/{sid}/merge"), &json!({"into": tid}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let merged: Value = r.json().await.unwrap();
    assert_eq!(merged["status"], "duplicate");
    assert_eq!(merged["merged_into_id"], tid);
    assert_eq!(merged["vote_count"], 0);
    let t = app.get_json(&format!("/v1/feedback/{tid}"), &owner.token).await;
    assert_eq!(t["vote_count"], 3, "a, b (once) and the owner");
    // The source's subscriber (its author) follows the target.
    let subscribed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE feedback_id = $1::uuid AND user_id = $2::uuid)",
    )
    .bind(tid)
    .bind(&a.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(subscribed);
    // Merged posts take no votes, no second merge, and are hidden from the default list.
    let r = app.put(&format!("/v1/feedback/{sid}/vote"), &json!({"type": "up"}), &a.token).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let r = app.post(&format!("/v1/feedback/{sid}/merge"), &json!({"into": tid}), &owner.token).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let r = app.post(&format!("/v1/feedback/{tid}/merge"), &json!({"into": tid}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let list = app.get_json("/v1/feedback", &owner.token).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let dups = app.get_json("/v1/feedback?status=duplicate", &owner.token).await;
    assert_eq!(dups["data"][0]["id"], sid);
    app.stop().await;
}

#[tokio::test]
async fn quota_checks_fail_open() {
    // Nothing listens there: the create goes through, logged.
    let app = spawn_app_with(&[("BILLING_GRPC_URL", "http://127.0.0.1:9"), ("QUOTA_TIMEOUT_SECS", "0.2")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    app.create(&owner, json!({"title": "Still accepted"})).await;
    app.stop().await;
}

#[tokio::test]
async fn categories_are_unique_per_organization_and_ordered() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let other = app.owner("eve@example.com", "Evil").await;
    app.post("/v1/categories", &json!({"name": "Zeta", "sort_order": 1}), &owner.token).await;
    let r = app.post("/v1/categories", &json!({"name": "Alpha", "sort_order": 2, "icon": "star"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_problem(app.post("/v1/categories", &json!({"name": "Zeta"}), &owner.token).await, StatusCode::CONFLICT)
        .await;
    assert_eq!(app.post("/v1/categories", &json!({"name": "Zeta"}), &other.token).await.status(), StatusCode::CREATED);
    assert_problem(
        app.post("/v1/categories", &json!({"name": "X", "color": "red"}), &owner.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let list = app.get_json("/v1/categories", &owner.token).await;
    let names: Vec<&str> = list["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Zeta", "Alpha"]);
    let id = list["data"][1]["id"].as_str().unwrap();
    let r =
        app.patch(&format!("/v1/categories/{id}"), &json!({"is_active": false, "sort_order": 0}), &owner.token).await;
    assert_eq!(r.json::<Value>().await.unwrap()["is_active"], false);
    let customer = app.member(&owner, "c@example.com", "customer").await;
    assert_problem(app.post("/v1/categories", &json!({"name": "Mine"}), &customer.token).await, StatusCode::FORBIDDEN)
        .await;
    assert_eq!(app.delete(&format!("/v1/categories/{id}"), &owner.token).await.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

/// billing-metrics' contract, answered by a stand-in until that service exists.
struct FullPlan;

#[tonic::async_trait]
impl proto::billing::billing_server::Billing for FullPlan {
    async fn check_quota(
        &self,
        request: tonic::Request<proto::billing::CheckQuotaRequest>,
    ) -> Result<tonic::Response<proto::billing::CheckQuotaResponse>, tonic::Status> {
        // Internal calls carry the service token (development's default here).
        let auth = request.metadata().get("authorization").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(auth.as_deref(), Some("Bearer switchboard-development-service-token"));
        let r = request.into_inner();
        assert_eq!(r.metric, "feedback_posts");
        Ok(tonic::Response::new(proto::billing::CheckQuotaResponse {
            allowed: false,
            used: 100,
            limit: 100,
            plan: "free".into(),
        }))
    }

    async fn get_entitlements(
        &self,
        _request: tonic::Request<proto::billing::GetEntitlementsRequest>,
    ) -> Result<tonic::Response<proto::billing::GetEntitlementsResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not asked in this test"))
    }
}

#[tokio::test]
async fn a_full_plan_refuses_new_posts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(proto::billing::billing_server::BillingServer::new(FullPlan))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let url = format!("http://{addr}");
    let app = spawn_app_with(&[("BILLING_GRPC_URL", url.as_str()), ("QUOTA_TIMEOUT_SECS", "2")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r = app.post("/v1/feedback", &json!({"title": "One too many"}), &owner.token).await;
    let body = assert_problem(r, StatusCode::PAYMENT_REQUIRED).await;
    assert!(body["detail"].as_str().unwrap().contains("100"));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM feedback").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0);
    app.stop().await;
}

#[tokio::test]
async fn health_and_openapi() {
    let app = spawn_app().await;
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap().iter().filter(|(m, _)| m.as_str() != "parameters") {
            documented.push((method.to_uppercase(), path.clone()));
            assert!(operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()), "{method} {path}: id reused");
        }
    }
    documented.sort();
    let mut expected: Vec<(String, String)> =
        crate::rejections::ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    expected.sort();
    assert_eq!(documented, expected, "every route is documented, and only those");
    // Every reference resolves (a schema named only in a parameter is easy to leave out).
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => out.push(r),
                _ => refs(v, out),
            }),
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
    // Ids are declared, public routes need no credentials, uploads are multipart.
    let op = &doc["paths"]["/v1/feedback/{id}/comments/{comment_id}"]["patch"];
    let params: Vec<&str> = op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["id", "comment_id"]);
    assert_eq!(doc["paths"]["/v1/public/{slug}/feedback"]["get"]["security"], json!([{}]));
    let upload = &doc["paths"]["/v1/feedback/{id}/attachments"]["post"]["requestBody"]["content"];
    assert!(upload.get("multipart/form-data").is_some(), "{upload}");
    let list = &doc["paths"]["/v1/feedback"]["get"]["parameters"];
    assert!(list.as_array().unwrap().iter().any(|p| p["name"] == "limit" && p["schema"]["maximum"] == 100), "{list}");
    assert!(doc["paths"]["/v1/feedback"]["post"]["responses"].get("402").is_some());
    app.stop().await;
}

#[tokio::test]
async fn a_post_made_private_stops_notifying_customers() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let author = app.member(&owner, "author@example.com", "customer").await;
    let follower = app.member(&owner, "follower@example.com", "customer").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let post = app.create(&author, json!({"title": "Roadmap item"})).await;
    let id = post["id"].as_str().unwrap();
    for u in [&follower, &agent] {
        assert_eq!(
            app.put(&format!("/v1/feedback/{id}/subscription"), &json!({}), &u.token).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    app.patch(&format!("/v1/feedback/{id}"), &json!({"is_public": false}), &owner.token).await;
    app.post(&format!("/v1/feedback/{id}/status"), &json!({"status": "planned", "note": "secret plan"}), &owner.token)
        .await;
    let notes = app.notifications(1).await;
    let mut recipients: Vec<&str> =
        notes[0]["data"]["recipients"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    recipients.sort();
    let mut expected = vec![author.id.as_str(), agent.id.as_str()];
    expected.sort();
    assert_eq!(recipients, expected, "the customer follower no longer sees the post");
    app.stop().await;
}

/// Sends `body` as it is written: serde_json would print its numbers in its own way.
async fn post_raw(app: &TestApp, token: &str, body: &str) -> reqwest::Response {
    let request = app.http.post(app.url("/v1/feedback")).bearer_auth(token);
    request.header("content-type", "application/json").body(body.to_owned()).send().await.unwrap()
}

#[tokio::test]
async fn metadata_numbers_read_back_as_written_and_past_a_float_are_refused() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    // f64::MAX and its neighbours: PostgreSQL prints them as 309-digit integers, which a parser
    // that misses by an ulp reads as infinity ("number out of range", a 500 on every read).
    let numbers = ["1.7976931348623157e308", "-1.7976931348623157e308", "1.7e308", "5e-324", "-1.1126613106972595e194"];
    let metadata = numbers.iter().enumerate().map(|(i, n)| format!("\"n{i}\": {n}")).collect::<Vec<_>>().join(", ");
    let r = post_raw(
        &app,
        &owner.token,
        &format!(r#"{{"title": "Huge numbers", "metadata": {{{metadata}, "deep": [{{"x": 1e308}}]}}}}"#),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let edit = app.patch(&format!("/v1/feedback/{id}"), &json!({"metadata": {"later": f64::MAX}}), &owner.token).await;
    assert_eq!(edit.status(), StatusCode::OK);
    let list = app.get_json("/v1/feedback", &owner.token).await;
    assert_eq!(list["data"][0]["id"], id.as_str());
    let got = app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await;
    for (i, n) in numbers.iter().enumerate() {
        assert_eq!(got["metadata"][format!("n{i}")].as_f64(), Some(n.parse::<f64>().unwrap()), "{n}");
    }
    assert_eq!(got["metadata"]["deep"][0]["x"].as_f64(), Some(1e308));
    assert_eq!(got["metadata"]["later"].as_f64(), Some(f64::MAX));

    for bad in
        [r#"{"a": 1e309}"#, r#"{"a": {"b": [-2e308]}}"#, &format!(r#"{{"a": 1{}}}"#, "0".repeat(400)), "[1]", "3"]
    {
        let r = post_raw(&app, &owner.token, &format!(r#"{{"title": "Too big", "metadata": {bad}}}"#)).await;
        assert_eq!(invalid_fields(r).await, ["metadata"], "{bad}");
        let r = app
            .http
            .patch(app.url(&format!("/v1/feedback/{id}")))
            .bearer_auth(&owner.token)
            .header("content-type", "application/json")
            .body(format!(r#"{{"metadata": {bad}}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(invalid_fields(r).await, ["metadata"], "{bad}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM feedback").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
    assert_eq!(app.get_json(&format!("/v1/feedback/{id}"), &owner.token).await["metadata"], got["metadata"]);
    app.stop().await;
}
