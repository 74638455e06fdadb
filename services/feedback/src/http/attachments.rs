//! Attachments of posts and comments: multipart upload with a size limit and allowed types,
//! stored under generated names with a SHA-256, downloaded and deleted with the same
//! authorization as their parent.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::posts::visible;
use super::{can_read, can_write, upload};
use crate::domain::Viewer;
use crate::events;
use crate::store::attachments::{self, Attachment};
use crate::store::comments;
use crate::AppState;

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
    /// Attach to this comment of the post (its author, or an agent) instead of the post.
    #[schema(value_type = String, format = Uuid, required = false)]
    comment_id: Option<Uuid>,
}

/// Adds the allowed file types to the upload's request body (`encoding.file.contentType`): they
/// are configuration (`ATTACHMENT_TYPES`), so the generated document cannot know them.
pub fn document_types(api: &mut utoipa::openapi::OpenApi, types: &[String]) {
    let body = api
        .paths
        .paths
        .get_mut("/v1/feedback/{id}/attachments")
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.request_body.as_mut());
    let Some(utoipa::openapi::RefOr::T(body)) = body else { return };
    if let Some(utoipa::openapi::RefOr::T(content)) = body.content.get_mut("multipart/form-data") {
        let encoding = utoipa::openapi::encoding::Encoding::builder().content_type(Some(types.join(", "))).build();
        content.encoding.insert("file".to_owned(), encoding);
    }
}

/// Upload a file to a post, or to one of its comments.
#[utoipa::path(
    post,
    operation_id = "upload_attachment",
    path = "/v1/feedback/{id}/attachments",
    tag = "attachments",
    params(("id" = Uuid, Path, description = "The post's id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The attachment", body = Attachment))
)]
pub async fn upload(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    can_write(&p)?;
    let viewer = Viewer::of(&p);
    let post = visible(&state, &viewer, id).await?;
    let mut multipart = multipart.map_err(|_| Problem::unsupported_media_type("multipart/form-data"))?;
    let form = upload::read(&state, p.org_id, &mut multipart).await?;
    let saved = save(&state, &p, &viewer, post.id, &form).await;
    if saved.is_err() {
        form.discard().await;
    }
    Ok((StatusCode::CREATED, Json(saved?)))
}

/// Records a stored file, with its event.
async fn save(
    state: &AppState,
    p: &Principal,
    viewer: &Viewer,
    post: Uuid,
    form: &upload::Form,
) -> ApiResult<Attachment> {
    let Some(file) = &form.file else {
        return Err(Problem::validation(vec![FieldError::new("file", "is required")]).into());
    };
    let mut tx = state.pool.begin().await?;
    let mut internal = false;
    if let Some(c) = form.comment_id {
        match comments::author_and_kind(&mut tx, p.org_id, post, c).await? {
            Some((author, is_internal)) if !is_internal || viewer.sees_internal() => {
                if !viewer.is_author(author) && !viewer.is_staff() {
                    return Err(Problem::forbidden("only the comment's author can attach files to it").into());
                }
                internal = is_internal;
            }
            _ => {
                return Err(
                    Problem::validation(vec![FieldError::new("comment_id", "no such comment on this post")]).into()
                )
            }
        }
    }
    let a = attachments::insert(
        &mut tx,
        attachments::NewAttachment {
            org: p.org_id,
            post,
            comment_id: form.comment_id,
            internal,
            stored_name: &file.stored_name,
            original_filename: &file.original,
            mime_type: &file.mime,
            size_bytes: file.size,
            sha256: &file.sha256,
            uploaded_by: p.user_id,
        },
    )
    .await?;
    events::emit(&mut tx, ev::ATTACHMENT_CREATED, p.org_id, a.id, events::attachment(&a, p.org_id, p.user_id)).await?;
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

/// Attachments of a post the caller may see (those of internal notes for agents and above).
async fn visible_attachments(
    state: &AppState,
    viewer: &Viewer,
    post: Uuid,
    only: Option<Uuid>,
) -> ApiResult<Vec<Attachment>> {
    let post = visible(state, viewer, post).await?;
    Ok(attachments::visible(&state.pool, viewer, post.id, only).await?)
}

/// A post's attachments.
#[utoipa::path(
    get,
    operation_id = "list_attachments",
    path = "/v1/feedback/{id}/attachments",
    tag = "attachments",
    params(("id" = Uuid, Path, description = "The post's id")),
    responses((status = 200, description = "The attachments", body = AttachmentList))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AttachmentList>> {
    can_read(&p)?;
    Ok(Json(AttachmentList { data: visible_attachments(&state, &Viewer::of(&p), id, None).await? }))
}

/// Download an attachment's file (`Content-Disposition: attachment`, `nosniff`).
#[utoipa::path(
    get,
    operation_id = "download_attachment",
    path = "/v1/feedback/{id}/attachments/{attachment_id}",
    tag = "attachments",
    params(
        ("id" = Uuid, Path, description = "The post's id"),
        ("attachment_id" = Uuid, Path, description = "The attachment's id"),
    ),
    responses((status = 200, description = "The file, with the type it was uploaded as", content_type = "*/*", body = FileBody))
)]
pub async fn download(
    State(state): State<AppState>,
    p: Principal,
    Path((id, attachment)): Path<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    can_read(&p)?;
    let a = visible_attachments(&state, &Viewer::of(&p), id, Some(attachment))
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

/// Delete an attachment: its uploader or a manager.
#[utoipa::path(
    delete,
    operation_id = "delete_attachment",
    path = "/v1/feedback/{id}/attachments/{attachment_id}",
    tag = "attachments",
    params(
        ("id" = Uuid, Path, description = "The post's id"),
        ("attachment_id" = Uuid, Path, description = "The attachment's id"),
    ),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path((id, attachment)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    let viewer = Viewer::of(&p);
    let a = visible_attachments(&state, &viewer, id, Some(attachment))
        .await?
        .pop()
        .ok_or_else(|| Problem::not_found("attachment"))?;
    if !viewer.is_author(a.uploaded_by) && p.role < Role::Manager {
        return Err(Problem::forbidden("only the uploader or a manager can delete an attachment").into());
    }
    let mut tx = state.pool.begin().await?;
    if !attachments::delete(&mut tx, p.org_id, a.id).await? {
        // Someone else deleted it meanwhile: theirs is the event.
        return Err(Problem::not_found("attachment").into());
    }
    events::emit(&mut tx, ev::ATTACHMENT_DELETED, p.org_id, a.id, events::attachment(&a, p.org_id, p.user_id)).await?;
    tx.commit().await?;
    if let Err(err) = tokio::fs::remove_file(state.config.attachments_dir.join(&a.stored_name)).await {
        tracing::warn!(error = %err, attachment = %a.id, "attachment row deleted but its file remains");
    }
    Ok(StatusCode::NO_CONTENT)
}
