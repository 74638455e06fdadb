//! The activity log: every event of the organization, newest first.

use axum::extract::State;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::reader;
use crate::store::activity::{self, Entry, Filter};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize)]
pub struct ActivityQuery {
    #[serde(flatten)]
    page: PageQuery,
    actor: Option<Uuid>,
    action: Option<String>,
    resource: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityPage {
    data: Vec<Entry>,
    next_cursor: Option<String>,
}

/// What happened in the organization, newest first (admins and owners).
#[utoipa::path(get, path = "/v1/activity", operation_id = "list_activity", tag = "activity",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
        ("actor" = Option<Uuid>, Query, description = "Who did it (a user id)"),
        ("action" = Option<String>, Query, max_length = 100, description = "An event type (ticket.created) or a family (ticket.*)"),
        ("resource" = Option<String>, Query, max_length = 100, description = "A resource type (ticket, inbox.message) or a resource's id"),
        ("from" = Option<DateTime<Utc>>, Query, description = "From this time (RFC 3339)"),
        ("to" = Option<DateTime<Utc>>, Query, description = "Before this time (RFC 3339)")),
    responses((status = 200, description = "A page of the log", body = ActivityPage),
        (status = 403, description = "Admins and owners only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter or cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ActivityQuery>,
) -> ApiResult<Json<ActivityPage>> {
    reader(&p)?;
    let (limit, cursor) = q.page.parse()?;
    let mut errors = Vec::new();
    let ok = |s: &str| !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_graphic());
    if q.action.as_deref().is_some_and(|a| !ok(a)) {
        errors.push(FieldError::new("action", "an event type or family.*"));
    }
    if q.resource.as_deref().is_some_and(|r| !ok(r)) {
        errors.push(FieldError::new("resource", "a resource type or id"));
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            errors.push(FieldError::new("from", "not after to"));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let filter = Filter { actor: q.actor, action: q.action, resource: q.resource, from: q.from, to: q.to };
    let mut conn = state.pool.acquire().await?;
    let rows = activity::list(&mut conn, p.org_id, &filter, cursor.map(|c| (c.time, c.id)), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |e| Cursor { time: e.created_at, id: e.id });
    Ok(Json(ActivityPage { data: page.data, next_cursor: page.next_cursor }))
}
