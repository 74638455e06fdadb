//! Posts: create, read, update, delete.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{can_read, can_write};
use crate::directory::LookupError;
use crate::domain::{self, Priority, Viewer};
use crate::store::{self, posts, Feedback};
use crate::{boards, events, AppState};

fn invalid(errors: Vec<FieldError>) -> Problem {
    Problem::validation(errors)
}

/// 422 unless `category` is one of `org`'s.
async fn check_category(conn: &mut PgConnection, org: Uuid, category: Option<Uuid>) -> ApiResult<()> {
    match category {
        Some(c) if !posts::category_exists(conn, org, c).await? => {
            Err(invalid(vec![FieldError::new("category_id", "no such category")]).into())
        }
        _ => Ok(()),
    }
}

/// 422 unless identity says `user` is an agent or above of `org`.
async fn check_assignee(state: &AppState, org: Uuid, user: Uuid) -> ApiResult<()> {
    match state.directory.role(org, user).await {
        Ok(role) if role >= Role::Agent => Ok(()),
        Ok(_) => Err(invalid(vec![FieldError::new("assignee_id", "must be an agent or above")]).into()),
        Err(LookupError::NotFound) => {
            Err(invalid(vec![FieldError::new("assignee_id", "is not a member of this organization")]).into())
        }
        Err(LookupError::Unavailable(why)) => {
            tracing::warn!(%org, %why, "cannot check an assignee");
            Err(Problem::unavailable("could not check the assignee, try again shortly").retry_after(1).into())
        }
    }
}

/// A post the viewer may see (the one rule of `domain::visibility`); 404 otherwise.
pub async fn visible(state: &AppState, viewer: &Viewer, id: Uuid) -> ApiResult<Arc<Feedback>> {
    load(state, viewer.org(), id)
        .await?
        .filter(|post| viewer.sees_post(post.is_public, post.author_id))
        .ok_or_else(|| Problem::not_found("feedback").into())
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePost {
    /// Trimmed; no control characters.
    #[schema(schema_with = super::schema::title)]
    title: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    description: String,
    #[schema(schema_with = super::schema::nullable_uuid)]
    category_id: Option<Uuid>,
    /// Each 1 to 40 ASCII letters, digits, `-` or `_`; lowercased and deduplicated.
    #[serde(default)]
    #[schema(schema_with = super::schema::tags)]
    tags: Vec<String>,
    /// Default true.
    is_public: Option<bool>,
    /// Agents and above only; default `medium`.
    #[schema(value_type = Option<Priority>)]
    priority: Option<String>,
    /// Agents and above only.
    // Left unparsed by the body's parser: `domain::metadata` reads it and names what is wrong.
    #[schema(value_type = Option<HashMap<String, super::schema::MetadataValue>>)]
    metadata: Option<Box<RawValue>>,
}

/// Create a post; its author (a signed-in user) is subscribed to it.
#[utoipa::path(
    post,
    operation_id = "create_post",
    path = "/v1/feedback",
    tag = "posts",
    request_body = CreatePost,
    responses(
        (status = 201, description = "The post", body = Feedback),
        (status = 402, description = "The plan's post limit is reached", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreatePost>,
) -> ApiResult<(StatusCode, Json<Feedback>)> {
    can_write(&principal)?;
    let viewer = Viewer::of(&principal);
    let mut errors = Vec::new();
    let title = domain::title("title", &body.title).map_err(|e| errors.push(e)).ok();
    let description = domain::text("description", &body.description, 20_000).map_err(|e| errors.push(e)).ok();
    let tags = domain::tags("tags", &body.tags).map_err(|e| errors.push(e)).ok();
    let priority = match body.priority.as_deref() {
        Some(p) => Priority::parse("priority", p).map_err(|e| errors.push(e)).ok(),
        None => Some(Priority::Medium),
    };
    let metadata = match body.metadata.as_deref() {
        Some(raw) => domain::metadata("metadata", raw).map_err(|e| errors.push(e)).ok(),
        None => Some(serde_json::Map::new()),
    };
    let (Some(title), Some(description), Some(tags), Some(priority), Some(metadata)) =
        (title, description, tags, priority, metadata)
    else {
        return Err(invalid(errors).into());
    };
    if (body.priority.is_some() || body.metadata.is_some()) && !viewer.is_staff() {
        return Err(Problem::forbidden("priority and metadata are set by agents").into());
    }
    state.quota.require(principal.org_id, "feedback_posts", "posts").await?;
    let mut tx = state.pool.begin().await?;
    check_category(&mut tx, principal.org_id, body.category_id).await?;
    boards::ensure(&mut tx, principal.org_id, &principal.org_slug).await?;
    let post = posts::insert(
        &mut tx,
        posts::NewPost {
            org: principal.org_id,
            title: &title,
            description: &description,
            category_id: body.category_id,
            tags: &tags,
            is_public: body.is_public.unwrap_or(true),
            priority: priority.as_str(),
            author: principal.user_id,
            metadata: serde_json::Value::Object(metadata),
        },
    )
    .await?;
    if let Some(user) = principal.user_id {
        store::subscribe(&mut tx, post.id, user).await?;
    }
    events::emit(&mut tx, ev::FEEDBACK_CREATED, post.organization_id, post.id, events::post(&post, principal.user_id))
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(post)))
}

