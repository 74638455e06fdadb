//! What the customer and project routes share: checking a referenced member with identity,
//! page parameters, and a page of tickets.

use platform::pagination::{Cursor, Page};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::tickets::TicketBody;
use crate::directory::LookupError;
use crate::domain::ticket::Ticket;
use crate::domain::viewer::Viewer;
use crate::AppState;

/// 422 naming `field` unless `user` is a member of `org` (asked of identity, before any
/// transaction); 503 when identity does not answer.
pub async fn member(state: &AppState, org: Uuid, user: Uuid, field: &str) -> ApiResult<()> {
    match state.directory.role(org, user).await {
        Ok(_) => Ok(()),
        Err(LookupError::NotFound) => {
            Err(Problem::validation(vec![FieldError::new(field, "is not a member of this organization")]).into())
        }
        Err(LookupError::Unavailable(why)) => {
            tracing::warn!(%why, "identity did not answer a member lookup");
            Err(Problem::unavailable("identity is unavailable, try again shortly").retry_after(1).into())
        }
    }
}

/// The page size (default 50, 1–200) and the cursor; problems are added to `errors`.
pub fn page(limit: Option<i64>, cursor: Option<&str>, errors: &mut Vec<FieldError>) -> (i64, Option<Cursor>) {
    let limit = match limit.unwrap_or(50) {
        n @ 1..=200 => n,
        _ => {
            errors.push(FieldError::new("limit", "must be between 1 and 200"));
            50
        }
    };
    let after = match cursor.filter(|c| !c.is_empty()).map(Cursor::decode) {
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            errors.push(FieldError::new("cursor", "is not a cursor this list gave"));
            None
        }
        None => None,
    };
    (limit, after)
}

/// The field error `r` carries goes to `errors`; its value, if any, comes back.
pub fn check<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of tickets, newest first.
#[derive(Serialize, ToSchema)]
pub struct TicketPage {
    pub data: Vec<TicketBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

impl TicketPage {
    /// From `limit + 1` rows, as `viewer` sees them.
    pub fn from_rows(rows: Vec<Ticket>, limit: i64, viewer: &Viewer) -> Self {
        let page = Page::from_rows(rows, limit, |t| Cursor { time: t.created_at, id: t.id });
        let data = page.data.into_iter().map(|t| TicketBody::of(t, viewer)).collect();
        Self { data, next_cursor: page.next_cursor }
    }
}
