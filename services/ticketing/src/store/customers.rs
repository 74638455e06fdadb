//! Customer profiles; unique per organization by user, by contact (platform + external id) and
//! by email (case-insensitive), so a second profile of the same person is a conflict.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::customer::{BillingCycle, ContactPlatform, Profile, Standing, Tier};

/// A customer profile as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// The identity user this customer is.
    pub user_id: Option<Uuid>,
    /// The inbox contact this customer is: platform and the platform's id of them.
    pub contact_platform: Option<ContactPlatform>,
    pub contact_external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub tier: Tier,
    pub standing: Standing,
    /// Total revenue from the customer, to the cent.
    pub lifetime_value: f64,
    pub billing_cycle: Option<BillingCycle>,
    pub token_balance: i64,
    pub token_limit: Option<i64>,
    pub active_sites: i32,
    pub sites_limit: Option<i32>,
    /// Browser, OS, location and the like.
    #[schema(value_type = Object)]
    pub context: serde_json::Value,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// The stored fields, to apply changes to.
    pub fn profile(&self) -> Profile {
        Profile {
            user_id: self.user_id,
            contact: self.contact_platform.zip(self.contact_external_id.clone()),
            email: self.email.clone(),
            name: self.name.clone(),
            tier: self.tier,
            standing: self.standing,
            lifetime_value: self.lifetime_value,
            billing_cycle: self.billing_cycle,
            token_balance: self.token_balance,
            token_limit: self.token_limit,
            active_sites: self.active_sites,
            sites_limit: self.sites_limit,
            context: self.context.clone(),
            preferences: self.preferences.clone(),
        }
    }
}

const COLUMNS: &str = "id, organization_id, user_id, contact_platform, contact_external_id, email, name, tier, \
    standing, lifetime_value::float8 AS lifetime_value, billing_cycle, token_balance, token_limit, active_sites, \
    sites_limit, context, preferences, created_at, updated_at";

/// The unique keys of a profile and what a duplicate of each means.
pub const UNIQUE_KEYS: [(&str, &str); 3] = [
    ("customer_profiles_user_key", "a customer profile of this user already exists"),
    ("customer_profiles_contact_key", "a customer profile of this contact already exists"),
    ("customer_profiles_email_key", "a customer profile with this email already exists"),
];

