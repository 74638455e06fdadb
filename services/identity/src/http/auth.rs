//! Sign-up, sign-in, refresh, sign-out, password reset and email verification.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use platform::auth::{Revocation, Role, Unrestricted};
use platform::extract::{Json, NoStore};
use platform::{ApiResult, FieldError, Problem};
use proto::events::{self as ev, MailSend};
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{client_info, AuthResponse};
use crate::domain::{check_password, parse_name, Email, Slug, Validator};
use crate::sessions::{self, Refreshed};
use crate::store::{self, throttle, OneTimeTable};
use crate::{events, tokens, AppState};

#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(min_length = 10, max_length = 256)]
    password: String,
    #[schema(schema_with = super::schema::name)]
    name: String,
    #[schema(schema_with = super::schema::name)]
    organization_name: String,
    /// Derived from the organization's name when absent.
    #[schema(schema_with = super::schema::nullable_slug)]
    organization_slug: Option<String>,
}

/// A user, their organization (as owner) and a session.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", security(()), request_body = SignupRequest,
    responses(
        (status = 201, description = "Signed up and signed in", body = AuthResponse),
        (status = 409, description = "The email or the chosen slug is taken", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignupRequest>,
) -> ApiResult<(StatusCode, NoStore<Json<AuthResponse>>)> {
    let mut v = Validator::default();
    let email = v.check(Email::parse("email", &body.email));
    v.check(check_password("password", &body.password));
    let name = v.check(parse_name("name", &body.name));
    let org_name = v.check(parse_name("organization_name", &body.organization_name));
    let chosen_slug = body.organization_slug.as_deref().map(|s| v.check(Slug::parse("organization_slug", s)));
    v.finish()?;
    let (Some(email), Some(name), Some(org_name)) = (email, name, org_name) else {
        return Err(Problem::internal().into());
    };
    let chosen_slug = chosen_slug.flatten();
    let hash = state.passwords.hash(&body.password).await?;

    let mut tx = state.pool.begin().await?;
    let org = create_org(&mut tx, &org_name, chosen_slug.as_ref()).await?;
    let user = match store::insert_user(&mut tx, email.as_str(), &name, &hash, false).await {
        Err(e) if platform::db::is_constraint(&e, "users_email_key") => {
            return Err(Problem::conflict("an account with this email already exists").into())
        }
        other => other?,
    };
    store::insert_membership(&mut tx, org.id, user.id, Role::Owner).await?;
    events::user_created(&mut tx, &user).await?;
    emit_org_created(&mut tx, &org, Some(user.id)).await?;
    events::member_added(&mut tx, org.id, user.id, Role::Owner).await?;
    send_verification(&mut tx, &state, user.id, &user.email, Some(org.id)).await?;
    let issued = sessions::create(&mut tx, &state.config, user.id, org.id, &client_info(&headers)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, NoStore(Json(AuthResponse::new(issued, user, org, Role::Owner.as_str())))))
}

/// Inserts an organization; an explicit slug that is taken is a 409, a derived one gets a suffix.
pub(crate) async fn create_org(
    conn: &mut PgConnection,
    name: &str,
    chosen: Option<&Slug>,
) -> ApiResult<store::Organization> {
    if let Some(slug) = chosen {
        return match store::insert_organization(conn, name, slug.as_str()).await {
            Err(e) if platform::db::is_constraint(&e, "organizations_slug_key") => {
                Err(Problem::conflict("this organization slug is taken").into())
            }
            other => Ok(other?),
        };
    }
    let base = Slug::from_name(name);
    let taken = store::slug_taken(conn, base.as_str()).await?;
    let slug = if taken {
        format!("{}-{}", base.as_str(), &Uuid::new_v4().simple().to_string()[..6])
    } else {
        base.as_str().to_owned()
    };
    match store::insert_organization(conn, name, &slug).await {
        Err(e) if platform::db::is_constraint(&e, "organizations_slug_key") => {
            Err(Problem::conflict("this organization slug is taken, try again").into())
        }
        other => Ok(other?),
    }
}

pub(crate) async fn emit_org_created(
    conn: &mut PgConnection,
    org: &store::Organization,
    by: Option<Uuid>,
) -> anyhow::Result<()> {
    events::emit(
        conn,
        ev::ORG_CREATED,
        Some(org.id),
        org.id,
        ev::OrgCreated {
            organization_id: org.id,
            name: org.name.clone(),
            slug: org.slug.clone(),
            plan: org.plan.clone(),
            created_by: by,
        },
    )
    .await
}

