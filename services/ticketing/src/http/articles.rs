//! Knowledge articles: agents write them (by hand, or from a ticket with `source_ticket_id`),
//! publish and archive them; every member reads published ones (customers nothing else), votes
//! on them once each, and searches them (`?q=`, ranked). Each read counts a view.

use axum::extract::State;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use platform::auth::{CredentialKind, Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{can_read, can_write, schema};
use crate::domain::knowledge::{self, ArticleStatus};
use crate::store::articles::{self as store, After, Article, Fields, Filter};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(publish))
        .routes(routes!(archive))
        .routes(routes!(vote))
}

fn is_staff(p: &Principal) -> bool {
    p.role >= Role::Agent
}

/// What a reader may see: customers neither the source ticket nor the author.
fn for_reader(p: &Principal, mut a: Article) -> Article {
    if !is_staff(p) {
        a.source_ticket_id = None;
        a.created_by = None;
    }
    a
}

fn bad(field: &str, message: &str) -> Problem {
    Problem::validation(vec![FieldError::new(field, message)])
}

/// Content: 1 to 100,000 characters with something besides white space.
fn content_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .min_length(Some(1))
        .max_length(Some(100_000))
        .pattern(Some(schema::NOT_BLANK_PATTERN))
        .build()
}

/// A category: 1 to 100 characters with something besides white space, no control characters.
fn category_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(schema::SUBJECT_PATTERN))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArticle {
    /// Required unless `source_ticket_id` is given (then the ticket's subject by default).
    #[schema(schema_with = schema::nullable_subject)]
    title: Option<String>,
    /// Required unless `source_ticket_id` is given (then the ticket's description and public
    /// agent replies by default).
    #[schema(schema_with = content_schema)]
    content: Option<String>,
    #[schema(schema_with = category_schema)]
    category: Option<String>,
    #[schema(schema_with = schema::nullable_tags)]
    tags: Option<Vec<String>>,
    /// Writes the article from this ticket (source `ticket`).
    #[schema(schema_with = schema::nullable_uuid)]
    source_ticket_id: Option<Uuid>,
}

/// Every field is optional; what is given changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticlePatch {
    #[schema(schema_with = schema::nullable_subject)]
    title: Option<String>,
    #[schema(schema_with = content_schema)]
    content: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(schema_with = category_schema)]
    category: Option<Option<String>>,
    #[schema(schema_with = schema::nullable_tags)]
    tags: Option<Vec<String>>,
}

fn parse(body: ArticlePatch) -> Result<Fields, Problem> {
    let mut errors = Vec::new();
    let mut check = |r: Result<String, FieldError>| r.map_err(|e| errors.push(e)).ok();
    let title = body.title.as_deref().and_then(|t| check(knowledge::title("title", t)));
    let content = body.content.as_deref().and_then(|c| check(knowledge::content("content", c)));
    let category = body.category.map(|c| c.as_deref().and_then(|c| check(knowledge::category("category", c))));
    let tags = body.tags.as_deref().and_then(|t| knowledge::tags("tags", t).map_err(|e| errors.push(e)).ok());
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    Ok(Fields { title, content, category, tags })
}

