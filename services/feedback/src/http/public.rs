//! The public portal, by organization slug, without credentials: public posts and their public
//! comments; anonymous posts and votes where the organization allows them. An anonymous voter is
//! a keyed hash of client address and user agent — the raw address is never stored.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use platform::extract::{Json, Path, Query};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use super::comments::CommentList;
use super::listing::{page, FeedbackPage, ListQuery};
use super::votes::{cast, parse, withdraw, VoteBody, Voter};
use crate::boards::{self, Board};
use crate::domain::{self, Viewer};
use crate::store::votes::Tally;
use crate::store::{self, comments, posts, Feedback};
use crate::{events, AppState};

/// The board of `slug`, if it is public.
async fn board(state: &AppState, slug: &str) -> ApiResult<Board> {
    let mut conn = state.pool.acquire().await?;
    boards::by_slug(&mut conn, slug)
        .await?
        .filter(|b| b.public_enabled)
        .ok_or_else(|| Problem::not_found("board").into())
}

/// A post of the board a visitor may see.
async fn public_post(state: &AppState, viewer: &Viewer, id: Uuid) -> ApiResult<Arc<Feedback>> {
    super::posts::visible(state, viewer, id).await
}

/// The public board's posts, with the filters and sorts of the private list.
#[utoipa::path(
    get,
    operation_id = "list_public_posts",
    path = "/v1/public/{slug}/feedback",
    tag = "public",
    security(()),
    params(("slug" = String, Path, description = "The organization's slug"), ListQuery),
    responses((status = 200, description = "One page of public posts", body = FeedbackPage))
)]
pub async fn list(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<FeedbackPage>> {
    let b = board(&state, &slug).await?;
    Ok(Json(page(&state, &Viewer::visitor(b.organization_id), q).await?))
}

/// A public post.
#[utoipa::path(
    get,
    operation_id = "get_public_post",
    path = "/v1/public/{slug}/feedback/{id}",
    tag = "public",
    security(()),
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = Uuid, Path, description = "The post's id"),
    ),
    responses((status = 200, description = "The post", body = Feedback))
)]
pub async fn get(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
) -> ApiResult<Json<Arc<Feedback>>> {
    let b = board(&state, &slug).await?;
    let post = public_post(&state, &Viewer::visitor(b.organization_id), id).await?;
    state.views.record(post.id);
    Ok(Json(post))
}

/// A public post's public comments (never internal notes).
#[utoipa::path(
    get,
    operation_id = "list_public_comments",
    path = "/v1/public/{slug}/feedback/{id}/comments",
    tag = "public",
    security(()),
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = Uuid, Path, description = "The post's id"),
    ),
    responses((status = 200, description = "The comments", body = CommentList))
)]
pub async fn comments(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
) -> ApiResult<Json<CommentList>> {
    let b = board(&state, &slug).await?;
    let viewer = Viewer::visitor(b.organization_id);
    let post = public_post(&state, &viewer, id).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(CommentList { data: comments::of_post(&mut conn, viewer.org(), post.id, viewer.sees_internal()).await? }))
}

