//! Checks of a request against identity, billing and the organization's records, made before
//! the transaction that relies on them (no network wait inside a transaction).

use platform::auth::Role;
use platform::{ApiResult, FieldError, Problem};
use uuid::Uuid;

use crate::directory::LookupError;
use crate::store::tickets as store;
use crate::AppState;

/// 422 unless identity says `user` is a member of `org` with at least `min`.
pub async fn check_member(state: &AppState, org: Uuid, user: Uuid, min: Role, field: &str) -> ApiResult<()> {
    Ok(state.directory.require_member(org, user, min, field).await?)
}

/// 422 unless identity knows team `team` in `org`.
pub async fn check_team(state: &AppState, org: Uuid, team: Uuid) -> ApiResult<()> {
    match state.directory.team(org, team).await {
        Ok(t) => {
            // A team older than the event stream: routing learns its members from this answer.
            let mut conn = state.pool.acquire().await?;
            crate::store::teams::seed(&mut conn, org, team, &t.members).await?;
            Ok(())
        }
        Err(LookupError::NotFound) => Err(Problem::validation(vec![FieldError::new("team_id", "no such team")]).into()),
        Err(LookupError::Unavailable(why)) => {
            tracing::warn!(%org, %why, "cannot check a team");
            Err(Problem::unavailable("could not check the team, try again shortly").retry_after(1).into())
        }
    }
}

/// 422 unless the customer profile and project named are the organization's.
pub async fn check_refs(state: &AppState, org: Uuid, customer: Option<Uuid>, project: Option<Uuid>) -> ApiResult<()> {
    let mut conn = state.pool.acquire().await?;
    let mut errors = Vec::new();
    if let Some(c) = customer {
        if !store::customer_exists(&mut conn, org, c).await? {
            errors.push(FieldError::new("customer_id", "no such customer profile"));
        }
    }
    if let Some(p) = project {
        if !store::project_exists(&mut conn, org, p).await? {
            errors.push(FieldError::new("project_id", "no such project"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors).into())
    }
}

/// 402 when the plan's ticket quota is used up (billing not answering allows it).
pub async fn check_quota(state: &AppState, org: Uuid, metric: &str, what: &str) -> ApiResult<()> {
    Ok(state.quota.require(org, metric, what).await?)
}
