//! Attachments of posts and comments: multipart upload with a size limit and allowed types,
//! stored under generated names with a SHA-256, downloaded and deleted with the same
//! authorization as their parent.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{can_read, can_write, is_staff};
use crate::AppState;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Attachment {
    id: Uuid,
    feedback_id: Uuid,
    comment_id: Option<Uuid>,
    original_filename: String,
    mime_type: String,
    size_bytes: i64,
    sha256: String,
    uploaded_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    #[serde(skip)]
    stored_name: String,
}

const COLUMNS: &str =
    "a.id, a.feedback_id, a.comment_id, a.original_filename, a.mime_type, a.size_bytes, a.sha256, a.uploaded_by, a.created_at, a.stored_name";

/// Whether the first bytes agree with the declared type, for the types that have a signature.
fn matches_signature(mime: &str, head: &[u8]) -> bool {
    match mime {
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        "image/webp" => head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP",
        "application/pdf" => head.starts_with(b"%PDF-"),
        // Valid UTF-8, but for a character cut by the 512-byte window.
        "text/plain" => {
            std::str::from_utf8(head).is_ok_and(|_| true)
                || std::str::from_utf8(head).is_err_and(|e| e.error_len().is_none())
        }
        _ => true,
    }
}

/// A file name safe to echo in a header: no path, no quotes or control characters.
fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("file");
    let cleaned: String = base.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

/// `POST /v1/feedback/{id}/attachments` (multipart: `file`, and `comment_id` to attach to a
/// comment): 201; 413 past the size limit, 415 for a type that is not allowed.
pub async fn upload(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    can_write(&p)?;
    let mut multipart = multipart.map_err(|_| Problem::unsupported_media_type("multipart/form-data"))?;
    let post = super::posts::visible(&state, &p, id).await?;
    let max = state.config.attachment_max_bytes;
    let mut comment_id: Option<Uuid> = None;
    let mut stored: Option<(String, std::path::PathBuf, String, String, i64, String)> = None;
    let read = read_parts(&state, &p, &mut multipart, &mut comment_id, &mut stored, max).await;
    if let Err(e) = read {
        // A part after the file failed: the file must not stay behind.
        if let Some((_, path, ..)) = &stored {
            let _ = tokio::fs::remove_file(path).await;
        }
        return Err(e);
    }
    let Some((stored_name, path, original, mime, size, sha)) = stored else {
        return Err(Problem::validation(vec![FieldError::new("file", "is required")]).into());
    };
    save(&state, &p, post.id, comment_id, stored_name, path, original, mime, size, sha).await
}

type Stored = Option<(String, std::path::PathBuf, String, String, i64, String)>;

