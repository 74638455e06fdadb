//! The organization's desk settings (the ticket number prefix).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Settings {
    /// Numbers are `<ticket_prefix>-<YYYY>-<NNNNNN>`.
    #[schema(pattern = "^[A-Z][A-Z0-9]{0,9}$", example = "TKT")]
    pub ticket_prefix: String,
    /// `null` until changed from the defaults.
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn get(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Settings> {
    let row: Option<Settings> =
        sqlx::query_as("SELECT ticket_prefix, updated_at FROM desk_settings WHERE organization_id = $1")
            .bind(org)
            .fetch_optional(conn)
            .await?;
    Ok(row.unwrap_or(Settings { ticket_prefix: "TKT".to_owned(), updated_at: None }))
}

pub async fn put(conn: &mut PgConnection, org: Uuid, prefix: &str) -> sqlx::Result<Settings> {
    sqlx::query_as(
        "INSERT INTO desk_settings (organization_id, ticket_prefix) VALUES ($1, $2) \
         ON CONFLICT (organization_id) DO UPDATE SET ticket_prefix = EXCLUDED.ticket_prefix \
         RETURNING ticket_prefix, updated_at",
    )
    .bind(org)
    .bind(prefix)
    .fetch_one(conn)
    .await
}
