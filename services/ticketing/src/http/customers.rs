//! Customer profiles (agents and above; a customer reads their own at `/v1/customers/me`), and a
//! customer's tickets. A profile is linked to an identity user (checked with identity), to an
//! inbox contact, or known by email; each of the three is unique in the organization (409).

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::people::{self, check};
use super::{can_read, can_write};
use crate::domain::customer::{self as rules, BillingCycle, Changes, ContactPlatform, Profile, Standing, Tier};
use crate::domain::ticket::Ticket;
use crate::domain::viewer::Viewer;
use crate::store::customers::{self as store, Customer, Filter};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(me))
        .routes(routes!(get, update, delete))
        .routes(routes!(tickets))
}

/// A new profile: at least one of `user_id`, the contact (`contact_platform` with
/// `contact_external_id`) or `email`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// A member of the organization.
    user_id: Option<Uuid>,
    /// Given together with `contact_external_id`.
    #[schema(value_type = Option<ContactPlatform>)]
    contact_platform: Option<String>,
    /// The platform's id of the contact.
    #[schema(schema_with = super::shapes::nullable_line_text)]
    contact_external_id: Option<String>,
    /// Unique in the organization, compared case-insensitively.
    #[schema(schema_with = super::shapes::nullable_email)]
    email: Option<String>,
    #[schema(schema_with = super::shapes::nullable_line_text)]
    name: Option<String>,
    /// Default `free`.
    #[schema(value_type = Option<Tier>)]
    tier: Option<String>,
    /// Default `good`.
    #[schema(value_type = Option<Standing>)]
    standing: Option<String>,
    /// Default 0; kept to the cent.
    #[schema(minimum = 0, maximum = 999999999999.99)]
    lifetime_value: Option<f64>,
    #[schema(value_type = Option<BillingCycle>)]
    billing_cycle: Option<String>,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    token_balance: Option<i64>,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    token_limit: Option<i64>,
    #[schema(minimum = 0, maximum = 2147483647)]
    active_sites: Option<i32>,
    #[schema(minimum = 0, maximum = 2147483647)]
    sites_limit: Option<i32>,
    /// Browser, OS, location…: a JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    context: Option<serde_json::Value>,
    /// A JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    preferences: Option<serde_json::Value>,
}

/// Every field is optional; what is given changes, `null` clears. The contact changes as a pair.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_uuid)]
    user_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<ContactPlatform>, nullable)]
    contact_platform: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_line_text)]
    contact_external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_email)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::shapes::nullable_line_text)]
    name: Option<Option<String>>,
    #[schema(value_type = Option<Tier>)]
    tier: Option<String>,
    #[schema(value_type = Option<Standing>)]
    standing: Option<String>,
    #[schema(minimum = 0, maximum = 999999999999.99)]
    lifetime_value: Option<f64>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<BillingCycle>, nullable)]
    billing_cycle: Option<Option<String>>,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    token_balance: Option<i64>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<i64>, nullable, minimum = 0, maximum = 9223372036854775807_i64)]
    token_limit: Option<Option<i64>>,
    #[schema(minimum = 0, maximum = 2147483647)]
    active_sites: Option<i32>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<i32>, nullable, minimum = 0, maximum = 2147483647)]
    sites_limit: Option<Option<i32>>,
    #[schema(value_type = Option<Object>)]
    context: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    preferences: Option<serde_json::Value>,
}

impl From<NewCustomer> for CustomerPatch {
    fn from(c: NewCustomer) -> Self {
        // On create, an absent field and `null` both mean "not given".
        let given = |v: Option<String>| v.map(Some);
        Self {
            user_id: c.user_id.map(Some),
            contact_platform: given(c.contact_platform),
            contact_external_id: given(c.contact_external_id),
            email: given(c.email),
            name: given(c.name),
            tier: c.tier,
            standing: c.standing,
            lifetime_value: c.lifetime_value,
            billing_cycle: given(c.billing_cycle),
            token_balance: c.token_balance,
            token_limit: c.token_limit.map(Some),
            active_sites: c.active_sites,
            sites_limit: c.sites_limit.map(Some),
            context: c.context,
            preferences: c.preferences,
        }
    }
}