/// Reads the multipart fields, streaming `file` to disk.
async fn read_parts(
    state: &AppState,
    p: &Principal,
    multipart: &mut Multipart,
    comment_id: &mut Option<Uuid>,
    stored: &mut Stored,
    max: usize,
) -> ApiResult<()> {
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_problem(&e, max))? {
        match field.name() {
            Some("comment_id") => {
                let text = field.text().await.map_err(|e| multipart_problem(&e, max))?;
                *comment_id =
                    Some(text.trim().parse().map_err(|_| {
                        Problem::validation(vec![FieldError::new("comment_id", "is not a comment id")])
                    })?);
            }
            Some("file") if stored.is_none() => {
                let mime = field.content_type().unwrap_or("application/octet-stream").to_ascii_lowercase();
                let mime = mime.split(';').next().unwrap_or("").trim().to_owned();
                if !state.config.attachment_types.contains(&mime) {
                    return Err(Problem::unsupported_media_type(&state.config.attachment_types.join(", ")).into());
                }
                let original = clean_name(field.file_name().unwrap_or("file"));
                let stored_name = format!("{}/{}", p.org_id, Uuid::now_v7());
                let path = state.config.attachments_dir.join(&stored_name);
                if let Some(dir) = path.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(anyhow::Error::new)?;
                }
                let mut file = tokio::fs::File::create(&path).await.map_err(anyhow::Error::new)?;
                let mut hasher = Sha256::new();
                let mut size = 0usize;
                let mut head: Vec<u8> = Vec::new();
                let outcome: Result<(), Problem> = async {
                    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_problem(&e, max))? {
                        size += chunk.len();
                        if size > max {
                            return Err(Problem::payload_too_large(max));
                        }
                        if head.len() < 512 {
                            head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
                        }
                        hasher.update(&chunk);
                        file.write_all(&chunk).await.map_err(|_| Problem::internal())?;
                    }
                    if !matches_signature(&mime, &head) {
                        return Err(Problem::unsupported_media_type(&mime).detail(format!("the file is not a {mime}")));
                    }
                    file.flush().await.map_err(|_| Problem::internal())?;
                    Ok(())
                }
                .await;
                if let Err(problem) = outcome {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(problem.into());
                }
                *stored = Some((
                    stored_name,
                    path,
                    original,
                    mime,
                    i64::try_from(size).unwrap_or(i64::MAX),
                    hex::encode(hasher.finalize()),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Records a stored file; removes it if the record cannot be made.
#[allow(clippy::too_many_arguments)]
async fn save(
    state: &AppState,
    p: &Principal,
    post: Uuid,
    comment_id: Option<Uuid>,
    stored_name: String,
    path: std::path::PathBuf,
    original: String,
    mime: String,
    size: i64,
    sha: String,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let saved: ApiResult<Attachment> = async {
        let mut tx = state.pool.begin().await?;
        if let Some(c) = comment_id {
            let row: Option<(Option<Uuid>, bool)> =
                sqlx::query_as("SELECT author_id, is_internal FROM comments WHERE id = $1 AND feedback_id = $2")
                    .bind(c)
                    .bind(post)
                    .fetch_optional(&mut *tx)
                    .await?;
            match row {
                Some((author, internal)) if (!internal || is_staff(p)) && (author == p.user_id || is_staff(p)) => {}
                Some((_, internal)) if !internal || is_staff(p) => {
                    return Err(Problem::forbidden("only the comment's author can attach files to it").into())
                }
                _ => return Err(Problem::validation(vec![FieldError::new("comment_id", "no such comment on this post")]).into()),
            }
        }
        let a: Attachment = sqlx::query_as(&format!(
            "INSERT INTO attachments AS a (id, organization_id, feedback_id, comment_id, stored_name, original_filename, \
             mime_type, size_bytes, sha256, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(p.org_id)
        .bind(post)
        .bind(comment_id)
        .bind(&stored_name)
        .bind(&original)
        .bind(&mime)
        .bind(size)
        .bind(&sha)
        .bind(p.user_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(a)
    }
    .await;
    match saved {
        Ok(a) => Ok((StatusCode::CREATED, Json(a))),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}

fn multipart_problem(e: &axum::extract::multipart::MultipartError, max: usize) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::payload_too_large(max)
    } else {
        Problem::bad_request("the multipart body could not be read")
    }
}

#[derive(Serialize)]
pub struct AttachmentList {
    data: Vec<Attachment>,
}

/// Attachments of a post the caller may see, without those of internal notes for non-staff.
async fn visible_attachments(
    state: &AppState,
    p: &Principal,
    post: Uuid,
    only: Option<Uuid>,
) -> ApiResult<Vec<Attachment>> {
    let post = super::posts::visible(state, p, post).await?;
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM attachments a LEFT JOIN comments c ON c.id = a.comment_id \
         WHERE a.feedback_id = $1 AND ($2 OR c.id IS NULL OR NOT c.is_internal) AND ($3::uuid IS NULL OR a.id = $3) \
         ORDER BY a.created_at"
    ))
    .bind(post.id)
    .bind(is_staff(p))
    .bind(only)
    .fetch_all(&state.pool)
    .await?)
}

/// `GET /v1/feedback/{id}/attachments`.
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AttachmentList>> {
    can_read(&p)?;
    Ok(Json(AttachmentList { data: visible_attachments(&state, &p, id, None).await? }))
}

/// `GET /v1/feedback/{id}/attachments/{attachment_id}`: the file, as a download.
pub async fn download(
    State(state): State<AppState>,
    p: Principal,
    Path((id, attachment)): Path<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    can_read(&p)?;
    let a = visible_attachments(&state, &p, id, Some(attachment))
        .await?
        .pop()
        .ok_or_else(|| Problem::not_found("attachment"))?;
    let file =
        tokio::fs::File::open(state.config.attachments_dir.join(&a.stored_name)).await.map_err(anyhow::Error::new)?;
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&a.mime_type).map_err(anyhow::Error::new)?);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(a.size_bytes));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    let disposition = format!("attachment; filename=\"{}\"", a.original_filename.replace(|c: char| !c.is_ascii(), "_"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(anyhow::Error::new)?);
    Ok(response)
}

/// `DELETE /v1/feedback/{id}/attachments/{attachment_id}`: the uploader or a manager.
pub async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path((id, attachment)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    let a = visible_attachments(&state, &p, id, Some(attachment))
        .await?
        .pop()
        .ok_or_else(|| Problem::not_found("attachment"))?;
    let own = a.uploaded_by.is_some() && a.uploaded_by == p.user_id;
    if !own && p.role < Role::Manager {
        return Err(Problem::forbidden("only the uploader or a manager can delete an attachment").into());
    }
    sqlx::query("DELETE FROM attachments WHERE id = $1").bind(a.id).execute(&state.pool).await?;
    if let Err(err) = tokio::fs::remove_file(state.config.attachments_dir.join(&a.stored_name)).await {
        tracing::warn!(error = %err, attachment = %a.id, "attachment row deleted but its file remains");
    }
    Ok(StatusCode::NO_CONTENT)
}
