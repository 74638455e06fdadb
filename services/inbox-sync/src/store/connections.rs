//! Platform connections. Token columns hold ciphertexts only; [`Connection`] never carries them
//! (see [`Secrets`]), so a listing cannot show one by mistake.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

pub const COLUMNS: &str = "id, organization_id, platform, account_id, business_account_id, username, display_name, \
    status, last_error, last_sync_at, token_expires_at, (app_secret IS NOT NULL) AS own_app, created_by, created_at, \
    updated_at, disconnected_at";

/// A connection as the API shows it: no token, no secret.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Connection {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// `whatsapp`, `messenger`, `instagram` or `tiktok`.
    pub platform: String,
    /// The platform's id of the account: WhatsApp phone number id, page id, Instagram account
    /// id, TikTok business id.
    pub account_id: String,
    pub business_account_id: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// `active`, `expired`, `error` or `disconnected`.
    pub status: String,
    pub last_error: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Whether the organization's own Meta app signs this connection's webhooks (they go to
    /// `/webhooks/meta/{id}`).
    pub own_app: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disconnected_at: Option<DateTime<Utc>>,
}

/// The encrypted secrets of a connection, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Secrets {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
}

pub struct NewConnection<'a> {
    pub id: Uuid,
    pub org: Uuid,
    pub platform: &'a str,
    pub account_id: &'a str,
    pub business_account_id: Option<&'a str>,
    pub username: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub app_secret: Option<&'a str>,
    pub verify_token: Option<&'a str>,
    pub created_by: Option<Uuid>,
}

/// Why a connection could not be written.
#[derive(Debug, PartialEq, Eq)]
pub enum Conflict {
    /// This organization already has this account (live).
    Here(Uuid),
    /// Another organization has it live.
    Elsewhere,
}

/// The id a new connection of this account gets: this organization's disconnected row of it
/// (reconnecting keeps its conversations), else `fresh`. `Err` when the account is live.
/// Secrets are sealed for the id, so take it before encrypting.
pub async fn slot(
    conn: &mut PgConnection,
    org: Uuid,
    platform: &str,
    account: &str,
    fresh: Uuid,
) -> sqlx::Result<Result<Uuid, Conflict>> {
    let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT id, organization_id, status FROM connections WHERE platform = $1 AND account_id = $2            AND (status <> 'disconnected' OR organization_id = $3)",
    )
    .bind(platform)
    .bind(account)
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    if let Some((id, owner, _)) = rows.iter().find(|(_, _, status)| status != "disconnected") {
        return Ok(Err(if *owner == org { Conflict::Here(*id) } else { Conflict::Elsewhere }));
    }
    Ok(Ok(rows.first().map_or(fresh, |(id, _, _)| *id)))
}

