//! Deliveries and their attempts: listing, detail, test events, retry and recovery.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::endpoints::find;
use super::{can_read, can_write};
use crate::store::deliveries::{self as store, Attempt, Delivery, Status};
use crate::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only deliveries in this state.
    #[param(inline)]
    status: Option<Status>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    data: Vec<Delivery>,
    /// Pass as `cursor` for the next page; none on the last.
    next_cursor: Option<String>,
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "list_deliveries", tag = "deliveries", params(ListQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryPage)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    can_read(&p)?;
    let (limit, cursor) = PageQuery { limit: q.limit, cursor: q.cursor }.parse()?;
    let mut conn = state.pool.acquire().await?;
    find(&mut conn, p.org_id, id).await?;
    let rows = store::list(&mut conn, id, q.status, cursor, limit).await?;
    let page = Page::from_rows(rows, limit, |d| Cursor { time: d.created_at, id: d.id });
    Ok(Json(DeliveryPage { data: page.data, next_cursor: page.next_cursor }))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    /// Every field of the list's item, `attempts` (the count since the last retry) included.
    #[serde(flatten)]
    delivery: Delivery,
    /// Every attempt ever made, oldest first. Not named `attempts`: flattened beside the count,
    /// that name would appear twice in one object.
    attempt_log: Vec<Attempt>,
}

/// The delivery, its payload and every attempt.
#[utoipa::path(get, path = "/v1/deliveries/{id}", operation_id = "get_delivery", tag = "deliveries",
    responses((status = 200, description = "The delivery", body = DeliveryDetail)))]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<DeliveryDetail>> {
    can_read(&p)?;
    let delivery = store::find(&state.pool, p.org_id, id).await?.ok_or_else(|| Problem::not_found("delivery"))?;
    let attempt_log = store::attempts(&state.pool, p.org_id, id).await?;
    Ok(Json(DeliveryDetail { delivery, attempt_log }))
}

#[derive(Serialize, ToSchema)]
pub struct Queued {
    delivery_id: Uuid,
}

/// Sends it again now, whatever it came to, with a fresh schedule and the same `webhook-id`.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", operation_id = "retry_delivery", tag = "deliveries",
    responses((status = 202, description = "Queued", body = Queued, links(
        ("GetDelivery" = (operation_id = "get_delivery", parameters(("id" = "$response.body#/delivery_id")))),
        ("RetryDelivery" = (operation_id = "retry_delivery", parameters(("id" = "$response.body#/delivery_id")))),
    ))))]
pub async fn retry(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    can_write(&p)?;
    if !store::retry(&state.pool, p.org_id, id).await? {
        return Err(Problem::not_found("delivery").into());
    }
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(Queued { delivery_id: id })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recover {
    /// Every delivery created since then that failed is sent again. (Optional in Rust only to
    /// name it when missing.)
    #[schema(value_type = DateTime<Utc>, required = true)]
    since: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct Recovered {
    requeued: u64,
}

/// Sends again every delivery of the endpoint that failed since `since`.
#[utoipa::path(post, path = "/v1/webhooks/{id}/recover", operation_id = "recover_deliveries", tag = "deliveries", request_body = Recover,
    responses((status = 202, description = "Queued", body = Recovered)))]
pub async fn recover(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Recover>,
) -> ApiResult<(StatusCode, Json<Recovered>)> {
    can_write(&p)?;
    let since = body.since.ok_or_else(|| Problem::validation(vec![FieldError::new("since", "is required")]))?;
    let mut tx = state.pool.begin().await?;
    find(&mut tx, p.org_id, id).await?;
    let requeued = store::recover(&mut tx, p.org_id, id, since).await?;
    tx.commit().await?;
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(Recovered { requeued })))
}

/// A `webhook.test` delivery to this endpoint only.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", operation_id = "test_webhook", tag = "deliveries",
    responses((status = 202, description = "Queued", body = Queued, links(
        ("GetDelivery" = (operation_id = "get_delivery", parameters(("id" = "$response.body#/delivery_id")))),
        ("RetryDelivery" = (operation_id = "retry_delivery", parameters(("id" = "$response.body#/delivery_id")))),
    ))))]
pub async fn test(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    can_write(&p)?;
    let mut tx = state.pool.begin().await?;
    let endpoint = find(&mut tx, p.org_id, id).await?;
    let payload = json!({
        "type": "webhook.test",
        "timestamp": Utc::now(),
        "data": {"endpoint_id": endpoint.id, "organization_id": p.org_id, "message": "This is a test delivery from Switchboard."},
    });
    let delivery = store::insert_test(&mut tx, p.org_id, endpoint.id, &payload).await?;
    tx.commit().await?;
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(Queued { delivery_id: delivery })))
}
