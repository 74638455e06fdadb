//! Sessions: sign-in issues an access token and a refresh token; refreshing rotates both; reusing
//! a rotated refresh token revokes the whole session (its token family).

use chrono::{DateTime, Utc};
use platform::auth::{broadcast_revocation, Revocation};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::Config;
use crate::tokens;

/// Tokens handed to a client once.
#[derive(Debug)]
pub struct Issued {
    pub session_id: Uuid,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

/// Where a sign-in came from, kept for the sessions list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

fn chrono(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Starts a session of `user` in `org`.
pub async fn create(
    conn: &mut PgConnection,
    config: &Config,
    user: Uuid,
    org: Uuid,
    client: &ClientInfo,
) -> sqlx::Result<Issued> {
    let now = Utc::now();
    let absolute = now + chrono(config.session_absolute);
    let access_expires = (now + chrono(config.access_ttl)).min(absolute);
    let access_token = tokens::new_token(tokens::ACCESS_PREFIX);
    let session_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, organization_id, access_token_hash, access_expires_at, \
         absolute_expires_at, ip_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(session_id)
    .bind(user)
    .bind(org)
    .bind(tokens::hash(&access_token))
    .bind(access_expires)
    .bind(absolute)
    .bind(&client.ip)
    .bind(client.user_agent.as_deref().map(|u| u.chars().take(512).collect::<String>()))
    .execute(&mut *conn)
    .await?;
    let refresh_token = new_refresh(conn, session_id, (now + chrono(config.session_idle)).min(absolute)).await?;
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1").bind(user).execute(conn).await?;
    Ok(Issued { session_id, access_token, refresh_token, expires_in: (access_expires - now).num_seconds() })
}

async fn new_refresh(conn: &mut PgConnection, session: Uuid, expires_at: DateTime<Utc>) -> sqlx::Result<String> {
    let token = tokens::new_token(tokens::REFRESH_PREFIX);
    sqlx::query("INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(Uuid::now_v7())
        .bind(session)
        .bind(tokens::hash(&token))
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: Uuid,
    session_id: Uuid,
    rotated_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    absolute_expires_at: DateTime<Utc>,
    access_token_hash: Vec<u8>,
    user_id: Uuid,
    organization_id: Uuid,
}

/// What a refresh attempt came to.
pub enum Refreshed {
    Issued {
        issued: Issued,
        user: Uuid,
        org: Uuid,
        old_access_hash: Vec<u8>,
    },
    /// A rotated token came back: the session is revoked, and the caller must say so to caches.
    Reused {
        session: Uuid,
    },
    Invalid,
}

/// Rotates `refresh_token` within the caller's transaction.
pub async fn refresh(conn: &mut PgConnection, config: &Config, refresh_token: &str) -> sqlx::Result<Refreshed> {
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT r.id, r.session_id, r.rotated_at, r.expires_at, s.revoked_at, s.absolute_expires_at, \
                s.access_token_hash, s.user_id, s.organization_id \
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
         WHERE r.token_hash = $1 FOR UPDATE OF r, s",
    )
    .bind(tokens::hash(refresh_token))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Refreshed::Invalid);
    };
    if row.revoked_at.is_some() {
        return Ok(Refreshed::Invalid);
    }
    if row.rotated_at.is_some() {
        revoke(conn, row.session_id).await?;
        return Ok(Refreshed::Reused { session: row.session_id });
    }
    let now = Utc::now();
    if now >= row.expires_at || now >= row.absolute_expires_at {
        return Ok(Refreshed::Invalid);
    }
    sqlx::query("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1").bind(row.id).execute(&mut *conn).await?;
    let access_token = tokens::new_token(tokens::ACCESS_PREFIX);
    let access_expires = (now + chrono(config.access_ttl)).min(row.absolute_expires_at);
    sqlx::query(
        "UPDATE sessions SET access_token_hash = $2, access_expires_at = $3, last_used_at = now() WHERE id = $1",
    )
    .bind(row.session_id)
    .bind(tokens::hash(&access_token))
    .bind(access_expires)
    .execute(&mut *conn)
    .await?;
    let refresh_token =
        new_refresh(conn, row.session_id, (now + chrono(config.session_idle)).min(row.absolute_expires_at)).await?;
    Ok(Refreshed::Issued {
        issued: Issued {
            session_id: row.session_id,
            access_token,
            refresh_token,
            expires_in: (access_expires - now).num_seconds(),
        },
        user: row.user_id,
        org: row.organization_id,
        old_access_hash: row.access_token_hash,
    })
}

/// Revokes one session and its refresh tokens.
pub async fn revoke(conn: &mut PgConnection, session: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(session)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, now()) WHERE session_id = $1")
        .bind(session)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every session of `user` (in `org` only, when given) and their refresh tokens.
pub async fn revoke_all(conn: &mut PgConnection, user: Uuid, org: Option<Uuid>) -> sqlx::Result<Vec<Uuid>> {
    let revoked: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = now() \
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR organization_id = $2) RETURNING id",
    )
    .bind(user)
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, now()) WHERE session_id = ANY($1)")
        .bind(&revoked)
        .execute(conn)
        .await?;
    Ok(revoked)
}

/// Evicts from this replica's cache at once and tells every other cache; caches also expire on
/// their own TTL should the broadcast be lost.
pub async fn announce(state: &crate::AppState, revocation: Revocation) {
    state.auth.evict(&revocation);
    if let Err(err) = broadcast_revocation(&state.bus, &revocation).await {
        tracing::warn!(error = %err, "revocation broadcast failed; caches expire on their TTL");
    }
}

/// A session in the owner's list.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    #[sqlx(default)]
    pub current: bool,
}

/// The user's live sessions, newest first.
pub async fn list(conn: &mut PgConnection, user: Uuid, current: Uuid) -> sqlx::Result<Vec<SessionView>> {
    let mut rows: Vec<SessionView> = sqlx::query_as(
        "SELECT id, organization_id, created_at, last_used_at, absolute_expires_at, ip_address, user_agent \
         FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND absolute_expires_at > now() \
         ORDER BY created_at DESC LIMIT 200",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    for r in &mut rows {
        r.current = r.id == current;
    }
    Ok(rows)
}