/// Inserts the connection (or revives the disconnected row with id `n.id`); `None` when the
/// account became live elsewhere meanwhile.
pub async fn connect(conn: &mut PgConnection, n: &NewConnection<'_>) -> sqlx::Result<Option<Connection>> {
    let written = sqlx::query_as(&format!(
        "INSERT INTO connections (id, organization_id, platform, account_id, business_account_id, username, \
           display_name, access_token, refresh_token, token_expires_at, app_secret, verify_token, created_by, \
           refresh_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (organization_id, platform, account_id) DO UPDATE SET \
           business_account_id = EXCLUDED.business_account_id, username = EXCLUDED.username, \
           display_name = EXCLUDED.display_name, access_token = EXCLUDED.access_token, \
           refresh_token = EXCLUDED.refresh_token, token_expires_at = EXCLUDED.token_expires_at, \
           app_secret = EXCLUDED.app_secret, verify_token = EXCLUDED.verify_token, status = 'active', \
           last_error = NULL, disconnected_at = NULL, created_by = EXCLUDED.created_by, \
           refresh_expires_at = EXCLUDED.refresh_expires_at, token_issued_at = now() \
         WHERE connections.status = 'disconnected' AND connections.id = EXCLUDED.id \
         RETURNING {COLUMNS}"
    ))
    .bind(n.id)
    .bind(n.org)
    .bind(n.platform)
    .bind(n.account_id)
    .bind(n.business_account_id)
    .bind(n.username)
    .bind(n.display_name)
    .bind(n.access_token)
    .bind(n.refresh_token)
    .bind(n.token_expires_at)
    .bind(n.app_secret)
    .bind(n.verify_token)
    .bind(n.created_by)
    .bind(n.refresh_expires_at)
    .fetch_optional(&mut *conn)
    .await;
    match written {
        // Two organizations connecting one account at once: the live index lets one through.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        other => other,
    }
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Connection>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM connections WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// A connection by id alone: only for the webhook path, where the id is in the URL Meta calls
/// and the organization is what the row says.
pub async fn by_id_for_webhook(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<(Connection, Secrets)>> {
    let row: Option<(Uuid,)> = sqlx::query_as("SELECT organization_id FROM connections WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((org,)) = row else { return Ok(None) };
    let Some(c) = get(&mut *conn, org, id).await? else { return Ok(None) };
    let s = secrets(conn, org, id).await?;
    Ok(s.map(|s| (c, s)))
}

/// The live connection of a platform account, which a webhook update names.
pub async fn live_by_account(
    conn: &mut PgConnection,
    platform: &str,
    account: &str,
) -> sqlx::Result<Option<Connection>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE platform = $1 AND account_id = $2 AND status <> 'disconnected'"
    ))
    .bind(platform)
    .bind(account)
    .fetch_optional(conn)
    .await
}