/// A post: staff see every post; others public posts and their own.
#[utoipa::path(
    get,
    operation_id = "get_post",
    path = "/v1/feedback/{id}",
    tag = "posts",
    params(("id" = Uuid, Path, description = "The post's id")),
    responses((status = 200, description = "The post", body = Feedback))
)]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Arc<Feedback>>> {
    can_read(&principal)?;
    let post = visible(&state, &Viewer::of(&principal), id).await?;
    state.views.record(post.id);
    Ok(Json(post))
}

/// Every field is optional; what is given changes. Authors change their words (title,
/// description, tags, category); the other fields are for agents and above.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePost {
    #[schema(schema_with = super::schema::nullable_title)]
    title: Option<String>,
    #[schema(max_length = 20000)]
    description: Option<String>,
    /// `null` removes the category.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::nullable_uuid)]
    category_id: Option<Option<Uuid>>,
    #[schema(schema_with = super::schema::nullable_tags)]
    tags: Option<Vec<String>>,
    #[schema(value_type = Option<Priority>)]
    priority: Option<String>,
    /// An agent or above of the organization; `null` unassigns.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::nullable_uuid)]
    assignee_id: Option<Option<Uuid>>,
    is_pinned: Option<bool>,
    is_public: Option<bool>,
    /// Merged into the post's metadata (its top-level keys replace those of the same name).
    #[schema(value_type = Option<HashMap<String, super::schema::MetadataValue>>)]
    metadata: Option<Box<RawValue>>,
}

/// The value, or `None` with its error noted: every invalid field is named at once.
fn keep<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

impl UpdatePost {
    fn parse(self) -> Result<(posts::Changes, bool), Problem> {
        let mut errors = Vec::new();
        let title = self.title.as_deref().and_then(|t| keep(&mut errors, domain::title("title", t)));
        let description =
            self.description.as_deref().and_then(|d| keep(&mut errors, domain::text("description", d, 20_000)));
        let tags = self.tags.as_deref().and_then(|t| keep(&mut errors, domain::tags("tags", t)));
        let priority = self.priority.as_deref().and_then(|p| keep(&mut errors, Priority::parse("priority", p)));
        let metadata = self.metadata.as_deref().and_then(|m| keep(&mut errors, domain::metadata("metadata", m)));
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        let staff_only = self.priority.is_some()
            || self.assignee_id.is_some()
            || self.is_pinned.is_some()
            || self.is_public.is_some()
            || self.metadata.is_some();
        let changes = posts::Changes {
            title,
            description,
            category_id: self.category_id,
            tags,
            priority: priority.map(Priority::as_str),
            assignee_id: self.assignee_id,
            is_pinned: self.is_pinned,
            is_public: self.is_public,
            metadata: metadata.map(serde_json::Value::Object),
        };
        Ok((changes, staff_only))
    }
}

/// Edit a post: authors edit their words; agents edit everything.
#[utoipa::path(
    patch,
    operation_id = "update_post",
    path = "/v1/feedback/{id}",
    tag = "posts",
    params(("id" = Uuid, Path, description = "The post's id")),
    request_body = UpdatePost,
    responses((status = 200, description = "The post after the change", body = Feedback))
)]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdatePost>,
) -> ApiResult<Json<Feedback>> {
    can_write(&principal)?;
    let viewer = Viewer::of(&principal);
    let (changes, staff_only) = body.parse()?;
    if staff_only && !viewer.is_staff() {
        return Err(Problem::forbidden("priority, assignee, pinning, visibility and metadata are for agents").into());
    }
    if let Some(Some(assignee)) = changes.assignee_id {
        check_assignee(&state, principal.org_id, assignee).await?;
    }
    let category = changes.category_id;
    let mut tx = state.pool.begin().await?;
    let before = store::lock(&mut tx, principal.org_id, id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if !viewer.is_staff() && !viewer.is_author(before.author_id) {
        return Err(if viewer.sees_post(before.is_public, before.author_id) {
            Problem::forbidden("only the author or an agent can edit this post").into()
        } else {
            Problem::not_found("feedback").into()
        });
    }
    if let Some(c) = category {
        check_category(&mut tx, principal.org_id, c).await?;
    }
    let post = posts::update(&mut tx, principal.org_id, id, changes).await?;
    events::emit(&mut tx, ev::FEEDBACK_UPDATED, post.organization_id, post.id, events::post(&post, principal.user_id))
        .await?;
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok(Json(post))
}

/// Delete a post: its author or a manager.
#[utoipa::path(
    delete,
    operation_id = "delete_post",
    path = "/v1/feedback/{id}",
    tag = "posts",
    params(("id" = Uuid, Path, description = "The post's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    can_write(&principal)?;
    let viewer = Viewer::of(&principal);
    let mut tx = state.pool.begin().await?;
    let post = store::lock(&mut tx, principal.org_id, id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if !viewer.sees_post(post.is_public, post.author_id) {
        return Err(Problem::not_found("feedback").into());
    }
    if !viewer.is_author(post.author_id) && principal.role < Role::Manager {
        return Err(Problem::forbidden("only the author or a manager can delete this post").into());
    }
    posts::soft_delete(&mut tx, principal.org_id, id).await?;
    events::emit(&mut tx, ev::FEEDBACK_DELETED, post.organization_id, post.id, events::post(&post, principal.user_id))
        .await?;
    tx.commit().await?;
    state.changed(&[post.id]).await;
    Ok(StatusCode::NO_CONTENT)
}
