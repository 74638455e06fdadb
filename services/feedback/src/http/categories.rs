//! Categories: unique name per organization, color, icon, sort order, active flag. Managers
//! write; every member reads.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiError, ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{can_read, can_write};
use crate::{domain, AppState};

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Category {
    id: Uuid,
    name: String,
    description: Option<String>,
    color: String,
    icon: Option<String>,
    is_active: bool,
    sort_order: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, description, color, icon, is_active, sort_order, created_at, updated_at";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    name: Option<String>,
    description: Option<String>,
    color: Option<String>,
    icon: Option<String>,
    is_active: Option<bool>,
    sort_order: Option<i32>,
}

struct Parsed {
    name: Option<String>,
    color: Option<String>,
}

fn parse(body: &CategoryBody, creating: bool) -> Result<Parsed, Problem> {
    let mut errors = Vec::new();
    let name = match body.name.as_deref().map(str::trim) {
        Some(n) if (1..=100).contains(&n.chars().count()) => Some(n.to_owned()),
        Some(_) => {
            errors.push(FieldError::new("name", "must be 1 to 100 characters"));
            None
        }
        None if creating => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
        None => None,
    };
    let color =
        body.color.as_deref().map(|c| domain::color("color", c)).transpose().map_err(|e| errors.push(e)).ok().flatten();
    if body.icon.as_ref().is_some_and(|i| i.len() > 50) {
        errors.push(FieldError::new("icon", "must be at most 50 characters"));
    }
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        errors.push(FieldError::new("description", "must be at most 1000 characters"));
    }
    if errors.is_empty() {
        Ok(Parsed { name, color })
    } else {
        Err(Problem::validation(errors))
    }
}

fn taken(e: sqlx::Error) -> ApiError {
    if platform::db::is_constraint(&e, "categories_org_name_key") {
        Problem::conflict("a category with this name already exists").into()
    } else {
        e.into()
    }
}

/// `POST /v1/categories` (manager).
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<CategoryBody>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    can_write(&p)?;
    p.require_role(Role::Manager)?;
    let parsed = parse(&body, true)?;
    let c = sqlx::query_as(&format!(
        "INSERT INTO categories (id, organization_id, name, description, color, icon, is_active, sort_order) \
         VALUES ($1, $2, $3, $4, COALESCE($5, '#6366f1'), $6, COALESCE($7, true), COALESCE($8, 0)) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(p.org_id)
    .bind(parsed.name)
    .bind(body.description)
    .bind(parsed.color)
    .bind(body.icon)
    .bind(body.is_active)
    .bind(body.sort_order)
    .fetch_one(&state.pool)
    .await
    .map_err(taken)?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[derive(Serialize)]
pub struct CategoryList {
    data: Vec<Category>,
}

/// `GET /v1/categories`: by sort order, then name.
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<CategoryList>> {
    can_read(&p)?;
    let data = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM categories WHERE organization_id = $1 ORDER BY sort_order, name LIMIT 1000"
    ))
    .bind(p.org_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(CategoryList { data }))
}

/// `GET /v1/categories/{id}`.
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Category>> {
    can_read(&p)?;
    let c: Option<Category> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM categories WHERE id = $1 AND organization_id = $2"))
            .bind(id)
            .bind(p.org_id)
            .fetch_optional(&state.pool)
            .await?;
    Ok(Json(c.ok_or_else(|| Problem::not_found("category"))?))
}

/// `PATCH /v1/categories/{id}` (manager).
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<CategoryBody>,
) -> ApiResult<Json<Category>> {
    can_write(&p)?;
    p.require_role(Role::Manager)?;
    let parsed = parse(&body, false)?;
    let c: Option<Category> = sqlx::query_as(&format!(
        "UPDATE categories SET name = COALESCE($3, name), description = COALESCE($4, description), \
         color = COALESCE($5, color), icon = COALESCE($6, icon), is_active = COALESCE($7, is_active), \
         sort_order = COALESCE($8, sort_order) WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(p.org_id)
    .bind(parsed.name)
    .bind(body.description)
    .bind(parsed.color)
    .bind(body.icon)
    .bind(body.is_active)
    .bind(body.sort_order)
    .fetch_optional(&state.pool)
    .await
    .map_err(taken)?;
    Ok(Json(c.ok_or_else(|| Problem::not_found("category"))?))
}

/// `DELETE /v1/categories/{id}` (manager): its posts keep existing, without a category.
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    p.require_role(Role::Manager)?;
    let done = sqlx::query("DELETE FROM categories WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(p.org_id)
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("category").into());
    }
    Ok(StatusCode::NO_CONTENT)
}
