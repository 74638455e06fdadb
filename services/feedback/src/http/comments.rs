//! Threaded comments: public replies and internal notes (agents and above only), edits marked,
//! deletes by the author or a manager. Official answers notify the post's subscribers.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::posts::visible;
use super::{can_read, can_write};
use crate::domain::{self, Viewer};
use crate::events::{self, Notice};
use crate::store::comments::{self, Comment};
use crate::store::{self, attachments, posts};
use crate::{boards, AppState};

#[derive(Serialize, ToSchema)]
pub struct CommentList {
    pub data: Vec<Comment>,
}

/// A post's comments in order of writing (`parent_id` gives the thread); internal notes for
/// agents and above only.
#[utoipa::path(
    get,
    operation_id = "list_comments",
    path = "/v1/feedback/{id}/comments",
    tag = "comments",
    params(("id" = Uuid, Path, description = "The post's id")),
    responses((status = 200, description = "The comments", body = CommentList))
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CommentList>> {
    can_read(&principal)?;
    let viewer = Viewer::of(&principal);
    let post = visible(&state, &viewer, id).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(CommentList { data: comments::of_post(&mut conn, viewer.org(), post.id, viewer.sees_internal()).await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// Trimmed; not blank.
    #[schema(schema_with = super::schema::comment_content)]
    content: String,
    /// The comment this one answers.
    #[schema(schema_with = super::schema::nullable_uuid)]
    parent_id: Option<Uuid>,
    /// An internal note (agents and above). A reply to an internal note is internal too.
    #[serde(default)]
    is_internal: bool,
}

fn content(raw: &str) -> Result<String, Problem> {
    domain::not_blank("content", raw, 10_000).map_err(|e| Problem::validation(vec![e]))
}

/// Comment on a post.
#[utoipa::path(
    post,
    operation_id = "create_comment",
    path = "/v1/feedback/{id}/comments",
    tag = "comments",
    params(("id" = Uuid, Path, description = "The post's id")),
    request_body = NewComment,
    responses(
        (status = 201, description = "The comment", body = Comment),
        (status = 409, description = "The post was merged into another", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewComment>,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    can_write(&principal)?;
    let text = content(&body.content)?;
    let viewer = Viewer::of(&principal);
    if body.is_internal && !viewer.sees_internal() {
        return Err(Problem::forbidden("internal notes are for agents and above").into());
    }
    let post = visible(&state, &viewer, id).await?;
    let org = principal.org_id;
    // Only an official answer notifies; who may hear of a private post is asked now.
    let may_notify = viewer.is_staff() && !body.is_internal;
    let staff_now = if may_notify { events::staff_now(&state, org, post.is_public).await } else { None };
    let mut tx = state.pool.begin().await?;
    let open = store::openness(&mut tx, org, post.id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if open.deleted {
        return Err(Problem::not_found("feedback").into());
    }
    if open.merged_into_id.is_some() {
        return Err(Problem::conflict("this post was merged; comment on the post it was merged into").into());
    }
    let mut internal = body.is_internal;
    if let Some(parent) = body.parent_id {
        match comments::is_internal(&mut tx, org, post.id, parent).await? {
            Some(true) if viewer.sees_internal() => internal = true,
            Some(false) => {}
            // Another post's comment, or a note the caller may not see: no such comment.
            _ => {
                return Err(
                    Problem::validation(vec![FieldError::new("parent_id", "no such comment on this post")]).into()
                )
            }
        }
    }
    let official = viewer.is_staff() && !internal;
    let comment = comments::insert(
        &mut tx,
        comments::NewComment {
            org,
            post: post.id,
            parent_id: body.parent_id,
            author: principal.user_id,
            author_role: principal.role.as_str(),
            content: &text,
            internal,
            official,
        },
    )
    .await?;
    let count = posts::comment_count(&mut tx, post.id).await?;
    events::emit(&mut tx, ev::COMMENT_CREATED, org, comment.id, events::comment(&comment, org, count)).await?;
    if let (false, Some(user)) = (internal, principal.user_id) {
        if boards::by_org(&mut tx, org).await?.is_some_and(|b| b.auto_subscribe_commenters) {
            store::subscribe(&mut tx, post.id, user).await?;
        }
    }
    if official {
        let notice = Notice {
            reason: ev::COMMENT_CREATED,
            title: format!("New answer on \"{}\"", post.title),
            body: text.chars().take(200).collect(),
        };
        let base = &state.config.app_base_url;
        events::notify_subscribers(&mut tx, &post, principal.user_id, staff_now.as_ref(), notice, base).await?;
    }
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok((StatusCode::CREATED, Json(comment)))
}

/// A comment of `post` the viewer may see, locked.
async fn find(tx: &mut sqlx::PgConnection, viewer: &Viewer, post: Uuid, id: Uuid) -> ApiResult<Comment> {
    comments::lock(tx, viewer.org(), post, id)
        .await?
        .filter(|c| viewer.sees_internal() || !c.is_internal)
        .ok_or_else(|| Problem::not_found("comment").into())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditComment {
    /// Trimmed; not blank.
    #[schema(schema_with = super::schema::comment_content)]
    content: String,
}

/// Edit a comment (its author only); it is marked edited.
#[utoipa::path(
    patch,
    operation_id = "edit_comment",
    path = "/v1/feedback/{id}/comments/{comment_id}",
    tag = "comments",
    params(
        ("id" = Uuid, Path, description = "The post's id"),
        ("comment_id" = Uuid, Path, description = "The comment's id"),
    ),
    request_body = EditComment,
    responses((status = 200, description = "The comment after the edit", body = Comment))
)]
pub async fn edit(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, comment_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<EditComment>,
) -> ApiResult<Json<Comment>> {
    can_write(&principal)?;
    let text = content(&body.content)?;
    let viewer = Viewer::of(&principal);
    let post = visible(&state, &viewer, id).await?;
    let mut tx = state.pool.begin().await?;
    let before = find(&mut tx, &viewer, post.id, comment_id).await?;
    if !viewer.is_author(before.author_id) {
        return Err(Problem::forbidden("only the author can edit a comment").into());
    }
    let org = principal.org_id;
    let comment = comments::edit(&mut tx, org, comment_id, &text).await?;
    let count = posts::comment_count(&mut tx, post.id).await?;
    events::emit(&mut tx, ev::COMMENT_UPDATED, org, comment.id, events::comment(&comment, org, count)).await?;
    tx.commit().await?;
    Ok(Json(comment))
}

/// Delete a comment (its author or a manager); its replies and their files go with it.
#[utoipa::path(
    delete,
    operation_id = "delete_comment",
    path = "/v1/feedback/{id}/comments/{comment_id}",
    tag = "comments",
    params(
        ("id" = Uuid, Path, description = "The post's id"),
        ("comment_id" = Uuid, Path, description = "The comment's id"),
    ),
    responses((status = 204, description = "Deleted, with its replies"))
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, comment_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&principal)?;
    let viewer = Viewer::of(&principal);
    let post = visible(&state, &viewer, id).await?;
    let mut tx = state.pool.begin().await?;
    let comment = find(&mut tx, &viewer, post.id, comment_id).await?;
    if !viewer.is_author(comment.author_id) && principal.role < Role::Manager {
        return Err(Problem::forbidden("only the author or a manager can delete a comment").into());
    }
    let org = principal.org_id;
    let thread = comments::lock_thread(&mut tx, org, comment_id).await?;
    let ids: Vec<Uuid> = thread.iter().map(|c| c.id).collect();
    let files = attachments::of_comments(&mut tx, org, &ids).await?;
    comments::delete(&mut tx, org, comment_id).await?;
    let count = posts::comment_count(&mut tx, post.id).await?;
    // Every comment removed is told of, and every file that went with them.
    for c in &thread {
        events::emit(&mut tx, ev::COMMENT_DELETED, org, c.id, events::comment(c, org, count)).await?;
    }
    for a in &files {
        events::emit(&mut tx, ev::ATTACHMENT_DELETED, org, a.id, events::attachment(a, org, principal.user_id)).await?;
    }
    tx.commit().await?;
    state.changed(&[post.id]).await;
    for a in files {
        if let Err(err) = tokio::fs::remove_file(state.config.attachments_dir.join(&a.stored_name)).await {
            tracing::warn!(error = %err, attachment = %a.id, "could not remove a file of a deleted comment");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
