//! Sign-up, sign-in, refresh, sign-out, password reset and email verification.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use platform::auth::{Principal, Revocation, Role};
use platform::extract::{Json, NoStore};
use platform::{ApiResult, FieldError, Problem};
use proto::events::{self as ev, MailSend};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{client_info, AuthResponse};
use crate::domain::{check_password, parse_name, Email, Slug, Validator};
use crate::sessions::{self, Refreshed};
use crate::store::{self, OneTimeTable};
use crate::{events, tokens, AppState};

#[derive(Deserialize)]
pub struct SignupRequest {
    email: String,
    password: String,
    name: String,
    organization_name: String,
    organization_slug: Option<String>,
}

/// `POST /v1/auth/signup`: a user, their organization (as owner) and a session.
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
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations WHERE slug = $1)")
        .bind(base.as_str())
        .fetch_one(&mut *conn)
        .await?;
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
            variables: Default::default(),
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// Slug or id of the organization to sign in to; the first joined when absent.
    organization: Option<String>,
}

/// `POST /v1/auth/login`. Unknown user and wrong password answer the same 401 in the same time.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> ApiResult<NoStore<Json<AuthResponse>>> {
    let email = body.email.trim().to_lowercase();
    // The attempt is counted before the password is checked, so a burst of parallel guesses is
    // refused once it passes the threshold instead of all being verified.
    let attempt = reserve_attempt(&state, &email).await?;
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
            record_failure(&state, &email).await?;
            return Err(Problem::unauthorized().detail("invalid email or password").into());
        }
    };
    let mut tx = state.pool.begin().await?;
    record_success(&mut tx, &email).await?;
    let membership: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT m.organization_id, m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1 AND ($2::text IS NULL OR o.slug = $2 OR o.id::text = $2) \
         ORDER BY m.created_at LIMIT 1",
    )
    .bind(user_id)
    .bind(body.organization.as_deref().map(str::trim))
    .fetch_optional(&mut *tx)
    .await?;
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

/// Reserves a sign-in attempt for `email` before its password is checked: `Some(seconds)` when
/// it must be refused — the email is locked out, or the failures so far plus the attempts in
/// flight already reach the threshold (then briefly, until those are decided). A burst of
/// parallel guesses is thereby cut at the threshold; concurrent successful sign-ins never lock.
/// One conditional `UPDATE` decides, under the row's lock, from the row's own values.
async fn reserve_attempt(state: &AppState, email: &str) -> sqlx::Result<Option<u64>> {
    let c = &state.config;
    sqlx::query("INSERT INTO login_throttle (email) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(email)
        .execute(&state.pool)
        .await?;
    // A lock that ran out, or a window that ended, starts a new count; reservations of requests
    // that died without deciding (over a minute old) are dropped.
    let reserved = sqlx::query(
        "UPDATE login_throttle t SET \
           failures = CASE WHEN t.locked_until IS NOT NULL OR t.window_started_at < now() - make_interval(secs => $2) \
                           THEN 0 ELSE t.failures END, \
           window_started_at = CASE WHEN t.locked_until IS NOT NULL OR t.window_started_at < now() - make_interval(secs => $2) \
                           THEN now() ELSE t.window_started_at END, \
           locked_until = NULL, \
           pending = CASE WHEN t.pending_since IS NULL OR t.pending_since < now() - interval '1 minute' THEN 0 ELSE t.pending END + 1, \
           pending_since = now() \
         WHERE t.email = $1 AND (t.locked_until IS NULL OR t.locked_until <= now()) \
           AND CASE WHEN t.locked_until IS NOT NULL OR t.window_started_at < now() - make_interval(secs => $2) \
                    THEN 0 ELSE t.failures END \
             + CASE WHEN t.pending_since IS NULL OR t.pending_since < now() - interval '1 minute' THEN 0 ELSE t.pending END < $3",
    )
    .bind(email)
    .bind(c.lockout_window.as_secs_f64())
    .bind(c.lockout_threshold)
    .execute(&state.pool)
    .await?
    .rows_affected()
        == 1;
    if reserved {
        return Ok(None);
    }
    let locked_for: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (locked_until - now()))::float8 FROM login_throttle WHERE email = $1 AND locked_until > now()",
    )
    .bind(email)
    .fetch_optional(&state.pool)
    .await?;
    Ok(Some(locked_for.map_or(1, |s| s.ceil().max(1.0) as u64)))
}

/// Decides a reserved attempt: a failure counts, and the threshold-th locks the email.
async fn record_failure(state: &AppState, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE login_throttle SET pending = GREATEST(pending - 1, 0), \
           failures = CASE WHEN failures + 1 >= $2 THEN 0 ELSE failures + 1 END, \
           locked_until = CASE WHEN failures + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE locked_until END, \
           window_started_at = CASE WHEN failures + 1 >= $2 THEN now() ELSE window_started_at END \
         WHERE email = $1",
    )
    .bind(email)
    .bind(state.config.lockout_threshold)
    .bind(state.config.lockout_duration.as_secs_f64())
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// Decides a reserved attempt as a success: failures are forgiven.
async fn record_success(conn: &mut PgConnection, email: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE login_throttle SET pending = GREATEST(pending - 1, 0), failures = 0 WHERE email = $1")
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// `POST /v1/auth/refresh`: rotates the refresh token; a reused one revokes the session.
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

/// `POST /v1/auth/logout`: ends the calling session.
pub async fn logout(State(state): State<AppState>, principal: Principal) -> ApiResult<StatusCode> {
    if principal.kind != platform::auth::CredentialKind::Session {
        return Err(Problem::forbidden("API keys are revoked with DELETE /v1/api-keys/{id}").into());
    }
    let mut conn = state.pool.acquire().await?;
    sessions::revoke(&mut conn, principal.credential_id).await?;
    sessions::announce(&state, Revocation { credential_ids: vec![principal.credential_id], ..Default::default() })
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ResetRequest {
    email: String,
}

/// `POST /v1/auth/password-reset`: always 202, at once; the work happens after answering, so
/// the response time says nothing about whether the account exists.
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
            variables: Default::default(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct ConfirmResetRequest {
    token: String,
    password: String,
}

fn invalid_token() -> Problem {
    Problem::bad_request("the token is invalid or has expired")
}

/// `POST /v1/auth/password-reset/confirm`: sets the password, ends every session, lifts a lockout.
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
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1").bind(user).bind(&hash).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM login_throttle WHERE email = (SELECT lower(email) FROM users WHERE id = $1)")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let revoked = sessions::revoke_all(&mut tx, user, None).await?;
    sqlx::query("UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, now()) WHERE session_id = ANY($1)")
        .bind(&revoked)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { user_ids: vec![user], ..Default::default() }).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct VerifyRequest {
    token: String,
}

/// `POST /v1/auth/verify-email`.
pub async fn verify_email(State(state): State<AppState>, Json(body): Json<VerifyRequest>) -> ApiResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let user = store::consume_one_time_token(&mut tx, OneTimeTable::EmailVerification, &tokens::hash(&body.token))
        .await?
        .ok_or_else(invalid_token)?;
    sqlx::query("UPDATE users SET email_verified = true WHERE id = $1").bind(user).execute(&mut *tx).await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { changed_users: vec![user], ..Default::default() }).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/auth/verify-email/resend`: a new verification mail to the caller.
pub async fn resend_verification(State(state): State<AppState>, principal: Principal) -> ApiResult<StatusCode> {
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
