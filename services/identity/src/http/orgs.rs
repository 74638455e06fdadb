//! Organizations: the caller's, and creating more.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Revocation, Role};
use platform::extract::Json;
use platform::{ApiResult, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{create_org, emit_org_created};
use crate::domain::{check_description, check_url, not_null, parse_name, Slug, Validator};
use crate::store::orgs::{self as store_orgs, OrgFields, OrgWithRole};
use crate::store::{self, Organization};
use crate::{events, sessions, AppState};

#[derive(Serialize, ToSchema)]
pub struct OrgList {
    data: Vec<OrgWithRole>,
}

/// The organizations the caller belongs to (an API key: its own).
#[utoipa::path(get, path = "/v1/orgs", operation_id = "list_orgs", tag = "identity", responses((status = 200, description = "Organizations", body = OrgList)))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<OrgList>> {
    let mut conn = state.pool.acquire().await?;
    let data = match principal.user_id {
        Some(user) => store_orgs::of_user(&mut conn, user).await?,
        None => {
            let org = store::organization(&mut conn, principal.org_id).await?.ok_or_else(Problem::unauthorized)?;
            vec![OrgWithRole { organization: org, role: principal.role.as_str().to_owned() }]
        }
    };
    Ok(Json(OrgList { data }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateOrg {
    #[schema(schema_with = super::schema::name)]
    name: String,
    /// Derived from the name when absent.
    #[schema(schema_with = super::schema::nullable_slug)]
    slug: Option<String>,
}

/// Creates another organization, owned by the caller (signed in).
#[utoipa::path(post, path = "/v1/orgs", operation_id = "create_org", tag = "identity", request_body = CreateOrg,
    responses(
        (status = 201, description = "The organization", body = OrgWithRole),
        (status = 409, description = "The slug is taken", body = platform::Problem, content_type = "application/problem+json"),
    ))]
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

/// The caller's current organization.
#[utoipa::path(get, path = "/v1/orgs/current", operation_id = "current_org", tag = "identity",
    responses((status = 200, description = "The organization", body = Organization)))]
pub async fn current(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Organization>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::organization(&mut conn, principal.org_id).await?.ok_or_else(Problem::unauthorized)?))
}

/// Every field optional; `description`, `logo_url` and `website_url` are cleared with null;
/// `settings` is merged into the current settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::name)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<String>, nullable, max_length = 2000)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::nullable_url)]
    logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::nullable_url)]
    website_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Object)]
    settings: Option<Option<serde_json::Map<String, serde_json::Value>>>,
}

/// Updates the current organization (admin).
#[utoipa::path(patch, path = "/v1/orgs/current", operation_id = "update_org", tag = "identity", request_body = UpdateOrg,
    responses((status = 200, description = "The organization", body = Organization)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<UpdateOrg>,
) -> ApiResult<Json<Organization>> {
    principal.require_role(Role::Admin)?;
    super::require_write(&principal)?;
    let mut v = Validator::default();
    let name = v.check(not_null("name", body.name)).flatten().and_then(|n| v.check(parse_name("name", &n)));
    let settings = v.check(not_null("settings", body.settings)).flatten();
    if let Some(Some(d)) = &body.description {
        v.check(check_description("description", d));
    }
    for (field, value) in [("logo_url", &body.logo_url), ("website_url", &body.website_url)] {
        if let Some(Some(url)) = value {
            v.check(check_url(field, url));
        }
    }
    v.finish()?;
    let mut tx = state.pool.begin().await?;
    let before = store_orgs::lock(&mut tx, principal.org_id).await?.ok_or_else(Problem::unauthorized)?;
    let pick = |new: &Option<Option<String>>, old: &Option<String>| match new {
        Some(v) => v.clone(),
        None => old.clone(),
    };
    let description = pick(&body.description, &before.description);
    let logo_url = pick(&body.logo_url, &before.logo_url);
    let website_url = pick(&body.website_url, &before.website_url);
    let mut merged = before.settings.as_object().cloned().unwrap_or_default();
    merged.extend(settings.unwrap_or_default());
    let merged = serde_json::Value::Object(merged);
    let after = OrgFields {
        name: name.as_deref().unwrap_or(&before.name),
        description: description.as_deref(),
        logo_url: logo_url.as_deref(),
        website_url: website_url.as_deref(),
        settings: &merged,
    };
    let changed: Vec<String> = [
        ("name", after.name != before.name),
        ("description", after.description != before.description.as_deref()),
        ("logo_url", after.logo_url != before.logo_url.as_deref()),
        ("website_url", after.website_url != before.website_url.as_deref()),
        ("settings", *after.settings != before.settings),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(field, _)| field.to_owned())
    .collect();
    if changed.is_empty() {
        return Ok(Json(before));
    }
    let org = store_orgs::update(&mut tx, principal.org_id, after).await?;
    let data = ev::OrgUpdated {
        organization_id: org.id,
        name: org.name.clone(),
        slug: org.slug.clone(),
        description: org.description.clone(),
        logo_url: org.logo_url.clone(),
        website_url: org.website_url.clone(),
        changed,
        actor_id: principal.user_id,
    };
    events::emit(&mut tx, ev::ORG_UPDATED, Some(org.id), org.id, data).await?;
    tx.commit().await?;
    sessions::announce(&state, Revocation { changed_orgs: vec![org.id], ..Default::default() }).await;
    Ok(Json(org))
}
