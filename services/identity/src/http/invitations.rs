//! Invitations by email with a role; accepting creates the account or links an existing one.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use platform::auth::{Principal, Revocation, Role};
use platform::extract::{Json, NoStore, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use proto::events::{self as ev, MailSend};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::invalid;
use super::{client_info, AuthResponse};
use crate::domain::{check_password, parse_name, Email, Validator};
use crate::store::directory::{self, Unit};
use crate::store::invitations::{self as store_inv, Invitation, NewInvitation};
use crate::{events, sessions, store, tokens, AppState};

#[derive(Deserialize, ToSchema)]
pub struct CreateInvitation {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// Owners are made by promoting a member.
    #[schema(schema_with = super::schema::invitable_role)]
    role: String,
    /// A department of the organization.
    #[schema(schema_with = super::schema::nullable_uuid)]
    department_id: Option<Uuid>,
}

/// Invites by email with a role (admin, signed in): mails a link valid for 72 hours; a pending
/// invitation to the same address is replaced.
#[utoipa::path(post, path = "/v1/invitations", operation_id = "create_invitation", tag = "identity", request_body = CreateInvitation,
    responses(
        (status = 201, description = "Invited", body = Invitation),
        (status = 402, description = "The plan's seats are used up", body = platform::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The person is already a member", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateInvitation>,
) -> ApiResult<(StatusCode, Json<Invitation>)> {
    let actor = super::require_admin_user(&principal)?;
    super::require_write(&principal)?;
    let mut v = Validator::default();
    let email = v.check(Email::parse("email", &body.email));
    let role = v.check(match body.role.parse::<Role>() {
        Ok(Role::Owner) => Err(FieldError::new("role", "owners are made by promoting a member")),
        Ok(r) => Ok(r),
        Err(e) => Err(FieldError::new("role", e)),
    });
    v.finish()?;
    let (Some(email), Some(role)) = (email, role) else {
        return Err(Problem::internal().into());
    };
    let org = principal.org_id;
    state.quota.require(org, "seats", "seats").await?;
    let mut tx = state.pool.begin().await?;
    if store::members::has_email(&mut tx, org, email.as_str()).await? {
        return Err(Problem::conflict("this person is already a member").into());
    }
    if let Some(dept) = body.department_id {
        if !directory::exists(&mut tx, org, Unit::Department, dept).await? {
            return Err(invalid("department_id", "no such department").into());
        }
    }
    for replaced in store_inv::cancel_pending_to(&mut tx, org, email.as_str()).await? {
        events::invitation_cancelled(&mut tx, org, &replaced, "replaced", Some(actor)).await?;
    }
    let token = tokens::new_token("");
    let expires = Utc::now() + chrono::Duration::from_std(state.config.invitation_ttl).map_err(anyhow::Error::new)?;
    let token_hash = tokens::hash(&token);
    let invitation = store_inv::insert(
        &mut tx,
        NewInvitation {
            org,
            email: email.as_str(),
            role: role.as_str(),
            department_id: body.department_id,
            token_hash: &token_hash,
            invited_by: Some(actor),
            expires_at: expires,
        },
    )
    .await?;
    events::emit(
        &mut tx,
        ev::INVITATION_CREATED,
        Some(org),
        invitation.id,
        ev::InvitationCreated {
            invitation_id: invitation.id,
            organization_id: org,
            email: invitation.email.clone(),
            role: invitation.role.clone(),
            invited_by: Some(actor),
            expires_at: invitation.expires_at,
        },
    )
    .await?;
    let mut variables = serde_json::Map::new();
    variables.insert("organization".into(), principal.org_slug.clone().into());
    variables.insert("role".into(), role.as_str().into());
    events::send_mail(
        &mut tx,
        Some(org),
        MailSend {
            to: invitation.email.clone(),
            template: "invitation".to_owned(),
            subject: format!("You are invited to join {} on Switchboard", principal.org_slug),
            link: Some(format!("{}/accept-invitation?token={token}", state.config.app_base_url)),
            link_expires_at: Some(invitation.expires_at),
            variables,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    #[param(schema_with = super::schema::invitation_status)]
    status: Option<String>,
}

/// A page of invitations.
#[derive(Serialize, ToSchema)]
pub struct InvitationPage {
    data: Vec<Invitation>,
    next_cursor: Option<String>,
}

/// Invitations, newest first (admin).
#[utoipa::path(get, path = "/v1/invitations", operation_id = "list_invitations", tag = "identity", params(ListQuery),
    responses((status = 200, description = "A page of invitations", body = InvitationPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<InvitationPage>> {
    principal.require_role(Role::Admin)?;
    super::require_read(&principal)?;
    let (limit, cursor) = PageQuery { limit: q.limit, cursor: q.cursor }.parse()?;
    if let Some(s) = &q.status {
        if !["pending", "accepted", "cancelled"].contains(&s.as_str()) {
            return Err(invalid("status", "pending, accepted or cancelled").into());
        }
    }
    let mut conn = state.pool.acquire().await?;
    let rows = store_inv::list(&mut conn, principal.org_id, q.status.as_deref(), limit, cursor).await?;
    let page = Page::from_rows(rows, limit, |i| Cursor { time: i.created_at, id: i.id });
    Ok(Json(InvitationPage { data: page.data, next_cursor: page.next_cursor }))
}

/// Cancels a pending invitation (admin, signed in).
#[utoipa::path(delete, path = "/v1/invitations/{id}", operation_id = "cancel_invitation", tag = "identity",
    params(("id" = Uuid, Path, description = "The invitation")),
    responses((status = 204, description = "Cancelled")))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let actor = super::require_admin_user(&principal)?;
    super::require_write(&principal)?;
    let mut tx = state.pool.begin().await?;
    let cancelled = store_inv::cancel(&mut tx, principal.org_id, id)
        .await?
        .ok_or_else(|| Problem::not_found("pending invitation"))?;
    events::invitation_cancelled(&mut tx, principal.org_id, &cancelled, "cancelled", Some(actor)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptRequest {
    token: String,
    /// For a new account.
    #[schema(schema_with = super::schema::nullable_name)]
    name: Option<String>,
    /// A new account's password, or the existing account's to link it.
    #[schema(min_length = 10, max_length = 256)]
    password: String,
}

fn invalid_token() -> Problem {
    Problem::bad_request("the token is invalid or has expired")
}

/// Accepts: creates the account (or links an existing one with its password) and signs in to
/// the inviting organization. No credentials needed.
#[utoipa::path(post, path = "/v1/invitations/accept", operation_id = "accept_invitation", tag = "identity", security(()), request_body = AcceptRequest,
    responses(
        (status = 200, description = "Joined and signed in", body = AuthResponse),
        (status = 400, description = "The token is invalid or has expired", body = platform::Problem, content_type = "application/problem+json"),
        (status = 401, description = "The existing account's password is wrong", body = platform::Problem, content_type = "application/problem+json"),
        (status = 402, description = "The organization's plan has no seat left", body = platform::Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account with the invited email was created meanwhile; accept again with its password", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<AcceptRequest>,
) -> ApiResult<NoStore<Json<AuthResponse>>> {
    // Everything slow (argon2) happens before the transaction opens, so a burst of acceptances
    // cannot hold database connections while hashing; the transaction re-checks what it relies on.
    let mut conn = state.pool.acquire().await?;
    let inv = store_inv::pending_by_token(&mut conn, &tokens::hash(&body.token)).await?.ok_or_else(invalid_token)?;
    let existing = store::credentials_by_email(&mut conn, &inv.email).await?;
    drop(conn);
    state.quota.require(inv.organization_id, "seats", "seats").await?;
    let role: Role = inv.role.parse().map_err(anyhow::Error::msg)?;
    let new_account = match &existing {
        Some((_, hash, _)) => {
            if !state.passwords.verify(Some(hash), &body.password).await? {
                return Err(Problem::unauthorized().detail("the password of the existing account is required").into());
            }
            None
        }
        None => {
            let mut v = Validator::default();
            let name = v.check(parse_name("name", body.name.as_deref().unwrap_or("")));
            v.check(check_password("password", &body.password));
            v.check(Email::parse("email", &inv.email));
            v.finish()?;
            Some((name.unwrap_or_default(), state.passwords.hash(&body.password).await?))
        }
    };

    let mut tx = state.pool.begin().await?;
    if !store_inv::lock_pending(&mut tx, inv.id).await? {
        return Err(invalid_token().into());
    }
    let user_id = match (existing, new_account) {
        (Some((id, _, _)), _) => id,
        (None, Some((name, hash))) => {
            // The link reached this mailbox, so the address is verified.
            let user = match store::insert_user(&mut tx, &inv.email, &name, &hash, true).await {
                Err(e) if platform::db::is_constraint(&e, "users_email_key") => {
                    return Err(Problem::conflict(
                        "an account with this email was just created; accept again with its password",
                    )
                    .into())
                }
                other => other?,
            };
            events::user_created(&mut tx, &user).await?;
            user.id
        }
        (None, None) => return Err(Problem::internal().into()),
    };
    let added = store::insert_membership(&mut tx, inv.organization_id, user_id, role).await?;
    store_inv::mark_accepted(&mut tx, inv.id).await?;
    if added {
        events::member_added(&mut tx, inv.organization_id, user_id, role).await?;
    }
    events::emit(
        &mut tx,
        ev::INVITATION_ACCEPTED,
        Some(inv.organization_id),
        inv.id,
        ev::InvitationAccepted {
            invitation_id: inv.id,
            organization_id: inv.organization_id,
            user_id,
            role: role.as_str().to_owned(),
        },
    )
    .await?;
    let issued = sessions::create(&mut tx, &state.config, user_id, inv.organization_id, &client_info(&headers)).await?;
    let actual_role = store::role(&mut tx, inv.organization_id, user_id).await?.unwrap_or(role);
    let user = store::user(&mut tx, user_id).await?.ok_or_else(Problem::internal)?;
    let org = store::organization(&mut tx, inv.organization_id).await?.ok_or_else(Problem::internal)?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { changed_users: vec![user_id], ..Default::default() }).await;
    Ok(NoStore(Json(AuthResponse::new(issued, user, org, actual_role.as_str()))))
}
