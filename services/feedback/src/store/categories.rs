//! Categories of an organization's posts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[schema(example = "#6366f1")]
    pub color: String,
    pub icon: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, description, color, icon, is_active, sort_order, created_at, updated_at";

/// Unique per organization: a second category of the same name violates it.
pub const NAME_KEY: &str = "categories_org_name_key";

/// A category's fields as given; `None` keeps (or, when creating, defaults) the value.
#[derive(Debug, Default)]
pub struct Fields {
    pub name: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub icon: Option<String>,
    pub is_active: Option<bool>,
    pub sort_order: Option<i32>,
}

pub async fn insert(conn: &mut sqlx::PgConnection, org: Uuid, f: Fields) -> sqlx::Result<Category> {
    sqlx::query_as(&format!(
        "INSERT INTO categories (id, organization_id, name, description, color, icon, is_active, sort_order) \
         VALUES ($1, $2, $3, $4, COALESCE($5, '#6366f1'), $6, COALESCE($7, true), COALESCE($8, 0)) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(f.name)
    .bind(f.description)
    .bind(f.color)
    .bind(f.icon)
    .bind(f.is_active)
    .bind(f.sort_order)
    .fetch_one(conn)
    .await
}

/// By sort order, then name.
pub async fn list(pool: &PgPool, org: Uuid) -> sqlx::Result<Vec<Category>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM categories WHERE organization_id = $1 ORDER BY sort_order, name LIMIT 1000"
    ))
    .bind(org)
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, org: Uuid, id: Uuid) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM categories WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(pool)
        .await
}

pub async fn update(conn: &mut sqlx::PgConnection, org: Uuid, id: Uuid, f: Fields) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(&format!(
        "UPDATE categories SET name = COALESCE($3, name), description = COALESCE($4, description), \
         color = COALESCE($5, color), icon = COALESCE($6, icon), is_active = COALESCE($7, is_active), \
         sort_order = COALESCE($8, sort_order) WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(f.name)
    .bind(f.description)
    .bind(f.color)
    .bind(f.icon)
    .bind(f.is_active)
    .bind(f.sort_order)
    .fetch_optional(conn)
    .await
}

/// The deleted category, if there was one; its posts keep existing without a category.
pub async fn delete(conn: &mut sqlx::PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(&format!("DELETE FROM categories WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}
