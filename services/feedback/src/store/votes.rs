//! Votes: one per user or anonymous visitor per post; counts kept by triggers.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::VoteType;

/// Who votes, as stored: a user, or the keyed hash of an anonymous visitor.
pub enum VoterKey<'a> {
    User(Uuid),
    Anonymous(&'a [u8]),
}

impl VoterKey<'_> {
    fn parts(&self) -> (Option<Uuid>, Option<&[u8]>) {
        match self {
            Self::User(u) => (Some(*u), None),
            Self::Anonymous(k) => (None, Some(k)),
        }
    }
}

/// The post's counts after the vote, and the caller's vote.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tally {
    pub feedback_id: Uuid,
    pub vote_count: i32,
    pub upvotes: i32,
    pub downvotes: i32,
    #[sqlx(skip)]
    pub your_vote: Option<VoteType>,
}

pub async fn tally(conn: &mut PgConnection, id: Uuid, your_vote: Option<VoteType>) -> sqlx::Result<Tally> {
    let mut t: Tally =
        sqlx::query_as("SELECT id AS feedback_id, vote_count, upvotes, downvotes FROM feedback WHERE id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?;
    t.your_vote = your_vote;
    Ok(t)
}

/// The voter's current vote on the post, locked.
pub async fn current(conn: &mut PgConnection, post: Uuid, voter: &VoterKey<'_>) -> sqlx::Result<Option<String>> {
    let (user, key) = voter.parts();
    sqlx::query_scalar("SELECT type FROM votes WHERE feedback_id = $1 AND (user_id = $2 OR voter_key = $3) FOR UPDATE")
        .bind(post)
        .bind(user)
        .bind(key)
        .fetch_optional(conn)
        .await
}

/// Casts or changes the voter's vote.
pub async fn upsert(
    conn: &mut PgConnection,
    org: Uuid,
    post: Uuid,
    voter: &VoterKey<'_>,
    vote: VoteType,
) -> sqlx::Result<()> {
    let (user, key) = voter.parts();
    let conflict = if user.is_some() { "(feedback_id, user_id)" } else { "(feedback_id, voter_key)" };
    sqlx::query(&format!(
        "INSERT INTO votes (id, feedback_id, organization_id, user_id, voter_key, type) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT {conflict} DO UPDATE SET type = EXCLUDED.type, updated_at = now() WHERE votes.type <> EXCLUDED.type"
    ))
    .bind(Uuid::now_v7())
    .bind(post)
    .bind(org)
    .bind(user)
    .bind(key)
    .bind(vote.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the voter's vote; the type it had, if any.
pub async fn delete(conn: &mut PgConnection, post: Uuid, voter: &VoterKey<'_>) -> sqlx::Result<Option<String>> {
    let (user, key) = voter.parts();
    sqlx::query_scalar("DELETE FROM votes WHERE feedback_id = $1 AND (user_id = $2 OR voter_key = $3) RETURNING type")
        .bind(post)
        .bind(user)
        .bind(key)
        .fetch_optional(conn)
        .await
}