/// Each field's own rule, every failing field named at once.
fn parse(b: CustomerPatch) -> Result<Changes, Problem> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let platform = b.contact_platform.map(|p| p.map(|p| check(e, ContactPlatform::parse("contact_platform", &p))));
    let external = b.contact_external_id.map(|x| x.map(|x| check(e, rules::line("contact_external_id", &x))));
    let contact = match (platform, external) {
        (None, None) => None,
        (Some(None), Some(None)) => Some(None),
        (Some(Some(p)), Some(Some(x))) => p.zip(x).map(Some),
        _ => {
            e.push(FieldError::new("contact_external_id", "contact_platform and contact_external_id go together"));
            None
        }
    };
    let changes = Changes {
        user_id: b.user_id,
        contact,
        email: b.email.map(|v| v.and_then(|v| check(e, rules::email("email", &v)))),
        name: b.name.map(|v| v.and_then(|v| check(e, rules::line("name", &v)))),
        tier: b.tier.and_then(|v| check(e, Tier::parse("tier", &v))),
        standing: b.standing.and_then(|v| check(e, Standing::parse("standing", &v))),
        lifetime_value: b.lifetime_value.and_then(|v| check(e, rules::amount("lifetime_value", v))),
        billing_cycle: b.billing_cycle.map(|v| v.and_then(|v| check(e, BillingCycle::parse("billing_cycle", &v)))),
        token_balance: b.token_balance.and_then(|v| check(e, rules::count("token_balance", v))),
        token_limit: b.token_limit.map(|v| v.and_then(|v| check(e, rules::count("token_limit", v)))),
        active_sites: b.active_sites.and_then(|v| check(e, rules::count("active_sites", v))),
        sites_limit: b.sites_limit.map(|v| v.and_then(|v| check(e, rules::count("sites_limit", v)))),
        context: b.context.and_then(|v| check(e, rules::object("context", v))),
        preferences: b.preferences.and_then(|v| check(e, rules::object("preferences", v))),
    };
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(Problem::validation(errors))
    }
}

fn agents(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Agent)
}

fn duplicate(e: sqlx::Error) -> platform::ApiError {
    match store::duplicate(&e) {
        Some(what) => Problem::conflict(what).into(),
        None => e.into(),
    }
}

/// Writes a checked profile: inserting (`id` None) or over `id`.
async fn write(state: &AppState, p: &Principal, id: Option<Uuid>, changes: Changes) -> ApiResult<Customer> {
    if let Some(Some(user)) = changes.user_id {
        people::member(state, p.org_id, user, "user_id").await?;
    }
    let mut tx = state.pool.begin().await?;
    let base = match id {
        None => Profile::default(),
        Some(id) => store::lock(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("customer"))?.profile(),
    };
    let profile = base.apply(changes).map_err(|e| Problem::validation(vec![e]))?;
    let customer = match id {
        None => store::insert(&mut tx, p.org_id, &profile).await.map_err(duplicate)?,
        Some(id) => store::update(&mut tx, p.org_id, id, &profile)
            .await
            .map_err(duplicate)?
            .ok_or_else(|| Problem::not_found("customer"))?,
    };
    tx.commit().await?;
    Ok(customer)
}

