//! Refunds: requested by agents, approved within a budget or rejected by managers, completed
//! once paid out. An approval locks the refund, then its budget (always in that order), so
//! concurrent approvals never spend past the limit.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::budgets::{self, Refusal, REASONS};
use crate::store::refunds::{self as store, NewRefund, Refund};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(complete))
}

/// Requesting and reading refunds: agents and above; API keys need `refunds:write` /
/// `refunds:read`.
fn agent(p: &Principal, scope: &str) -> Result<(), Problem> {
    p.require_scope(scope)?;
    p.require_role(Role::Agent)
}

/// Deciding: managers and above.
fn decider(p: &Principal) -> Result<(), Problem> {
    p.require_scope("refunds:write")?;
    p.require_role(Role::Manager)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// In the currency's smallest unit.
    #[schema(minimum = 1)]
    amount_cents: i64,
    #[serde(default = "usd")]
    #[schema(pattern = "^[a-z]{3}$")]
    currency: String,
    /// `ai_bug`, `service_downtime`, `ux_issue`, `billing_error`, `duplicate_charge`,
    /// `product_defect`, `late_delivery` or `other`.
    #[schema(
        pattern = "^(ai_bug|service_downtime|ux_issue|billing_error|duplicate_charge|product_defect|late_delivery|other)$"
    )]
    reason: String,
    #[schema(max_length = 2000)]
    note: Option<String>,
    ticket_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 200)]
    order_reference: Option<String>,
    /// The customer refunded (a customer profile's id or the organization's own reference).
    #[schema(min_length = 1, max_length = 200)]
    customer_id: Option<String>,
    /// The budget to approve it from (else the one named at approval, or the organization's
    /// only active refund budget).
    budget_id: Option<Uuid>,
}

fn usd() -> String {
    "usd".into()
}

