//! Votes: one per user (or anonymous visitor) per post, `up` or `down`, changeable and
//! retractable. Counts are kept by the database's triggers, exact under concurrency.

use axum::extract::State;
use platform::auth::Principal;
use platform::extract::{Json, Path};
use platform::{ApiResult, Problem};
use proto::events as ev;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::can_write;
use crate::domain::{Viewer, VoteType};
use crate::store::votes::{self, Tally, VoterKey};
use crate::{boards, events, store, AppState};

/// Who votes.
pub enum Voter {
    User(Uuid),
    /// Keyed hash of the visitor's address and user agent.
    Anonymous(Vec<u8>),
}

impl Voter {
    fn key(&self) -> VoterKey<'_> {
        match self {
            Self::User(u) => VoterKey::User(*u),
            Self::Anonymous(k) => VoterKey::Anonymous(k),
        }
    }

    fn user(&self) -> Option<Uuid> {
        match self {
            Self::User(u) => Some(*u),
            Self::Anonymous(_) => None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    #[serde(rename = "type")]
    #[schema(value_type = VoteType)]
    vote_type: String,
}

pub fn parse(body: &VoteBody) -> Result<VoteType, Problem> {
    VoteType::parse("type", &body.vote_type).map_err(|e| Problem::validation(vec![e]))
}

/// 404 for another tenant's post or one the viewer may not see; 409 for a deleted or merged one.
async fn open_for_votes(conn: &mut sqlx::PgConnection, viewer: &Viewer, id: Uuid) -> ApiResult<()> {
    let post = store::openness(conn, viewer.org(), id).await?.ok_or_else(|| Problem::not_found("feedback"))?;
    if !viewer.sees_post(post.is_public, post.author_id) {
        return Err(Problem::not_found("feedback").into());
    }
    if post.deleted {
        return Err(Problem::conflict("this post was deleted").into());
    }
    if post.merged_into_id.is_some() {
        return Err(Problem::conflict("this post was merged; vote on the post it was merged into").into());
    }
    Ok(())
}

fn vote_event(
    org: Uuid,
    id: Uuid,
    t: &Tally,
    vote_type: &str,
    previous: Option<String>,
    voter: Option<Uuid>,
) -> ev::Vote {
    ev::Vote {
        organization_id: org,
        feedback_id: id,
        vote_type: vote_type.to_owned(),
        previous_type: previous,
        vote_count: t.vote_count,
        upvotes: t.upvotes,
        downvotes: t.downvotes,
        voter_id: voter,
    }
}

/// Casts or changes a vote.
pub async fn cast(state: &AppState, viewer: &Viewer, id: Uuid, voter: Voter, vote: VoteType) -> ApiResult<Tally> {
    let org = viewer.org();
    let mut tx = state.pool.begin().await?;
    open_for_votes(&mut tx, viewer, id).await?;
    let previous = votes::current(&mut tx, id, &voter.key()).await?;
    if previous.as_deref() == Some(vote.as_str()) {
        return Ok(votes::tally(&mut tx, id, Some(vote)).await?);
    }
    votes::upsert(&mut tx, org, id, &voter.key(), vote).await?;
    let t = votes::tally(&mut tx, id, Some(vote)).await?;
    let event_type = if previous.is_some() { ev::VOTE_CHANGED } else { ev::VOTE_CREATED };
    events::emit(&mut tx, event_type, org, id, vote_event(org, id, &t, vote.as_str(), previous, voter.user())).await?;
    if let Some(u) = voter.user() {
        if boards::by_org(&mut tx, org).await?.is_some_and(|b| b.auto_subscribe_voters) {
            store::subscribe(&mut tx, id, u).await?;
        }
    }
    tx.commit().await?;
    state.changed(&[id]).await;
    Ok(t)
}

/// Retracts a vote; nothing to retract is not an error.
pub async fn withdraw(state: &AppState, viewer: &Viewer, id: Uuid, voter: Voter) -> ApiResult<Tally> {
    let org = viewer.org();
    let mut tx = state.pool.begin().await?;
    open_for_votes(&mut tx, viewer, id).await?;
    let removed = votes::delete(&mut tx, id, &voter.key()).await?;
    let t = votes::tally(&mut tx, id, None).await?;
    if let Some(previous) = removed {
        events::emit(&mut tx, ev::VOTE_DELETED, org, id, vote_event(org, id, &t, &previous, None, voter.user()))
            .await?;
    }
    tx.commit().await?;
    state.changed(&[id]).await;
    Ok(t)
}

/// Vote on a post (signed-in users).
#[utoipa::path(
    put,
    operation_id = "vote",
    path = "/v1/feedback/{id}/vote",
    tag = "votes",
    params(("id" = Uuid, Path, description = "The post's id")),
    request_body = VoteBody,
    responses(
        (status = 200, description = "The post's counts and your vote", body = Tally),
        (status = 409, description = "The post was deleted or merged", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn vote(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<VoteBody>,
) -> ApiResult<Json<Tally>> {
    can_write(&principal)?;
    let vote = parse(&body)?;
    let user = principal.require_user()?;
    Ok(Json(cast(&state, &Viewer::of(&principal), id, Voter::User(user), vote).await?))
}

/// Retract your vote.
#[utoipa::path(
    delete,
    operation_id = "retract_vote",
    path = "/v1/feedback/{id}/vote",
    tag = "votes",
    params(("id" = Uuid, Path, description = "The post's id")),
    responses(
        (status = 200, description = "The post's counts", body = Tally),
        (status = 409, description = "The post was deleted or merged", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retract(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Tally>> {
    can_write(&principal)?;
    let user = principal.require_user()?;
    Ok(Json(withdraw(&state, &Viewer::of(&principal), id, Voter::User(user)).await?))
}