async fn send_verification(
    conn: &mut PgConnection,
    state: &AppState,
    user: Uuid,
    email: &str,
    org: Option<Uuid>,
) -> anyhow::Result<()> {
    let token = tokens::new_token("");
    let expires = Utc::now() + chrono::Duration::from_std(state.config.verification_ttl)?;
    store::insert_one_time_token(conn, OneTimeTable::EmailVerification, user, &tokens::hash(&token), expires).await?;
    events::send_mail(
        conn,
        org,
        MailSend {
            to: email.to_owned(),
            template: "email_verification".to_owned(),
            subject: "Confirm your email address".to_owned(),
            link: Some(format!("{}/verify-email?token={token}", state.config.app_base_url)),
            link_expires_at: Some(expires),
            variables: Default::default(),
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(max_length = 254)]
    email: String,
    password: String,
    /// Slug or id of the organization to sign in to; the first joined when absent.
    organization: Option<String>,
}

/// Unknown user and wrong password answer the same 401 in the same time.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AuthResponse),
        (status = 401, description = "Invalid email or password", body = platform::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account belongs to no organization", body = platform::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The account is not a member of the organization asked for", body = platform::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this email; see Retry-After", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> ApiResult<NoStore<Json<AuthResponse>>> {
    // Bounded, so the throttle table holds nothing longer than an address can be.
    if body.email.chars().count() > 254 {
        return Err(invalid("email", "must be at most 254 characters").into());
    }
    let email = body.email.trim().to_lowercase();
    let c = &state.config;
    // The attempt is counted before the password is checked, so a burst of parallel guesses is
    // refused once it passes the threshold instead of all being verified.
    let attempt = throttle::reserve(&state.pool, &email, c.lockout_window, c.lockout_threshold).await?;
    if let Some(retry) = attempt {
        return Err(Problem::too_many_requests(retry).detail("too many failed sign-ins; try again later").into());
    }
    let mut conn = state.pool.acquire().await?;
    let found = store::credentials_by_email(&mut conn, &email).await?;
    drop(conn);
    let verified = state.passwords.verify(found.as_ref().map(|f| f.1.as_str()), &body.password).await?;
    let user_id = match found {
        Some((id, _, active)) if verified && active => id,
        _ => {
            throttle::failure(&state.pool, &email, c.lockout_threshold, c.lockout_duration).await?;
            return Err(Problem::unauthorized().detail("invalid email or password").into());
        }
    };
    let mut tx = state.pool.begin().await?;
    throttle::success(&mut tx, &email).await?;
    let membership = store::sign_in_membership(&mut tx, user_id, body.organization.as_deref().map(str::trim)).await?;
    let Some((org_id, role)) = membership else {
        return Err(match body.organization {
            Some(_) => Problem::not_found("organization"),
            None => Problem::forbidden("this account belongs to no organization"),
        }
        .into());
    };
    let issued = sessions::create(&mut tx, &state.config, user_id, org_id, &client_info(&headers)).await?;
    let user = store::user(&mut tx, user_id).await?.ok_or_else(Problem::unauthorized)?;
    let org = store::organization(&mut tx, org_id).await?.ok_or_else(Problem::unauthorized)?;
    tx.commit().await?;
    Ok(NoStore(Json(AuthResponse::new(issued, user, org, &role))))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// Rotates the refresh token; reusing a rotated one revokes the session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", security(()), request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = AuthResponse),
        (status = 401, description = "The refresh token is invalid, expired or was reused", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<NoStore<Json<AuthResponse>>> {
    let mut tx = state.pool.begin().await?;
    let outcome = sessions::refresh(&mut tx, &state.config, &body.refresh_token).await?;
    match outcome {
        Refreshed::Invalid => Err(Problem::unauthorized().into()),
        Refreshed::Reused { session } => {
            tx.commit().await?;
            tracing::warn!(%session, "refresh token reused; session revoked");
            sessions::announce(&state, Revocation { credential_ids: vec![session], ..Default::default() }).await;
            Err(Problem::unauthorized().into())
        }
        Refreshed::Issued { issued, user, org, old_access_hash } => {
            let role = store::role(&mut tx, org, user).await?.ok_or_else(Problem::unauthorized)?;
            let user = store::user(&mut tx, user).await?.ok_or_else(Problem::unauthorized)?;
            let org = store::organization(&mut tx, org).await?.ok_or_else(Problem::unauthorized)?;
            tx.commit().await?;
            sessions::announce(
                &state,
                Revocation { credential_hashes: vec![hex::encode(old_access_hash)], ..Default::default() },
            )
            .await;
            Ok(NoStore(Json(AuthResponse::new(issued, user, org, role.as_str()))))
        }
    }
}

/// Ends the calling session (API keys are revoked with `DELETE /v1/api-keys/{id}`: 403).
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses((status = 204, description = "Signed out")))]
pub async fn logout(State(state): State<AppState>, Unrestricted(principal): Unrestricted) -> ApiResult<StatusCode> {
    if principal.kind != platform::auth::CredentialKind::Session {
        return Err(Problem::forbidden("API keys are revoked with DELETE /v1/api-keys/{id}").into());
    }
    let mut conn = state.pool.acquire().await?;
    sessions::revoke(&mut conn, principal.credential_id).await?;
    sessions::announce(&state, Revocation { credential_ids: vec![principal.credential_id], ..Default::default() })
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(format = Email, max_length = 254)]
    email: String,
}

