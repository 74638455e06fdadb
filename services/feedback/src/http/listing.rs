//! Lists: filters, sorts (`new`, `top`, `trending`, `discussed`, and `relevance` for searches),
//! pinned first on request, keyset cursors; and "is this a duplicate?" suggestions.

use axum::extract::State;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use platform::auth::Principal;
use platform::extract::{Json, Query};
use platform::pagination::Page;
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{can_read, is_staff};
use crate::domain::{self, Sort, Status};
use crate::store::{Feedback, COLUMNS};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub sort: Option<String>,
    pub status: Option<String>,
    pub category_id: Option<Uuid>,
    pub tag: Option<String>,
    pub author_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub is_public: Option<bool>,
    pub q: Option<String>,
    pub pinned_first: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A position in a sorted list: pinned flag, sort value, id.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    p: Option<bool>,
    v: serde_json::Value,
    i: Uuid,
}

fn bad(field: &str, message: &str) -> Problem {
    Problem::validation(vec![FieldError::new(field, message)])
}

/// Who is looking: staff see private posts; others public ones and their own.
pub struct Viewer {
    pub org: Uuid,
    pub staff: bool,
    pub user: Option<Uuid>,
    /// The public portal: public posts only, whoever asks.
    pub public_only: bool,
}

impl Viewer {
    pub fn of(p: &Principal) -> Self {
        Self { org: p.org_id, staff: is_staff(p), user: p.user_id, public_only: false }
    }
}

/// One page of posts for `viewer`.
pub async fn page(state: &AppState, viewer: &Viewer, q: ListQuery) -> ApiResult<Page<Feedback>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad("limit", "must be between 1 and 100").into());
    }
    let query = q.q.as_deref().and_then(|text| domain::prefix_query(text, " & "));
    let sort = match q.sort.as_deref() {
        Some(s) => Sort::parse("sort", s).map_err(|e| Problem::validation(vec![e]))?,
        None if query.is_some() => Sort::Relevance,
        None => Sort::New,
    };
    if sort == Sort::Relevance && query.is_none() {
        return Err(bad("sort", "relevance needs a search query q").into());
    }
    let status = q
        .status
        .as_deref()
        .map(|s| Status::parse("status", s))
        .transpose()
        .map_err(|e| Problem::validation(vec![e]))?;
    let pinned = q.pinned_first.unwrap_or(false);
    let cursor: Option<Position> = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| bad("cursor", "is not a cursor this list gave"))?,
        ),
        None => None,
    };

    let key = match sort {
        Sort::New => "f.created_at",
        Sort::Top => "f.vote_count",
        Sort::Trending => "f.trending",
        Sort::Discussed => "f.comment_count",
        Sort::Relevance => "ts_rank(f.search, to_tsquery('english', $q))",
    };
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    let cols = COLUMNS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ");
    b.push(cols).push(", ");
    push_key(&mut b, key, query.as_deref());
    b.push(" AS sort_key FROM feedback f WHERE f.organization_id = ").push_bind(viewer.org);
    b.push(" AND f.deleted_at IS NULL");
    if viewer.public_only {
        b.push(" AND f.is_public");
    } else if !viewer.staff {
        b.push(" AND (f.is_public OR f.author_id = ").push_bind(viewer.user).push(")");
    }
    match status {
        Some(s) => {
            b.push(" AND f.status = ").push_bind(s.as_str());
        }
        None => {
            b.push(" AND f.status <> 'duplicate'");
        }
    }
    if let Some(c) = q.category_id {
        b.push(" AND f.category_id = ").push_bind(c);
    }
    if let Some(t) = &q.tag {
        b.push(" AND f.tags @> ARRAY[").push_bind(t.trim().to_lowercase()).push("]::text[]");
    }
    if let Some(a) = q.author_id {
        b.push(" AND f.author_id = ").push_bind(a);
    }
    if let Some(a) = q.assignee_id {
        b.push(" AND f.assignee_id = ").push_bind(a);
    }
    if let Some(p) = q.is_public {
        b.push(" AND f.is_public = ").push_bind(p);
    }
    if let Some(tsq) = &query {
        b.push(" AND f.search @@ to_tsquery('english', ").push_bind(tsq.clone()).push(")");
    }
    if let Some(c) = &cursor {
        b.push(" AND (");
        if pinned {
            b.push("f.is_pinned::int, ");
        }
        push_key(&mut b, key, query.as_deref());
        b.push(", f.id) < (");
        if pinned {
            b.push_bind(i32::from(c.p.unwrap_or(false))).push(", ");
        }
        match sort {
            Sort::New => {
                let t: chrono::DateTime<chrono::Utc> =
                    serde_json::from_value(c.v.clone()).map_err(|_| bad("cursor", "does not fit this sort"))?;
                b.push_bind(t);
            }
            Sort::Top | Sort::Discussed => {
                let n = c.v.as_i64().ok_or_else(|| bad("cursor", "does not fit this sort"))?;
                b.push_bind(i32::try_from(n).map_err(|_| bad("cursor", "does not fit this sort"))?);
            }
            Sort::Trending | Sort::Relevance => {
                let n = c.v.as_f64().ok_or_else(|| bad("cursor", "does not fit this sort"))?;
                if sort == Sort::Relevance {
                    b.push("(").push_bind(n as f32).push(")::real");
                } else {
                    b.push_bind(n);
                }
            }
        }
        b.push(", ").push_bind(c.i).push(")");
    }
    b.push(" ORDER BY ");
    if pinned {
        b.push("f.is_pinned DESC, ");
    }
    b.push("sort_key DESC, f.id DESC LIMIT ").push_bind(limit + 1);

    let rows: Vec<(Feedback, SortKey)> = b
        .build()
        .try_map(|row: sqlx::postgres::PgRow| {
            use sqlx::{FromRow, Row};
            let f = Feedback::from_row(&row)?;
            let key = match sort {
                Sort::New => SortKey::Time(row.try_get("sort_key")?),
                Sort::Top | Sort::Discussed => SortKey::Int(row.try_get("sort_key")?),
                Sort::Trending => SortKey::Float(row.try_get("sort_key")?),
                Sort::Relevance => SortKey::Float(f64::from(row.try_get::<f32, _>("sort_key")?)),
            };
            Ok((f, key))
        })
        .fetch_all(&state.pool)
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    let mut rows = rows;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        rows.last().map(|(f, k)| {
            let v = match k {
                SortKey::Time(t) => serde_json::json!(t),
                SortKey::Int(n) => serde_json::json!(n),
                SortKey::Float(x) => serde_json::json!(x),
            };
            let pos = Position { p: pinned.then_some(f.is_pinned), v, i: f.id };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&pos).unwrap_or_default())
        })
    } else {
        None
    };
    Ok(Page { data: rows.into_iter().map(|(f, _)| f).collect(), next_cursor })
}

