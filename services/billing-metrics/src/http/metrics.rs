//! Support and inbox analytics: performance per period, the team per agent with a trend, the
//! inbox per day. Definitions of every figure are in `crate::analytics`.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use platform::auth::{Principal, Role};
use platform::extract::{Json, Query};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::analytics::{rate, tenth, trend, Granularity, Trend, MAX_PERIODS};
use crate::store::analytics as store;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(performance)).routes(routes!(team)).routes(routes!(inbox))
}

/// Analytics: admins and owners; API keys need `metrics:read`.
fn analyst(p: &Principal) -> Result<(), Problem> {
    p.require_scope("metrics:read")?;
    p.require_role(Role::Admin)
}

fn invalid(field: &str, message: &str) -> Problem {
    Problem::validation(vec![FieldError::new(field, message)])
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PerformanceQuery {
    /// `hour`, `day` (default), `week` (from Monday), `month`, `quarter` or `year`; UTC.
    period: Option<Granularity>,
    /// From the period holding this time (RFC 3339). Default: 29 periods before `to`.
    from: Option<DateTime<Utc>>,
    /// Up to this time, excluded. Default: now.
    to: Option<DateTime<Utc>>,
}

/// Seconds, averaged and at the 90th percentile, over `count` tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct Durations {
    count: i64,
    average_seconds: Option<f64>,
    p90_seconds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Csat {
    /// 1 to 5; `null` without ratings.
    average: Option<f64>,
    ratings: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodFigures {
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    tickets_created: i64,
    tickets_resolved: i64,
    /// Created → first public agent reply, of tickets first answered in the period.
    first_response: Durations,
    /// Created → resolved, of tickets resolved in the period.
    resolution: Durations,
    /// Percent of resolved tickets never reopened, with at most one agent reply.
    first_contact_resolution_rate: Option<f64>,
    /// Percent of tickets created in the period that were escalated.
    escalation_rate: Option<f64>,
    /// Percent of resolved tickets resolved by the system before any agent reply.
    automated_resolution_rate: Option<f64>,
    csat: Csat,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Performance {
    period: Granularity,
    data: Vec<PeriodFigures>,
}

/// Support performance per period, oldest first (at most 1,000 periods).
#[utoipa::path(get, path = "/v1/metrics/performance", operation_id = "get_performance_metrics", tag = "metrics",
    params(PerformanceQuery),
    responses((status = 200, description = "Figures per period", body = Performance),
        (status = 403, description = "Admins and owners only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "from not before to, or too many periods", body = Problem, content_type = "application/problem+json")))]
pub async fn performance(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PerformanceQuery>,
) -> ApiResult<Json<Performance>> {
    analyst(&p)?;
    let g = q.period.unwrap_or(Granularity::Day);
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or_else(|| g.back(to, 29));
    if from >= to {
        return Err(invalid("from", "before to").into());
    }
    if (to - from).num_seconds() / g.approx_seconds() >= MAX_PERIODS {
        return Err(invalid("from", "at most 1,000 periods").into());
    }
    let mut conn = state.pool.acquire().await?;
    let rows = store::performance(&mut conn, p.org_id, g, from, to).await?;
    let data = rows
        .into_iter()
        .map(|r| PeriodFigures {
            period_start: r.period_start,
            period_end: r.period_end,
            tickets_created: r.created,
            tickets_resolved: r.resolved,
            first_response: Durations {
                count: r.responded,
                average_seconds: tenth(r.response_avg),
                p90_seconds: tenth(r.response_p90),
            },
            resolution: Durations {
                count: r.resolved,
                average_seconds: tenth(r.resolution_avg),
                p90_seconds: tenth(r.resolution_p90),
            },
            first_contact_resolution_rate: rate(r.first_contact, r.resolved),
            escalation_rate: rate(r.escalated, r.created),
            automated_resolution_rate: rate(r.automated, r.resolved),
            csat: Csat { average: tenth(r.csat), ratings: r.ratings },
        })
        .collect();
    Ok(Json(Performance { period: g, data }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TeamQuery {
    /// `hour`, `day`, `week` (default), `month`, `quarter` or `year`; UTC.
    period: Option<Granularity>,
    /// The period holding this time (RFC 3339). Default: now.
    at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentFigures {
    agent_id: Uuid,
    /// Tickets assigned to the agent, created or resolved in the period.
    tickets_handled: i64,
    tickets_resolved: i64,
    /// Percent of handled tickets resolved in the period.
    resolution_rate: Option<f64>,
    /// Created → the agent's first reply, of tickets they answered first in the period.
    avg_first_response_seconds: Option<f64>,
    csat: Csat,
    /// Tickets resolved in the period before.
    previous_tickets_resolved: i64,
    /// Tickets resolved against the period before: `stable` within 5%.
    trend: Trend,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Team {
    period: Granularity,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    previous_period_start: DateTime<Utc>,
    agents: Vec<AgentFigures>,
}

/// Each agent's figures in a period, with the trend against the period before.
#[utoipa::path(get, path = "/v1/metrics/team", operation_id = "get_team_metrics", tag = "metrics",
    params(TeamQuery),
    responses((status = 200, description = "Figures per agent", body = Team),
        (status = 403, description = "Admins and owners only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad period or time", body = Problem, content_type = "application/problem+json")))]
pub async fn team(State(state): State<AppState>, p: Principal, Query(q): Query<TeamQuery>) -> ApiResult<Json<Team>> {
    analyst(&p)?;
    let g = q.period.unwrap_or(Granularity::Week);
    let mut conn = state.pool.acquire().await?;
    let (start, end, previous) = store::period_of(&mut conn, g, q.at.unwrap_or_else(Utc::now)).await?;
    let now = store::team(&mut conn, p.org_id, start, end).await?;
    let before = store::team(&mut conn, p.org_id, previous, start).await?;
    let resolved_before = |agent: Uuid| before.iter().find(|b| b.agent_id == agent).map_or(0, |b| b.resolved);
    let mut agents: Vec<AgentFigures> = now
        .iter()
        .map(|a| {
            let previous_tickets_resolved = resolved_before(a.agent_id);
            AgentFigures {
                agent_id: a.agent_id,
                tickets_handled: a.handled,
                tickets_resolved: a.resolved,
                resolution_rate: rate(a.resolved, a.handled),
                avg_first_response_seconds: tenth(a.response_avg),
                csat: Csat { average: tenth(a.csat), ratings: a.ratings },
                previous_tickets_resolved,
                trend: trend(a.resolved, previous_tickets_resolved),
            }
        })
        .collect();
    // Who resolved tickets before and none now is going down, not absent.
    for b in before.iter().filter(|b| b.resolved > 0 && !now.iter().any(|a| a.agent_id == b.agent_id)) {
        agents.push(AgentFigures {
            agent_id: b.agent_id,
            tickets_handled: 0,
            tickets_resolved: 0,
            resolution_rate: None,
            avg_first_response_seconds: None,
            csat: Csat { average: None, ratings: 0 },
            previous_tickets_resolved: b.resolved,
            trend: Trend::Down,
        });
    }
    Ok(Json(Team { period: g, period_start: start, period_end: end, previous_period_start: previous, agents }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InboxQuery {
    /// First day (UTC), included. Default: 29 days before `to`.
    from: Option<NaiveDate>,
    /// Last day, included. Default: today.
    to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxDay {
    date: NaiveDate,
    messages_received: i64,
    messages_sent: i64,
    conversations_new: i64,
    /// A customer's earliest unanswered message → our next reply, over `responses`.
    avg_response_seconds: Option<f64>,
    responses: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxAnalytics {
    data: Vec<InboxDay>,
    /// The whole range.
    total: InboxDay,
}

fn inbox_day(date: NaiveDate, received: i64, sent: i64, new: i64, seconds: i64, responses: i64) -> InboxDay {
    InboxDay {
        date,
        messages_received: received,
        messages_sent: sent,
        conversations_new: new,
        avg_response_seconds: tenth((responses > 0).then(|| seconds as f64 / responses as f64)),
        responses,
    }
}

/// The inbox per UTC day (seed 004's daily analytics), at most 366 days.
#[utoipa::path(get, path = "/v1/metrics/inbox", operation_id = "get_inbox_metrics", tag = "metrics",
    params(InboxQuery),
    responses((status = 200, description = "Figures per day", body = InboxAnalytics),
        (status = 403, description = "Admins and owners only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "from after to, or more than 366 days", body = Problem, content_type = "application/problem+json")))]
pub async fn inbox(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<InboxQuery>,
) -> ApiResult<Json<InboxAnalytics>> {
    analyst(&p)?;
    use chrono::Datelike;
    let dated = |d: Option<NaiveDate>| d.is_none_or(|d| (1..=9999).contains(&d.year()));
    if !dated(q.from) || !dated(q.to) {
        return Err(invalid("from", "dates from the year 1 to 9999").into());
    }
    let to = q.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = q.from.unwrap_or_else(|| to.checked_sub_days(chrono::Days::new(29)).unwrap_or(to));
    if from > to {
        return Err(invalid("from", "not after to").into());
    }
    if (to - from).num_days() >= 366 {
        return Err(invalid("from", "at most 366 days").into());
    }
    let mut conn = state.pool.acquire().await?;
    let rows = store::inbox(&mut conn, p.org_id, from, to).await?;
    let sum = |f: fn(&store::DayRow) -> i64| rows.iter().map(f).sum::<i64>();
    let total = inbox_day(
        from,
        sum(|r| r.messages_received),
        sum(|r| r.messages_sent),
        sum(|r| r.conversations_new),
        sum(|r| r.response_seconds),
        sum(|r| r.responses),
    );
    let data = rows
        .iter()
        .map(|r| {
            inbox_day(r.day, r.messages_received, r.messages_sent, r.conversations_new, r.response_seconds, r.responses)
        })
        .collect();
    Ok(Json(InboxAnalytics { data, total }))
}
