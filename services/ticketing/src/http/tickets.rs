//! Tickets: create, read (by id or number), update, delete.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::{CredentialKind, Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiResult, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::checks::{check_member, check_quota, check_refs, check_team};
use super::{can_read, can_write, keep, schema, staff, viewer, visible, visible_cached, word};
use crate::domain::fields;
use crate::domain::ticket::{Actor, Category, Priority, Severity, Source, Status, Ticket};
use crate::domain::viewer::Viewer;
use crate::service::change::Who;
use crate::service::tickets::{self as service, NewTicket, Patch};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(get, update, delete))
}

/// A ticket as clients see it. Customers get `sentiment` as `null`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketBody {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The time entries' sum in hours, to the hundredth.
    pub actual_hours: f64,
}

impl TicketBody {
    pub fn of(mut ticket: Ticket, viewer: &Viewer) -> Self {
        if !viewer.staff {
            ticket.sentiment = None;
        }
        let actual_hours = ticket.actual_hours();
        Self { ticket, actual_hours }
    }
}

/// Who asked, when an agent opens a ticket for someone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// A member of the organization.
    #[schema(schema_with = schema::nullable_uuid)]
    user_id: Option<Uuid>,
    #[schema(schema_with = schema::nullable_email)]
    email: Option<String>,
    #[schema(max_length = 200)]
    name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// Trimmed; no control characters.
    #[schema(schema_with = schema::subject)]
    subject: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    description: String,
    /// Customers may set it too; default `general`.
    #[schema(value_type = Option<Category>)]
    category: Option<String>,
    /// Agents only from here on. Default `normal`.
    #[schema(value_type = Option<Priority>)]
    priority: Option<String>,
    /// Default `normal`.
    #[schema(value_type = Option<Severity>)]
    severity: Option<String>,
    /// Default `web` for sessions, `api` for API keys.
    #[schema(value_type = Option<Source>)]
    source: Option<String>,
    /// Each 1 to 40 ASCII letters, digits, `-` or `_`; lowercased and deduplicated.
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    tags: Vec<String>,
    /// A customer profile of the organization.
    #[schema(schema_with = schema::nullable_uuid)]
    customer_id: Option<Uuid>,
    #[schema(nullable)]
    requester: Option<Requester>,
    /// A project of the organization.
    #[schema(schema_with = schema::nullable_uuid)]
    project_id: Option<Uuid>,
    /// A member of agent role or above.
    #[schema(schema_with = schema::nullable_uuid)]
    assignee_id: Option<Uuid>,
    /// A team of the organization; without an assignee, round-robin picks one of its agents.
    #[schema(schema_with = schema::nullable_uuid)]
    team_id: Option<Uuid>,
    #[schema(schema_with = schema::nullable_datetime)]
    due_at: Option<DateTime<Utc>>,
    #[schema(schema_with = schema::nullable_hours)]
    estimated_hours: Option<f64>,
    /// The inbox conversation the ticket belongs to.
    #[schema(schema_with = schema::nullable_uuid)]
    conversation_id: Option<Uuid>,
}

impl CreateTicket {
    /// Whether the body sets a field that only agents set.
    fn staff_only(&self) -> bool {
        self.priority.is_some()
            || self.severity.is_some()
            || self.source.is_some()
            || !self.tags.is_empty()
            || self.customer_id.is_some()
            || self.requester.is_some()
            || self.project_id.is_some()
            || self.assignee_id.is_some()
            || self.team_id.is_some()
            || self.due_at.is_some()
            || self.estimated_hours.is_some()
            || self.conversation_id.is_some()
    }

