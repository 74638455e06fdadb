//! Meta's Graph API, a third party: a small local HTTP server that answers inbox-sync's WhatsApp
//! Cloud calls as Meta does and records every send. `GET /{version}/{phone_number_id}` reads
//! the number (the check of a connection's token); `POST /{version}/{phone_number_id}/messages`
//! sends, and answers the id the platform gives the message, `wamid.OUT<n>` for the n-th send.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};

/// The only access token the stand-in accepts.
pub const GOOD_TOKEN: &str = "EAAG-e2e-good-system-user-token";

/// One send, as inbox-sync made it, and the message id it was given.
#[derive(Clone, Debug)]
pub struct Sent {
    pub path: String,
    pub authorization: String,
    pub body: Value,
    pub id: String,
}

pub struct GraphStandin {
    /// The base URL, as `META_GRAPH_URL` takes it.
    pub url: String,
    sends: Mutex<Vec<Sent>>,
}

impl GraphStandin {
    pub async fn start() -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the Graph stand-in binds");
        let addr = listener.local_addr().unwrap();
        let graph = Arc::new(Self { url: format!("http://{addr}"), sends: Mutex::new(Vec::new()) });
        let router = axum::Router::new()
            .route("/{version}/{phone_number_id}", get(phone_number))
            .route("/{version}/{phone_number_id}/messages", post(send))
            .with_state(graph.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        graph
    }

    /// Every send so far, first first.
    pub fn sends(&self) -> Vec<Sent> {
        self.sends.lock().unwrap().clone()
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(format!("Bearer {GOOD_TOKEN}").as_str())
}

fn refused() -> (StatusCode, Json<Value>) {
    let error = json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}});
    (StatusCode::UNAUTHORIZED, Json(error))
}

async fn phone_number(Path((_version, id)): Path<(String, String)>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    if !authorized(&headers) {
        return refused();
    }
    let number = json!({"id": id, "verified_name": "Acme Support", "display_phone_number": "+1 555-078-3881"});
    (StatusCode::OK, Json(number))
}

/// Recorded whatever its token: what reaches Meta is what the test asserts on.
async fn send(
    State(graph): State<Arc<GraphStandin>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let ok = authorized(&headers);
    let id = {
        let mut sends = graph.sends.lock().unwrap();
        let id = if ok { format!("wamid.OUT{}", sends.len() + 1) } else { String::new() };
        sends.push(Sent { path: uri.path().to_owned(), authorization, body: body.clone(), id: id.clone() });
        id
    };
    if !ok {
        return refused();
    }
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": body["to"], "wa_id": body["to"]}],
        "messages": [{"id": id}],
    });
    (StatusCode::OK, Json(answer))
}
