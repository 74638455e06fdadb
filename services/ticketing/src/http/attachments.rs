//! Attachments of tickets and their comments: multipart upload with a size limit and allowed
//! types checked against the file's signature, stored under generated names with a SHA-256.
//! Files of internal notes are for agents only.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

use super::{can_read, can_write, upload, viewer, visible};
use crate::domain::viewer::Viewer;
use crate::store::attachments::{self, Attachment};
use crate::store::comments;
use crate::AppState;

pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let limit = state.config.attachment_max_bytes + 64 * 1024;
    OpenApiRouter::new()
        .routes(routes!(list, upload).layer(DefaultBodyLimit::max(limit)))
        .routes(routes!(download, delete))
}

/// The upload form: these parts and no others (`upload::read` refuses the rest, 422).
// `Deserialize` only so that `deny_unknown_fields` puts `additionalProperties: false` in the
// document; the form itself is read part by part.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file, with a `Content-Type` of the allowed types (the request body's `encoding`
    /// lists them) that its content matches.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Attach to this comment of the ticket instead of the ticket.
    #[schema(value_type = String, format = Uuid, required = false)]
    comment_id: Option<Uuid>,
}

/// Upload a file to a ticket, or to one of its comments.
#[utoipa::path(
    post,
    operation_id = "upload_ticket_attachment",
    path = "/v1/tickets/{id}/attachments",
    tag = "attachments",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The attachment", body = Attachment))
)]
pub async fn upload(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    can_write(&p)?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut multipart = multipart.map_err(|_| Problem::unsupported_media_type("multipart/form-data"))?;
    let form = upload::read(&state, p.org_id, &mut multipart).await?;
    let saved = save(&state, &p, &viewer, ticket.id, &form).await;
    if saved.is_err() {
        form.discard().await;
    }
    Ok((StatusCode::CREATED, Json(saved?)))
}

async fn save(
    state: &AppState,
    p: &Principal,
    viewer: &Viewer,
    ticket: Uuid,
    form: &upload::Form,
) -> ApiResult<Attachment> {
    let Some(file) = &form.file else {
        return Err(Problem::validation(vec![FieldError::new("file", "is required")]).into());
    };
    let mut tx = state.pool.begin().await?;
    let mut internal = false;
    if let Some(c) = form.comment_id {
        match comments::get(&mut tx, p.org_id, ticket, c).await? {
            Some(comment) if !comment.is_internal || viewer.sees_internal() => {
                if !viewer.staff && comment.author_id != p.user_id {
                    return Err(Problem::forbidden("only the comment's author can attach files to it").into());
                }
                internal = comment.is_internal;
            }
            _ => {
                return Err(
                    Problem::validation(vec![FieldError::new("comment_id", "no such comment on this ticket")]).into()
                )
            }
        }
    }
    let a = attachments::insert(
        &mut tx,
        attachments::NewAttachment {
            org: p.org_id,
            ticket,
            comment_id: form.comment_id,
            internal,
            storage_key: &file.stored_name,
            filename: &file.original,
            content_type: &file.mime,
            size_bytes: file.size,
            sha256: &file.sha256,
            uploaded_by: p.user_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// A file's bytes, of whatever type it was uploaded as.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(value_type = String, format = Binary)]
pub struct FileBody(Vec<u8>);

#[derive(Serialize, ToSchema)]
pub struct AttachmentList {
    data: Vec<Attachment>,
}

async fn visible_attachments(
    state: &AppState,
    p: &Principal,
    id: &str,
    only: Option<Uuid>,
) -> ApiResult<(Viewer, Vec<Attachment>)> {
    let viewer = viewer(state, p).await?;
    let ticket = visible(state, &viewer, id).await?;
    let mut conn = state.pool.acquire().await?;
    let list = attachments::visible(&mut conn, p.org_id, ticket.id, viewer.sees_internal(), only).await?;
    Ok((viewer, list))
}

/// A ticket's attachments (those of internal notes for agents only).
#[utoipa::path(
    get,
    operation_id = "list_ticket_attachments",
    path = "/v1/tickets/{id}/attachments",
    tag = "attachments",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, description = "The attachments", body = AttachmentList))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AttachmentList>> {
    can_read(&p)?;
    Ok(Json(AttachmentList { data: visible_attachments(&state, &p, &id, None).await?.1 }))
}

/// Download an attachment's file (`Content-Disposition: attachment`, `nosniff`).
#[utoipa::path(
    get,
    operation_id = "download_ticket_attachment",
    path = "/v1/tickets/{id}/attachments/{attachment_id}",
    tag = "attachments",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("attachment_id" = Uuid, Path, description = "The attachment's id"),
    ),
    responses((status = 200, description = "The file, with the type it was uploaded as", content_type = "*/*", body = FileBody))
)]
pub async fn download(
    State(state): State<AppState>,
    p: Principal,
    Path((id, attachment)): Path<(String, Uuid)>,
) -> ApiResult<Response> {
    can_read(&p)?;
    let a = visible_attachments(&state, &p, &id, Some(attachment))
        .await?
        .1
        .pop()
        .ok_or_else(|| Problem::not_found("attachment"))?;
    let file =
        tokio::fs::File::open(state.config.attachments_dir.join(&a.storage_key)).await.map_err(anyhow::Error::new)?;
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&a.content_type).map_err(anyhow::Error::new)?);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(a.size_bytes));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    let disposition = format!("attachment; filename=\"{}\"", a.filename.replace(|c: char| !c.is_ascii(), "_"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(anyhow::Error::new)?);
    Ok(response)
}

/// Delete an attachment: its uploader or a manager.
#[utoipa::path(
    delete,
    operation_id = "delete_ticket_attachment",
    path = "/v1/tickets/{id}/attachments/{attachment_id}",
    tag = "attachments",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("attachment_id" = Uuid, Path, description = "The attachment's id"),
    ),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path((id, attachment)): Path<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    let a = visible_attachments(&state, &p, &id, Some(attachment))
        .await?
        .1
        .pop()
        .ok_or_else(|| Problem::not_found("attachment"))?;
    if (p.user_id.is_none() || a.uploaded_by != p.user_id) && p.role < Role::Manager {
        return Err(Problem::forbidden("only the uploader or a manager can delete an attachment").into());
    }
    let mut tx = state.pool.begin().await?;
    if !attachments::delete(&mut tx, p.org_id, a.id).await? {
        return Err(Problem::not_found("attachment").into());
    }
    tx.commit().await?;
    if let Err(err) = tokio::fs::remove_file(state.config.attachments_dir.join(&a.storage_key)).await {
        tracing::warn!(error = %err, attachment = %a.id, "attachment row deleted but its file remains");
    }
    Ok(StatusCode::NO_CONTENT)
}