    fn parse(self, p: &Principal, viewer: &Viewer) -> Result<NewTicket, Problem> {
        let mut e = Vec::new();
        let subject = keep(&mut e, fields::subject("subject", &self.subject));
        let description = keep(&mut e, fields::text("description", &self.description, fields::TEXT_MAX));
        let tags = keep(&mut e, fields::tags("tags", &self.tags));
        let category = self.category.as_deref().map_or(Some(Category::General), |v| keep(&mut e, word("category", v)));
        let priority = self.priority.as_deref().map_or(Some(Priority::Normal), |v| keep(&mut e, word("priority", v)));
        let severity = self.severity.as_deref().map_or(Some(Severity::Normal), |v| keep(&mut e, word("severity", v)));
        let default_source = if p.kind == CredentialKind::ApiKey { Source::Api } else { Source::Web };
        let source = self.source.as_deref().map_or(Some(default_source), |v| keep(&mut e, word("source", v)));
        let hours = self.estimated_hours.map(|h| keep(&mut e, fields::hours("estimated_hours", h)));
        let (mut req_user, mut req_email, mut req_name) = (None, None, None);
        if let Some(r) = &self.requester {
            req_user = r.user_id;
            req_email = r.email.as_deref().and_then(|v| keep(&mut e, fields::email("requester.email", v)));
            req_name = r.name.as_deref().and_then(|v| keep(&mut e, fields::subject("requester.name", v)));
        }
        let (
            Some(subject),
            Some(description),
            Some(tags),
            Some(category),
            Some(priority),
            Some(severity),
            Some(source),
        ) = (subject, description, tags, category, priority, severity, source)
        else {
            return Err(Problem::validation(e));
        };
        if !e.is_empty() {
            return Err(Problem::validation(e));
        }
        if !viewer.staff {
            // A customer asks for themselves; an API key is never a requester.
            req_user = p.user_id;
        }
        Ok(NewTicket {
            organization_id: p.org_id,
            subject,
            description,
            priority,
            severity,
            category,
            tags,
            project_id: self.project_id,
            customer_id: self.customer_id.or(if viewer.staff { None } else { viewer.profile }),
            requester_user_id: req_user,
            requester_email: req_email,
            requester_name: req_name,
            assignee_id: self.assignee_id,
            team_id: self.team_id,
            due_at: self.due_at,
            estimated_hours: hours.flatten(),
            source,
            conversation_id: self.conversation_id,
            follow_up_of_id: None,
        })
    }
}

/// Open a ticket. Customers open their own (subject, description, category); agents may set
/// every field, and open tickets for customers.
#[utoipa::path(
    post,
    operation_id = "create_ticket",
    path = "/v1/tickets",
    tag = "tickets",
    request_body = CreateTicket,
    responses(
        (status = 201, description = "The ticket, numbered", body = TicketBody),
        (status = 402, description = "The plan's ticket limit is reached", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<CreateTicket>,
) -> ApiResult<(StatusCode, Json<TicketBody>)> {
    can_write(&p)?;
    let viewer = viewer(&state, &p).await?;
    if body.staff_only() && !viewer.staff {
        return Err(Problem::forbidden("only subject, description and category are set by customers").into());
    }
    let new = body.parse(&p, &viewer)?;
    check_refs(&state, p.org_id, new.customer_id.filter(|_| viewer.staff), new.project_id).await?;
    if let Some(a) = new.assignee_id {
        check_member(&state, p.org_id, a, Role::Agent, "assignee_id").await?;
    }
    if let (true, Some(u)) = (viewer.staff, new.requester_user_id) {
        check_member(&state, p.org_id, u, Role::Customer, "requester.user_id").await?;
    }
    if let Some(t) = new.team_id {
        check_team(&state, p.org_id, t).await?;
    }
    check_quota(&state, p.org_id, "tickets", "tickets a month").await?;
    let mut tx = state.pool.begin().await?;
    let ticket = service::create(&mut tx, &state, new, p.user_id.map_or(Actor::System, Actor::User)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(TicketBody::of(ticket, &viewer))))
}

/// A ticket by id or number (`TKT-2026-000042`).
#[utoipa::path(
    get,
    operation_id = "get_ticket",
    path = "/v1/tickets/{id}",
    tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, description = "The ticket", body = TicketBody))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<TicketBody>> {
    can_read(&p)?;
    let viewer = viewer(&state, &p).await?;
    Ok(Json(TicketBody::of(visible_cached(&state, &viewer, &id).await?, &viewer)))
}

