//! Escalations (seed 001): opened by hand here (agents and above), by a decision rule or by the
//! SLA scanner; worked through `pending → assigned → in_progress → resolved`
//! (`domain::escalation`). Each opening emits `ticket.escalated`; each new owner is notified.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page};
use platform::{ApiError, ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{can_read, can_write};
use crate::directory::LookupError;
use crate::domain::escalation::{self, Change, EscalationPriority, EscalationStatus, Origin, Reason, Refusal};
use crate::store::escalations::{self as store, Escalation, Filter, NewEscalation};
use crate::{escalations, AppState};

const SUMMARY_CHARS: usize = 5000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEscalationBody {
    /// The ticket escalated, if any.
    #[schema(schema_with = super::schema::nullable_uuid)]
    ticket_id: Option<Uuid>,
    #[schema(schema_with = super::schema::nullable_uuid)]
    conversation_id: Option<Uuid>,
    /// A customer profile of the organization.
    #[schema(schema_with = super::schema::nullable_uuid)]
    customer_id: Option<Uuid>,
    reason: Reason,
    /// Default normal.
    priority: Option<EscalationPriority>,
    #[schema(max_length = 5000)]
    summary: Option<String>,
    /// An agent or above; the escalation starts `assigned`.
    #[schema(schema_with = super::schema::nullable_uuid)]
    assignee_id: Option<Uuid>,
}

/// Every field optional; `assignee_id` and `summary` are cleared with null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationPatch {
    status: Option<EscalationStatus>,
    /// An agent or above; `null` takes the owner away (back to `pending`).
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = super::schema::nullable_uuid)]
    assignee_id: Option<Option<Uuid>>,
    priority: Option<EscalationPriority>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(nullable, max_length = 5000)]
    summary: Option<Option<String>>,
}

fn staff(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Agent)
}

fn long_summary(summary: Option<&str>) -> Result<(), Problem> {
    if summary.is_some_and(|s| s.chars().count() > SUMMARY_CHARS) {
        return Err(Problem::validation(vec![FieldError::new("summary", "must be at most 5000 characters")]));
    }
    Ok(())
}

/// 422 naming `assignee_id` unless `user` is an agent or above of `org` (asked of identity,
/// before the transaction); 503 when identity does not answer.
async fn check_assignee(state: &AppState, org: Uuid, user: Uuid) -> ApiResult<()> {
    let invalid = |m: &str| -> ApiError { Problem::validation(vec![FieldError::new("assignee_id", m)]).into() };
    match state.directory.role(org, user).await {
        Ok(role) if role >= Role::Agent => Ok(()),
        Ok(_) => Err(invalid("must be an agent or above")),
        Err(LookupError::NotFound) => Err(invalid("is not a member of this organization")),
        Err(LookupError::Unavailable(why)) => {
            tracing::warn!(%why, "identity did not answer a member lookup");
            Err(Problem::unavailable("identity is unavailable, try again shortly").retry_after(1).into())
        }
    }
}