/// The unique key `err` violates, described; `None` for any other error.
pub fn duplicate(err: &sqlx::Error) -> Option<&'static str> {
    UNIQUE_KEYS.iter().find(|(key, _)| platform::db::is_constraint(err, key)).map(|(_, what)| *what)
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, p: &Profile) -> sqlx::Result<Customer> {
    sqlx::query_as(&format!(
        "INSERT INTO customer_profiles (id, organization_id, user_id, contact_platform, contact_external_id, email, \
         name, tier, standing, lifetime_value, billing_cycle, token_balance, token_limit, active_sites, sites_limit, \
         context, preferences) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::float8::numeric, $11, $12, $13, $14, $15, $16, $17) \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(p.user_id)
    .bind(p.contact.as_ref().map(|c| c.0))
    .bind(p.contact.as_ref().map(|c| c.1.as_str()))
    .bind(p.email.as_deref())
    .bind(p.name.as_deref())
    .bind(p.tier)
    .bind(p.standing)
    .bind(p.lifetime_value)
    .bind(p.billing_cycle)
    .bind(p.token_balance)
    .bind(p.token_limit)
    .bind(p.active_sites)
    .bind(p.sites_limit)
    .bind(&p.context)
    .bind(&p.preferences)
    .fetch_one(conn)
    .await
}

/// Writes every field of `p` over the profile `id` of `org`.
pub async fn update(conn: &mut PgConnection, org: Uuid, id: Uuid, p: &Profile) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(&format!(
        "UPDATE customer_profiles SET user_id = $3, contact_platform = $4, contact_external_id = $5, email = $6, \
         name = $7, tier = $8, standing = $9, lifetime_value = $10::float8::numeric, billing_cycle = $11, \
         token_balance = $12, token_limit = $13, active_sites = $14, sites_limit = $15, context = $16, \
         preferences = $17 WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(p.user_id)
    .bind(p.contact.as_ref().map(|c| c.0))
    .bind(p.contact.as_ref().map(|c| c.1.as_str()))
    .bind(p.email.as_deref())
    .bind(p.name.as_deref())
    .bind(p.tier)
    .bind(p.standing)
    .bind(p.lifetime_value)
    .bind(p.billing_cycle)
    .bind(p.token_balance)
    .bind(p.token_limit)
    .bind(p.active_sites)
    .bind(p.sites_limit)
    .bind(&p.context)
    .bind(&p.preferences)
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM customer_profiles WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// The same, locked for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customer_profiles WHERE id = $1 AND organization_id = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Whether the profile exists, holding it against a concurrent delete until the transaction ends.
pub async fn hold(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM customer_profiles WHERE id = $1 AND organization_id = $2 FOR KEY SHARE")
            .bind(id)
            .bind(org)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// The profile of the identity user `user`.
pub async fn by_user(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM customer_profiles WHERE organization_id = $1 AND user_id = $2"))
        .bind(org)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// The profile of an inbox contact, if there is one.
pub async fn by_contact(
    conn: &mut PgConnection,
    org: Uuid,
    platform: ContactPlatform,
    external_id: &str,
) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customer_profiles \
         WHERE organization_id = $1 AND contact_platform = $2 AND contact_external_id = $3"
    ))
    .bind(org)
    .bind(platform)
    .bind(external_id)
    .fetch_optional(conn)
    .await
}

/// The profile of an inbox contact, created on first contact; a name learnt later fills a
/// profile that had none. Concurrent first messages of one contact meet on the unique key.
pub async fn upsert_contact(
    conn: &mut PgConnection,
    org: Uuid,
    platform: ContactPlatform,
    external_id: &str,
    name: Option<&str>,
) -> sqlx::Result<Customer> {
    sqlx::query_as(&format!(
        "INSERT INTO customer_profiles (id, organization_id, contact_platform, contact_external_id, name) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (organization_id, contact_platform, contact_external_id) WHERE contact_platform IS NOT NULL \
         DO UPDATE SET name = COALESCE(customer_profiles.name, EXCLUDED.name) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(platform)
    .bind(external_id)
    .bind(name)
    .fetch_one(conn)
    .await
}

/// What a list is narrowed to, and where it resumes.
#[derive(Debug, Default)]
pub struct Filter {
    pub tier: Option<Tier>,
    pub standing: Option<Standing>,
    /// A case-insensitive substring of the name, email or contact id.
    pub q: Option<String>,
    pub limit: i64,
    pub after: Option<platform::pagination::Cursor>,
}

/// Newest first; `limit + 1` rows so the caller knows whether there is more.
pub async fn list(conn: &mut PgConnection, org: Uuid, f: &Filter) -> sqlx::Result<Vec<Customer>> {
    let pattern = f.q.as_deref().map(|q| format!("%{}%", like_escape(q)));
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customer_profiles WHERE organization_id = $1 \
         AND ($2::text IS NULL OR tier = $2) AND ($3::text IS NULL OR standing = $3) \
         AND ($4::text IS NULL OR name ILIKE $4 OR email ILIKE $4 OR contact_external_id ILIKE $4) \
         AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6)) \
         ORDER BY created_at DESC, id DESC LIMIT $7"
    ))
    .bind(org)
    .bind(f.tier.map(Tier::as_str))
    .bind(f.standing.map(Standing::as_str))
    .bind(pattern)
    .bind(f.after.map(|c| c.time))
    .bind(f.after.map(|c| c.id))
    .bind(f.limit + 1)
    .fetch_all(conn)
    .await
}

/// `%`, `_` and `\` match themselves in a LIKE pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Deletes the profile; its tickets keep existing without it (the foreign key sets null) and
/// projects it was the client of lose their client.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query("UPDATE projects SET client_customer_id = NULL WHERE organization_id = $1 AND client_customer_id = $2")
        .bind(org)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    // Its tickets lose the link (`ON DELETE SET NULL`).
    platform::cache::touch_all();
    let deleted = sqlx::query("DELETE FROM customer_profiles WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}

/// The customer's tickets, newest first; `limit + 1` rows.
pub async fn tickets(
    conn: &mut PgConnection,
    org: Uuid,
    customer: Uuid,
    limit: i64,
    after: Option<platform::pagination::Cursor>,
) -> sqlx::Result<Vec<crate::domain::ticket::Ticket>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM tickets WHERE organization_id = $1 AND customer_id = $2 \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5",
        crate::store::tickets::COLUMNS
    ))
    .bind(org)
    .bind(customer)
    .bind(after.map(|c| c.time))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}
