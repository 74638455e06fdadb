//! Projects of an organization; tickets may belong to one (deleting it leaves them without).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::project::{Client, Project, ProjectStatus, ProjectType};

/// A project as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Project)]
pub struct ProjectRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub project_type: ProjectType,
    pub status: ProjectStatus,
    /// To the cent.
    pub budget: Option<f64>,
    pub start_date: Option<NaiveDate>,
    /// Never before `start_date`.
    pub end_date: Option<NaiveDate>,
    pub requirements: Option<String>,
    /// The client, when a member of the organization.
    pub client_user_id: Option<Uuid>,
    /// The client, when a customer profile.
    pub client_customer_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProjectRow {
    /// The stored fields, to apply changes to.
    pub fn project(&self) -> Project {
        let client = match (self.client_user_id, self.client_customer_id) {
            (Some(u), _) => Some(Client::User(u)),
            (None, Some(c)) => Some(Client::Customer(c)),
            (None, None) => None,
        };
        Project {
            title: self.title.clone(),
            project_type: self.project_type,
            status: self.status,
            budget: self.budget,
            start_date: self.start_date,
            end_date: self.end_date,
            requirements: self.requirements.clone(),
            client,
        }
    }
}

const COLUMNS: &str = "id, organization_id, title, project_type, status, budget::float8 AS budget, start_date, \
    end_date, requirements, client_user_id, client_customer_id, created_by, created_at, updated_at";

fn client_user(p: &Project) -> Option<Uuid> {
    match p.client {
        Some(Client::User(u)) => Some(u),
        _ => None,
    }
}

fn client_customer(p: &Project) -> Option<Uuid> {
    match p.client {
        Some(Client::Customer(c)) => Some(c),
        _ => None,
    }
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, p: &Project, by: Option<Uuid>) -> sqlx::Result<ProjectRow> {
    sqlx::query_as(&format!(
        "INSERT INTO projects (id, organization_id, title, project_type, status, budget, start_date, end_date, \
         requirements, client_user_id, client_customer_id, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6::float8::numeric, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(&p.title)
    .bind(p.project_type)
    .bind(p.status)
    .bind(p.budget)
    .bind(p.start_date)
    .bind(p.end_date)
    .bind(p.requirements.as_deref())
    .bind(client_user(p))
    .bind(client_customer(p))
    .bind(by)
    .fetch_one(conn)
    .await
}

/// Writes every field of `p` over the project `id` of `org`.
pub async fn update(conn: &mut PgConnection, org: Uuid, id: Uuid, p: &Project) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!(
        "UPDATE projects SET title = $3, project_type = $4, status = $5, budget = $6::float8::numeric, \
         start_date = $7, end_date = $8, requirements = $9, client_user_id = $10, client_customer_id = $11 \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(&p.title)
    .bind(p.project_type)
    .bind(p.status)
    .bind(p.budget)
    .bind(p.start_date)
    .bind(p.end_date)
    .bind(p.requirements.as_deref())
    .bind(client_user(p))
    .bind(client_customer(p))
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projects WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// The same, locked for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projects WHERE id = $1 AND organization_id = $2 FOR UPDATE"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// What a list is narrowed to, and where it resumes.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<ProjectStatus>,
    pub project_type: Option<ProjectType>,
    pub client_user_id: Option<Uuid>,
    pub client_customer_id: Option<Uuid>,
    pub limit: i64,
    pub after: Option<platform::pagination::Cursor>,
}

/// Newest first; `limit + 1` rows so the caller knows whether there is more.
pub async fn list(conn: &mut PgConnection, org: Uuid, f: &Filter) -> sqlx::Result<Vec<ProjectRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projects WHERE organization_id = $1 \
         AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR project_type = $3) \
         AND ($4::uuid IS NULL OR client_user_id = $4) AND ($5::uuid IS NULL OR client_customer_id = $5) \
         AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7)) \
         ORDER BY created_at DESC, id DESC LIMIT $8"
    ))
    .bind(org)
    .bind(f.status.map(ProjectStatus::as_str))
    .bind(f.project_type.map(ProjectType::as_str))
    .bind(f.client_user_id)
    .bind(f.client_customer_id)
    .bind(f.after.map(|c| c.time))
    .bind(f.after.map(|c| c.id))
    .bind(f.limit + 1)
    .fetch_all(conn)
    .await
}

/// Whether the project exists, holding it against a concurrent delete until the transaction ends.
pub async fn hold(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM projects WHERE id = $1 AND organization_id = $2 FOR KEY SHARE")
            .bind(id)
            .bind(org)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// Deletes the project; its tickets keep existing without it (the foreign key sets null).
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    // Its tickets lose the link (`ON DELETE SET NULL`).
    platform::cache::touch_all();
    let deleted = sqlx::query("DELETE FROM projects WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}

/// The project's tickets, newest first; `limit + 1` rows.
pub async fn tickets(
    conn: &mut PgConnection,
    org: Uuid,
    project: Uuid,
    limit: i64,
    after: Option<platform::pagination::Cursor>,
) -> sqlx::Result<Vec<crate::domain::ticket::Ticket>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM tickets WHERE organization_id = $1 AND project_id = $2 \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5",
        crate::store::tickets::COLUMNS
    ))
    .bind(org)
    .bind(project)
    .bind(after.map(|c| c.time))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}
