//! Categories: unique name per organization, color, icon, sort order, active flag. Managers
//! write; every member reads. Each change is an event.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiError, ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{can_read, can_write};
use crate::store::categories::{self, Category, Fields};
use crate::{domain, events, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    /// Trimmed; not blank; unique in the organization.
    #[schema(schema_with = super::schema::category_name)]
    name: String,
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// Default `#6366f1`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$", example = "#6366f1")]
    color: Option<String>,
    #[schema(max_length = 50)]
    icon: Option<String>,
    /// Default true.
    is_active: Option<bool>,
    /// Default 0; lists go by sort order, then name.
    sort_order: Option<i32>,
}

/// Every field is optional; what is given changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    #[schema(schema_with = super::schema::nullable_category_name)]
    name: Option<String>,
    #[schema(max_length = 1000)]
    description: Option<String>,
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$", example = "#6366f1")]
    color: Option<String>,
    #[schema(max_length = 50)]
    icon: Option<String>,
    is_active: Option<bool>,
    sort_order: Option<i32>,
}

impl From<NewCategory> for CategoryPatch {
    fn from(c: NewCategory) -> Self {
        let NewCategory { name, description, color, icon, is_active, sort_order } = c;
        Self { name: Some(name), description, color, icon, is_active, sort_order }
    }
}

fn parse(body: CategoryPatch) -> Result<Fields, Problem> {
    let mut errors = Vec::new();
    let name = body.name.as_deref().and_then(|n| domain::not_blank("name", n, 100).map_err(|e| errors.push(e)).ok());
    let color = body.color.as_deref().and_then(|c| domain::color("color", c).map_err(|e| errors.push(e)).ok());
    if body.icon.as_ref().is_some_and(|i| i.chars().count() > 50) {
        errors.push(FieldError::new("icon", "must be at most 50 characters"));
    }
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        errors.push(FieldError::new("description", "must be at most 1000 characters"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    Ok(Fields {
        name,
        description: body.description,
        color,
        icon: body.icon,
        is_active: body.is_active,
        sort_order: body.sort_order,
    })
}

fn taken(e: sqlx::Error) -> ApiError {
    if platform::db::is_constraint(&e, categories::NAME_KEY) {
        Problem::conflict("a category with this name already exists").into()
    } else {
        e.into()
    }
}

/// Create a category (managers).
#[utoipa::path(
    post,
    operation_id = "create_category",
    path = "/v1/categories",
    tag = "categories",
    request_body = NewCategory,
    responses(
        (status = 201, description = "The category", body = Category),
        (status = 409, description = "A category with this name exists", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewCategory>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    can_write(&p)?;
    p.require_role(Role::Manager)?;
    let fields = parse(body.into())?;
    let mut tx = state.pool.begin().await?;
    let c = categories::insert(&mut tx, p.org_id, fields).await.map_err(taken)?;
    events::emit(&mut tx, ev::CATEGORY_CREATED, p.org_id, c.id, events::category(&c, p.org_id, p.user_id)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[derive(Serialize, ToSchema)]
pub struct CategoryList {
    data: Vec<Category>,
}

/// The organization's categories, by sort order, then name.
#[utoipa::path(
    get,
    operation_id = "list_categories",
    path = "/v1/categories",
    tag = "categories",
    responses((status = 200, description = "The categories", body = CategoryList))
)]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<CategoryList>> {
    can_read(&p)?;
    Ok(Json(CategoryList { data: categories::list(&state.pool, p.org_id).await? }))
}

/// A category.
#[utoipa::path(
    get,
    operation_id = "get_category",
    path = "/v1/categories/{id}",
    tag = "categories",
    params(("id" = Uuid, Path, description = "The category's id")),
    responses((status = 200, description = "The category", body = Category))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Category>> {
    can_read(&p)?;
    let c = categories::get(&state.pool, p.org_id, id).await?;
    Ok(Json(c.ok_or_else(|| Problem::not_found("category"))?))
}

/// Change a category (managers).
#[utoipa::path(
    patch,
    operation_id = "update_category",
    path = "/v1/categories/{id}",
    tag = "categories",
    params(("id" = Uuid, Path, description = "The category's id")),
    request_body = CategoryPatch,
    responses(
        (status = 200, description = "The category after the change", body = Category),
        (status = 409, description = "A category with this name exists", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<CategoryPatch>,
) -> ApiResult<Json<Category>> {
    can_write(&p)?;
    p.require_role(Role::Manager)?;
    let fields = parse(body)?;
    let mut tx = state.pool.begin().await?;
    let c = categories::update(&mut tx, p.org_id, id, fields)
        .await
        .map_err(taken)?
        .ok_or_else(|| Problem::not_found("category"))?;
    events::emit(&mut tx, ev::CATEGORY_UPDATED, p.org_id, c.id, events::category(&c, p.org_id, p.user_id)).await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// Delete a category (managers): its posts keep existing, without a category.
#[utoipa::path(
    delete,
    operation_id = "delete_category",
    path = "/v1/categories/{id}",
    tag = "categories",
    params(("id" = Uuid, Path, description = "The category's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    p.require_role(Role::Manager)?;
    let mut tx = state.pool.begin().await?;
    let c = categories::delete(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("category"))?;
    events::emit(&mut tx, ev::CATEGORY_DELETED, p.org_id, c.id, events::category(&c, p.org_id, p.user_id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
