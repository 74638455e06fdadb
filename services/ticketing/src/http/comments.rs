//! Comments of a ticket: public replies and internal notes (agents only; customers never see
//! them).

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, PageQuery};
use platform::{ApiResult, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tickets::TicketBody;
use super::{can_read, can_write, schema, viewer, visible};
use crate::domain::fields;
use crate::domain::ticket::{Actor, AuthorKind};
use crate::service::tickets::{self as service, NewComment};
use crate::store::comments::{self, Comment};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    #[schema(schema_with = schema::body)]
    body: String,
    /// An internal note, for agents only. Default false.
    #[serde(default)]
    is_internal: bool,
}

/// The comment and the ticket it landed on (the target of a merge, or the follow-up a reply to a
/// closed ticket opened).
#[derive(Debug, Serialize, ToSchema)]
pub struct Posted {
    pub comment: Comment,
    pub ticket: TicketBody,
    /// Whether `ticket` is a follow-up this reply opened.
    pub opened_follow_up: bool,
}

/// Reply to a ticket, or add an internal note. A customer's reply to a resolved ticket reopens
/// it; to a closed one, it opens a follow-up ticket.
#[utoipa::path(
    post,
    operation_id = "create_ticket_comment",
    path = "/v1/tickets/{id}/comments",
    tag = "comments",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body = CreateComment,
    responses(
        (status = 201, description = "The comment", body = Posted),
        (status = 409, description = "An agent's public reply to a closed ticket", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<CreateComment>,
) -> ApiResult<(StatusCode, Json<Posted>)> {
    can_write(&p)?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    if body.is_internal && !viewer.staff {
        return Err(Problem::forbidden("internal notes are for agents").into());
    }
    let text = fields::not_blank("body", &body.body, fields::TEXT_MAX).map_err(|e| Problem::validation(vec![e]))?;
    let new = NewComment {
        body: text,
        is_internal: body.is_internal,
        author_kind: if viewer.staff { AuthorKind::Agent } else { AuthorKind::Customer },
        customer_id: if viewer.staff { None } else { viewer.profile.or(ticket.customer_id) },
        source: ticket.source,
        inbox_message_id: None,
    };
    let actor = p.user_id.map_or(Actor::System, Actor::User);
    let mut tx = state.pool.begin().await?;
    let outcome = service::add_comment(&mut tx, &state, p.org_id, ticket.id, new, actor).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Posted {
            comment: outcome.comment,
            ticket: TicketBody::of(outcome.ticket, &viewer),
            opened_follow_up: outcome.opened_follow_up,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentsQuery {
    /// Page size, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentPage {
    pub data: Vec<Comment>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A ticket's comments, oldest first (customers see public replies only).
#[utoipa::path(
    get,
    operation_id = "list_ticket_comments",
    path = "/v1/tickets/{id}/comments",
    tag = "comments",
    params(("id" = String, Path, description = "The ticket's id or number"), CommentsQuery),
    responses((status = 200, description = "One page of comments", body = CommentPage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<CommentsQuery>,
) -> ApiResult<Json<CommentPage>> {
    can_read(&p)?;
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let (limit, cursor) = PageQuery { limit: q.limit, cursor: q.cursor }.parse()?;
    let mut conn = state.pool.acquire().await?;
    let mut rows = comments::page(&mut conn, p.org_id, ticket.id, viewer.sees_internal(), limit, cursor).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|c| Cursor { time: c.created_at, id: c.id }.encode()) } else { None };
    Ok(Json(CommentPage { data: rows, next_cursor }))
}