enum SortKey {
    Time(chrono::DateTime<chrono::Utc>),
    Int(i32),
    Float(f64),
}

/// The sort expression, binding the search query where it appears.
fn push_key(b: &mut QueryBuilder<Postgres>, key: &str, query: Option<&str>) {
    match key.split_once("$q") {
        Some((before, after)) => {
            b.push(before).push_bind(query.unwrap_or_default().to_owned()).push(after);
        }
        None => {
            b.push(key);
        }
    }
}

/// `GET /v1/feedback?sort=&status=&category_id=&tag=&author_id=&assignee_id=&is_public=&q=&pinned_first=&limit=&cursor=`
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Feedback>>> {
    can_read(&principal)?;
    Ok(Json(page(&state, &Viewer::of(&principal), q).await?))
}

#[derive(Deserialize)]
pub struct SimilarQuery {
    title: String,
}

#[derive(Serialize, sqlx::FromRow)]
pub struct Similar {
    id: Uuid,
    title: String,
    status: String,
    vote_count: i32,
    #[sqlx(rename = "rank")]
    score: f32,
}

#[derive(Serialize)]
pub struct SimilarList {
    data: Vec<Similar>,
}

/// `GET /v1/feedback/similar?title=`: the five closest live posts, so a client can ask "is this
/// a duplicate?" before submitting.
pub async fn similar(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<SimilarQuery>,
) -> ApiResult<Json<SimilarList>> {
    can_read(&principal)?;
    let Some(tsq) = domain::prefix_query(&q.title, " | ") else { return Ok(Json(SimilarList { data: Vec::new() })) };
    let staff = is_staff(&principal);
    let data = sqlx::query_as(
        "SELECT id, title, status, vote_count, ts_rank_cd(search, query) AS rank \
         FROM feedback, to_tsquery('english', $2) query \
         WHERE organization_id = $1 AND deleted_at IS NULL AND merged_into_id IS NULL AND search @@ query \
           AND ($3 OR is_public OR author_id = $4) \
         ORDER BY rank DESC, vote_count DESC LIMIT 5",
    )
    .bind(principal.org_id)
    .bind(tsq)
    .bind(staff)
    .bind(principal.user_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(SimilarList { data }))
}