/// Write an article (agents), by hand or from a ticket. It starts as a draft.
#[utoipa::path(
    post,
    operation_id = "create_article",
    path = "/v1/articles",
    tag = "articles",
    request_body = NewArticle,
    responses((status = 201, description = "The article, a draft", body = Article))
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewArticle>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    can_write(&p)?;
    p.require_role(Role::Agent)?;
    let NewArticle { mut title, mut content, category, tags, source_ticket_id } = body;
    let mut tx = state.pool.begin().await?;
    if let Some(ticket) = source_ticket_id {
        let (subject, description, replies) = store::ticket_material(&mut tx, p.org_id, ticket)
            .await?
            .ok_or_else(|| bad("source_ticket_id", "is not a ticket of this organization"))?;
        title.get_or_insert(subject);
        content.get_or_insert_with(|| {
            std::iter::once(description)
                .chain(replies)
                .filter(|t| !t.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n\n")
        });
    }
    let mut missing = Vec::new();
    if title.is_none() {
        missing.push(FieldError::new("title", "is required (or give source_ticket_id)"));
    }
    if content.is_none() {
        missing.push(FieldError::new("content", "is required (or give source_ticket_id)"));
    }
    if !missing.is_empty() {
        return Err(Problem::validation(missing).into());
    }
    let fields = parse(ArticlePatch { title, content, category: Some(category), tags })?;
    let article = store::insert(&mut tx, p.org_id, fields, source_ticket_id, p.user_id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(article)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    /// Search: words, "quoted phrases", `-excluded`, `or`; ranked best first.
    #[param(max_length = 500)]
    q: Option<String>,
    /// Only this status (customers: published only).
    status: Option<ArticleStatus>,
    category: Option<String>,
    /// Articles with this tag.
    tag: Option<String>,
    /// Page size, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ArticlePage {
    data: Vec<Article>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// A position in a list, as clients carry it.
#[derive(Serialize, Deserialize)]
struct Position {
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<DateTime<Utc>>,
    /// A rank, as text: a float read back from JSON may be off by an ulp and repeat a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    r: Option<String>,
    i: Uuid,
}

fn decode(cursor: &str) -> Result<After, Problem> {
    let pos: Option<Position> = URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|b| serde_json::from_slice(&b).ok());
    match pos {
        Some(Position { t: Some(t), r: None, i }) => Ok(After::Updated(t, i)),
        Some(Position { t: None, r: Some(r), i }) => {
            r.parse().map(|r| After::Rank(r, i)).map_err(|_| bad("cursor", "is not a cursor this list gave"))
        }
        _ => Err(bad("cursor", "is not a cursor this list gave")),
    }
}

fn encode(a: &Article, rank: Option<f32>) -> String {
    let pos = match rank {
        Some(r) => Position { t: None, r: Some(r.to_string()), i: a.id },
        None => Position { t: Some(a.updated_at), r: None, i: a.id },
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&pos).unwrap_or_default())
}

/// List and search articles; customers see published ones only.
#[utoipa::path(
    get,
    operation_id = "list_articles",
    path = "/v1/articles",
    tag = "articles",
    params(ArticleQuery),
    responses((status = 200, description = "One page of articles", body = ArticlePage))
)]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ArticleQuery>,
) -> ApiResult<Json<ArticlePage>> {
    can_read(&p)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad("limit", "must be between 1 and 100").into());
    }
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 500) {
        return Err(bad("q", "must be at most 500 characters").into());
    }
    let query = q.q.filter(|s| !s.trim().is_empty());
    let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(decode).transpose()?;
    if matches!((&after, &query), (Some(After::Rank(..)), None) | (Some(After::Updated(..)), Some(_))) {
        return Err(bad("cursor", "does not fit this list").into());
    }
    let status = match (is_staff(&p), q.status) {
        (true, s) => s,
        (false, None | Some(ArticleStatus::Published)) => Some(ArticleStatus::Published),
        (false, Some(_)) => return Ok(Json(ArticlePage { data: Vec::new(), next_cursor: None })),
    };
    let filter =
        Filter { status, category: q.category, tag: q.tag.map(|t| t.trim().to_lowercase()), query, limit, after };
    let mut conn = state.pool.acquire().await?;
    let mut rows = store::list(&mut conn, p.org_id, &filter).await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more { rows.last().map(|(a, rank)| encode(a, *rank)) } else { None };
    let data = rows.into_iter().map(|(a, _)| for_reader(&p, a)).collect();
    Ok(Json(ArticlePage { data, next_cursor }))
}

