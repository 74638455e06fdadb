//! A ticket's field-level history.

use axum::extract::State;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{can_read, viewer, visible};
use crate::store::history::{self, Entry};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page size, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub data: Vec<Entry>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

fn bad_cursor() -> Problem {
    Problem::validation(vec![FieldError::new("cursor", "is not a cursor this list gave")])
}

/// Who changed which field from what to what, oldest first. Customers do not see the entries of
/// internal notes.
#[utoipa::path(
    get,
    operation_id = "list_ticket_history",
    path = "/v1/tickets/{id}/history",
    tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number"), HistoryQuery),
    responses((status = 200, description = "One page of history", body = HistoryPage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<HistoryPage>> {
    can_read(&p)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::validation(vec![FieldError::new("limit", "must be between 1 and 500")]).into());
    }
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad_cursor())?;
            String::from_utf8(bytes).ok().and_then(|s| s.parse::<i64>().ok()).ok_or_else(bad_cursor)?
        }
        None => 0,
    };
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let mut conn = state.pool.acquire().await?;
    let mut rows = history::page(&mut conn, p.org_id, ticket.id, viewer.sees_internal(), after, limit).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|e| URL_SAFE_NO_PAD.encode(e.id.to_string())) } else { None };
    Ok(Json(HistoryPage { data: rows, next_cursor }))
}
