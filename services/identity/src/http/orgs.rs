//! Organizations: the caller's, and creating more.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Revocation, Role};
use platform::extract::Json;
use platform::{ApiResult, Problem};
use serde::{Deserialize, Serialize};

use super::auth::{create_org, emit_org_created, invalid};
use crate::domain::{parse_name, Slug, Validator};
use crate::store::{self, Organization, ORG_COLUMNS};
use crate::{events, sessions, AppState};

#[derive(Serialize, sqlx::FromRow)]
pub struct OrgWithRole {
    #[sqlx(flatten)]
    #[serde(flatten)]
    organization: Organization,
    role: String,
}

#[derive(Serialize)]
pub struct OrgList {
    data: Vec<OrgWithRole>,
}

/// `GET /v1/orgs`: the organizations the caller belongs to.
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<OrgList>> {
    let data = match principal.user_id {
        Some(user) => {
            let cols = ORG_COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ");
            sqlx::query_as(&format!(
                "SELECT {cols}, m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id \
                 WHERE m.user_id = $1 ORDER BY m.created_at"
            ))
            .bind(user)
            .fetch_all(&state.pool)
            .await?
        }
        None => {
            let mut conn = state.pool.acquire().await?;
            let org = store::organization(&mut conn, principal.org_id).await?.ok_or_else(Problem::unauthorized)?;
            vec![OrgWithRole { organization: org, role: principal.role.as_str().to_owned() }]
        }
    };
    Ok(Json(OrgList { data }))
}

#[derive(Deserialize)]
pub struct CreateOrg {
    name: String,
    slug: Option<String>,
}

/// `POST /v1/orgs`: another organization, owned by the caller.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateOrg>,
) -> ApiResult<(StatusCode, Json<OrgWithRole>)> {
    let user = principal.require_user()?;
    let mut v = Validator::default();
    let name = v.check(parse_name("name", &body.name));
    let slug = body.slug.as_deref().map(|s| v.check(Slug::parse("slug", s)));
    v.finish()?;
    let name = name.ok_or_else(Problem::internal)?;
    let mut tx = state.pool.begin().await?;
    let org = create_org(&mut tx, &name, slug.flatten().as_ref()).await?;
    store::insert_membership(&mut tx, org.id, user, Role::Owner).await?;
    emit_org_created(&mut tx, &org, Some(user)).await?;
    events::member_added(&mut tx, org.id, user, Role::Owner).await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { changed_users: vec![user], ..Default::default() }).await;
    Ok((StatusCode::CREATED, Json(OrgWithRole { organization: org, role: Role::Owner.as_str().to_owned() })))
}

/// `GET /v1/orgs/current`.
pub async fn current(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Organization>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::organization(&mut conn, principal.org_id).await?.ok_or_else(Problem::unauthorized)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    name: Option<String>,
    description: Option<String>,
    logo_url: Option<String>,
    website_url: Option<String>,
    settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PATCH /v1/orgs/current` (admin): name, description, links, settings (merged).
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<UpdateOrg>,
) -> ApiResult<Json<Organization>> {
    principal.require_role(Role::Admin)?;
    super::require_write(&principal)?;
    let mut v = Validator::default();
    let name = body.name.as_deref().map(|n| v.check(parse_name("name", n)));
    for (field, value) in [("logo_url", &body.logo_url), ("website_url", &body.website_url)] {
        if let Some(url) = value {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 500 {
                v.check::<()>(Err(platform::FieldError::new(
                    field,
                    "must be an http(s) URL of at most 500 characters",
                )));
            }
        }
    }
    v.finish()?;
    if body.description.as_ref().is_some_and(|d| d.len() > 2000) {
        return Err(invalid("description", "must be at most 2000 characters").into());
    }
    let org: Organization = sqlx::query_as(&format!(
        "UPDATE organizations SET name = COALESCE($2, name), description = COALESCE($3, description), \
         logo_url = COALESCE($4, logo_url), website_url = COALESCE($5, website_url), \
         settings = settings || COALESCE($6, '{{}}'::jsonb) WHERE id = $1 RETURNING {ORG_COLUMNS}"
    ))
    .bind(principal.org_id)
    .bind(name.flatten())
    .bind(body.description)
    .bind(body.logo_url)
    .bind(body.website_url)
    .bind(body.settings.map(serde_json::Value::Object))
    .fetch_one(&state.pool)
    .await?;
    sessions::announce(&state, Revocation { changed_orgs: vec![org.id], ..Default::default() }).await;
    Ok(Json(org))
}