/// An article; counts a view. Customers read published articles only.
#[utoipa::path(
    get,
    operation_id = "get_article",
    path = "/v1/articles/{id}",
    tag = "articles",
    params(("id" = Uuid, Path, description = "The article's id")),
    responses((status = 200, description = "The article", body = Article))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Article>> {
    can_read(&p)?;
    let mut conn = state.pool.acquire().await?;
    let article = store::view(&mut conn, p.org_id, id, !is_staff(&p)).await?;
    Ok(Json(for_reader(&p, article.ok_or_else(|| Problem::not_found("article"))?)))
}

/// Change an article (agents).
#[utoipa::path(
    patch,
    operation_id = "update_article",
    path = "/v1/articles/{id}",
    tag = "articles",
    params(("id" = Uuid, Path, description = "The article's id")),
    request_body = ArticlePatch,
    responses((status = 200, description = "The article after the change", body = Article))
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ArticlePatch>,
) -> ApiResult<Json<Article>> {
    can_write(&p)?;
    p.require_role(Role::Agent)?;
    let fields = parse(body)?;
    let mut conn = state.pool.acquire().await?;
    let article = store::update(&mut conn, p.org_id, id, fields).await?;
    Ok(Json(article.ok_or_else(|| Problem::not_found("article"))?))
}

/// Delete an article (agents).
#[utoipa::path(
    delete,
    operation_id = "delete_article",
    path = "/v1/articles/{id}",
    tag = "articles",
    params(("id" = Uuid, Path, description = "The article's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    p.require_role(Role::Agent)?;
    let mut conn = state.pool.acquire().await?;
    if !store::delete(&mut conn, p.org_id, id).await? {
        return Err(Problem::not_found("article").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn move_to(state: &AppState, p: &Principal, id: Uuid, status: ArticleStatus) -> ApiResult<Json<Article>> {
    can_write(p)?;
    p.require_role(Role::Agent)?;
    let mut conn = state.pool.acquire().await?;
    let article = store::set_status(&mut conn, p.org_id, id, status).await?;
    Ok(Json(article.ok_or_else(|| Problem::not_found("article"))?))
}

/// Publish an article (agents): customers can read it and it can be suggested.
#[utoipa::path(
    post,
    operation_id = "publish_article",
    path = "/v1/articles/{id}/publish",
    tag = "articles",
    params(("id" = Uuid, Path, description = "The article's id")),
    responses((status = 200, description = "The published article", body = Article))
)]
pub async fn publish(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Article>> {
    move_to(&state, &p, id, ArticleStatus::Published).await
}

/// Archive an article (agents): hidden from customers and suggestions, kept for agents.
#[utoipa::path(
    post,
    operation_id = "archive_article",
    path = "/v1/articles/{id}/archive",
    tag = "articles",
    params(("id" = Uuid, Path, description = "The article's id")),
    responses((status = 200, description = "The archived article", body = Article))
)]
pub async fn archive(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Article>> {
    move_to(&state, &p, id, ArticleStatus::Archived).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    helpful: bool,
}

/// Say whether a published article helped: one vote per voter (user or API key); voting again
/// replaces your vote.
#[utoipa::path(
    post,
    operation_id = "vote_article",
    path = "/v1/articles/{id}/vote",
    tag = "articles",
    params(("id" = Uuid, Path, description = "The article's id")),
    request_body = VoteBody,
    responses(
        (status = 200, description = "The article with its counts", body = Article),
        (status = 409, description = "The article is not published", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn vote(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<VoteBody>,
) -> ApiResult<Json<Article>> {
    can_write(&p)?;
    let voter = match (p.kind, p.user_id) {
        (CredentialKind::Session, Some(user)) => format!("user:{user}"),
        _ => format!("key:{}", p.credential_id),
    };
    let mut tx = state.pool.begin().await?;
    match store::lock_status(&mut tx, p.org_id, id).await? {
        Some(ArticleStatus::Published) => {}
        Some(_) if is_staff(&p) => return Err(Problem::conflict("only published articles take votes").into()),
        _ => return Err(Problem::not_found("article").into()),
    }
    let article = store::vote(&mut tx, p.org_id, id, &voter, body.helpful).await?;
    tx.commit().await?;
    Ok(Json(for_reader(&p, article)))
}
