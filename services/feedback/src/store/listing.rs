//! The list query: filters, sorts, pinned first, keyset positions, and the "similar" search.

use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Feedback, COLUMNS};
use crate::domain::{Sort, Status, Viewer};

/// A value of the sort key, as a position in the list or read back from a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey {
    Time(chrono::DateTime<chrono::Utc>),
    Int(i32),
    Float(f64),
}

/// Where a page starts: just after this row.
#[derive(Debug, Clone, Copy)]
pub struct After {
    pub pinned: bool,
    pub key: SortKey,
    pub id: Uuid,
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct Filter {
    pub sort: Sort,
    pub status: Option<Status>,
    pub category_id: Option<Uuid>,
    pub tag: Option<String>,
    pub author_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub is_public: Option<bool>,
    /// A tsquery made by `domain::prefix_query`.
    pub query: Option<String>,
    pub pinned_first: bool,
    pub limit: i64,
    pub after: Option<After>,
}

fn key_expr(sort: Sort) -> &'static str {
    match sort {
        Sort::New => "f.created_at",
        Sort::Top => "f.vote_count",
        Sort::Trending => "f.trending",
        Sort::Discussed => "f.comment_count",
        Sort::Relevance => "ts_rank(f.search, to_tsquery('english', $q))",
    }
}

/// The sort expression, binding the search query where it appears.
fn push_key(b: &mut QueryBuilder<Postgres>, sort: Sort, query: Option<&str>) {
    match key_expr(sort).split_once("$q") {
        Some((before, after)) => {
            b.push(before).push_bind(query.unwrap_or_default().to_owned()).push(after);
        }
        None => {
            b.push(key_expr(sort));
        }
    }
}

/// The visibility rule of `domain::visibility` in SQL: public, or staff, or the viewer's own.
/// `author_id = NULL` is never true, so an API key (no user) owns nothing.
pub fn push_visible(b: &mut QueryBuilder<Postgres>, viewer: &Viewer) {
    b.push(" AND (f.is_public OR ").push_bind(viewer.is_staff());
    b.push(" OR (f.author_id IS NOT NULL AND f.author_id = ").push_bind(viewer.own()).push("))");
}

/// Up to `limit + 1` rows of the list for `viewer`, with their sort keys.
pub async fn page(pool: &PgPool, viewer: &Viewer, f: &Filter) -> sqlx::Result<Vec<(Feedback, SortKey)>> {
    let query = f.query.as_deref();
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    let cols = COLUMNS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
    b.push(cols).push(", ");
    push_key(&mut b, f.sort, query);
    b.push(" AS sort_key FROM feedback f WHERE f.organization_id = ").push_bind(viewer.org());
    b.push(" AND f.deleted_at IS NULL");
    push_visible(&mut b, viewer);
    match f.status {
        Some(s) => {
            b.push(" AND f.status = ").push_bind(s.as_str());
        }
        None => {
            b.push(" AND f.status <> 'duplicate'");
        }
    }
    if let Some(c) = f.category_id {
        b.push(" AND f.category_id = ").push_bind(c);
    }
    if let Some(t) = &f.tag {
        b.push(" AND f.tags @> ARRAY[").push_bind(t.clone()).push("]::text[]");
    }
    if let Some(a) = f.author_id {
        b.push(" AND f.author_id = ").push_bind(a);
    }
    if let Some(a) = f.assignee_id {
        b.push(" AND f.assignee_id = ").push_bind(a);
    }
    if let Some(p) = f.is_public {
        b.push(" AND f.is_public = ").push_bind(p);
    }
    if let Some(tsq) = query {
        b.push(" AND f.search @@ to_tsquery('english', ").push_bind(tsq.to_owned()).push(")");
    }
    if let Some(after) = &f.after {
        b.push(" AND (");
        if f.pinned_first {
            b.push("f.is_pinned::int, ");
        }
        push_key(&mut b, f.sort, query);
        b.push(", f.id) < (");
        if f.pinned_first {
            b.push_bind(i32::from(after.pinned)).push(", ");
        }
        match after.key {
            SortKey::Time(t) => {
                b.push_bind(t);
            }
            SortKey::Int(n) => {
                b.push_bind(n);
            }
            // ts_rank is a real: compare as one, or the row at the position compares unequal.
            SortKey::Float(x) if f.sort == Sort::Relevance => {
                b.push("(").push_bind(x as f32).push(")::real");
            }
            SortKey::Float(x) => {
                b.push_bind(x);
            }
        }
        b.push(", ").push_bind(after.id).push(")");
    }
    b.push(" ORDER BY ");
    if f.pinned_first {
        b.push("f.is_pinned DESC, ");
    }
    b.push("sort_key DESC, f.id DESC LIMIT ").push_bind(f.limit + 1);
    let sort = f.sort;
    b.build()
        .try_map(move |row: sqlx::postgres::PgRow| {
            use sqlx::{FromRow, Row};
            let post = Feedback::from_row(&row)?;
            let key = match sort {
                Sort::New => SortKey::Time(row.try_get("sort_key")?),
                Sort::Top | Sort::Discussed => SortKey::Int(row.try_get("sort_key")?),
                Sort::Trending => SortKey::Float(row.try_get("sort_key")?),
                Sort::Relevance => SortKey::Float(f64::from(row.try_get::<f32, _>("sort_key")?)),
            };
            Ok((post, key))
        })
        .fetch_all(pool)
        .await
}

/// A post that looks like another, for "is this a duplicate?".
#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Similar {
    pub id: Uuid,
    pub title: String,
    #[schema(value_type = Status)]
    pub status: String,
    pub vote_count: i32,
    /// Text-search rank; higher is closer.
    #[sqlx(rename = "rank")]
    pub score: f32,
}

/// The five best live, unmerged posts matching `tsquery` that `viewer` may see.
pub async fn similar(pool: &PgPool, viewer: &Viewer, tsquery: &str) -> sqlx::Result<Vec<Similar>> {
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT f.id, f.title, f.status, f.vote_count, ts_rank_cd(f.search, query) AS rank \
         FROM feedback f, to_tsquery('english', ",
    );
    b.push_bind(tsquery.to_owned()).push(") query WHERE f.organization_id = ").push_bind(viewer.org());
    b.push(" AND f.deleted_at IS NULL AND f.merged_into_id IS NULL AND f.search @@ query");
    push_visible(&mut b, viewer);
    b.push(" ORDER BY rank DESC, f.vote_count DESC LIMIT 5");
    b.build_query_as().fetch_all(pool).await
}