/// Mails a reset link. Always 202, at once; the work happens after answering, so the response
/// time says nothing about whether the account exists.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", security(()), request_body = ResetRequest,
    responses((status = 202, description = "A link is mailed if the account exists")))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    Json(body): Json<ResetRequest>,
) -> ApiResult<StatusCode> {
    let email = Email::parse("email", &body.email).map_err(|e| Problem::validation(vec![e]))?;
    tokio::spawn(async move {
        if let Err(err) = start_reset(&state, email.as_str()).await {
            tracing::error!(error = ?err, "password reset request failed");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

async fn start_reset(state: &AppState, email: &str) -> anyhow::Result<()> {
    let mut tx = state.pool.begin().await?;
    let Some((user, _, true)) = store::credentials_by_email(&mut tx, email).await? else {
        return Ok(());
    };
    let token = tokens::new_token("");
    let expires = Utc::now() + chrono::Duration::from_std(state.config.reset_ttl)?;
    store::insert_one_time_token(&mut tx, OneTimeTable::PasswordReset, user, &tokens::hash(&token), expires).await?;
    events::send_mail(
        &mut tx,
        None,
        MailSend {
            to: email.to_owned(),
            template: "password_reset".to_owned(),
            subject: "Reset your password".to_owned(),
            link: Some(format!("{}/reset-password?token={token}", state.config.app_base_url)),
            link_expires_at: Some(expires),
            variables: Default::default(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmResetRequest {
    token: String,
    #[schema(min_length = 10, max_length = 256)]
    password: String,
}

fn invalid_token() -> Problem {
    Problem::bad_request("the token is invalid or has expired")
}

/// Sets the password with the mailed token, ends every session, lifts a lockout.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", security(()), request_body = ConfirmResetRequest,
    responses(
        (status = 204, description = "Password set"),
        (status = 400, description = "The token is invalid or has expired", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    Json(body): Json<ConfirmResetRequest>,
) -> ApiResult<StatusCode> {
    check_password("password", &body.password).map_err(|e| Problem::validation(vec![e]))?;
    let hash = state.passwords.hash(&body.password).await?;
    let mut tx = state.pool.begin().await?;
    let user = store::consume_one_time_token(&mut tx, OneTimeTable::PasswordReset, &tokens::hash(&body.token))
        .await?
        .ok_or_else(invalid_token)?;
    store::set_password(&mut tx, user, &hash).await?;
    sessions::revoke_all(&mut tx, user, None).await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { user_ids: vec![user], ..Default::default() }).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    token: String,
}

/// Verifies the email address with the mailed token.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", security(()), request_body = VerifyRequest,
    responses(
        (status = 204, description = "Verified"),
        (status = 400, description = "The token is invalid or has expired", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify_email(State(state): State<AppState>, Json(body): Json<VerifyRequest>) -> ApiResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let user = store::consume_one_time_token(&mut tx, OneTimeTable::EmailVerification, &tokens::hash(&body.token))
        .await?
        .ok_or_else(invalid_token)?;
    if let Some((user_id, email)) = store::mark_email_verified(&mut tx, user).await? {
        events::emit(&mut tx, ev::USER_EMAIL_VERIFIED, None, user_id, ev::UserEmailVerified { user_id, email }).await?;
    }
    tx.commit().await?;
    sessions::announce(&state, Revocation { changed_users: vec![user], ..Default::default() }).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails the caller a new verification link.
#[utoipa::path(post, path = "/v1/auth/verify-email/resend", tag = "auth",
    responses(
        (status = 202, description = "A new link is mailed"),
        (status = 409, description = "The address is already verified", body = platform::Problem, content_type = "application/problem+json"),
    ))]
pub async fn resend_verification(
    State(state): State<AppState>,
    Unrestricted(principal): Unrestricted,
) -> ApiResult<StatusCode> {
    let user_id = principal.require_user()?;
    let mut tx = state.pool.begin().await?;
    let user = store::user(&mut tx, user_id).await?.ok_or_else(Problem::unauthorized)?;
    if user.email_verified {
        return Err(Problem::conflict("the email address is already verified").into());
    }
    send_verification(&mut tx, &state, user.id, &user.email, Some(principal.org_id)).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

/// 422 for a field, as a one-liner.
pub(crate) fn invalid(field: &str, message: &str) -> Problem {
    Problem::validation(vec![FieldError::new(field, message)])
}
