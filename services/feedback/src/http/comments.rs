//! Threaded comments: public replies and internal notes (agents and above only), edits marked,
//! deletes by the author or a manager. Official answers notify the post's subscribers.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{can_read, can_write, is_staff};
use crate::{boards, domain, events, store, AppState};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Comment {
    pub id: Uuid,
    pub feedback_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub content: String,
    pub is_internal: bool,
    pub is_official: bool,
    pub is_edited: bool,
    pub edited_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const COLUMNS: &str =
    "id, feedback_id, parent_id, author_id, content, is_internal, is_official, is_edited, edited_at, created_at, updated_at";

#[derive(Serialize)]
pub struct CommentList {
    pub data: Vec<Comment>,
}

/// Comments of a post in order of writing; `parent_id` gives the thread. Internal notes only
/// when `internal` is true.
pub async fn of_post(conn: &mut PgConnection, post: Uuid, internal: bool) -> sqlx::Result<Vec<Comment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM comments WHERE feedback_id = $1 AND ($2 OR NOT is_internal) ORDER BY created_at, id LIMIT 5000"
    ))
    .bind(post)
    .bind(internal)
    .fetch_all(conn)
    .await
}

/// `GET /v1/feedback/{id}/comments`.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CommentList>> {
    can_read(&principal)?;
    let post = super::posts::visible(&state, &principal, id).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(CommentList { data: of_post(&mut conn, post.id, is_staff(&principal)).await? }))
}

#[derive(Deserialize)]
pub struct NewComment {
    content: String,
    parent_id: Option<Uuid>,
    #[serde(default)]
    is_internal: bool,
}

fn content(raw: &str) -> Result<String, Problem> {
    let c = raw.trim();
    if c.is_empty() {
        return Err(Problem::validation(vec![FieldError::new("content", "must not be empty")]));
    }
    domain::text("content", c, 10_000).map_err(|e| Problem::validation(vec![e]))
}

fn comment_event(c: &Comment, org: Uuid, comment_count: i32) -> ev::Comment {
    ev::Comment {
        organization_id: org,
        feedback_id: c.feedback_id,
        comment_id: c.id,
        parent_id: c.parent_id,
        is_internal: c.is_internal,
        is_official: c.is_official,
        content: (!c.is_internal).then(|| c.content.clone()),
        author_id: c.author_id,
        comment_count,
    }
}

/// `POST /v1/feedback/{id}/comments {content, parent_id?, is_internal?}`.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewComment>,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    can_write(&principal)?;
    let text = content(&body.content)?;
    let staff = is_staff(&principal);
    if body.is_internal && !staff {
        return Err(Problem::forbidden("internal notes are for agents and above").into());
    }
    let post = super::posts::visible(&state, &principal, id).await?;
    let mut tx = state.pool.begin().await?;
    // Read again under a key-share lock: a merge or delete (which lock the post for update)
    // racing this comment waits for it, or wins and is seen here.
    let (deleted, merged): (bool, Option<Uuid>) =
        sqlx::query_as("SELECT deleted_at IS NOT NULL, merged_into_id FROM feedback WHERE id = $1 FOR KEY SHARE")
            .bind(post.id)
            .fetch_one(&mut *tx)
            .await?;
    if deleted {
        return Err(Problem::not_found("feedback").into());
    }
    if merged.is_some() {
        return Err(Problem::conflict("this post was merged; comment on the post it was merged into").into());
    }
    let mut internal = body.is_internal;
    if let Some(parent) = body.parent_id {
        let parent_internal: Option<bool> =
            sqlx::query_scalar("SELECT is_internal FROM comments WHERE id = $1 AND feedback_id = $2")
                .bind(parent)
                .bind(post.id)
                .fetch_optional(&mut *tx)
                .await?;
        match parent_internal {
            None => {
                return Err(
                    Problem::validation(vec![FieldError::new("parent_id", "no such comment on this post")]).into()
                )
            }
            Some(true) if !staff => {
                return Err(
                    Problem::validation(vec![FieldError::new("parent_id", "no such comment on this post")]).into()
                )
            }
            // A reply in an internal thread stays internal.
            Some(true) => internal = true,
            Some(false) => {}
        }
    }
    let official = staff && !internal;
    let comment: Comment = sqlx::query_as(&format!(
        "INSERT INTO comments (id, feedback_id, organization_id, parent_id, author_id, author_role, content, \
         is_internal, is_official) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(post.id)
    .bind(principal.org_id)
    .bind(body.parent_id)
    .bind(principal.user_id)
    .bind(principal.role.as_str())
    .bind(&text)
    .bind(internal)
    .bind(official)
    .fetch_one(&mut *tx)
    .await?;
    let count: i32 = sqlx::query_scalar("SELECT comment_count FROM feedback WHERE id = $1")
        .bind(post.id)
        .fetch_one(&mut *tx)
        .await?;
    events::emit(
        &mut tx,
        ev::COMMENT_CREATED,
        principal.org_id,
        comment.id,
        comment_event(&comment, principal.org_id, count),
    )
    .await?;
    if !internal {
        if let Some(user) = principal.user_id {
            let auto = boards::by_org(&mut tx, principal.org_id).await?.is_some_and(|b| b.auto_subscribe_commenters);
            if auto {
                store::subscribe(&mut tx, post.id, user, is_staff(&principal)).await?;
            }
        }
    }
    if official {
        let excerpt: String = text.chars().take(200).collect();
        events::notify_subscribers(
            &mut tx,
            &post,
            principal.user_id,
            ev::COMMENT_CREATED,
            format!("New answer on \"{}\"", post.title),
            excerpt,
            &state.config.app_base_url,
        )
        .await?;
    }
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok((StatusCode::CREATED, Json(comment)))
}

async fn find(conn: &mut PgConnection, org: Uuid, post: Uuid, id: Uuid, staff: bool) -> ApiResult<Comment> {
    let c: Option<Comment> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM comments WHERE id = $1 AND feedback_id = $2 AND organization_id = $3 FOR UPDATE"
    ))
    .bind(id)
    .bind(post)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    c.filter(|c| staff || !c.is_internal).ok_or_else(|| Problem::not_found("comment").into())
}

