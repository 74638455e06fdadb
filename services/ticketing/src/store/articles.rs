//! Knowledge articles: writing, the lifecycle, views, votes and ranked full-text search.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::knowledge::{ArticleSource, ArticleStatus};

/// An article as readers see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Article {
    pub id: Uuid,
    pub title: String,
    pub content: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub status: ArticleStatus,
    pub source: ArticleSource,
    /// The ticket it was written from (not shown to customers).
    pub source_ticket_id: Option<Uuid>,
    pub view_count: i64,
    pub helpful_votes: i32,
    pub unhelpful_votes: i32,
    /// helpful / (helpful + unhelpful); `null` before the first vote.
    #[schema(minimum = 0, maximum = 1)]
    pub effectiveness: Option<f64>,
    /// Not shown to customers.
    pub created_by: Option<Uuid>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, title, content, category, tags, status, source, source_ticket_id, view_count, \
    helpful_votes, unhelpful_votes, \
    CASE WHEN helpful_votes + unhelpful_votes > 0 THEN helpful_votes::float8 / (helpful_votes + unhelpful_votes) END \
    AS effectiveness, created_by, published_at, created_at, updated_at";

/// An article's fields as given; `None` keeps (or, when creating, defaults) the value.
#[derive(Debug, Default)]
pub struct Fields {
    pub title: Option<String>,
    pub content: Option<String>,
    /// `Some(None)` clears it.
    pub category: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

pub async fn insert(
    conn: &mut PgConnection,
    org: Uuid,
    f: Fields,
    source_ticket: Option<Uuid>,
    by: Option<Uuid>,
) -> sqlx::Result<Article> {
    let source = if source_ticket.is_some() { ArticleSource::Ticket } else { ArticleSource::Manual };
    sqlx::query_as(&format!(
        "INSERT INTO knowledge_articles (id, organization_id, title, content, category, tags, source, source_ticket_id, \
         created_by) VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{{}}'), $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(f.title.unwrap_or_default())
    .bind(f.content.unwrap_or_default())
    .bind(f.category.flatten())
    .bind(f.tags)
    .bind(source)
    .bind(source_ticket)
    .bind(by)
    .fetch_one(conn)
    .await
}

/// What an article written from a ticket starts from: its subject, description and public
/// agent replies (the answer), oldest first.
pub async fn ticket_material(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
) -> sqlx::Result<Option<(String, String, Vec<String>)>> {
    let found: Option<(String, String)> =
        sqlx::query_as("SELECT subject, description FROM tickets WHERE id = $1 AND organization_id = $2")
            .bind(ticket)
            .bind(org)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((subject, description)) = found else { return Ok(None) };
    let replies = sqlx::query_scalar(
        "SELECT body FROM ticket_comments WHERE ticket_id = $1 AND organization_id = $2 AND NOT is_internal \
         AND author_kind = 'agent' ORDER BY created_at, id LIMIT 50",
    )
    .bind(ticket)
    .bind(org)
    .fetch_all(conn)
    .await?;
    Ok(Some((subject, description, replies)))
}

/// Reads an article and counts the view, in one statement; `published_only` for customers.
pub async fn view(conn: &mut PgConnection, org: Uuid, id: Uuid, published_only: bool) -> sqlx::Result<Option<Article>> {
    sqlx::query_as(&format!(
        "UPDATE knowledge_articles SET view_count = view_count + 1 \
         WHERE id = $1 AND organization_id = $2 AND (status = 'published' OR NOT $3) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(published_only)
    .fetch_optional(conn)
    .await
}

/// A published article of `org` (for a rule replying with it).
pub async fn published(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Article>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM knowledge_articles WHERE id = $1 AND organization_id = $2 AND status = 'published'"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}

pub async fn exists(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM knowledge_articles WHERE id = $1 AND organization_id = $2)")
        .bind(id)
        .bind(org)
        .fetch_one(conn)
        .await
}

pub async fn update(conn: &mut PgConnection, org: Uuid, id: Uuid, f: Fields) -> sqlx::Result<Option<Article>> {
    sqlx::query_as(&format!(
        "UPDATE knowledge_articles SET title = COALESCE($3, title), content = COALESCE($4, content), \
         category = CASE WHEN $5 THEN $6 ELSE category END, tags = COALESCE($7, tags) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(f.title)
    .bind(f.content)
    .bind(f.category.is_some())
    .bind(f.category.flatten())
    .bind(f.tags)
    .fetch_optional(conn)
    .await
}

/// Moves an article to `status`; the first move into `published` since it last left sets
/// `published_at`.
pub async fn set_status(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    status: ArticleStatus,
) -> sqlx::Result<Option<Article>> {
    sqlx::query_as(&format!(
        "UPDATE knowledge_articles SET status = $3, \
         published_at = CASE WHEN $3 = 'published' AND status <> 'published' THEN now() ELSE published_at END \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(status)
    .fetch_optional(conn)
    .await
}

pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM knowledge_articles WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The article's status, locking it for a vote (votes on one article take turns, so its counts
/// are exact).
pub async fn lock_status(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<ArticleStatus>> {
    sqlx::query_scalar("SELECT status FROM knowledge_articles WHERE id = $1 AND organization_id = $2 FOR UPDATE")
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Casts or replaces `voter`'s vote (after `lock_status`) and recounts; the article after it.
pub async fn vote(conn: &mut PgConnection, org: Uuid, id: Uuid, voter: &str, helpful: bool) -> sqlx::Result<Article> {
    sqlx::query(
        "INSERT INTO article_votes (article_id, voter, helpful) VALUES ($1, $2, $3) \
         ON CONFLICT (article_id, voter) DO UPDATE SET helpful = EXCLUDED.helpful",
    )
    .bind(id)
    .bind(voter)
    .bind(helpful)
    .execute(&mut *conn)
    .await?;
    sqlx::query_as(&format!(
        "UPDATE knowledge_articles SET \
         helpful_votes = (SELECT count(*) FROM article_votes WHERE article_id = $1 AND helpful), \
         unhelpful_votes = (SELECT count(*) FROM article_votes WHERE article_id = $1 AND NOT helpful) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .fetch_one(conn)
    .await
}

/// Where a page of the list starts: after this row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum After {
    /// Unsearched lists go by last change, newest first.
    Updated(DateTime<Utc>, Uuid),
    /// Searches go by rank, best first.
    Rank(f32, Uuid),
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<ArticleStatus>,
    pub category: Option<String>,
    pub tag: Option<String>,
    /// Search text (`websearch_to_tsquery` syntax: words, "phrases", -exclusions, or).
    pub query: Option<String>,
    pub limit: i64,
    pub after: Option<After>,
}

/// Up to `limit + 1` articles of `org` with their rank (searches) — the extra row says there
/// is more.
pub async fn list(conn: &mut PgConnection, org: Uuid, f: &Filter) -> sqlx::Result<Vec<(Article, Option<f32>)>> {
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    b.push(COLUMNS);
    match &f.query {
        Some(q) => {
            b.push(", ts_rank_cd(search, q.query) AS rank FROM knowledge_articles, websearch_to_tsquery('english', ");
            b.push_bind(q.clone()).push(") q(query) WHERE search @@ q.query AND organization_id = ");
        }
        None => {
            b.push(", NULL::real AS rank FROM knowledge_articles WHERE organization_id = ");
        }
    }
    b.push_bind(org);
    if let Some(s) = f.status {
        b.push(" AND status = ").push_bind(s);
    }
    if let Some(c) = &f.category {
        b.push(" AND category = ").push_bind(c.clone());
    }
    if let Some(t) = &f.tag {
        b.push(" AND tags @> ARRAY[").push_bind(t.clone()).push("]::text[]");
    }
    match f.after {
        Some(After::Rank(rank, id)) if f.query.is_some() => {
            // ts_rank_cd is a real: compare as one, or the row at the position compares unequal.
            b.push(" AND (ts_rank_cd(search, q.query), id) < ((").push_bind(rank).push(")::real, ");
            b.push_bind(id).push(")");
        }
        Some(After::Updated(t, id)) if f.query.is_none() => {
            b.push(" AND (updated_at, id) < (").push_bind(t).push(", ").push_bind(id).push(")");
        }
        _ => {}
    }
    if f.query.is_some() {
        b.push(" ORDER BY rank DESC, id DESC LIMIT ");
    } else {
        b.push(" ORDER BY updated_at DESC, id DESC LIMIT ");
    }
    b.push_bind(f.limit + 1);
    b.build()
        .try_map(|row: sqlx::postgres::PgRow| {
            use sqlx::{FromRow, Row};
            Ok((Article::from_row(&row)?, row.try_get::<Option<f32>, _>("rank")?))
        })
        .fetch_all(conn)
        .await
}
