//! Suggested answers (articles closest to a ticket, drafted replies) and complexity scores.
//! Keyed by a ticket id only after that ticket was found in the caller's organization; every
//! statement filters by organization all the same.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::assist::complexity::Complexity;
use crate::domain::knowledge::SuggestionKind;

/// A published article matching a ticket's words, with what its confidence is computed from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub id: Uuid,
    pub title: String,
    pub content: String,
    /// `ts_rank_cd` against the ticket's words OR-ed together.
    pub rank: f32,
    /// How many of the ticket's distinct words the article contains.
    pub matched: i64,
    /// How many distinct words the ticket has.
    pub terms: i64,
}

/// The `limit` published articles of `org` closest to `text`, best first.
pub async fn candidates(conn: &mut PgConnection, org: Uuid, text: &str, limit: i64) -> sqlx::Result<Vec<Candidate>> {
    // plainto_tsquery ANDs the words; as text its lexemes are quoted, so turning the ANDs into
    // ORs is safe and finds articles that share any of the words.
    sqlx::query_as(
        "SELECT a.id, a.title, a.content, ts_rank_cd(a.search, q.query) AS rank, \
                (SELECT count(*) FROM unnest(tsvector_to_array(a.search)) l WHERE l = ANY (q.terms)) AS matched, \
                cardinality(q.terms)::bigint AS terms \
         FROM (SELECT replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')::tsquery AS query, \
                      ARRAY(SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $2))) AS terms) q, \
              knowledge_articles a \
         WHERE a.organization_id = $1 AND a.status = 'published' AND a.search @@ q.query \
         ORDER BY rank DESC, a.id DESC LIMIT $3",
    )
    .bind(org)
    .bind(text)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// A suggestion to record.
#[derive(Debug, Clone)]
pub struct NewSuggestion {
    pub kind: SuggestionKind,
    pub article_id: Option<Uuid>,
    pub response_text: String,
    pub confidence: f64,
    pub model_used: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
}

/// A suggested answer as agents see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Suggestion {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub kind: SuggestionKind,
    /// The suggested article (`null` for drafts, or once the article is gone).
    pub article_id: Option<Uuid>,
    pub article_title: Option<String>,
    /// The article's content, or the drafted reply.
    pub response_text: String,
    /// 0…1; see the documented formula.
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// For drafts: the model that wrote it and the tokens it took.
    pub model_used: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub was_helpful: Option<bool>,
    pub feedback_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "s.id, s.ticket_id, s.kind, s.article_id, a.title AS article_title, s.response_text, \
    s.confidence::float8 AS confidence, s.model_used, s.prompt_tokens, s.completion_tokens, s.was_helpful, \
    s.feedback_reason, s.created_at";
const FROM: &str = "suggested_answers s LEFT JOIN knowledge_articles a ON a.id = s.article_id AND a.organization_id = s.organization_id";

/// Records one batch of suggestions (they share the transaction's time, which marks the batch).
pub async fn insert(conn: &mut PgConnection, org: Uuid, ticket: Uuid, batch: &[NewSuggestion]) -> sqlx::Result<()> {
    for s in batch {
        sqlx::query(
            "INSERT INTO suggested_answers (id, organization_id, ticket_id, article_id, kind, response_text, \
             confidence, model_used, prompt_tokens, completion_tokens) VALUES ($1, $2, $3, $4, $5, $6, \
             round($7::numeric, 2), $8, $9, $10)",
        )
        .bind(Uuid::now_v7())
        .bind(org)
        .bind(ticket)
        .bind(s.article_id)
        .bind(s.kind)
        .bind(&s.response_text)
        .bind(s.confidence.clamp(0.0, 1.0))
        .bind(&s.model_used)
        .bind(s.prompt_tokens)
        .bind(s.completion_tokens)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The latest batch of a ticket's suggestions: drafts first, then by confidence.
pub async fn latest(conn: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<Vec<Suggestion>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE s.organization_id = $1 AND s.ticket_id = $2 \
         AND s.created_at = (SELECT max(created_at) FROM suggested_answers WHERE organization_id = $1 AND ticket_id = $2) \
         ORDER BY s.kind DESC, s.confidence DESC, s.id"
    ))
    .bind(org)
    .bind(ticket)
    .fetch_all(conn)
    .await
}

/// Records an agent's judgement of a suggestion of the ticket; `None` if there is no such one.
pub async fn feedback(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    id: Uuid,
    helpful: bool,
    reason: Option<&str>,
) -> sqlx::Result<Option<Suggestion>> {
    let updated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE suggested_answers SET was_helpful = $4, feedback_reason = $5 \
         WHERE organization_id = $1 AND ticket_id = $2 AND id = $3 RETURNING id",
    )
    .bind(org)
    .bind(ticket)
    .bind(id)
    .bind(helpful)
    .bind(reason)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = updated else { return Ok(None) };
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM {FROM} WHERE s.organization_id = $1 AND s.id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// How many comments and attachments a ticket has.
pub async fn activity(conn: &mut PgConnection, org: Uuid, ticket: Uuid) -> sqlx::Result<(usize, usize)> {
    let (comments, attachments): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ticket_comments WHERE ticket_id = $1 AND organization_id = $2), \
                (SELECT count(*) FROM ticket_attachments WHERE ticket_id = $1 AND organization_id = $2)",
    )
    .bind(ticket)
    .bind(org)
    .fetch_one(conn)
    .await?;
    Ok((usize::try_from(comments).unwrap_or(0), usize::try_from(attachments).unwrap_or(0)))
}

/// A customer profile's tier.
pub async fn customer_tier(conn: &mut PgConnection, org: Uuid, customer: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT tier FROM customer_profiles WHERE id = $1 AND organization_id = $2")
        .bind(customer)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// A recorded complexity score.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ComplexityScore {
    pub id: Uuid,
    pub ticket_id: Uuid,
    #[schema(minimum = 0, maximum = 100)]
    pub score: i32,
    /// Per factor: the observed `value`, the `points` given and their `max`.
    #[schema(value_type = Object)]
    pub factors: sqlx::types::Json<serde_json::Value>,
    pub escalation_recommended: bool,
    pub created_at: DateTime<Utc>,
}

const COMPLEXITY: &str = "id, ticket_id, score, factors, escalation_recommended, created_at";

pub async fn record_complexity(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    c: &Complexity,
) -> sqlx::Result<ComplexityScore> {
    sqlx::query_as(&format!(
        "INSERT INTO complexity_scores (id, organization_id, ticket_id, score, factors, escalation_recommended) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COMPLEXITY}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(ticket)
    .bind(c.score)
    .bind(sqlx::types::Json(&c.factors))
    .bind(c.escalation_recommended)
    .fetch_one(conn)
    .await
}

/// The ticket's latest complexity score.
pub async fn latest_complexity(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
) -> sqlx::Result<Option<ComplexityScore>> {
    sqlx::query_as(&format!(
        "SELECT {COMPLEXITY} FROM complexity_scores WHERE organization_id = $1 AND ticket_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(org)
    .bind(ticket)
    .fetch_optional(conn)
    .await
}
