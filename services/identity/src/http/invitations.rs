//! Invitations by email with a role; accepting creates the account or links an existing one.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Revocation, Role};
use platform::extract::{Json, NoStore, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, Problem};
use proto::events::{self as ev, MailSend};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::invalid;
use super::{client_info, AuthResponse};
use crate::domain::{check_password, parse_name, Email, Validator};
use crate::{events, sessions, store, tokens, AppState};

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Invitation {
    id: Uuid,
    email: String,
    role: String,
    department_id: Option<Uuid>,
    invited_by: Option<Uuid>,
    status: String,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, role, department_id, invited_by, status, expires_at, accepted_at, created_at";

#[derive(Deserialize)]
pub struct CreateInvitation {
    email: String,
    role: String,
    department_id: Option<Uuid>,
}

/// `POST /v1/invitations` (admin): mails a link valid for 72 hours; a pending invitation to the
/// same address is replaced.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateInvitation>,
) -> ApiResult<(StatusCode, Json<Invitation>)> {
    principal.require_role(Role::Admin)?;
    super::require_write(&principal)?;
    let mut v = Validator::default();
    let email = v.check(Email::parse("email", &body.email));
    let role = v.check(match body.role.parse::<Role>() {
        Ok(Role::Owner) => Err(platform::FieldError::new("role", "owners are made by promoting a member")),
        Ok(r) => Ok(r),
        Err(e) => Err(platform::FieldError::new("role", e)),
    });
    v.finish()?;
    let (Some(email), Some(role)) = (email, role) else {
        return Err(Problem::internal().into());
    };
    let mut tx = state.pool.begin().await?;
    let already: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND lower(u.email) = $2)",
    )
    .bind(principal.org_id)
    .bind(email.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if already {
        return Err(Problem::conflict("this person is already a member").into());
    }
    if let Some(dept) = body.department_id {
        let ok: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM departments WHERE id = $1 AND organization_id = $2)")
                .bind(dept)
                .bind(principal.org_id)
                .fetch_one(&mut *tx)
                .await?;
        if !ok {
            return Err(invalid("department_id", "no such department").into());
        }
    }
    sqlx::query(
        "UPDATE invitations SET status = 'cancelled' WHERE organization_id = $1 AND email = $2 AND status = 'pending'",
    )
    .bind(principal.org_id)
    .bind(email.as_str())
    .execute(&mut *tx)
    .await?;
    let token = tokens::new_token("");
    let expires = Utc::now() + chrono::Duration::from_std(state.config.invitation_ttl).map_err(anyhow::Error::new)?;
    let invitation: Invitation = sqlx::query_as(&format!(
        "INSERT INTO invitations (id, organization_id, email, role, department_id, token_hash, invited_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(principal.org_id)
    .bind(email.as_str())
    .bind(role.as_str())
    .bind(body.department_id)
    .bind(tokens::hash(&token))
    .bind(principal.user_id)
    .bind(expires)
    .fetch_one(&mut *tx)
    .await?;
    events::emit(
        &mut tx,
        ev::INVITATION_CREATED,
        Some(principal.org_id),
        invitation.id,
        ev::InvitationCreated {
            invitation_id: invitation.id,
            organization_id: principal.org_id,
            email: invitation.email.clone(),
            role: invitation.role.clone(),
            invited_by: principal.user_id,
            expires_at: invitation.expires_at,
        },
    )
    .await?;
    let mut variables = serde_json::Map::new();
    variables.insert("organization".into(), principal.org_slug.clone().into());
    variables.insert("role".into(), role.as_str().into());
    events::send_mail(
        &mut tx,
        Some(principal.org_id),
        MailSend {
            to: invitation.email.clone(),
            template: "invitation".to_owned(),
            subject: format!("You are invited to join {} on Switchboard", principal.org_slug),
            link: Some(format!("{}/accept-invitation?token={token}", state.config.app_base_url)),
            variables,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    status: Option<String>,
}

/// `GET /v1/invitations?status=` (admin), newest first.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Invitation>>> {
    principal.require_role(Role::Admin)?;
    super::require_read(&principal)?;
    let (limit, cursor) = q.page.parse()?;
    if let Some(s) = &q.status {
        if !["pending", "accepted", "cancelled"].contains(&s.as_str()) {
            return Err(invalid("status", "pending, accepted or cancelled").into());
        }
    }
    let rows: Vec<Invitation> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE organization_id = $1 AND ($2::text IS NULL OR status = $2) \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(principal.org_id)
    .bind(q.status)
    .bind(cursor.map(|c| c.time))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |i| Cursor { time: i.created_at, id: i.id })))
}

/// `DELETE /v1/invitations/{id}` (admin): cancels a pending invitation.
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    principal.require_role(Role::Admin)?;
    super::require_write(&principal)?;
    let done = sqlx::query(
        "UPDATE invitations SET status = 'cancelled' WHERE id = $1 AND organization_id = $2 AND status = 'pending'",
    )
    .bind(id)
    .bind(principal.org_id)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("pending invitation").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AcceptRequest {
    token: String,
    /// For a new account.
    name: Option<String>,
    /// A new account's password, or the existing account's to link it.
    password: String,
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: Uuid,
    organization_id: Uuid,
    email: String,
    role: String,
}

/// `POST /v1/invitations/accept {token, password, name?}`: no credentials needed; answers like
/// a sign-in to the inviting organization.
pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<AcceptRequest>,
) -> ApiResult<NoStore<Json<AuthResponse>>> {
    let mut tx = state.pool.begin().await?;
    let pending: Option<Pending> = sqlx::query_as(
        "SELECT id, organization_id, email, role FROM invitations \
         WHERE token_hash = $1 AND status = 'pending' AND expires_at > now() FOR UPDATE",
    )
    .bind(tokens::hash(&body.token))
    .fetch_optional(&mut *tx)
    .await?;
    let inv = pending.ok_or_else(|| Problem::bad_request("the token is invalid or has expired"))?;
    let role: Role = inv.role.parse().map_err(anyhow::Error::msg)?;
    let existing = store::credentials_by_email(&mut tx, &inv.email).await?;
    let user_id = match existing {
        Some((id, hash, _)) => {
            if !state.passwords.verify(Some(&hash), &body.password).await? {
                return Err(Problem::unauthorized().detail("the password of the existing account is required").into());
            }
            id
        }
        None => {
            let mut v = Validator::default();
            let name = v.check(parse_name("name", body.name.as_deref().unwrap_or("")));
            v.check(check_password("password", &body.password));
            v.check(Email::parse("email", &inv.email));
            v.finish()?;
            let hash = state.passwords.hash(&body.password).await?;
            // The link reached this mailbox, so the address is verified.
            let user = store::insert_user(&mut tx, &inv.email, &name.unwrap_or_default(), &hash, true).await?;
            events::user_created(&mut tx, &user).await?;
            user.id
        }
    };
    let added = store::insert_membership(&mut tx, inv.organization_id, user_id, role).await?;
    sqlx::query("UPDATE invitations SET status = 'accepted', accepted_at = now() WHERE id = $1")
        .bind(inv.id)
        .execute(&mut *tx)
        .await?;
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
