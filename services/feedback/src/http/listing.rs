//! Lists: filters, sorts (`new`, `top`, `trending`, `discussed`, and `relevance` for searches),
//! pinned first on request, keyset cursors; and "is this a duplicate?" suggestions.

use axum::extract::State;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use platform::auth::Principal;
use platform::extract::{Json, Query};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::can_read;
use crate::domain::{self, Sort, Status, Viewer};
use crate::store::listing::{self, After, Filter, Similar, SortKey};
use crate::store::Feedback;
use crate::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Default `relevance` with `q`, `new` without. `relevance` without searchable words in `q`
    /// (none given, or only punctuation) is `new`: every post ranks the same then.
    #[param(value_type = Option<Sort>, inline)]
    pub sort: Option<String>,
    /// Only this status; without it, merged duplicates are left out.
    #[param(value_type = Option<Status>, inline)]
    pub status: Option<String>,
    pub category_id: Option<Uuid>,
    /// Posts with this tag (compared lowercased).
    pub tag: Option<String>,
    pub author_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub is_public: Option<bool>,
    /// Search words; each matches as a prefix.
    pub q: Option<String>,
    /// Pinned posts first.
    pub pinned_first: Option<bool>,
    /// Page size, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of posts.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackPage {
    pub data: Vec<Feedback>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A position in a sorted list as clients carry it: pinned flag, sort value, id.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    p: Option<bool>,
    v: serde_json::Value,
    i: Uuid,
}

fn bad(field: &str, message: &str) -> Problem {
    Problem::validation(vec![FieldError::new(field, message)])
}

/// The list request, checked.
fn parse(q: ListQuery) -> Result<Filter, Problem> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad("limit", "must be between 1 and 100"));
    }
    let query = q.q.as_deref().and_then(|text| domain::prefix_query(text, " & "));
    let sort = match q.sort.as_deref() {
        Some(s) => Sort::parse("sort", s).map_err(|e| Problem::validation(vec![e]))?,
        None => Sort::Relevance,
    };
    // Nothing to rank by: every post would tie, so the ties' order (newest first) is the order.
    let sort = if sort == Sort::Relevance && query.is_none() { Sort::New } else { sort };
    let status = q
        .status
        .as_deref()
        .map(|s| Status::parse("status", s))
        .transpose()
        .map_err(|e| Problem::validation(vec![e]))?;
    let pinned_first = q.pinned_first.unwrap_or(false);
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(decode(c, sort)?),
        None => None,
    };
    Ok(Filter {
        sort,
        status,
        category_id: q.category_id,
        tag: q.tag.map(|t| t.trim().to_lowercase()),
        author_id: q.author_id,
        assignee_id: q.assignee_id,
        is_public: q.is_public,
        query,
        pinned_first,
        limit,
        after,
    })
}

fn decode(cursor: &str, sort: Sort) -> Result<After, Problem> {
    let pos: Position = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("cursor", "is not a cursor this list gave"))?;
    let misfit = || bad("cursor", "does not fit this sort");
    let key = match sort {
        Sort::New => SortKey::Time(serde_json::from_value(pos.v).map_err(|_| misfit())?),
        Sort::Top | Sort::Discussed => {
            SortKey::Int(pos.v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(misfit)?)
        }
        // Written as text: serde_json's number parsing may be off by an ulp, and a key off by
        // one ulp repeats (or skips) the row at the position.
        Sort::Trending | Sort::Relevance => {
            SortKey::Float(pos.v.as_str().and_then(|t| t.parse().ok()).ok_or_else(misfit)?)
        }
    };
    Ok(After { pinned: pos.p.unwrap_or(false), key, id: pos.i })
}

fn encode(post: &Feedback, key: SortKey, pinned_first: bool) -> String {
    let v = match key {
        SortKey::Time(t) => serde_json::json!(t),
        SortKey::Int(n) => serde_json::json!(n),
        SortKey::Float(x) => serde_json::json!(x.to_string()),
    };
    let pos = Position { p: pinned_first.then_some(post.is_pinned), v, i: post.id };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&pos).unwrap_or_default())
}

/// One page of posts for `viewer`.
pub async fn page(state: &AppState, viewer: &Viewer, q: ListQuery) -> ApiResult<FeedbackPage> {
    let filter = parse(q)?;
    let mut rows = listing::page(&state.pool, viewer, &filter).await?;
    let limit = usize::try_from(filter.limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more { rows.last().map(|(post, key)| encode(post, *key, filter.pinned_first)) } else { None };
    Ok(FeedbackPage { data: rows.into_iter().map(|(post, _)| post).collect(), next_cursor })
}

/// List and search posts: staff see every post, others public posts and their own.
#[utoipa::path(
    get,
    operation_id = "list_posts",
    path = "/v1/feedback",
    tag = "posts",
    params(ListQuery),
    responses((status = 200, description = "One page of posts", body = FeedbackPage))
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<FeedbackPage>> {
    can_read(&principal)?;
    Ok(Json(page(&state, &Viewer::of(&principal), q).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// The title about to be posted.
    title: String,
}

#[derive(Serialize, ToSchema)]
pub struct SimilarList {
    data: Vec<Similar>,
}

/// The five closest live posts to a title, so a client can ask "is this a duplicate?" before
/// submitting.
#[utoipa::path(
    get,
    operation_id = "similar_posts",
    path = "/v1/feedback/similar",
    tag = "posts",
    params(SimilarQuery),
    responses((status = 200, description = "Up to five posts, closest first", body = SimilarList))
)]
pub async fn similar(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<SimilarQuery>,
) -> ApiResult<Json<SimilarList>> {
    can_read(&principal)?;
    let Some(tsq) = domain::prefix_query(&q.title, " | ") else { return Ok(Json(SimilarList { data: Vec::new() })) };
    let data = listing::similar(&state.pool, &Viewer::of(&principal), &tsq).await?;
    Ok(Json(SimilarList { data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_positions_survive_the_cursor_exactly() {
        let now = chrono::Utc::now();
        let post = Feedback {
            id: Uuid::nil(),
            organization_id: Uuid::nil(),
            title: "t".into(),
            description: String::new(),
            status: "open".into(),
            status_note: None,
            priority: "medium".into(),
            category_id: None,
            author_id: None,
            author_name: None,
            anonymous: false,
            assignee_id: None,
            vote_count: 0,
            upvotes: 0,
            downvotes: 0,
            comment_count: 0,
            view_count: 0,
            is_public: true,
            is_pinned: true,
            tags: Vec::new(),
            metadata: serde_json::json!({}),
            merged_into_id: None,
            trending: 0.0,
            created_at: now,
            updated_at: now,
        };
        // A value serde_json's default float parser does not read back exactly.
        for x in [162.130_328_736_615_87_f64, 0.1 + 0.2, f64::MIN_POSITIVE, 1e300 / 3.0] {
            let after = decode(&encode(&post, SortKey::Float(x), true), Sort::Trending).unwrap();
            assert_eq!(after.key, SortKey::Float(x));
            assert!(after.pinned);
        }
    }
}
