//! Each user's in-app notifications, per organization, and the development mailbox.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    /// What caused it, e.g. `feedback.status_changed`.
    pub reason: String,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Where a page of the inbox ends: (unread, created_at, id).
#[derive(Debug, Clone, Copy)]
pub struct Position {
    pub unread: bool,
    pub time: DateTime<Utc>,
    pub id: Uuid,
}

/// Writes one notification per recipient, dated when the command was made.
pub async fn insert_many(
    conn: &mut PgConnection,
    n: &proto::events::NotifySend,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let ids: Vec<Uuid> = n.recipients.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "INSERT INTO notifications (id, organization_id, user_id, title, body, link, reason, created_at) \
         SELECT id, $3, user_id, $4, $5, $6, $7, $8 FROM unnest($1::uuid[], $2::uuid[]) AS r(id, user_id)",
    )
    .bind(&ids)
    .bind(&n.recipients)
    .bind(n.organization_id)
    .bind(&n.title)
    .bind(&n.body)
    .bind(&n.link)
    .bind(&n.reason)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Unread first, then newest first; one more than `limit`, for the cursor.
pub async fn list(
    pool: &PgPool,
    org: Uuid,
    user: Uuid,
    after: Option<Position>,
    limit: i64,
) -> sqlx::Result<Vec<Notification>> {
    sqlx::query_as(
        "SELECT id, title, body, link, reason, read_at, created_at FROM notifications \
         WHERE user_id = $1 AND organization_id = $2 \
           AND ($3::bool IS NULL OR ((read_at IS NULL), created_at, id) < ($3, $4, $5)) \
         ORDER BY (read_at IS NULL) DESC, created_at DESC, id DESC LIMIT $6",
    )
    .bind(user)
    .bind(org)
    .bind(after.map(|c| c.unread))
    .bind(after.map(|c| c.time))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(pool)
    .await
}

pub async fn unread(pool: &PgPool, org: Uuid, user: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND organization_id = $2 AND read_at IS NULL",
    )
    .bind(user)
    .bind(org)
    .fetch_one(pool)
    .await
}

/// Marks one read; false when the user has no such notification.
pub async fn mark_read(pool: &PgPool, org: Uuid, user: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, now()) WHERE id = $1 AND user_id = $2 AND organization_id = $3",
    )
    .bind(id)
    .bind(user)
    .bind(org)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_all_read(pool: &PgPool, org: Uuid, user: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND organization_id = $2 AND read_at IS NULL",
    )
    .bind(user)
    .bind(org)
    .execute(pool)
    .await?;
    Ok(())
}

/// A mail kept in the development mailbox instead of being sent.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Mail {
    pub id: Uuid,
    pub recipient: String,
    pub template: String,
    pub subject: String,
    pub link: Option<String>,
    #[schema(value_type = Object)]
    pub variables: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn keep_mail(conn: &mut PgConnection, org: Option<Uuid>, m: &proto::events::MailSend) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mailbox (id, organization_id, recipient, template, subject, link, variables) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(&m.to)
    .bind(&m.template)
    .bind(&m.subject)
    .bind(&m.link)
    .bind(serde_json::Value::Object(m.variables.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest 100 mails, to one recipient if given.
pub async fn mailbox(pool: &PgPool, to: Option<&str>) -> sqlx::Result<Vec<Mail>> {
    sqlx::query_as(
        "SELECT id, recipient, template, subject, link, variables, created_at FROM mailbox \
         WHERE ($1::text IS NULL OR lower(recipient) = lower($1)) ORDER BY created_at DESC LIMIT 100",
    )
    .bind(to)
    .fetch_all(pool)
    .await
}
