//! Members of the caller's organization and their roles. The last owner can neither leave nor
//! be demoted.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Revocation, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::PageQuery;
use platform::{ApiResult, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::invalid;
use crate::store::members::{self, Member};
use crate::{events, sessions, AppState};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    #[param(schema_with = super::schema::role)]
    role: Option<String>,
}

/// A page of members.
#[derive(Serialize, ToSchema)]
pub struct MemberPage {
    data: Vec<Member>,
    next_cursor: Option<String>,
}

/// Members, oldest first (agent and above).
#[utoipa::path(get, path = "/v1/members", operation_id = "list_members", tag = "identity", params(ListQuery),
    responses((status = 200, description = "A page of members", body = MemberPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<MemberPage>> {
    principal.require_role(Role::Agent)?;
    super::require_read(&principal)?;
    let (limit, cursor) = PageQuery { limit: q.limit, cursor: q.cursor }.parse()?;
    let roles: Vec<String> = match q.role {
        Some(r) => vec![r.parse::<Role>().map_err(|e| invalid("role", &e))?.as_str().to_owned()],
        None => Vec::new(),
    };
    let mut conn = state.pool.acquire().await?;
    let page = members::page(&mut conn, principal.org_id, &roles, limit, cursor).await?;
    Ok(Json(MemberPage { data: page.data, next_cursor: page.next_cursor }))
}

fn not_found() -> Problem {
    Problem::not_found("member")
}

/// One member (agents and above; anyone may read themselves).
#[utoipa::path(get, path = "/v1/members/{user_id}", operation_id = "get_member", tag = "identity",
    params(("user_id" = Uuid, Path, description = "The member's user id")),
    responses((status = 200, description = "The member", body = Member)))]
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
    Ok(Json(members::find(&mut conn, principal.org_id, user).await?.ok_or_else(not_found)?))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangeRole {
    #[schema(schema_with = super::schema::role)]
    role: String,
}

/// Changes a member's role (admin, signed in; only owners grant or take away ownership).
#[utoipa::path(patch, path = "/v1/members/{user_id}", operation_id = "change_member_role", tag = "identity", request_body = ChangeRole,
    params(("user_id" = Uuid, Path, description = "The member's user id")),
    responses(
        (status = 200, description = "The member with the new role", body = Member),
        (status = 409, description = "The last owner cannot be demoted", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_role(
    State(state): State<AppState>,
    principal: Principal,
    Path(user): Path<Uuid>,
    Json(body): Json<ChangeRole>,
) -> ApiResult<Json<Member>> {
    let actor = super::require_admin_user(&principal)?;
    let role: Role = body.role.parse().map_err(|e: String| invalid("role", &e))?;
    let org = principal.org_id;
    let mut tx = state.pool.begin().await?;
    let owners = members::lock_owners(&mut tx, org).await?;
    let member = members::find(&mut tx, org, user).await?.ok_or_else(not_found)?;
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
    members::set_role(&mut tx, org, user, role.as_str()).await?;
    events::emit(
        &mut tx,
        ev::MEMBER_ROLE_CHANGED,
        Some(org),
        user,
        ev::MemberRoleChanged {
            organization_id: org,
            user_id: user,
            role_before: before.as_str().to_owned(),
            role_after: role.as_str().to_owned(),
            actor_id: Some(actor),
        },
    )
    .await?;
    let member = members::find(&mut tx, org, user).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    // Cached principals carry the old role: drop them everywhere.
    sessions::announce(&state, Revocation { user_ids: vec![user], ..Default::default() }).await;
    Ok(Json(member))
}

/// Removes a member (admin, signed in), or leaves (any member, signed in).
#[utoipa::path(delete, path = "/v1/members/{user_id}", operation_id = "remove_member", tag = "identity",
    params(("user_id" = Uuid, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "The last owner cannot leave", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(user): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let actor = principal.require_user()?;
    if actor != user {
        principal.require_role(Role::Admin)?;
    }
    let org = principal.org_id;
    let mut tx = state.pool.begin().await?;
    let owners = members::lock_owners(&mut tx, org).await?;
    let member = members::find(&mut tx, org, user).await?.ok_or_else(not_found)?;
    let role: Role = member.role.parse().map_err(anyhow::Error::msg)?;
    if role == Role::Owner && owners <= 1 {
        return Err(Problem::conflict("the last owner cannot leave; make someone else owner first").into());
    }
    if role == Role::Owner && actor != user && principal.role != Role::Owner {
        return Err(Problem::forbidden("only an owner can remove an owner").into());
    }
    let teams = members::remove(&mut tx, org, user).await?;
    let revoked = sessions::revoke_all(&mut tx, user, Some(org)).await?;
    for team in teams {
        events::team_member_removed(&mut tx, org, team, user, Some(actor)).await?;
    }
    events::emit(
        &mut tx,
        ev::MEMBER_REMOVED,
        Some(org),
        user,
        ev::MemberRemoved { organization_id: org, user_id: user, actor_id: Some(actor) },
    )
    .await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { credential_ids: revoked, changed_users: vec![user], ..Default::default() })
        .await;
    Ok(StatusCode::NO_CONTENT)
}
