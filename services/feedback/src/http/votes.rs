//! Votes: one per user (or anonymous visitor) per post, `up` or `down`, changeable and
//! retractable. Counts are kept by the database's triggers, exact under concurrency.

use axum::extract::State;
use platform::auth::Principal;
use platform::extract::{Json, Path};
use platform::{ApiResult, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{can_write, is_staff};
use crate::domain::VoteType;
use crate::{boards, events, store, AppState};

/// Who votes.
pub enum Voter {
    User(Uuid),
    /// Keyed hash of the visitor's address and user agent.
    Anonymous(Vec<u8>),
}

#[derive(Deserialize)]
pub struct VoteBody {
    #[serde(rename = "type")]
    vote_type: String,
}

/// The post's counts after the vote, and the caller's vote.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Tally {
    pub feedback_id: Uuid,
    pub vote_count: i32,
    pub upvotes: i32,
    pub downvotes: i32,
    #[sqlx(skip)]
    pub your_vote: Option<VoteType>,
}

pub fn parse(body: &VoteBody) -> Result<VoteType, Problem> {
    VoteType::parse("type", &body.vote_type).map_err(|e| Problem::validation(vec![e]))
}

/// 404 for another tenant's post or one the voter may not see; 409 for a deleted or merged one.
async fn open_for_votes(
    conn: &mut sqlx::PgConnection,
    org: Uuid,
    id: Uuid,
    voter: &Voter,
    staff: bool,
) -> Result<(), platform::ApiError> {
    let row: Option<(bool, Option<Uuid>, bool, Option<Uuid>)> = sqlx::query_as(
        "SELECT deleted_at IS NOT NULL, merged_into_id, is_public, author_id FROM feedback \
         WHERE id = $1 AND organization_id = $2 FOR KEY SHARE",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    let (deleted, merged, public, author) = row.ok_or_else(|| Problem::not_found("feedback"))?;
    let own = matches!(voter, Voter::User(u) if author == Some(*u));
    if !public && !staff && !own {
        return Err(Problem::not_found("feedback").into());
    }
    if deleted {
        return Err(Problem::conflict("this post was deleted").into());
    }
    if merged.is_some() {
        return Err(Problem::conflict("this post was merged; vote on the post it was merged into").into());
    }
    Ok(())
}

async fn tally(conn: &mut sqlx::PgConnection, id: Uuid, your_vote: Option<VoteType>) -> sqlx::Result<Tally> {
    let mut t: Tally =
        sqlx::query_as("SELECT id AS feedback_id, vote_count, upvotes, downvotes FROM feedback WHERE id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?;
    t.your_vote = your_vote;
    Ok(t)
}

/// Casts or changes a vote.
pub async fn cast(
    state: &AppState,
    org: Uuid,
    id: Uuid,
    voter: Voter,
    staff: bool,
    vote: VoteType,
) -> ApiResult<Tally> {
    let mut tx = state.pool.begin().await?;
    open_for_votes(&mut tx, org, id, &voter, staff).await?;
    let (user, key) = match &voter {
        Voter::User(u) => (Some(*u), None),
        Voter::Anonymous(k) => (None, Some(k.clone())),
    };
    let previous: Option<String> = sqlx::query_scalar(
        "SELECT type FROM votes WHERE feedback_id = $1 AND (user_id = $2 OR voter_key = $3) FOR UPDATE",
    )
    .bind(id)
    .bind(user)
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await?;
    if previous.as_deref() == Some(vote.as_str()) {
        return Ok(tally(&mut tx, id, Some(vote)).await?);
    }
    let conflict = if user.is_some() { "(feedback_id, user_id)" } else { "(feedback_id, voter_key)" };
    sqlx::query(&format!(
        "INSERT INTO votes (id, feedback_id, organization_id, user_id, voter_key, type) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT {conflict} DO UPDATE SET type = EXCLUDED.type, updated_at = now() WHERE votes.type <> EXCLUDED.type"
    ))
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(org)
    .bind(user)
    .bind(&key)
    .bind(vote.as_str())
    .execute(&mut *tx)
    .await?;
    let t = tally(&mut tx, id, Some(vote)).await?;
    let event_type = if previous.is_some() { ev::VOTE_CHANGED } else { ev::VOTE_CREATED };
    events::emit(
        &mut tx,
        event_type,
        org,
        id,
        ev::Vote {
            organization_id: org,
            feedback_id: id,
            vote_type: vote.as_str().to_owned(),
            previous_type: previous,
            vote_count: t.vote_count,
            upvotes: t.upvotes,
            downvotes: t.downvotes,
            voter_id: user,
        },
    )
    .await?;
    if let Some(u) = user {
        let auto = boards::by_org(&mut tx, org).await?.is_some_and(|b| b.auto_subscribe_voters);
        if auto {
            store::subscribe(&mut tx, id, u, staff).await?;
        }
    }
    tx.commit().await?;
    state.changed(&[id]).await;
    Ok(t)
}

/// Retracts a vote; nothing to retract is not an error.
pub async fn withdraw(state: &AppState, org: Uuid, id: Uuid, voter: Voter, staff: bool) -> ApiResult<Tally> {
    let mut tx = state.pool.begin().await?;
    open_for_votes(&mut tx, org, id, &voter, staff).await?;
    let (user, key) = match &voter {
        Voter::User(u) => (Some(*u), None),
        Voter::Anonymous(k) => (None, Some(k.clone())),
    };
    let removed: Option<String> = sqlx::query_scalar(
        "DELETE FROM votes WHERE feedback_id = $1 AND (user_id = $2 OR voter_key = $3) RETURNING type",
    )
    .bind(id)
    .bind(user)
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await?;
    let t = tally(&mut tx, id, None).await?;
    if let Some(previous) = removed {
        events::emit(
            &mut tx,
            ev::VOTE_DELETED,
            org,
            id,
            ev::Vote {
                organization_id: org,
                feedback_id: id,
                vote_type: previous,
                previous_type: None,
                vote_count: t.vote_count,
                upvotes: t.upvotes,
                downvotes: t.downvotes,
                voter_id: user,
            },
        )
        .await?;
    }
    tx.commit().await?;
    state.changed(&[id]).await;
    Ok(t)
}

/// `PUT /v1/feedback/{id}/vote {type: "up"|"down"}`.
pub async fn vote(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<VoteBody>,
) -> ApiResult<Json<Tally>> {
    can_write(&principal)?;
    let vote = parse(&body)?;
    let user = principal.require_user()?;
    Ok(Json(cast(&state, principal.org_id, id, Voter::User(user), is_staff(&principal), vote).await?))
}

/// `DELETE /v1/feedback/{id}/vote`.
pub async fn retract(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Tally>> {
    can_write(&principal)?;
    let user = principal.require_user()?;
    Ok(Json(withdraw(&state, principal.org_id, id, Voter::User(user), is_staff(&principal)).await?))
}