/// The anonymous visitor: HMAC-SHA256 over address and user agent with the service's key.
fn voter_key(state: &AppState, headers: &HeaderMap) -> Vec<u8> {
    let address = platform::http::client_address(headers);
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut mac = Hmac::<Sha256>::new_from_slice(state.config.voter_key_secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(address.as_bytes());
    mac.update(&[0]);
    mac.update(agent.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The rate-limit key of a client: its address alone, so a new user agent per request does not
/// make a new client.
fn address_key(state: &AppState, headers: &HeaderMap) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.config.voter_key_secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"rate-limit\0");
    mac.update(platform::http::client_address(headers).as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// 429 once the client's address has acted too often this minute (counted across replicas).
async fn limit(state: &AppState, action: &str, headers: &HeaderMap) -> ApiResult<()> {
    let key = address_key(state, headers);
    let mut conn = state.pool.acquire().await?;
    let name = format!("{action}:{}", hex::encode(key));
    if let Some(retry) = store::rate_limit(&mut conn, &name, state.config.public_rate_per_minute).await? {
        return Err(Problem::too_many_requests(retry).into());
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnonymousPost {
    /// Trimmed; no control characters.
    #[schema(schema_with = super::schema::title)]
    title: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    description: String,
    /// A name to show with the post; trimmed.
    #[schema(max_length = 100)]
    author_name: Option<String>,
}

/// Post anonymously, where the board allows it.
#[utoipa::path(
    post,
    operation_id = "create_anonymous_post",
    path = "/v1/public/{slug}/feedback",
    tag = "public",
    security(()),
    params(("slug" = String, Path, description = "The organization's slug")),
    request_body = AnonymousPost,
    responses(
        (status = 201, description = "The post", body = Feedback),
        (status = 402, description = "The board's plan takes no more posts", body = platform::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The board does not take anonymous posts", body = platform::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many posts from this client this minute", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Json(body): Json<AnonymousPost>,
) -> ApiResult<(StatusCode, Json<Feedback>)> {
    let b = board(&state, &slug).await?;
    if !b.allow_anonymous_posts {
        return Err(Problem::forbidden("this board does not take anonymous posts").into());
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let title = domain::title("title", &body.title).map_err(|e| errors.push(e)).ok();
    let description = domain::text("description", &body.description, 20_000).map_err(|e| errors.push(e)).ok();
    let author_name = body
        .author_name
        .as_deref()
        .map(|n| domain::text("author_name", n, 100).map(|n| n.trim().to_owned()))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (Some(title), Some(description), true) = (title, description, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    limit(&state, "post", &headers).await?;
    if let platform::quota::Verdict::Exceeded { .. } = state.quota.check(b.organization_id, "feedback_posts", 1).await {
        return Err(Problem::new(StatusCode::PAYMENT_REQUIRED, "quota-exceeded", "Plan limit reached")
            .detail("this board takes no more posts on its plan")
            .into());
    }
    let mut tx = state.pool.begin().await?;
    let post =
        posts::insert_anonymous(&mut tx, b.organization_id, &title, &description, author_name.as_deref()).await?;
    events::emit(&mut tx, ev::FEEDBACK_CREATED, post.organization_id, post.id, events::post(&post, None)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(post)))
}

async fn anonymous_voter(state: &AppState, slug: &str, headers: &HeaderMap) -> ApiResult<(Viewer, Voter)> {
    let b = board(state, slug).await?;
    if !b.allow_anonymous_votes {
        return Err(Problem::forbidden("this board does not take anonymous votes").into());
    }
    limit(state, "vote", headers).await?;
    Ok((Viewer::visitor(b.organization_id), Voter::Anonymous(voter_key(state, headers))))
}

/// Vote anonymously, where the board allows it.
#[utoipa::path(
    put,
    operation_id = "vote_anonymously",
    path = "/v1/public/{slug}/feedback/{id}/vote",
    tag = "public",
    security(()),
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = Uuid, Path, description = "The post's id"),
    ),
    request_body = VoteBody,
    responses(
        (status = 200, description = "The post's counts and your vote", body = Tally),
        (status = 403, description = "The board does not take anonymous votes", body = platform::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The post was deleted or merged", body = platform::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many votes from this client this minute", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn vote(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
    headers: HeaderMap,
    Json(body): Json<VoteBody>,
) -> ApiResult<Json<Tally>> {
    let vote = parse(&body)?;
    let (viewer, voter) = anonymous_voter(&state, &slug, &headers).await?;
    Ok(Json(cast(&state, &viewer, id, voter, vote).await?))
}

/// Retract an anonymous vote.
#[utoipa::path(
    delete,
    operation_id = "retract_anonymous_vote",
    path = "/v1/public/{slug}/feedback/{id}/vote",
    tag = "public",
    security(()),
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = Uuid, Path, description = "The post's id"),
    ),
    responses(
        (status = 200, description = "The post's counts", body = Tally),
        (status = 403, description = "The board does not take anonymous votes", body = platform::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The post was deleted or merged", body = platform::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many votes from this client this minute", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retract(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
    headers: HeaderMap,
) -> ApiResult<Json<Tally>> {
    let (viewer, voter) = anonymous_voter(&state, &slug, &headers).await?;
    Ok(Json(withdraw(&state, &viewer, id, voter).await?))
}