pub async fn secrets(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Secrets>> {
    sqlx::query_as(
        "SELECT access_token, refresh_token, app_secret, verify_token FROM connections \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Connections of `org`, newest first, after the `(created_at, id)` cursor.
pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Connection>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE organization_id = $1 \
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(org)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Disconnects: the tokens and secrets are erased, the row stays for its conversations.
pub async fn disconnect(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Connection>> {
    sqlx::query_as(&format!(
        "UPDATE connections SET status = 'disconnected', disconnected_at = now(), access_token = '', \
           refresh_token = NULL, app_secret = NULL, verify_token = NULL \
         WHERE id = $1 AND organization_id = $2 AND status <> 'disconnected' RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Marks a connection whose token the platform refused.
pub async fn mark(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    status: &str,
    error: &str,
) -> sqlx::Result<Option<Connection>> {
    sqlx::query_as(&format!(
        "UPDATE connections SET status = $3, last_error = $4 \
         WHERE id = $1 AND organization_id = $2 AND status IN ('active', 'error') AND status <> $3 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(status)
    .bind(error)
    .fetch_optional(conn)
    .await
}

pub async fn synced(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE connections SET last_sync_at = now() WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records the nonce of an OAuth `state` as used; `false` if it was used before (a replayed
/// callback).
pub async fn use_state(conn: &mut PgConnection, nonce: Uuid, org: Uuid) -> sqlx::Result<bool> {
    let done =
        sqlx::query("INSERT INTO oauth_states_used (nonce, organization_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(nonce)
            .bind(org)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The condition under which a connection's token is refreshed: Instagram's long-lived token
/// within a week of expiry (and a day old: Instagram refreshes no younger token), TikTok's
/// access token within two hours of expiry.
const EXPIRING: &str = "status = 'active' AND token_expires_at IS NOT NULL AND \
    ((platform = 'instagram' AND token_expires_at < now() + interval '7 days' \
        AND token_issued_at < now() - interval '1 day') \
     OR (platform = 'tiktok' AND refresh_token IS NOT NULL AND token_expires_at < now() + interval '2 hours'))";

/// Connections whose token is to be refreshed now, soonest first: `(organization, id)`.
pub async fn expiring(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    sqlx::query_as(&format!(
        "SELECT organization_id, id FROM connections WHERE {EXPIRING} ORDER BY token_expires_at LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Locks a connection for its refresh until the transaction ends, if it is still due and no
/// one else holds it (a replica refreshing it already: skipped).
pub async fn lock_expiring(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<(String, Secrets)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        platform: String,
        #[sqlx(flatten)]
        secrets: Secrets,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT platform, access_token, refresh_token, app_secret, verify_token FROM connections \
         WHERE id = $1 AND organization_id = $2 AND {EXPIRING} FOR UPDATE SKIP LOCKED"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.platform, r.secrets)))
}

/// Saves refreshed tokens (sealed): the rotated refresh token with its access token, at once.
pub async fn save_tokens(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    access: &str,
    refresh: Option<&str>,
    expires: Option<DateTime<Utc>>,
    refresh_expires: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE connections SET access_token = $3, refresh_token = COALESCE($4, refresh_token), \
           token_expires_at = $5, refresh_expires_at = COALESCE($6, refresh_expires_at), token_issued_at = now(), \
           last_error = NULL \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .bind(access)
    .bind(refresh)
    .bind(expires)
    .bind(refresh_expires)
    .execute(conn)
    .await?;
    Ok(())
}

/// A page of every connection's sealed secrets after `after` (by id), for the key rotation:
/// `(organization, id, secrets)`.
pub async fn sealed_after(
    conn: &mut PgConnection,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, Uuid, String, Option<String>, Option<String>, Option<String>)>> {
    sqlx::query_as(
        "SELECT organization_id, id, access_token, refresh_token, app_secret, verify_token FROM connections \
         WHERE id > $1 AND status <> 'disconnected' ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Locks one connection's secrets for re-encryption.
pub async fn lock_secrets(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Secrets>> {
    sqlx::query_as(
        "SELECT access_token, refresh_token, app_secret, verify_token FROM connections \
         WHERE id = $1 AND organization_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

/// Writes re-encrypted secrets (the same plaintexts under the newest key).
pub async fn reseal(conn: &mut PgConnection, org: Uuid, id: Uuid, s: &Secrets) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE connections SET access_token = $3, refresh_token = $4, app_secret = $5, verify_token = $6 \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .bind(&s.access_token)
    .bind(&s.refresh_token)
    .bind(&s.app_secret)
    .bind(&s.verify_token)
    .execute(conn)
    .await?;
    Ok(())
}

/// A live connection authorized again (a reconnect through OAuth, after its token expired or
/// was revoked): the new sealed tokens, `active` again. The connection after.
#[allow(clippy::too_many_arguments)]
pub async fn reauthorize(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    access: &str,
    refresh: Option<&str>,
    expires: Option<DateTime<Utc>>,
    refresh_expires: Option<DateTime<Utc>>,
    display_name: Option<&str>,
) -> sqlx::Result<Option<Connection>> {
    sqlx::query_as(&format!(
        "UPDATE connections SET access_token = $3, refresh_token = $4, token_expires_at = $5, \
           refresh_expires_at = $6, display_name = COALESCE($7, display_name), token_issued_at = now(), \
           status = 'active', last_error = NULL \
         WHERE id = $1 AND organization_id = $2 AND status <> 'disconnected' RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(access)
    .bind(refresh)
    .bind(expires)
    .bind(refresh_expires)
    .bind(display_name)
    .fetch_optional(conn)
    .await
}

/// Organizations with an inbox here (connected now or before: their messages stay).
pub async fn organizations(conn: &mut PgConnection) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT DISTINCT organization_id FROM connections").fetch_all(conn).await
}

/// Records how long `org`'s plan keeps messages (`None`: for ever).
pub async fn set_history(conn: &mut PgConnection, org: Uuid, days: Option<i32>, plan: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO history_windows (organization_id, history_days, plan) VALUES ($1, $2, $3) \
         ON CONFLICT (organization_id) DO UPDATE SET history_days = EXCLUDED.history_days, plan = EXCLUDED.plan, \
           checked_at = now()",
    )
    .bind(org)
    .bind(days)
    .bind(plan)
    .execute(conn)
    .await?;
    Ok(())
}
