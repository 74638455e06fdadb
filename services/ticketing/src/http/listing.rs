//! `GET /v1/tickets`: every filter, full-text search (subject, description and comments; notes
//! for agents only) ranked by `ts_rank`, keyset cursors and no cap on how far one pages.

use axum::extract::State;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Query};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tickets::TicketBody;
use super::{can_read, keep, viewer, word};
use crate::domain::fields;
use crate::domain::ticket::{Priority, Status};
use crate::store::listing::{self, After, Filter, SlaFilter, Sort};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// List orders.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SortParam {
    Created,
    Updated,
    Priority,
    SlaDue,
    Relevance,
}

/// SLA filters.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SlaParam {
    Breached,
    AtRisk,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this status; without it, merged tickets are left out.
    #[param(value_type = Option<Status>, inline)]
    status: Option<String>,
    #[param(value_type = Option<Priority>, inline)]
    priority: Option<String>,
    assignee_id: Option<Uuid>,
    team_id: Option<Uuid>,
    customer_id: Option<Uuid>,
    /// Tickets with this tag (compared lowercased).
    #[param(max_length = 40)]
    tag: Option<String>,
    /// Search words over subject, description and comments; each matches as a prefix, all must.
    #[param(max_length = 500)]
    q: Option<String>,
    /// `breached`: a target was missed; `at_risk`: running and due within a quarter of the target
    /// (at least an hour).
    #[param(value_type = Option<SlaParam>, inline)]
    sla: Option<String>,
    /// Default `relevance` with searchable words in `q`, `created` otherwise.
    #[param(value_type = Option<SortParam>, inline)]
    sort: Option<String>,
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (of the same query).
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub data: Vec<TicketBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A position as clients carry it: the sort, its values, the id.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    s: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<f32>,
    i: Uuid,
}

fn sort_name(s: Sort) -> &'static str {
    match s {
        Sort::Created => "created",
        Sort::Updated => "updated",
        Sort::Priority => "priority",
        Sort::SlaDue => "sla_due",
        Sort::Relevance => "relevance",
    }
}

fn bad_cursor() -> FieldError {
    FieldError::new("cursor", "is not a cursor of this list")
}

fn decode(raw: &str, sort: Sort) -> Result<After, FieldError> {
    let pos: Position = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|p: &Position| p.s == sort_name(sort))
        .ok_or_else(bad_cursor)?;
    match sort {
        Sort::Created | Sort::Updated => pos.t.map(|t| After::Time(t, pos.i)),
        Sort::Priority => pos.p.zip(pos.t).map(|(p, t)| After::Priority(p, t, pos.i)),
        Sort::SlaDue => Some(After::Due(pos.t, pos.i)),
        Sort::Relevance => pos.r.filter(|r| r.is_finite()).map(|r| After::Rank(r, pos.i)),
    }
    .ok_or_else(bad_cursor)
}

fn encode(sort: Sort, l: &listing::Listed) -> String {
    let t = &l.ticket;
    let mut pos = Position { s: sort_name(sort).to_owned(), t: None, p: None, r: None, i: t.id };
    match sort {
        Sort::Created => pos.t = Some(t.created_at),
        Sort::Updated => pos.t = Some(t.updated_at),
        Sort::Priority => {
            pos.p = Some(t.priority.rank());
            pos.t = Some(t.created_at);
        }
        Sort::SlaDue => pos.t = t.resolution_due_at,
        Sort::Relevance => pos.r = Some(l.rank),
    }
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&pos).unwrap_or_default())
}

fn parse_sort(raw: &str) -> Result<Sort, FieldError> {
    match raw {
        "created" => Ok(Sort::Created),
        "updated" => Ok(Sort::Updated),
        "priority" => Ok(Sort::Priority),
        "sla_due" => Ok(Sort::SlaDue),
        "relevance" => Ok(Sort::Relevance),
        _ => Err(FieldError::new("sort", "must be one of created, updated, priority, sla_due, relevance")),
    }
}

impl ListQuery {
    fn parse(self, base: Filter) -> Result<Filter, Problem> {
        let mut e = Vec::new();
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            e.push(FieldError::new("limit", "must be between 1 and 200"));
        }
        let status = self.status.as_deref().and_then(|v| keep(&mut e, word::<Status>("status", v)));
        let priority = self.priority.as_deref().and_then(|v| keep(&mut e, word::<Priority>("priority", v)));
        let sla = match self.sla.as_deref() {
            None => None,
            Some("breached") => Some(SlaFilter::Breached),
            Some("at_risk") => Some(SlaFilter::AtRisk),
            Some(_) => {
                e.push(FieldError::new("sla", "must be breached or at_risk"));
                None
            }
        };
        if self.q.as_deref().is_some_and(|q| q.chars().count() > 500) {
            e.push(FieldError::new("q", "must be at most 500 characters"));
        }
        if self.tag.as_deref().is_some_and(|t| t.chars().count() > 40) {
            e.push(FieldError::new("tag", "must be at most 40 characters"));
        }
        let query = self.q.as_deref().and_then(fields::search_query);
        let sort = match self.sort.as_deref() {
            Some(s) => keep(&mut e, parse_sort(s)).unwrap_or(Sort::Created),
            None => Sort::Relevance,
        };
        // Nothing to rank by: every ticket would tie, so the ties' order (newest first) it is.
        let sort = if sort == Sort::Relevance && query.is_none() { Sort::Created } else { sort };
        let after = self.cursor.as_deref().filter(|c| !c.is_empty()).and_then(|c| keep(&mut e, decode(c, sort)));
        if !e.is_empty() {
            return Err(Problem::validation(e));
        }
        Ok(Filter {
            status,
            priority,
            assignee_id: self.assignee_id,
            team_id: self.team_id,
            customer_id: self.customer_id,
            tag: self.tag.map(|t| t.trim().to_lowercase()),
            query,
            sla,
            sort,
            limit,
            after,
            ..base
        })
    }
}

/// Tickets the caller may see (customers: their own), filtered, searched and sorted; page with
/// `next_cursor` as far as the results go.
#[utoipa::path(
    get,
    operation_id = "list_tickets",
    path = "/v1/tickets",
    tag = "tickets",
    params(ListQuery),
    responses((status = 200, description = "One page of tickets", body = TicketPage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<TicketPage>> {
    can_read(&p)?;
    let viewer = viewer(&state, &p).await?;
    let base = Filter {
        org: p.org_id,
        staff: viewer.staff,
        user: viewer.user,
        profile: viewer.profile,
        status: None,
        priority: None,
        assignee_id: None,
        team_id: None,
        customer_id: None,
        tag: None,
        query: None,
        sla: None,
        sort: Sort::Created,
        limit: 50,
        after: None,
    };
    let filter = q.parse(base)?;
    let mut conn = state.pool.acquire().await?;
    let mut rows = listing::page(&mut conn, &filter).await?;
    let more = rows.len() as i64 > filter.limit;
    rows.truncate(filter.limit as usize);
    let next_cursor = if more { rows.last().map(|l| encode(filter.sort, l)) } else { None };
    let data = rows.into_iter().map(|l| TicketBody::of(l.ticket, &viewer)).collect();
    Ok(Json(TicketPage { data, next_cursor }))
}