#[derive(Deserialize)]
pub struct EditComment {
    content: String,
}

/// `PATCH /v1/feedback/{id}/comments/{comment_id} {content}`: the author only; marked edited.
pub async fn edit(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, comment_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<EditComment>,
) -> ApiResult<Json<Comment>> {
    can_write(&principal)?;
    let text = content(&body.content)?;
    let post = super::posts::visible(&state, &principal, id).await?;
    let mut tx = state.pool.begin().await?;
    let before = find(&mut tx, principal.org_id, post.id, comment_id, is_staff(&principal)).await?;
    if before.author_id.is_none() || before.author_id != principal.user_id {
        return Err(Problem::forbidden("only the author can edit a comment").into());
    }
    let comment: Comment = sqlx::query_as(&format!(
        "UPDATE comments SET content = $2, is_edited = true, edited_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(comment_id)
    .bind(&text)
    .fetch_one(&mut *tx)
    .await?;
    events::emit(
        &mut tx,
        ev::COMMENT_UPDATED,
        principal.org_id,
        comment.id,
        comment_event(&comment, principal.org_id, post.comment_count),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(comment))
}

/// `DELETE /v1/feedback/{id}/comments/{comment_id}`: the author or a manager; replies go too.
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, comment_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    can_write(&principal)?;
    let post = super::posts::visible(&state, &principal, id).await?;
    let mut tx = state.pool.begin().await?;
    let comment = find(&mut tx, principal.org_id, post.id, comment_id, is_staff(&principal)).await?;
    let author = comment.author_id.is_some() && comment.author_id == principal.user_id;
    if !author && principal.role < Role::Manager {
        return Err(Problem::forbidden("only the author or a manager can delete a comment").into());
    }
    // The files of the thread's attachments go with it (their rows go by cascade).
    let files: Vec<String> = sqlx::query_scalar(
        "WITH RECURSIVE thread AS (SELECT id FROM comments WHERE id = $1 \
           UNION ALL SELECT c.id FROM comments c JOIN thread t ON c.parent_id = t.id) \
         SELECT stored_name FROM attachments WHERE comment_id IN (SELECT id FROM thread)",
    )
    .bind(comment_id)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM comments WHERE id = $1").bind(comment_id).execute(&mut *tx).await?;
    let count: i32 = sqlx::query_scalar("SELECT comment_count FROM feedback WHERE id = $1")
        .bind(post.id)
        .fetch_one(&mut *tx)
        .await?;
    events::emit(
        &mut tx,
        ev::COMMENT_DELETED,
        principal.org_id,
        comment.id,
        comment_event(&comment, principal.org_id, count),
    )
    .await?;
    tx.commit().await?;
    state.changed(&[post.id]).await;
    for f in files {
        if let Err(err) = tokio::fs::remove_file(state.config.attachments_dir.join(&f)).await {
            tracing::warn!(error = %err, file = %f, "could not remove an attachment of a deleted comment");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