/// Requests a refund (`pending`).
#[utoipa::path(post, path = "/v1/refunds", operation_id = "create_refund", tag = "refunds", request_body = CreateRefund,
    responses((status = 201, description = "Requested", body = Refund),
        (status = 403, description = "Agents and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(b): Json<CreateRefund>,
) -> ApiResult<(StatusCode, Json<Refund>)> {
    agent(&p, "refunds:write")?;
    let mut errors = Vec::new();
    if b.amount_cents < 1 {
        errors.push(FieldError::new("amount_cents", "at least 1"));
    }
    if b.currency.len() != 3 || !b.currency.bytes().all(|c| c.is_ascii_lowercase()) {
        errors.push(FieldError::new("currency", "three lower-case letters (usd)"));
    }
    if !REASONS.contains(&b.reason.as_str()) {
        errors.push(FieldError::new("reason", "one of the listed reasons"));
    }
    if b.note.as_deref().is_some_and(|n| n.chars().count() > 2000) {
        errors.push(FieldError::new("note", "at most 2000 characters"));
    }
    for (field, v) in [("order_reference", &b.order_reference), ("customer_id", &b.customer_id)] {
        if v.as_deref().is_some_and(|v| v.trim().is_empty() || v.chars().count() > 200) {
            errors.push(FieldError::new(field, "1 to 200 characters"));
        }
    }
    let mut tx = state.pool.begin().await?;
    if let Some(budget) = b.budget_id {
        if store::budget(&mut tx, p.org_id, budget).await?.is_none() {
            errors.push(FieldError::new("budget_id", "no such budget"));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let new = NewRefund {
        amount_cents: b.amount_cents,
        currency: &b.currency,
        reason: &b.reason,
        note: b.note.as_deref(),
        ticket_id: b.ticket_id,
        order_reference: b.order_reference.as_deref().map(str::trim),
        customer_id: b.customer_id.as_deref().map(str::trim),
        budget_id: b.budget_id,
        requested_by: p.user_id,
    };
    let refund = store::insert_refund(&mut tx, p.org_id, &new).await?;
    crate::events::refund(&mut tx, ev::BILLING_REFUND_REQUESTED, &refund, p.user_id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(refund)))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    status: Option<String>,
    customer_id: Option<String>,
    ticket_id: Option<Uuid>,
    order_reference: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundPage {
    data: Vec<Refund>,
    next_cursor: Option<String>,
}

/// Refunds, newest first.
#[utoipa::path(get, path = "/v1/refunds", operation_id = "list_refunds", tag = "refunds",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
        ("status" = Option<String>, Query, pattern = "^(pending|approved|rejected|completed)$", description = "Only these"),
        ("customer_id" = Option<String>, Query, min_length = 1, max_length = 200, description = "Only this customer's"),
        ("ticket_id" = Option<Uuid>, Query, description = "Only those for this ticket"),
        ("order_reference" = Option<String>, Query, min_length = 1, max_length = 200, description = "Only those for this order")),
    responses((status = 200, description = "A page", body = RefundPage),
        (status = 422, description = "A bad filter or cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<RefundPage>> {
    agent(&p, "refunds:read")?;
    let (limit, cursor) = q.page.parse()?;
    if q.status.as_deref().is_some_and(|s| !["pending", "approved", "rejected", "completed"].contains(&s)) {
        return Err(
            Problem::validation(vec![FieldError::new("status", "pending, approved, rejected or completed")]).into()
        );
    }
    // Compared as stored: a request's references are kept trimmed.
    let (customer_id, order_reference) =
        (q.customer_id.as_deref().map(str::trim), q.order_reference.as_deref().map(str::trim));
    let bad: Vec<FieldError> = [("customer_id", customer_id), ("order_reference", order_reference)]
        .into_iter()
        .filter(|(_, value)| value.is_some_and(|x| x.is_empty() || x.chars().count() > 200))
        .map(|(field, _)| FieldError::new(field, "1 to 200 characters"))
        .collect();
    if !bad.is_empty() {
        return Err(Problem::validation(bad).into());
    }
    let filter =
        store::RefundFilter { status: q.status.as_deref(), customer_id, ticket_id: q.ticket_id, order_reference };
    let mut conn = state.pool.acquire().await?;
    let rows = store::refunds(&mut conn, p.org_id, &filter, cursor.map(|c| (c.time, c.id)), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { time: r.created_at, id: r.id });
    Ok(Json(RefundPage { data: page.data, next_cursor: page.next_cursor }))
}

/// One refund.
#[utoipa::path(get, path = "/v1/refunds/{id}", operation_id = "get_refund", tag = "refunds",
    params(("id" = Uuid, Path, description = "The refund")),
    responses((status = 200, description = "The refund", body = Refund),
        (status = 404, description = "No such refund", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Refund>> {
    agent(&p, "refunds:read")?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::refund(&mut conn, p.org_id, id).await?.ok_or_else(|| Problem::not_found("refund"))?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Approving: the budget to take it from (else the refund's, or the only active refund
    /// budget).
    budget_id: Option<Uuid>,
    #[schema(max_length = 2000)]
    note: Option<String>,
}

fn pending(r: &Refund) -> Result<(), Problem> {
    if r.status == "pending" {
        Ok(())
    } else {
        Err(Problem::conflict(format!("this refund is {} already", r.status)))
    }
}

/// Approves a pending refund within its budget: 409 saying how much remains when it does not
/// fit (the budget's period, or the customer's limit).
#[utoipa::path(post, path = "/v1/refunds/{id}/approve", operation_id = "approve_refund", tag = "refunds",
    params(("id" = Uuid, Path, description = "The refund")), request_body(content = Option<Decision>, description = "Optional: an empty body decides with the defaults"),
    responses((status = 200, description = "Approved", body = Refund),
        (status = 404, description = "No such refund", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, over budget, or over the customer's limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No budget to approve it from", body = Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    body: Option<Json<Decision>>,
) -> ApiResult<Json<Refund>> {
    let d = body.map(|b| b.0).unwrap_or_default();
    decider(&p)?;
    let org = p.org_id;
    let mut tx = state.pool.begin().await?;
    let refund = store::lock_refund(&mut tx, org, id).await?.ok_or_else(|| Problem::not_found("refund"))?;
    pending(&refund)?;
    let budget_id = match d.budget_id.or(refund.budget_id) {
        Some(b) => Some(b),
        None => store::sole_refund_budget(&mut tx, org).await?,
    };
    let no_budget = |why: &str| Problem::validation(vec![FieldError::new("budget_id", why)]);
    let budget_id = budget_id.ok_or_else(|| no_budget("name the budget: there is no single active refund budget"))?;
    let mut budget = store::lock_budget(&mut tx, org, budget_id).await?.ok_or_else(|| no_budget("no such budget"))?;
    if !budget.is_active {
        return Err(Problem::conflict("the budget is not active").into());
    }
    if budget.currency != refund.currency {
        return Err(no_budget("the budget is in another currency").into());
    }
    let start = budgets::current_start(budget.period_start, &budget.period, Utc::now());
    if start != budget.period_start {
        budget = store::roll_budget(&mut tx, org, budget.id, start).await?;
    }
    let customer_spent = match (&refund.customer_id, budget.refund_limit_per_customer_cents) {
        (Some(c), Some(_)) => store::customer_spent(&mut tx, org, budget.id, budget.period_start, c).await?,
        _ => 0,
    };
    let customer_limit = refund.customer_id.as_ref().and(budget.refund_limit_per_customer_cents);
    match budgets::admit(budget.limit_cents, budget.spent_cents, refund.amount_cents, customer_limit, customer_spent) {
        Ok(()) => {}
        Err(Refusal::OverBudget { remaining }) => {
            return Err(Problem::new(StatusCode::CONFLICT, "over-budget", "Over budget")
                .detail(format!(
                    "{} remain of budget {} this period; the refund is {}",
                    remaining, budget.name, refund.amount_cents
                ))
                .into())
        }
        Err(Refusal::OverCustomerLimit { remaining }) => {
            return Err(Problem::new(StatusCode::CONFLICT, "over-customer-limit", "Over the customer's limit")
                .detail(format!(
                    "{} remain of this customer's limit on budget {} this period; the refund is {}",
                    remaining, budget.name, refund.amount_cents
                ))
                .into())
        }
    }
    let before = budget.spent_cents;
    let budget = store::spend(&mut tx, org, budget.id, refund.amount_cents).await?;
    store::record_usage(&mut tx, org, &budget, &refund, p.user_id).await?;
    let refund = store::decide(&mut tx, org, id, "approved", Some(budget.id), p.user_id, d.note.as_deref()).await?;
    crate::events::refund(&mut tx, ev::BILLING_REFUND_APPROVED, &refund, p.user_id).await?;
    for percent in budgets::crossed(&budget.alert_thresholds, budget.limit_cents, before, budget.spent_cents) {
        if store::alert_once(&mut tx, budget.id, budget.period_start, percent).await? {
            crate::events::budget_threshold(&mut tx, &budget, percent).await?;
        }
    }
    tx.commit().await?;
    Ok(Json(refund))
}

/// Rejects a pending refund.
#[utoipa::path(post, path = "/v1/refunds/{id}/reject", operation_id = "reject_refund", tag = "refunds",
    params(("id" = Uuid, Path, description = "The refund")), request_body(content = Option<Decision>, description = "Optional: an empty body decides with the defaults"),
    responses((status = 200, description = "Rejected", body = Refund),
        (status = 404, description = "No such refund", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending", body = Problem, content_type = "application/problem+json")))]
pub async fn reject(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    body: Option<Json<Decision>>,
) -> ApiResult<Json<Refund>> {
    let d = body.map(|b| b.0).unwrap_or_default();
    decider(&p)?;
    let mut tx = state.pool.begin().await?;
    let refund = store::lock_refund(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("refund"))?;
    pending(&refund)?;
    let refund = store::decide(&mut tx, p.org_id, id, "rejected", None, p.user_id, d.note.as_deref()).await?;
    crate::events::refund(&mut tx, ev::BILLING_REFUND_REJECTED, &refund, p.user_id).await?;
    tx.commit().await?;
    Ok(Json(refund))
}

/// Marks an approved refund paid out.
#[utoipa::path(post, path = "/v1/refunds/{id}/complete", operation_id = "complete_refund", tag = "refunds",
    params(("id" = Uuid, Path, description = "The refund")),
    responses((status = 200, description = "Completed", body = Refund),
        (status = 404, description = "No such refund", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved", body = Problem, content_type = "application/problem+json")))]
pub async fn complete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Refund>> {
    decider(&p)?;
    let mut tx = state.pool.begin().await?;
    let refund = store::lock_refund(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("refund"))?;
    if refund.status != "approved" {
        return Err(
            Problem::conflict(format!("only an approved refund completes; this one is {}", refund.status)).into()
        );
    }
    let refund = store::complete(&mut tx, p.org_id, id).await?;
    crate::events::refund(&mut tx, ev::BILLING_REFUND_COMPLETED, &refund, p.user_id).await?;
    tx.commit().await?;
    Ok(Json(refund))
}
