//! Suggested answers, drafted replies through a stand-in of an OpenAI-compatible endpoint, and
//! complexity scores, through the API.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::articles::article;
use crate::helpers::{assert_problem, spawn_app, spawn_app_with, TestApp, User};

type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A chat-completions endpoint that answers like OpenAI when the request has the right shape
/// (400 otherwise), and keeps every request it got.
async fn stand_in(status: StatusCode) -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    async fn complete(
        State((seen, status)): State<(Seen, StatusCode)>,
        headers: HeaderMap,
        body: axum::Json<Value>,
    ) -> (StatusCode, axum::Json<Value>) {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = body.0;
        seen.lock().unwrap().push((auth, body.clone()));
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        let shaped = body["model"].is_string()
            && messages.len() == 2
            && messages[0]["role"] == "system"
            && messages[1]["role"] == "user"
            && messages.iter().all(|m| m["content"].is_string());
        if !shaped {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "bad request"}})));
        }
        if status != StatusCode::OK {
            return (status, axum::Json(json!({"error": {"message": "overloaded"}})));
        }
        let reply = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "stand-in-model-0613",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Hello! Use the reset password link on the login page."}}],
            "usage": {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}
        });
        (StatusCode::OK, axum::Json(reply))
    }
    let router = axum::Router::new().route("/v1/chat/completions", post(complete)).with_state((seen.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, seen)
}

/// The organization's knowledge base: three published articles and a draft.
async fn knowledge(app: &TestApp, owner: &User) -> (Value, Value, Value) {
    let password = article(
        app,
        owner,
        "Reset your password",
        "Forgot your password? Open the login page and use the reset password link we email you.",
        true,
    )
    .await;
    let billing =
        article(app, owner, "Update billing details", "Change your credit card and invoice address in Billing.", true)
            .await;
    let draft = article(
        app,
        owner,
        "Password reset for administrators",
        "Administrators reset a password from Members.",
        false,
    )
    .await;
    (password, billing, draft)
}

