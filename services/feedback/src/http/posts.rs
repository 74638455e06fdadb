//! Posts: create, read, update, delete, status workflow, merge of duplicates, subscriptions.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::Deserialize;
use sqlx::PgConnection;
use std::sync::Arc;

use uuid::Uuid;

use super::{can_read, can_write, is_staff};
use crate::domain::{self, Priority, Status};
use crate::quota::Verdict;
use crate::store::{self, Feedback, COLUMNS};
use crate::{boards, events, AppState};

fn invalid(errors: Vec<FieldError>) -> Problem {
    Problem::validation(errors)
}

/// 422 unless `category` is one of `org`'s.
async fn check_category(conn: &mut PgConnection, org: Uuid, category: Option<Uuid>) -> ApiResult<()> {
    if let Some(c) = category {
        let ok: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM categories WHERE id = $1 AND organization_id = $2)")
                .bind(c)
                .bind(org)
                .fetch_one(conn)
                .await?;
        if !ok {
            return Err(invalid(vec![FieldError::new("category_id", "no such category")]).into());
        }
    }
    Ok(())
}

/// 422 unless identity says `user` is an agent or above of `org`.
async fn check_assignee(state: &AppState, org: Uuid, user: Uuid) -> ApiResult<()> {
    let mut request = tonic::Request::new(proto::identity::GetUserRequest {
        organization_id: org.to_string(),
        user_id: user.to_string(),
    });
    platform::grpc::inject_trace(&mut request);
    match state.identity.clone().get_user(request).await {
        Ok(u) => {
            let role: Role = u.into_inner().role.parse().map_err(anyhow::Error::msg)?;
            if role >= Role::Agent {
                Ok(())
            } else {
                Err(invalid(vec![FieldError::new("assignee_id", "must be an agent or above")]).into())
            }
        }
        Err(s) if s.code() == tonic::Code::NotFound => {
            Err(invalid(vec![FieldError::new("assignee_id", "is not a member of this organization")]).into())
        }
        Err(s) => {
            Err(Problem::unavailable(format!("could not check the assignee: {}", s.code())).retry_after(1).into())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePost {
    title: String,
    #[serde(default)]
    description: String,
    category_id: Option<Uuid>,
    #[serde(default)]
    tags: Vec<String>,
    is_public: Option<bool>,
    priority: Option<String>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/feedback`: 201 with the post; the author is subscribed.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreatePost>,
) -> ApiResult<(StatusCode, Json<Feedback>)> {
    can_write(&principal)?;
    let mut errors = Vec::new();
    let title = domain::title("title", &body.title).map_err(|e| errors.push(e)).ok();
    let description = domain::text("description", &body.description, 20_000).map_err(|e| errors.push(e)).ok();
    let tags = domain::tags("tags", &body.tags).map_err(|e| errors.push(e)).ok();
    let priority = match body.priority.as_deref() {
        Some(p) => Priority::parse("priority", p).map_err(|e| errors.push(e)).ok(),
        None => Some(Priority::Medium),
    };
    if !errors.is_empty() {
        return Err(invalid(errors).into());
    }
    let (Some(title), Some(description), Some(tags), Some(priority)) = (title, description, tags, priority) else {
        return Err(Problem::internal().into());
    };
    if (body.priority.is_some() || body.metadata.is_some()) && !is_staff(&principal) {
        return Err(Problem::forbidden("priority and metadata are set by agents").into());
    }
    if let Verdict::Exceeded { used, limit, plan } = state.quota.check(principal.org_id, "feedback_posts", 1).await {
        return Err(Problem::new(StatusCode::PAYMENT_REQUIRED, "quota-exceeded", "Plan limit reached")
            .detail(format!("the {plan} plan allows {limit} posts; {used} are used"))
            .into());
    }
    let mut tx = state.pool.begin().await?;
    check_category(&mut tx, principal.org_id, body.category_id).await?;
    boards::ensure(&mut tx, principal.org_id, &principal.org_slug).await?;
    let post: Feedback = sqlx::query_as(&format!(
        "INSERT INTO feedback (id, organization_id, title, description, category_id, tags, is_public, priority, \
         author_id, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(principal.org_id)
    .bind(&title)
    .bind(&description)
    .bind(body.category_id)
    .bind(&tags)
    .bind(body.is_public.unwrap_or(true))
    .bind(priority.as_str())
    .bind(principal.user_id)
    .bind(serde_json::Value::Object(body.metadata.unwrap_or_default()))
    .fetch_one(&mut *tx)
    .await?;
    if let Some(user) = principal.user_id {
        store::subscribe(&mut tx, post.id, user, is_staff(&principal)).await?;
    }
    events::emit(&mut tx, ev::FEEDBACK_CREATED, post.organization_id, post.id, events::post(&post, principal.user_id))
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(post)))
}

/// A post the caller may see: staff see every post, others public ones and their own.
pub async fn visible(state: &AppState, p: &Principal, id: Uuid) -> ApiResult<Arc<Feedback>> {
    let post = load(state, p.org_id, id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if !post.is_public && !is_staff(p) && post.author_id != p.user_id {
        return Err(Problem::not_found("feedback").into());
    }
    Ok(post)
}

/// A live post of `org`, from the cache or the database.
pub async fn load(state: &AppState, org: Uuid, id: Uuid) -> ApiResult<Option<Arc<Feedback>>> {
    if let Some(post) = state.posts.get(org, id) {
        return Ok(Some(post));
    }
    let generation = state.posts.generation();
    let mut conn = state.pool.acquire().await?;
    let Some(post) = store::get(&mut conn, org, id).await?.map(Arc::new) else { return Ok(None) };
    state.posts.put(generation, post.clone());
    Ok(Some(post))
}

/// `GET /v1/feedback/{id}`.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Arc<Feedback>>> {
    can_read(&principal)?;
    let post = visible(&state, &principal, id).await?;
    state.views.record(post.id);
    Ok(Json(post))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePost {
    title: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    category_id: Option<Option<Uuid>>,
    tags: Option<Vec<String>>,
    priority: Option<String>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    assignee_id: Option<Option<Uuid>>,
    is_pinned: Option<bool>,
    is_public: Option<bool>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PATCH /v1/feedback/{id}`: authors edit their words; staff edit everything.
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdatePost>,
) -> ApiResult<Json<Feedback>> {
    can_write(&principal)?;
    let staff = is_staff(&principal);
    let mut errors = Vec::new();
    let title =
        body.title.as_deref().map(|t| domain::title("title", t)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    let description = body
        .description
        .as_deref()
        .map(|d| domain::text("description", d, 20_000))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let tags =
        body.tags.as_deref().map(|t| domain::tags("tags", t)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    let priority = body
        .priority
        .as_deref()
        .map(|p| Priority::parse("priority", p))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(invalid(errors).into());
    }
    let staff_only = body.priority.is_some()
        || body.assignee_id.is_some()
        || body.is_pinned.is_some()
        || body.is_public.is_some()
        || body.metadata.is_some();
    if staff_only && !staff {
        return Err(Problem::forbidden("priority, assignee, pinning, visibility and metadata are for agents").into());
    }
    if let Some(Some(assignee)) = body.assignee_id {
        check_assignee(&state, principal.org_id, assignee).await?;
    }
    let mut tx = state.pool.begin().await?;
    let before = store::lock(&mut tx, principal.org_id, id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if !staff && (before.author_id.is_none() || before.author_id != principal.user_id) {
        return Err(if before.is_public {
            Problem::forbidden("only the author or an agent can edit this post").into()
        } else {
            Problem::not_found("feedback").into()
        });
    }
    if let Some(c) = body.category_id {
        check_category(&mut tx, principal.org_id, c).await?;
    }
    let post: Feedback = sqlx::query_as(&format!(
        "UPDATE feedback SET title = COALESCE($3, title), description = COALESCE($4, description), \
         category_id = CASE WHEN $5 THEN $6 ELSE category_id END, tags = COALESCE($7, tags), \
         priority = COALESCE($8, priority), assignee_id = CASE WHEN $9 THEN $10 ELSE assignee_id END, \
         is_pinned = COALESCE($11, is_pinned), is_public = COALESCE($12, is_public), \
         metadata = metadata || COALESCE($13, '{{}}'::jsonb) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(principal.org_id)
    .bind(title)
    .bind(description)
    .bind(body.category_id.is_some())
    .bind(body.category_id.flatten())
    .bind(tags)
    .bind(priority.map(Priority::as_str))
    .bind(body.assignee_id.is_some())
    .bind(body.assignee_id.flatten())
    .bind(body.is_pinned)
    .bind(body.is_public)
    .bind(body.metadata.map(serde_json::Value::Object))
    .fetch_one(&mut *tx)
    .await?;
    events::emit(&mut tx, ev::FEEDBACK_UPDATED, post.organization_id, post.id, events::post(&post, principal.user_id))
        .await?;
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok(Json(post))
}

/// `DELETE /v1/feedback/{id}`: the author or a manager.
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    can_write(&principal)?;
    let mut tx = state.pool.begin().await?;
    let post = store::lock(&mut tx, principal.org_id, id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    let author = post.author_id.is_some() && post.author_id == principal.user_id;
    if !post.is_public && !author && !is_staff(&principal) {
        return Err(Problem::not_found("feedback").into());
    }
    if !author && principal.role < Role::Manager {
        return Err(Problem::forbidden("only the author or a manager can delete this post").into());
    }
    sqlx::query("UPDATE feedback SET deleted_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
    events::emit(&mut tx, ev::FEEDBACK_DELETED, post.organization_id, post.id, events::post(&post, principal.user_id))
        .await?;
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ChangeStatus {
    status: String,
    note: Option<String>,
}

/// `POST /v1/feedback/{id}/status {status, note?}` (agents): subscribers are notified.
pub async fn change_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ChangeStatus>,
) -> ApiResult<Json<Feedback>> {
    can_write(&principal)?;
    principal.require_role(Role::Agent)?;
    let status = Status::parse("status", &body.status).map_err(|e| invalid(vec![e]))?;
    if status == Status::Duplicate {
        return Err(
            invalid(vec![FieldError::new("status", "use POST /v1/feedback/{id}/merge to mark a duplicate")]).into()
        );
    }
    let note = body.note.as_deref().map(|n| domain::text("note", n, 5000)).transpose().map_err(|e| invalid(vec![e]))?;
    let mut tx = state.pool.begin().await?;
    let before = store::lock(&mut tx, principal.org_id, id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if before.merged_into_id.is_some() {
        return Err(Problem::conflict("this post was merged into another").into());
    }
    let post: Feedback =
        sqlx::query_as(&format!("UPDATE feedback SET status = $2, status_note = $3 WHERE id = $1 RETURNING {COLUMNS}"))
            .bind(id)
            .bind(status.as_str())
            .bind(&note)
            .fetch_one(&mut *tx)
            .await?;
    if before.status != post.status {
        let mut data = events::post(&post, principal.user_id);
        data.status_before = Some(before.status.clone());
        data.status_note = note.clone();
        events::emit(&mut tx, ev::FEEDBACK_STATUS_CHANGED, post.organization_id, post.id, data).await?;
        let body = match &note {
            Some(n) => format!("{} → {}: {n}", before.status, post.status),
            None => format!("{} → {}", before.status, post.status),
        };
        events::notify_subscribers(
            &mut tx,
            &post,
            principal.user_id,
            ev::FEEDBACK_STATUS_CHANGED,
            format!("\"{}\" is now {}", post.title, post.status.replace('_', " ")),
            body,
            &state.config.app_base_url,
        )
        .await?;
    }
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok(Json(post))
}

#[derive(Deserialize)]
pub struct Merge {
    into: Uuid,
}

/// `POST /v1/feedback/{id}/merge {into}` (agents): the post becomes a duplicate of `into`; its
/// votes move there without counting anyone twice, and its subscribers follow.
pub async fn merge(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Merge>,
) -> ApiResult<Json<Feedback>> {
    can_write(&principal)?;
    principal.require_role(Role::Agent)?;
    if body.into == id {
        return Err(invalid(vec![FieldError::new("into", "a post cannot be merged into itself")]).into());
    }
    let mut tx = state.pool.begin().await?;
    // Lock both in id order, so two opposite merges cannot deadlock.
    let (first, second) = if id < body.into { (id, body.into) } else { (body.into, id) };
    let a = store::lock(&mut tx, principal.org_id, first).await?;
    let b = store::lock(&mut tx, principal.org_id, second).await?;
    let (source, target) = if first == id { (a, b) } else { (b, a) };
    let source = source.ok_or_else(|| Problem::not_found("feedback"))?;
    let target = target.ok_or_else(|| Problem::not_found("target feedback"))?;
    if source.merged_into_id.is_some() {
        return Err(Problem::conflict("this post was already merged").into());
    }
    if target.merged_into_id.is_some() {
        return Err(Problem::conflict("the target was itself merged into another post").into());
    }
    let moved = sqlx::query(
        "INSERT INTO votes (id, feedback_id, organization_id, user_id, voter_key, type, created_at) \
         SELECT gen_random_uuid(), $2, organization_id, user_id, voter_key, type, created_at FROM votes \
         WHERE feedback_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(source.id)
    .bind(target.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM votes WHERE feedback_id = $1").bind(source.id).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO subscriptions (feedback_id, user_id, staff) SELECT $2, user_id, staff FROM subscriptions WHERE feedback_id = $1 \
         ON CONFLICT DO NOTHING",
    )
    .bind(source.id)
    .bind(target.id)
    .execute(&mut *tx)
    .await?;
    let merged: Feedback = sqlx::query_as(&format!(
        "UPDATE feedback SET status = 'duplicate', merged_into_id = $2 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(source.id)
    .bind(target.id)
    .fetch_one(&mut *tx)
    .await?;
    let target_votes: i32 =
        sqlx::query_scalar("SELECT vote_count FROM feedback WHERE id = $1").bind(target.id).fetch_one(&mut *tx).await?;
    events::emit(
        &mut tx,
        ev::FEEDBACK_MERGED,
        merged.organization_id,
        merged.id,
        ev::FeedbackMerged {
            organization_id: merged.organization_id,
            source_id: merged.id,
            target_id: target.id,
            source_title: merged.title.clone(),
            target_title: target.title.clone(),
            votes_moved: i64::try_from(moved).unwrap_or(i64::MAX),
            target_vote_count: target_votes,
            actor_id: principal.user_id,
        },
    )
    .await?;
    tx.commit().await?;
    state.changed(&[merged.id, target.id]).await;
    Ok(Json(merged))
}

/// `PUT /v1/feedback/{id}/subscription`: follow a post.
pub async fn subscribe(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let user = principal.require_user()?;
    let post = visible(&state, &principal, id).await?;
    let mut conn = state.pool.acquire().await?;
    store::subscribe(&mut conn, post.id, user, is_staff(&principal)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/feedback/{id}/subscription`: stop following it.
pub async fn unsubscribe(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let user = principal.require_user()?;
    let post = visible(&state, &principal, id).await?;
    sqlx::query("DELETE FROM subscriptions WHERE feedback_id = $1 AND user_id = $2")
        .bind(post.id)
        .bind(user)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
