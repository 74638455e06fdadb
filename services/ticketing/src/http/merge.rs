//! Merging a ticket into another (agents).

use axum::extract::State;
use platform::auth::Principal;
use platform::extract::{Json, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tickets::TicketBody;
use super::{can_write, staff, viewer, visible};
use crate::service::change::Who;
use crate::service::merge;
use crate::store::tickets::TicketRef;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(merge_into))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The ticket to merge into: its id or number (not blank; surrounding white space is trimmed).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
        example = "TKT-2026-000042"
    )]
    target: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Merged {
    /// The merged ticket (status `merged`).
    pub source: TicketBody,
    /// The ticket it now lives on, with its comments and watchers.
    pub target: TicketBody,
}

/// Merge this ticket into `target`: it becomes `merged`, its comments and watchers move, and
/// later replies to it land on the target.
#[utoipa::path(
    post,
    operation_id = "merge_ticket",
    path = "/v1/tickets/{id}/merge",
    tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "Both tickets after the merge", body = Merged),
        (status = 409, description = "One of them is closed or merged already", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn merge_into(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<MergeRequest>,
) -> ApiResult<Json<Merged>> {
    can_write(&p)?;
    staff(&p)?;
    let target = body.target.trim();
    if target.is_empty() || body.target.chars().count() > 100 {
        return Err(Problem::validation(vec![FieldError::new("target", "must be a ticket's id or number")]).into());
    }
    let viewer = viewer(&state, &p).await?;
    let source = visible(&state, &viewer, &id).await?;
    let mut tx = state.pool.begin().await?;
    let (source, target) =
        merge::merge(&mut tx, &state, p.org_id, source.id, TicketRef::from(target), Who::agent(p.user_id)).await?;
    tx.commit().await?;
    Ok(Json(Merged { source: TicketBody::of(source, &viewer), target: TicketBody::of(target, &viewer) }))
}
