//! Labels: named colors of an organization, put on its conversations. A conversation shows the
//! names of its labels ([`super::conversations::Conversation::labels`]); deleting a label takes
//! it off every conversation (the foreign key cascades).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

const COLUMNS: &str = "id, organization_id, name, color, created_at";

/// Unique per organization: a second label of the same name violates it.
pub const NAME_KEY: &str = "labels_organization_id_name_key";

/// The color of a label created without one.
pub const DEFAULT_COLOR: &str = "#6366f1";

/// At most this many labels are listed.
pub const LIST_CAP: i64 = 500;

/// A label of the organization.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Label {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Unique in the organization; `GET /v1/conversations?label=` filters by it.
    pub name: String,
    /// `#rrggbb`.
    #[schema(example = "#6366f1")]
    pub color: String,
    pub created_at: DateTime<Utc>,
}

/// The organization has a label of this name already.
#[derive(Debug, PartialEq, Eq)]
pub struct NameTaken;

fn name_taken<T>(result: sqlx::Result<T>) -> sqlx::Result<Result<T, NameTaken>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) if platform::db::is_constraint(&e, NAME_KEY) => Ok(Err(NameTaken)),
        Err(e) => Err(e),
    }
}

/// Inserts a label; [`NameTaken`] when the name is in use (the unique key decides, so two
/// concurrent creations of one name make one label).
pub async fn insert(
    conn: &mut PgConnection,
    org: Uuid,
    name: &str,
    color: Option<&str>,
) -> sqlx::Result<Result<Label, NameTaken>> {
    let inserted: sqlx::Result<Label> = sqlx::query_as(&format!(
        "INSERT INTO labels (id, organization_id, name, color) VALUES ($1, $2, $3, COALESCE($4, '{DEFAULT_COLOR}')) \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(name)
    .bind(color)
    .fetch_one(conn)
    .await;
    name_taken(inserted)
}

/// The organization's labels by name (at most [`LIST_CAP`]).
pub async fn list(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Vec<Label>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM labels WHERE organization_id = $1 ORDER BY name, id LIMIT $2"))
        .bind(org)
        .bind(LIST_CAP)
        .fetch_all(conn)
        .await
}

/// Renames and/or recolors (`None` keeps the value); the label after, `None` if the
/// organization has no such label.
pub async fn update(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    name: Option<&str>,
    color: Option<&str>,
) -> sqlx::Result<Result<Option<Label>, NameTaken>> {
    let updated: sqlx::Result<Option<Label>> = sqlx::query_as(&format!(
        "UPDATE labels SET name = COALESCE($3, name), color = COALESCE($4, color) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(name)
    .bind(color)
    .fetch_optional(conn)
    .await;
    name_taken(updated)
}

/// Deletes a label, which takes it off its conversations; whether there was one.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM labels WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks the conversation against other label changes until the transaction ends, so that
/// concurrent changes of its labels, and their events, come one after the other; whether `org`
/// has it.
pub async fn lock_conversation(conn: &mut PgConnection, org: Uuid, conversation: Uuid) -> sqlx::Result<bool> {
    let row: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM conversations WHERE id = $1 AND organization_id = $2 FOR NO KEY UPDATE")
            .bind(conversation)
            .bind(org)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

/// Keeps the label from being deleted until the transaction ends (a deletion waits, then takes
/// it off the conversation too); whether `org` has it.
pub async fn hold(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let row: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM labels WHERE id = $1 AND organization_id = $2 FOR KEY SHARE")
            .bind(id)
            .bind(org)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

/// Puts a label on a conversation, both of `org`; whether it was not there yet.
pub async fn attach(conn: &mut PgConnection, org: Uuid, conversation: Uuid, label: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO conversation_labels (organization_id, conversation_id, label_id) \
         SELECT $1, c.id, l.id FROM conversations c, labels l \
         WHERE c.id = $2 AND c.organization_id = $1 AND l.id = $3 AND l.organization_id = $1 \
         ON CONFLICT (conversation_id, label_id) DO NOTHING",
    )
    .bind(org)
    .bind(conversation)
    .bind(label)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a label off a conversation; whether it was there.
pub async fn detach(conn: &mut PgConnection, org: Uuid, conversation: Uuid, label: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM conversation_labels WHERE conversation_id = $2 AND label_id = $3 AND organization_id = $1",
    )
    .bind(org)
    .bind(conversation)
    .bind(label)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the conversation changed (its `updated_at`) after its labels changed.
pub async fn touch_conversation(conn: &mut PgConnection, org: Uuid, conversation: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE conversations SET updated_at = now() WHERE id = $1 AND organization_id = $2")
        .bind(conversation)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(())
}