/// Every field is optional; what is given changes. `null` clears the nullable ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    #[schema(schema_with = schema::nullable_subject)]
    subject: Option<String>,
    #[schema(max_length = 20000, nullable)]
    description: Option<String>,
    /// Moves follow the status graph (409 names the allowed ones); `merged` only by a merge.
    #[schema(value_type = Option<Status>)]
    status: Option<String>,
    #[schema(value_type = Option<Priority>)]
    priority: Option<String>,
    #[schema(value_type = Option<Severity>)]
    severity: Option<String>,
    #[schema(value_type = Option<Category>)]
    category: Option<String>,
    #[schema(schema_with = schema::nullable_tags)]
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = schema::nullable_uuid)]
    project_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = schema::nullable_uuid)]
    customer_id: Option<Option<Uuid>>,
    /// An agent or above; `null` unassigns.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = schema::nullable_uuid)]
    assignee_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = schema::nullable_uuid)]
    team_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = schema::nullable_datetime)]
    due_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = schema::nullable_hours)]
    estimated_hours: Option<Option<f64>>,
}

impl UpdateTicket {
    fn parse(self) -> Result<Patch, Problem> {
        let mut e = Vec::new();
        let patch = Patch {
            subject: self.subject.as_deref().and_then(|v| keep(&mut e, fields::subject("subject", v))),
            description: self
                .description
                .as_deref()
                .and_then(|v| keep(&mut e, fields::text("description", v, fields::TEXT_MAX))),
            status: self.status.as_deref().and_then(|v| keep(&mut e, word("status", v))),
            priority: self.priority.as_deref().and_then(|v| keep(&mut e, word("priority", v))),
            severity: self.severity.as_deref().and_then(|v| keep(&mut e, word("severity", v))),
            category: self.category.as_deref().and_then(|v| keep(&mut e, word("category", v))),
            tags: self.tags.as_deref().and_then(|v| keep(&mut e, fields::tags("tags", v))),
            project_id: self.project_id,
            customer_id: self.customer_id,
            assignee_id: self.assignee_id,
            team_id: self.team_id,
            due_at: self.due_at,
            estimated_hours: match self.estimated_hours {
                Some(Some(h)) => keep(&mut e, fields::hours("estimated_hours", h)).map(Some),
                other => other,
            },
        };
        if e.is_empty() {
            Ok(patch)
        } else {
            Err(Problem::validation(e))
        }
    }
}

/// Change a ticket (agents and above).
#[utoipa::path(
    patch,
    operation_id = "update_ticket",
    path = "/v1/tickets/{id}",
    tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body = UpdateTicket,
    responses(
        (status = 200, description = "The ticket", body = TicketBody),
        (status = 409, description = "The status move is not in the graph (the allowed ones are named), or the ticket is closed or merged", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<UpdateTicket>,
) -> ApiResult<Json<TicketBody>> {
    can_write(&p)?;
    staff(&p)?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let patch = body.parse()?;
    check_refs(&state, p.org_id, patch.customer_id.flatten(), patch.project_id.flatten()).await?;
    if let Some(Some(a)) = patch.assignee_id {
        check_member(&state, p.org_id, a, Role::Agent, "assignee_id").await?;
    }
    if let Some(Some(t)) = patch.team_id {
        check_team(&state, p.org_id, t).await?;
    }
    let mut tx = state.pool.begin().await?;
    let ticket = service::update(&mut tx, &state, p.org_id, ticket.id, patch, Who::agent(p.user_id)).await?;
    tx.commit().await?;
    Ok(Json(TicketBody::of(ticket, &viewer)))
}

/// Delete a ticket with its comments, history and files (managers and above).
#[utoipa::path(
    delete,
    operation_id = "delete_ticket",
    path = "/v1/tickets/{id}",
    tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Other tickets are merged into it", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    p.require_role(Role::Manager)?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut tx = state.pool.begin().await?;
    let files = service::delete(&mut tx, p.org_id, ticket.id, p.user_id.map_or(Actor::System, Actor::User)).await?;
    tx.commit().await?;
    for key in files {
        if let Err(err) = tokio::fs::remove_file(state.config.attachments_dir.join(&key)).await {
            tracing::warn!(error = %err, ticket = %ticket.id, "ticket deleted but a file of it remains");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