fn articles(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "article")
        .map(|s| s["article_id"].as_str().unwrap())
        .collect()
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn suggestions_rank_published_articles_with_bounded_confidence_and_take_feedback() {
    let app = spawn_app().await;
    let owner = app.owner("sugg-rank@example.com", "Sugg Rank").await;
    let customer = app.member(&owner, "sugg-customer@example.com", "customer").await;
    let (password, billing, draft) = knowledge(&app, &owner).await;
    let login = article(&app, &owner, "Login page loops", "If the login page loops, clear your cookies.", true).await;
    let t = app
        .create(&owner, json!({"subject": "Forgot my password", "description": "I cannot get past the login page and need to reset my password."}))
        .await;
    let path = format!("/v1/tickets/{}/suggestions", t["id"].as_str().unwrap());

    let first = app.get_json(&path, &owner.token).await;
    let found = articles(&first);
    assert_eq!(found, [password["id"].as_str().unwrap(), login["id"].as_str().unwrap()], "{first}");
    assert!(!found.contains(&billing["id"].as_str().unwrap()) && !found.contains(&draft["id"].as_str().unwrap()));
    let confidences: Vec<f64> =
        first["data"].as_array().unwrap().iter().map(|s| s["confidence"].as_f64().unwrap()).collect();
    assert!(confidences.iter().all(|c| (0.0..=1.0).contains(c)), "{confidences:?}");
    assert!(confidences[0] > confidences[1], "{confidences:?}");
    let top = &first["data"][0];
    assert_eq!(top["article_title"], "Reset your password");
    assert!(top["response_text"].as_str().unwrap().contains("reset password link"));
    assert_eq!(top["model_used"], Value::Null);
    assert!(first["data"].as_array().unwrap().iter().all(|s| s["kind"] == "article"), "no model configured");

    // Recorded: reading again gives the same suggestions; recomputing records new ones.
    assert_eq!(ids(&app.get_json(&path, &owner.token).await), ids(&first));
    let r = app.post(&path, &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second: Value = r.json().await.unwrap();
    assert_eq!(articles(&second), articles(&first));
    assert!(ids(&second).iter().all(|id| !ids(&first).contains(id)));

    let sid = second["data"][0]["id"].as_str().unwrap();
    let feedback = format!("{path}/{sid}/feedback");
    let r = app.post(&feedback, &json!({"was_helpful": false, "reason": "  outdated steps "}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let judged: Value = r.json().await.unwrap();
    assert_eq!(
        (judged["was_helpful"].as_bool(), judged["feedback_reason"].as_str()),
        (Some(false), Some("outdated steps"))
    );
    let latest = app.get_json(&path, &owner.token).await;
    assert_eq!(latest["data"][0]["was_helpful"], false);
    let unknown = format!("{path}/{}/feedback", uuid::Uuid::now_v7());
    assert_problem(app.post(&unknown, &json!({"was_helpful": true}), &owner.token).await, StatusCode::NOT_FOUND).await;
    let r = app.post(&feedback, &json!({"was_helpful": "very"}), &owner.token).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    assert_problem(app.get(&path, &customer.token).await, StatusCode::FORBIDDEN).await;
    let other = app.owner("sugg-other@example.com", "Sugg Other").await;
    assert_problem(app.get(&path, &other.token).await, StatusCode::NOT_FOUND).await;

    let unrelated = app.create(&owner, json!({"subject": "Parking", "description": "Where do visitors park?"})).await;
    let none =
        app.get_json(&format!("/v1/tickets/{}/suggestions", unrelated["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!(none["data"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_configured_model_adds_a_drafted_reply_with_its_model_and_tokens() {
    let (addr, seen) = stand_in(StatusCode::OK).await;
    let url = format!("http://{addr}/v1/chat/completions");
    let app = spawn_app_with(&[
        ("SUGGESTIONS_LLM_URL", &url),
        ("SUGGESTIONS_LLM_API_KEY", "sk-test-secret"),
        ("SUGGESTIONS_LLM_MODEL", "stand-in-model"),
    ])
    .await;
    let owner = app.owner("sugg-llm@example.com", "Sugg LLM").await;
    let (password, _, _) = knowledge(&app, &owner).await;
    let t =
        app.create(&owner, json!({"subject": "Forgot my password", "description": "Please help me reset it."})).await;
    let list = app.get_json(&format!("/v1/tickets/{}/suggestions", t["id"].as_str().unwrap()), &owner.token).await;

    let data = list["data"].as_array().unwrap();
    let draft = &data[0];
    assert_eq!(draft["kind"], "draft", "{list}");
    assert_eq!(draft["response_text"], "Hello! Use the reset password link on the login page.");
    assert_eq!(draft["model_used"], "stand-in-model-0613");
    assert_eq!((draft["prompt_tokens"].as_i64(), draft["completion_tokens"].as_i64()), (Some(321), Some(54)));
    assert_eq!(draft["article_id"], Value::Null);
    assert_eq!(draft["confidence"], data[1]["confidence"], "a draft is as sure as its best article");
    assert_eq!(articles(&list), [password["id"].as_str().unwrap()]);

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (auth, body) = &requests[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-secret"));
    assert_eq!(body["model"], "stand-in-model");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("Forgot my password") && user.contains("Reset your password"), "{user}");
    assert!(!list.to_string().contains("sk-test-secret"));
    app.stop().await;
}

#[tokio::test]
async fn a_failing_or_absent_model_leaves_the_article_suggestions() {
    let (failing, seen) = stand_in(StatusCode::SERVICE_UNAVAILABLE).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for addr in [failing, closed] {
        let url = format!("http://{addr}/v1/chat/completions");
        let app = spawn_app_with(&[("SUGGESTIONS_LLM_URL", &url)]).await;
        let owner = app.owner("sugg-down@example.com", "Sugg Down").await;
        let (password, _, _) = knowledge(&app, &owner).await;
        let t = app.create(&owner, json!({"subject": "Forgot my password"})).await;
        let r =
            app.post(&format!("/v1/tickets/{}/suggestions", t["id"].as_str().unwrap()), &json!({}), &owner.token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let list: Value = r.json().await.unwrap();
        assert_eq!(articles(&list), [password["id"].as_str().unwrap()], "{list}");
        assert!(list["data"].as_array().unwrap().iter().all(|s| s["kind"] == "article"));
        app.stop().await;
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "the failing endpoint was asked");
}

#[tokio::test]
async fn complexity_is_recorded_when_a_ticket_is_created() {
    let app = spawn_app().await;
    let owner = app.owner("sugg-complex@example.com", "Sugg Complex").await;
    let hard = app
        .create(
            &owner,
            json!({"subject": "API outage: 503 on every webhook", "priority": "urgent", "severity": "critical",
                   "description": "Our integration gets timeout and SSL certificate errors, and the database sync crashes. ".repeat(20)}),
        )
        .await;
    let path = format!("/v1/tickets/{}/complexity", hard["id"].as_str().unwrap());
    let c = app.get_json(&path, &owner.token).await;
    assert_eq!(c["created_at"], hard["created_at"], "recorded with the ticket, in its transaction");
    assert!(c["score"].as_i64().unwrap() >= 60 && c["score"].as_i64().unwrap() <= 100, "{c}");
    assert_eq!(c["escalation_recommended"], true);
    assert_eq!(c["factors"]["severity"]["points"], 15);
    assert_eq!(c["factors"]["technical_terms"]["points"], 20);
    assert_eq!(app.get_json(&path, &owner.token).await["id"], c["id"]);

    let easy = app.create(&owner, json!({"subject": "Hello", "priority": "low", "severity": "minor"})).await;
    let e = app.get_json(&format!("/v1/tickets/{}/complexity", easy["id"].as_str().unwrap()), &owner.token).await;
    assert!(e["score"].as_i64().unwrap() < 10, "{e}");
    assert_eq!(e["escalation_recommended"], false);

    let r = app.post(&path, &json!({}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let again: Value = r.json().await.unwrap();
    assert_ne!(again["id"], c["id"]);
    assert_eq!(app.get_json(&path, &owner.token).await["id"], again["id"]);
    let customer = app.member(&owner, "sugg-complex-customer@example.com", "customer").await;
    assert_problem(app.get(&path, &customer.token).await, StatusCode::FORBIDDEN).await;
    app.stop().await;
}
