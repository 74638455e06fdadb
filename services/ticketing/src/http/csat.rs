//! Customer satisfaction: one rating of a resolved ticket, by its requester or through the API.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{CredentialKind, Principal};
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tickets::TicketBody;
use super::{can_write, viewer, visible};
use crate::domain::fields;
use crate::domain::ticket::{Actor, AuthorKind};
use crate::service::change::Who;
use crate::service::extras;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rate))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    #[schema(minimum = 1, maximum = 5)]
    rating: i64,
    #[schema(max_length = 2000, nullable)]
    comment: Option<String>,
}

/// Rate a resolved (or closed) ticket, once: its requester, or an API key (a survey tool). The
/// rating feeds the assignee's agent rating.
#[utoipa::path(
    post,
    operation_id = "rate_ticket",
    path = "/v1/tickets/{id}/csat",
    tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body = Rating,
    responses(
        (status = 201, description = "The rated ticket", body = TicketBody),
        (status = 409, description = "Not resolved yet, or rated already", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rate(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<Rating>,
) -> ApiResult<(StatusCode, Json<TicketBody>)> {
    can_write(&p)?;
    let mut errors = Vec::new();
    let rating = i16::try_from(body.rating).ok().filter(|r| (1..=5).contains(r));
    if rating.is_none() {
        errors.push(FieldError::new("rating", "must be 1 to 5"));
    }
    let comment = match body.comment.as_deref() {
        Some(c) => fields::text("comment", c.trim(), 2000).map_err(|e| errors.push(e)).ok().filter(|c| !c.is_empty()),
        None => None,
    };
    let Some(rating) = rating.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let viewer = viewer(&state, &p).await?;
    let ticket = visible(&state, &viewer, &id).await?;
    let api = p.kind == CredentialKind::ApiKey;
    if !api && !viewer.is_requester(&ticket) {
        return Err(Problem::forbidden("the ticket's requester rates it (or an API key)").into());
    }
    let who = match p.user_id {
        Some(u) => Who { actor: Actor::User(u), kind: AuthorKind::Customer },
        None => Who::SYSTEM,
    };
    let mut tx = state.pool.begin().await?;
    let rated = extras::rate(&mut tx, p.org_id, ticket.id, rating, comment, who).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(TicketBody::of(rated, &viewer))))
}
