//! Usage of the current period and of past ones.

use axum::extract::State;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Query};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::reader;
use crate::periods::{month_start, next_month};
use crate::plans::{self, COUNTERS, GAUGES};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(current)).routes(routes!(history))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricUsage {
    metric: String,
    used: i64,
    /// `-1` is unlimited.
    limit: i64,
    /// `hard` (refused past the limit), `soft` (allowed, alerted) or `unlimited`.
    mode: String,
    /// `used` of `limit` in percent; `null` when unlimited.
    percent: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// The usage period: the calendar month (UTC). Gauges (`seats`, `connections`,
    /// `webhook_endpoints`, `api_keys`) are how many there are now.
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    plan: String,
    status: String,
    metrics: Vec<MetricUsage>,
}

/// This period's usage of every metric against the plan's limits.
#[utoipa::path(get, path = "/v1/usage", operation_id = "get_usage", tag = "usage",
    responses((status = 200, description = "Usage now", body = Usage),
        (status = 403, description = "Admins and owners only", body = Problem, content_type = "application/problem+json")))]
pub async fn current(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Usage>> {
    reader(&p)?;
    let now = Utc::now();
    let period = month_start(now);
    // What quota checks answer from: the same figures, the same plan.
    let standing = state.ledger.standing(p.org_id).await?;
    let (plan, status, used) = (standing.plan, standing.status, standing.usage);
    let metrics = COUNTERS
        .iter()
        .chain(GAUGES.iter())
        .map(|m| {
            let l = plan.limit(m);
            let used = used.get(*m).copied().unwrap_or(0).max(0);
            let mode = if l.unlimited() {
                "unlimited"
            } else if l.hard {
                "hard"
            } else {
                "soft"
            };
            MetricUsage {
                metric: (*m).to_owned(),
                used,
                limit: l.limit,
                mode: mode.to_owned(),
                percent: plans::percent(used, l.limit).map(|p| (p * 10.0).round() / 10.0),
            }
        })
        .collect();
    Ok(Json(Usage { period_start: period, period_end: next_month(now), plan: plan.name.clone(), status, metrics }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// First month (RFC 3339; the month it falls in). Default: eleven months ago.
    from: Option<DateTime<Utc>>,
    /// Last month, included. Default: this one.
    to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodUsage {
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    /// Counted metrics of the period (`feedback_posts`, `tickets`, `messages`).
    metrics: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageHistory {
    data: Vec<PeriodUsage>,
}

/// Counted usage per month, newest first (at most 36 months).
#[utoipa::path(get, path = "/v1/usage/history", operation_id = "get_usage_history", tag = "usage",
    params(HistoryQuery),
    responses((status = 200, description = "Usage per month", body = UsageHistory),
        (status = 403, description = "Admins and owners only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "from after to, or more than 36 months", body = Problem, content_type = "application/problem+json")))]
pub async fn history(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<UsageHistory>> {
    reader(&p)?;
    let now = Utc::now();
    let to = month_start(q.to.unwrap_or(now));
    let from = match q.from {
        Some(f) => month_start(f),
        None => to.checked_sub_months(chrono::Months::new(11)).unwrap_or(to),
    };
    if from > to {
        return Err(Problem::validation(vec![FieldError::new("from", "not after to")]).into());
    }
    if to.checked_sub_months(chrono::Months::new(35)).is_some_and(|earliest| from < earliest) {
        return Err(Problem::validation(vec![FieldError::new("from", "at most 36 months")]).into());
    }
    let mut conn = state.pool.acquire().await?;
    let rows = crate::store::usage::history(&mut conn, p.org_id, from, next_month(to)).await?;
    let mut data: Vec<PeriodUsage> = Vec::new();
    for (period, metric, value) in rows {
        if data.last().is_none_or(|d| d.period_start != period) {
            data.push(PeriodUsage {
                period_start: period,
                period_end: next_month(period),
                metrics: Default::default(),
            });
        }
        if let Some(last) = data.last_mut() {
            last.metrics.insert(metric, value);
        }
    }
    Ok(Json(UsageHistory { data }))
}