/// Open an escalation (agents and above).
#[utoipa::path(
    post,
    operation_id = "create_escalation",
    path = "/v1/escalations",
    tag = "escalations",
    request_body = NewEscalationBody,
    responses((status = 201, description = "The escalation", body = Escalation))
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewEscalationBody>,
) -> ApiResult<(StatusCode, Json<Escalation>)> {
    can_write(&p)?;
    staff(&p)?;
    long_summary(body.summary.as_deref())?;
    if let Some(a) = body.assignee_id {
        check_assignee(&state, p.org_id, a).await?;
    }
    let mut tx = state.pool.begin().await?;
    let mut errors = Vec::new();
    let ticket = match body.ticket_id {
        Some(id) => crate::store::tickets::get(&mut tx, p.org_id, id).await?.map(Some).unwrap_or_else(|| {
            errors.push(FieldError::new("ticket_id", "no such ticket"));
            None
        }),
        None => None,
    };
    if let Some(c) = body.customer_id {
        if crate::store::customers::get(&mut tx, p.org_id, c).await?.is_none() {
            errors.push(FieldError::new("customer_id", "no such customer profile"));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let new = NewEscalation {
        organization_id: p.org_id,
        ticket_id: body.ticket_id,
        conversation_id: body.conversation_id.or(ticket.as_ref().and_then(|t| t.conversation_id)),
        customer_id: body.customer_id.or(ticket.as_ref().and_then(|t| t.customer_id)),
        reason: body.reason.as_str().to_owned(),
        priority: body.priority.unwrap_or_default().as_str().to_owned(),
        origin: Origin::Manual.as_str().to_owned(),
        assignee_id: body.assignee_id,
        summary: body.summary.filter(|s| !s.trim().is_empty()),
        created_by: p.user_id,
    };
    let e = escalations::open(&mut tx, new, &state.config.app_base_url).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(e)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<EscalationStatus>, inline)]
    status: Option<String>,
    #[param(value_type = Option<EscalationPriority>, inline)]
    priority: Option<String>,
    #[param(value_type = Option<Origin>, inline)]
    origin: Option<String>,
    #[param(value_type = Option<Uuid>)]
    ticket_id: Option<String>,
    #[param(value_type = Option<Uuid>)]
    assignee_id: Option<String>,
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of escalations.
#[derive(Serialize, ToSchema)]
pub struct EscalationPage {
    data: Vec<Escalation>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

fn parsed<T: std::str::FromStr>(errors: &mut Vec<FieldError>, field: &str, raw: Option<&str>, what: &str) -> Option<T> {
    match raw.map(str::parse::<T>) {
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            errors.push(FieldError::new(field, what));
            None
        }
        None => None,
    }
}

/// The organization's escalations, newest first (agents and above).
#[utoipa::path(
    get,
    operation_id = "list_escalations",
    path = "/v1/escalations",
    tag = "escalations",
    params(ListQuery),
    responses((status = 200, description = "One page of escalations", body = EscalationPage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<EscalationPage>> {
    can_read(&p)?;
    staff(&p)?;
    let mut errors = Vec::new();
    let filter = Filter {
        status: parsed(
            &mut errors,
            "status",
            q.status.as_deref(),
            "must be pending, assigned, in_progress or resolved",
        ),
        priority: parsed(
            &mut errors,
            "priority",
            q.priority.as_deref(),
            "must be low, normal, high, urgent or critical",
        ),
        origin: parsed(&mut errors, "origin", q.origin.as_deref(), "must be manual, rule or sla_breach"),
        ticket_id: parsed(&mut errors, "ticket_id", q.ticket_id.as_deref(), "must be a UUID"),
        assignee_id: parsed(&mut errors, "assignee_id", q.assignee_id.as_deref(), "must be a UUID"),
    };
    let (limit, before) = super::agents::page(q.limit, q.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut conn = state.pool.acquire().await?;
    let rows = store::list(&mut conn, p.org_id, &filter, limit, before).await?;
    let page = Page::from_rows(rows, limit, |e| Cursor { time: e.created_at, id: e.id });
    Ok(Json(EscalationPage { data: page.data, next_cursor: page.next_cursor }))
}

/// An escalation (agents and above).
#[utoipa::path(
    get,
    operation_id = "get_escalation",
    path = "/v1/escalations/{id}",
    tag = "escalations",
    params(("id" = Uuid, Path, description = "The escalation's id")),
    responses((status = 200, description = "The escalation", body = Escalation))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Escalation>> {
    can_read(&p)?;
    staff(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::get(&mut conn, p.org_id, id).await?.ok_or_else(|| Problem::not_found("escalation"))?))
}

/// 409 naming the statuses `from` may move to.
fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Move { from, to } => {
            let allowed: Vec<&str> = from.allowed_moves().iter().map(|s| s.as_str()).collect();
            let listed = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
            let mut problem = Problem::new(StatusCode::CONFLICT, "invalid-status-change", "Status change not allowed")
                .detail(format!("a {} escalation cannot become {}; allowed: {listed}", from.as_str(), to.as_str()));
            problem.errors = vec![FieldError::new("status", format!("allowed: {listed}"))];
            problem.into()
        }
        Refusal::NeedsAssignee(s) => Problem::validation(vec![FieldError::new(
            "assignee_id",
            format!("an escalation {} needs an assignee", s.as_str()),
        )])
        .into(),
    }
}

/// Work an escalation (agents and above): status along the workflow, assignee, priority,
/// summary. A new owner is notified.
#[utoipa::path(
    patch,
    operation_id = "update_escalation",
    path = "/v1/escalations/{id}",
    tag = "escalations",
    params(("id" = Uuid, Path, description = "The escalation's id")),
    request_body = EscalationPatch,
    responses(
        (status = 200, description = "The escalation after the change", body = Escalation),
        (status = 409, description = "The status cannot move there; `detail` names the allowed moves", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<EscalationPatch>,
) -> ApiResult<Json<Escalation>> {
    can_write(&p)?;
    staff(&p)?;
    long_summary(body.summary.as_ref().and_then(|s| s.as_deref()))?;
    let (org, base) = (p.org_id, &state.config.app_base_url);
    if let Some(Some(a)) = body.assignee_id {
        check_assignee(&state, org, a).await?;
    }
    let mut tx = state.pool.begin().await?;
    let before = store::lock(&mut tx, org, id).await?.ok_or_else(|| Problem::not_found("escalation"))?;
    let change = Change { status: body.status, assignee: body.assignee_id };
    let (status, assignee) = escalation::apply(before.status, before.assignee_id, &change).map_err(refused)?;
    let mut next = before.clone();
    next.status = status;
    next.assignee_id = assignee;
    next.priority = body.priority.unwrap_or(before.priority);
    if let Some(summary) = body.summary {
        next.summary = summary.filter(|s| !s.trim().is_empty());
    }
    let after = store::update(&mut tx, org, &next).await?;
    if let Some(owner) = after.assignee_id.filter(|o| before.assignee_id != Some(*o)) {
        escalations::notify_owner(&mut tx, org, &after, owner, p.user_id, base).await?;
    }
    tx.commit().await?;
    Ok(Json(after))
}
