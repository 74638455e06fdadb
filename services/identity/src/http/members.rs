//! Members of the caller's organization and their roles. The last owner can neither leave nor
//! be demoted.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Revocation, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::auth::invalid;
use crate::{events, sessions, AppState};

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    role: Option<String>,
}

/// Members of `org`, oldest first, from `cursor` on (limit + 1 rows).
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    roles: &[String],
    limit: i64,
    cursor: Option<Cursor>,
) -> sqlx::Result<Page<Member>> {
    let rows: Vec<Member> = sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at AS joined_at \
         FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND (cardinality($2::text[]) = 0 OR m.role = ANY($2)) \
           AND ($3::timestamptz IS NULL OR (m.created_at, m.user_id) > ($3, $4)) \
         ORDER BY m.created_at, m.user_id LIMIT $5",
    )
    .bind(org)
    .bind(roles)
    .bind(cursor.map(|c| c.time))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, limit, |m| Cursor { time: m.joined_at, id: m.user_id }))
}

/// `GET /v1/members?role=&limit=&cursor=` (agent and above).
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Member>>> {
    principal.require_role(Role::Agent)?;
    super::require_read(&principal)?;
    let (limit, cursor) = q.page.parse()?;
    let roles: Vec<String> = match q.role {
        Some(r) => vec![r.parse::<Role>().map_err(|e| invalid("role", &e))?.as_str().to_owned()],
        None => Vec::new(),
    };
    let mut conn = state.pool.acquire().await?;
    Ok(Json(page(&mut conn, principal.org_id, &roles, limit, cursor).await?))
}

async fn find(conn: &mut PgConnection, org: Uuid, user: Uuid) -> ApiResult<Member> {
    let m: Option<Member> = sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at AS joined_at \
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.organization_id = $1 AND m.user_id = $2",
    )
    .bind(org)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    m.ok_or_else(|| Problem::not_found("member").into())
}

/// `GET /v1/members/{user_id}`.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(user): Path<Uuid>,
) -> ApiResult<Json<Member>> {
    if principal.user_id != Some(user) {
        principal.require_role(Role::Agent)?;
    }
    super::require_read(&principal)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(find(&mut conn, principal.org_id, user).await?))
}

/// Locks the organization's owners and answers how many there are.
async fn lock_owners(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<usize> {
    let owners: Vec<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM memberships WHERE organization_id = $1 AND role = 'owner' FOR UPDATE")
            .bind(org)
            .fetch_all(conn)
            .await?;
    Ok(owners.len())
}

#[derive(Deserialize)]
pub struct ChangeRole {
    role: String,
}

/// `PATCH /v1/members/{user_id} {role}` (admin; only owners grant or take away ownership).
pub async fn change_role(
    State(state): State<AppState>,
    principal: Principal,
    Path(user): Path<Uuid>,
    Json(body): Json<ChangeRole>,
) -> ApiResult<Json<Member>> {
    let actor = principal.require_user()?;
    principal.require_role(Role::Admin)?;
    let role: Role = body.role.parse().map_err(|e: String| invalid("role", &e))?;
    let mut tx = state.pool.begin().await?;
    let owners = lock_owners(&mut tx, principal.org_id).await?;
    let member = find(&mut tx, principal.org_id, user).await?;
    let before: Role = member.role.parse().map_err(anyhow::Error::msg)?;
    if (before == Role::Owner || role == Role::Owner) && principal.role != Role::Owner {
        return Err(Problem::forbidden("only an owner can grant or take away ownership").into());
    }
    if before == Role::Owner && role != Role::Owner && owners <= 1 {
        return Err(Problem::conflict("the last owner cannot be demoted; make someone else owner first").into());
    }
    if before == role {
        return Ok(Json(member));
    }
    sqlx::query("UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2")
        .bind(principal.org_id)
        .bind(user)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    events::emit(
        &mut tx,
        ev::MEMBER_ROLE_CHANGED,
        Some(principal.org_id),
        user,
        ev::MemberRoleChanged {
            organization_id: principal.org_id,
            user_id: user,
            role_before: before.as_str().to_owned(),
            role_after: role.as_str().to_owned(),
            actor_id: Some(actor),
        },
    )
    .await?;
    let member = find(&mut tx, principal.org_id, user).await?;
    tx.commit().await?;
    // Cached principals carry the old role: drop them everywhere.
    sessions::announce(&state, Revocation { user_ids: vec![user], ..Default::default() }).await;
    Ok(Json(member))
}

/// `DELETE /v1/members/{user_id}`: an admin removes a member, or a member leaves.
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(user): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let actor = principal.require_user()?;
    if actor != user {
        principal.require_role(Role::Admin)?;
    }
    let mut tx = state.pool.begin().await?;
    let owners = lock_owners(&mut tx, principal.org_id).await?;
    let member = find(&mut tx, principal.org_id, user).await?;
    let role: Role = member.role.parse().map_err(anyhow::Error::msg)?;
    if role == Role::Owner && owners <= 1 {
        return Err(Problem::conflict("the last owner cannot leave; make someone else owner first").into());
    }
    if role == Role::Owner && actor != user && principal.role != Role::Owner {
        return Err(Problem::forbidden("only an owner can remove an owner").into());
    }
    sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(principal.org_id)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM team_members WHERE user_id = $2 AND team_id IN (SELECT id FROM teams WHERE organization_id = $1)",
    )
    .bind(principal.org_id)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    let revoked = sessions::revoke_all(&mut tx, user, Some(principal.org_id)).await?;
    events::emit(
        &mut tx,
        ev::MEMBER_REMOVED,
        Some(principal.org_id),
        user,
        ev::MemberRemoved { organization_id: principal.org_id, user_id: user, actor_id: Some(actor) },
    )
    .await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { credential_ids: revoked, changed_users: vec![user], ..Default::default() })
        .await;
    Ok(StatusCode::NO_CONTENT)
}
