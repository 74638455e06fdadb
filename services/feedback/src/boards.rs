//! What feedback knows of organizations: slug and name, learnt from `identity.org.created` (and
//! from any authenticated request, for organizations older than the stream), plus each board's
//! settings.

use futures::future::BoxFuture;
use platform::bus::CloudEvent;
use platform::consumer::{Delivery, Handler};
use sqlx::PgConnection;
use uuid::Uuid;

/// Consumes identity's organization events into `boards`.
pub struct OrganizationEvents;

impl Handler for OrganizationEvents {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let Ok(event) = serde_json::from_slice::<CloudEvent<serde_json::Value>>(&d.payload) else {
                anyhow::bail!("not a CloudEvent");
            };
            if event.event_type != proto::events::ORG_CREATED {
                return Ok(());
            }
            let org: proto::events::OrgCreated = serde_json::from_value(event.data)?;
            sqlx::query(
                "INSERT INTO boards (organization_id, slug, name) VALUES ($1, $2, $3) \
                 ON CONFLICT (organization_id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name",
            )
            .bind(org.organization_id)
            .bind(&org.slug)
            .bind(&org.name)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}

/// Records an organization met through a credential, if its event has not arrived yet.
pub async fn ensure(conn: &mut PgConnection, org: Uuid, slug: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO boards (organization_id, slug, name) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING")
        .bind(org)
        .bind(slug)
        .execute(conn)
        .await?;
    Ok(())
}

/// A board's settings.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Board {
    pub organization_id: Uuid,
    /// The organization's slug: the public portal is `/v1/public/{slug}/feedback`.
    pub slug: String,
    pub name: String,
    /// Whether the public portal answers.
    pub public_enabled: bool,
    pub allow_anonymous_posts: bool,
    pub allow_anonymous_votes: bool,
    pub auto_subscribe_voters: bool,
    pub auto_subscribe_commenters: bool,
}

pub const COLUMNS: &str = "organization_id, slug, name, public_enabled, allow_anonymous_posts, \
    allow_anonymous_votes, auto_subscribe_voters, auto_subscribe_commenters";

pub async fn by_org(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Option<Board>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM boards WHERE organization_id = $1"))
        .bind(org)
        .fetch_optional(conn)
        .await
}

pub async fn by_slug(conn: &mut PgConnection, slug: &str) -> sqlx::Result<Option<Board>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM boards WHERE slug = $1")).bind(slug).fetch_optional(conn).await
}

/// Settings to change; `None` keeps the value.
#[derive(Debug, Default)]
pub struct Changes {
    pub public_enabled: Option<bool>,
    pub allow_anonymous_posts: Option<bool>,
    pub allow_anonymous_votes: Option<bool>,
    pub auto_subscribe_voters: Option<bool>,
    pub auto_subscribe_commenters: Option<bool>,
}

pub async fn update(conn: &mut PgConnection, org: Uuid, c: Changes) -> sqlx::Result<Board> {
    sqlx::query_as(&format!(
        "UPDATE boards SET public_enabled = COALESCE($2, public_enabled), \
         allow_anonymous_posts = COALESCE($3, allow_anonymous_posts), \
         allow_anonymous_votes = COALESCE($4, allow_anonymous_votes), \
         auto_subscribe_voters = COALESCE($5, auto_subscribe_voters), \
         auto_subscribe_commenters = COALESCE($6, auto_subscribe_commenters) \
         WHERE organization_id = $1 RETURNING {COLUMNS}"
    ))
    .bind(org)
    .bind(c.public_enabled)
    .bind(c.allow_anonymous_posts)
    .bind(c.allow_anonymous_votes)
    .bind(c.auto_subscribe_voters)
    .bind(c.auto_subscribe_commenters)
    .fetch_one(conn)
    .await
}
