//! A message's media file (agents): fetched from the platform with the connection's token on
//! first read, checked and kept; served from what was kept after that.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use platform::auth::Principal;
use platform::extract::Path;
use platform::{ApiResult, Problem};
use secrecy::SecretString;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::reader;
use crate::platforms::media::MediaError;
use crate::platforms::Platform;
use crate::store::{connections, media, messages};
use crate::{sealed_for, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_media))
}

/// The file of an image, video, audio, sticker or file message.
#[utoipa::path(get, path = "/v1/conversations/{id}/messages/{message_id}/media", operation_id = "get_message_media",
    tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), ("message_id" = Uuid, Path, description = "The message")),
    responses((status = 200, description = "The file, with its type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such message, no media, or the platform no longer has it", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The platform's file is not what the message says", body = Problem, content_type = "application/problem+json")))]
pub async fn get_media(
    State(state): State<AppState>,
    p: Principal,
    Path((conversation, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    reader(&p)?;
    let org = p.org_id;
    let (message, kept, connection, secrets) = {
        let mut conn = state.pool.acquire().await?;
        let m = messages::get(&mut conn, org, id).await?.filter(|m| m.conversation_id == conversation);
        let m = m.ok_or_else(|| Problem::not_found("message"))?;
        let kept = media::get(&mut conn, org, id).await?;
        let c = connections::get(&mut conn, org, m.connection_id).await?;
        let s = connections::secrets(&mut conn, org, m.connection_id).await?;
        (m, kept, c, s)
    };
    if let Some(kept) = kept {
        return Ok(serve(&message.content_type, &message.media, kept.content_type, kept.body));
    }
    let reference = message.media.clone().ok_or_else(|| Problem::not_found("media of this message"))?;
    let (Some(connection), Some(secrets)) = (connection, secrets) else {
        return Err(Problem::not_found("connection").into());
    };
    if connection.status == "disconnected" {
        return Err(Problem::conflict("the connection is disconnected: media not fetched before cannot be now").into());
    }
    let token = state
        .keys
        .decrypt(&secrets.access_token, &sealed_for(connection.id, "access_token"))
        .map(SecretString::from)
        .map_err(|_| Problem::unavailable("the connection's token cannot be read"))?;
    let platform: Platform = connection.platform.parse().map_err(anyhow::Error::msg)?;
    let fetched = match state.media.fetch(platform, &token, &message.content_type, &reference).await {
        Ok(f) => f,
        Err(MediaError::Gone(why)) => {
            return Err(Problem::new(StatusCode::NOT_FOUND, "media-gone", "Media gone").detail(why).into())
        }
        Err(MediaError::Mismatch(why)) => {
            tracing::warn!(message = %id, reason = %why, "platform media refused");
            return Err(Problem::new(StatusCode::BAD_GATEWAY, "media-refused", "Media refused").detail(why).into());
        }
        Err(MediaError::Unavailable(why)) => return Err(Problem::unavailable(why).retry_after(5).into()),
    };
    let mut conn = state.pool.acquire().await?;
    media::keep(&mut conn, org, id, &fetched.content_type, &fetched.sha256, &fetched.body).await?;
    Ok(serve(&message.content_type, &message.media, fetched.content_type, fetched.body))
}

fn serve(kind: &str, reference: &Option<serde_json::Value>, content_type: String, body: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    // Only media a browser shows safely is shown; anything else downloads.
    let inline = matches!(kind, "image" | "sticker" | "video" | "audio") && !content_type.contains("svg");
    let name: String = reference
        .as_ref()
        .and_then(|m| m["filename"].as_str())
        .unwrap_or("media")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
        .take(100)
        .collect();
    let disposition = format!("{}; filename=\"{}\"", if inline { "inline" } else { "attachment" }, name);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