/// Create a customer profile (agents and above).
#[utoipa::path(
    post,
    operation_id = "create_customer",
    path = "/v1/customers",
    tag = "customers",
    request_body = NewCustomer,
    responses(
        (status = 201, description = "The profile", body = Customer),
        (status = 409, description = "A profile of this user, contact or email exists", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewCustomer>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    can_write(&p)?;
    agents(&p)?;
    let changes = parse(body.into())?;
    Ok((StatusCode::CREATED, Json(write(&state, &p, None, changes).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<Tier>, inline)]
    tier: Option<String>,
    #[param(value_type = Option<Standing>, inline)]
    standing: Option<String>,
    /// Part of the name, email or contact id (case-insensitive).
    #[param(max_length = 200)]
    q: Option<String>,
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of customer profiles.
#[derive(Serialize, ToSchema)]
pub struct CustomerPage {
    data: Vec<Customer>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// The organization's customer profiles, newest first (agents and above).
#[utoipa::path(
    get,
    operation_id = "list_customers",
    path = "/v1/customers",
    tag = "customers",
    params(ListQuery),
    responses((status = 200, description = "One page of profiles", body = CustomerPage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<CustomerPage>> {
    can_read(&p)?;
    agents(&p)?;
    let mut errors = Vec::new();
    let tier = q.tier.as_deref().and_then(|t| check(&mut errors, Tier::parse("tier", t)));
    let standing = q.standing.as_deref().and_then(|s| check(&mut errors, Standing::parse("standing", s)));
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 200) {
        errors.push(FieldError::new("q", "must be at most 200 characters"));
    }
    let (limit, after) = people::page(q.limit, q.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let filter = Filter { tier, standing, q: q.q.filter(|s| !s.is_empty()), limit, after };
    let mut conn = state.pool.acquire().await?;
    let rows = store::list(&mut conn, p.org_id, &filter).await?;
    let page = Page::from_rows(rows, limit, |c| Cursor { time: c.created_at, id: c.id });
    Ok(Json(CustomerPage { data: page.data, next_cursor: page.next_cursor }))
}

/// The caller's own customer profile (any signed-in member who has one).
#[utoipa::path(
    get,
    operation_id = "get_my_customer_profile",
    path = "/v1/customers/me",
    tag = "customers",
    responses(
        (status = 200, description = "The caller's profile", body = Customer),
        (status = 404, description = "The caller has no customer profile", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Customer>> {
    can_read(&p)?;
    let user = p.require_user()?;
    let mut conn = state.pool.acquire().await?;
    let c = store::by_user(&mut conn, p.org_id, user).await?;
    Ok(Json(c.ok_or_else(|| Problem::not_found("customer profile"))?))
}

/// A customer profile (agents and above).
#[utoipa::path(
    get,
    operation_id = "get_customer",
    path = "/v1/customers/{id}",
    tag = "customers",
    params(("id" = Uuid, Path, description = "The profile's id")),
    responses((status = 200, description = "The profile", body = Customer))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Customer>> {
    can_read(&p)?;
    agents(&p)?;
    let mut conn = state.pool.acquire().await?;
    let c = store::get(&mut conn, p.org_id, id).await?;
    Ok(Json(c.ok_or_else(|| Problem::not_found("customer"))?))
}

/// Change a customer profile (agents and above).
#[utoipa::path(
    patch,
    operation_id = "update_customer",
    path = "/v1/customers/{id}",
    tag = "customers",
    params(("id" = Uuid, Path, description = "The profile's id")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "The profile after the change", body = Customer),
        (status = 409, description = "A profile of this user, contact or email exists", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<CustomerPatch>,
) -> ApiResult<Json<Customer>> {
    can_write(&p)?;
    agents(&p)?;
    let changes = parse(body)?;
    Ok(Json(write(&state, &p, Some(id), changes).await?))
}

/// Delete a customer profile (agents and above): its tickets stay, without a profile.
#[utoipa::path(
    delete,
    operation_id = "delete_customer",
    path = "/v1/customers/{id}",
    tag = "customers",
    params(("id" = Uuid, Path, description = "The profile's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    agents(&p)?;
    let mut tx = state.pool.begin().await?;
    if !store::delete(&mut tx, p.org_id, id).await? {
        return Err(Problem::not_found("customer").into());
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A customer's tickets, newest first (agents and above).
#[utoipa::path(
    get,
    operation_id = "list_customer_tickets",
    path = "/v1/customers/{id}/tickets",
    tag = "customers",
    params(("id" = Uuid, Path, description = "The profile's id"), people::PageParams),
    responses((status = 200, description = "One page of tickets", body = people::TicketPage))
)]
pub async fn tickets(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<people::PageParams>,
) -> ApiResult<Json<people::TicketPage>> {
    can_read(&p)?;
    agents(&p)?;
    let mut errors = Vec::new();
    let (limit, after) = people::page(q.limit, q.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut conn = state.pool.acquire().await?;
    if store::get(&mut conn, p.org_id, id).await?.is_none() {
        return Err(Problem::not_found("customer").into());
    }
    let rows: Vec<Ticket> = store::tickets(&mut conn, p.org_id, id, limit, after).await?;
    Ok(Json(people::TicketPage::from_rows(rows, limit, &Viewer::new(&p, None))))
}
