//! The public portal, by organization slug, without credentials: public posts and their public
//! comments; anonymous posts and votes where the organization allows them. An anonymous voter is
//! a keyed hash of client address and user agent — the raw address is never stored.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use platform::extract::{Json, Path, Query};
use platform::pagination::Page;
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;
use uuid::Uuid;

use super::comments::{of_post, CommentList};
use super::listing::{page, ListQuery, Viewer};
use super::votes::{cast, parse, withdraw, Tally, VoteBody, Voter};
use crate::boards::{self, Board};
use crate::store::{self, Feedback, COLUMNS};
use crate::{domain, events, AppState};

/// The board of `slug`, if it is public.
async fn board(state: &AppState, slug: &str) -> ApiResult<Board> {
    let mut conn = state.pool.acquire().await?;
    boards::by_slug(&mut conn, slug)
        .await?
        .filter(|b| b.public_enabled)
        .ok_or_else(|| Problem::not_found("board").into())
}

async fn public_post(state: &AppState, board: &Board, id: Uuid) -> ApiResult<Arc<Feedback>> {
    super::posts::load(state, board.organization_id, id)
        .await?
        .filter(|f| f.is_public)
        .ok_or_else(|| Problem::not_found("feedback").into())
}

/// `GET /v1/public/{slug}/feedback` with the filters and sorts of the private list.
pub async fn list(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Feedback>>> {
    let b = board(&state, &slug).await?;
    let viewer = Viewer { org: b.organization_id, staff: false, user: None, public_only: true };
    Ok(Json(page(&state, &viewer, q).await?))
}

/// `GET /v1/public/{slug}/feedback/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
) -> ApiResult<Json<Arc<Feedback>>> {
    let b = board(&state, &slug).await?;
    let post = public_post(&state, &b, id).await?;
    state.views.record(post.id);
    Ok(Json(post))
}

/// `GET /v1/public/{slug}/feedback/{id}/comments`: never internal notes.
pub async fn comments(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
) -> ApiResult<Json<CommentList>> {
    let b = board(&state, &slug).await?;
    let post = public_post(&state, &b, id).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(CommentList { data: of_post(&mut conn, post.id, false).await? }))
}

/// The anonymous visitor: HMAC-SHA256 over address and user agent with the service's key.
fn voter_key(state: &AppState, headers: &HeaderMap) -> Vec<u8> {
    let address = super::client_address(headers);
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
    mac.update(super::client_address(headers).as_bytes());
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymousPost {
    title: String,
    #[serde(default)]
    description: String,
    author_name: Option<String>,
}

/// `POST /v1/public/{slug}/feedback`: an anonymous post, where the board allows it.
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
        .map(|n| domain::text("author_name", n.trim(), 100))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    limit(&state, "post", &headers).await?;
    if let crate::quota::Verdict::Exceeded { .. } = state.quota.check(b.organization_id, "feedback_posts", 1).await {
        return Err(Problem::new(StatusCode::PAYMENT_REQUIRED, "quota-exceeded", "Plan limit reached")
            .detail("this board takes no more posts on its plan")
            .into());
    }
    let mut tx = state.pool.begin().await?;
    let post: Feedback = sqlx::query_as(&format!(
        "INSERT INTO feedback (id, organization_id, title, description, author_name, anonymous, is_public) \
         VALUES ($1, $2, $3, $4, $5, true, true) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(b.organization_id)
    .bind(title)
    .bind(description)
    .bind(author_name)
    .fetch_one(&mut *tx)
    .await?;
    events::emit(&mut tx, ev::FEEDBACK_CREATED, post.organization_id, post.id, events::post(&post, None)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(post)))
}

async fn anonymous_voter(state: &AppState, slug: &str, headers: &HeaderMap) -> ApiResult<(Board, Voter)> {
    let b = board(state, slug).await?;
    if !b.allow_anonymous_votes {
        return Err(Problem::forbidden("this board does not take anonymous votes").into());
    }
    limit(state, "vote", headers).await?;
    Ok((b, Voter::Anonymous(voter_key(state, headers))))
}

/// `PUT /v1/public/{slug}/feedback/{id}/vote {type}`.
pub async fn vote(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
    headers: HeaderMap,
    Json(body): Json<VoteBody>,
) -> ApiResult<Json<Tally>> {
    let vote = parse(&body)?;
    let (b, voter) = anonymous_voter(&state, &slug, &headers).await?;
    Ok(Json(cast(&state, b.organization_id, id, voter, false, vote).await?))
}

/// `DELETE /v1/public/{slug}/feedback/{id}/vote`.
pub async fn retract(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
    headers: HeaderMap,
) -> ApiResult<Json<Tally>> {
    let (b, voter) = anonymous_voter(&state, &slug, &headers).await?;
    Ok(Json(withdraw(&state, b.organization_id, id, voter, false).await?))
}
