//! Labels and internal notes (agents). Labels are the organization's (`/v1/inbox/labels`), put
//! on and taken off conversations idempotently; a change of a conversation's labels is an
//! `inbox.conversation.updated` with `changed: ["labels"]`. Notes are agents' words on a
//! conversation: never sent to the platform, never in an event, and they leave its unread count
//! and last message alone.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{reader, writer};
use crate::events;
use crate::store::conversations::{self, Conversation};
use crate::store::labels::{self, Label, NameTaken};
use crate::store::notes::{self, Note};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_labels, create_label))
        .routes(routes!(update_label, delete_label))
        .routes(routes!(add_label, remove_label))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(delete_note))
}

const NAME_MAX: usize = 50;
const NOTE_MAX: usize = 10_000;

/// Unicode White_Space (what `str::trim` strips), spelled out: `\s` differs between regex
/// engines, and the fuzzer reads these patterns with its own.
macro_rules! space {
    () => {
        r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}
/// Control characters (`char::is_control`).
macro_rules! control {
    () => {
        r"\u0000-\u001f\u007f-\u009f"
    };
}

/// [`parse_name`]: no control character, and one that is not white space.
const NAME_PATTERN: &str = concat!("^[^", control!(), "]*[^", control!(), space!(), "][^", control!(), "]*$");
/// Something besides white space, anywhere ([`create_note`]).
const NOT_BLANK_PATTERN: &str = concat!("[^", space!(), "]");

fn name_schema(nullable: bool) -> Object {
    let t = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new()
        .schema_type(t)
        .min_length(Some(1))
        .max_length(Some(NAME_MAX))
        .pattern(Some(NAME_PATTERN))
        .description(Some(
            "1 to 50 characters without control characters, not only white space (which is trimmed off both \
             ends). Unique in the organization (409 otherwise).",
        ))
        .build()
}

fn label_name_schema() -> Object {
    name_schema(false)
}

fn nullable_label_name_schema() -> Object {
    name_schema(true)
}

fn note_content_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .min_length(Some(1))
        .max_length(Some(NOTE_MAX))
        .pattern(Some(NOT_BLANK_PATTERN))
        .description(Some("1 to 10,000 characters, not only white space (which is trimmed off both ends)."))
        .build()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelList {
    pub data: Vec<Label>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotePage {
    pub data: Vec<Note>,
    pub next_cursor: Option<String>,
}

/// A new label.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLabel {
    #[schema(schema_with = label_name_schema)]
    name: String,
    /// `#rrggbb`; `#6366f1` when absent or null.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$", example = "#6366f1")]
    color: Option<String>,
}

/// What is given changes; absent or null keeps the value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelPatch {
    #[schema(schema_with = nullable_label_name_schema)]
    name: Option<String>,
    /// `#rrggbb`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$", example = "#6366f1")]
    color: Option<String>,
}

/// An internal note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    #[schema(schema_with = note_content_schema)]
    content: String,
}

/// A label's name, trimmed: what [`NAME_PATTERN`] says, counted before trimming as the
/// schema's lengths are.
fn parse_name(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() || raw.chars().count() > NAME_MAX || raw.chars().any(char::is_control) {
        errors.push(FieldError::new("name", "1 to 50 characters without control characters, not blank"));
        return None;
    }
    Some(name.to_owned())
}

/// A `#rrggbb` color, lowercased.
fn parse_color(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let hex = raw.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex.is_none() {
        errors.push(FieldError::new("color", "a color like #6366f1"));
        return None;
    }
    Some(raw.to_ascii_lowercase())
}

fn taken() -> Problem {
    Problem::conflict("a label with this name exists already")
}

/// The organization's labels, by name (at most 500).
#[utoipa::path(get, path = "/v1/inbox/labels", operation_id = "list_labels", tag = "labels",
    responses((status = 200, description = "The labels", body = LabelList)))]
pub async fn list_labels(State(state): State<AppState>, p: Principal) -> ApiResult<Json<LabelList>> {
    reader(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(LabelList { data: labels::list(&mut conn, p.org_id).await? }))
}

/// Create a label.
#[utoipa::path(post, path = "/v1/inbox/labels", operation_id = "create_label", tag = "labels",
    request_body = NewLabel,
    responses((status = 201, description = "The label", body = Label),
        (status = 409, description = "A label with this name exists", body = Problem,
            content_type = "application/problem+json")))]
pub async fn create_label(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewLabel>,
) -> ApiResult<(StatusCode, Json<Label>)> {
    writer(&p)?;
    let mut errors = Vec::new();
    let name = parse_name(&body.name, &mut errors);
    let color = body.color.as_deref().and_then(|c| parse_color(c, &mut errors));
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let mut conn = state.pool.acquire().await?;
    match labels::insert(&mut conn, p.org_id, &name, color.as_deref()).await? {
        Ok(label) => Ok((StatusCode::CREATED, Json(label))),
        Err(NameTaken) => Err(taken().into()),
    }
}

/// Rename or recolor a label.
#[utoipa::path(patch, path = "/v1/inbox/labels/{id}", operation_id = "update_label", tag = "labels",
    params(("id" = Uuid, Path, description = "The label")), request_body = LabelPatch,
    responses((status = 200, description = "The label after the change", body = Label),
        (status = 409, description = "A label with this name exists", body = Problem,
            content_type = "application/problem+json")))]
pub async fn update_label(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<LabelPatch>,
) -> ApiResult<Json<Label>> {
    writer(&p)?;
    let mut errors = Vec::new();
    let name = body.name.as_deref().and_then(|n| parse_name(n, &mut errors));
    let color = body.color.as_deref().and_then(|c| parse_color(c, &mut errors));
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut conn = state.pool.acquire().await?;
    match labels::update(&mut conn, p.org_id, id, name.as_deref(), color.as_deref()).await? {
        Ok(Some(label)) => Ok(Json(label)),
        Ok(None) => Err(Problem::not_found("label").into()),
        Err(NameTaken) => Err(taken().into()),
    }
}

/// Delete a label: it comes off every conversation that had it.
#[utoipa::path(delete, path = "/v1/inbox/labels/{id}", operation_id = "delete_label", tag = "labels",
    params(("id" = Uuid, Path, description = "The label")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_label(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    writer(&p)?;
    let mut conn = state.pool.acquire().await?;
    if !labels::delete(&mut conn, p.org_id, id).await? {
        return Err(Problem::not_found("label").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Puts the label on (`add`) or takes it off the conversation; the conversation after. The
/// event is written in the same transaction, only when the set changed.
async fn relabel(state: &AppState, org: Uuid, id: Uuid, label: Uuid, add: bool) -> ApiResult<Conversation> {
    let mut tx = state.pool.begin().await?;
    if !labels::lock_conversation(&mut tx, org, id).await? {
        return Err(Problem::not_found("conversation").into());
    }
    if !labels::hold(&mut tx, org, label).await? {
        return Err(Problem::not_found("label").into());
    }
    let changed = if add {
        labels::attach(&mut tx, org, id, label).await?
    } else {
        labels::detach(&mut tx, org, id, label).await?
    };
    if changed {
        labels::touch_conversation(&mut tx, org, id).await?;
    }
    let after = conversations::get(&mut tx, org, id).await?.ok_or_else(|| Problem::not_found("conversation"))?;
    if changed {
        events::conversation(&mut tx, ev::INBOX_CONVERSATION_UPDATED, &after, &["labels"]).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Put a label on a conversation. Idempotent: a label it has already changes nothing.
#[utoipa::path(put, path = "/v1/conversations/{id}/labels/{label_id}", operation_id = "add_conversation_label",
    tag = "labels",
    params(("id" = Uuid, Path, description = "The conversation"), ("label_id" = Uuid, Path, description = "The label")),
    responses((status = 200, description = "The conversation, with the label", body = Conversation)))]
pub async fn add_label(
    State(state): State<AppState>,
    p: Principal,
    Path((id, label)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<Conversation>> {
    writer(&p)?;
    Ok(Json(relabel(&state, p.org_id, id, label, true).await?))
}

/// Take a label off a conversation. Idempotent: a label it does not have changes nothing.
#[utoipa::path(delete, path = "/v1/conversations/{id}/labels/{label_id}", operation_id = "remove_conversation_label",
    tag = "labels",
    params(("id" = Uuid, Path, description = "The conversation"), ("label_id" = Uuid, Path, description = "The label")),
    responses((status = 200, description = "The conversation, without the label", body = Conversation)))]
pub async fn remove_label(
    State(state): State<AppState>,
    p: Principal,
    Path((id, label)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<Conversation>> {
    writer(&p)?;
    Ok(Json(relabel(&state, p.org_id, id, label, false).await?))
}

/// A conversation's internal notes, oldest first.
#[utoipa::path(get, path = "/v1/conversations/{id}/notes", operation_id = "list_notes", tag = "notes",
    params(("id" = Uuid, Path, description = "The conversation"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before")),
    responses((status = 200, description = "A page", body = NotePage)))]
pub async fn list_notes(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<NotePage>> {
    reader(&p)?;
    let (limit, cursor) = q.parse()?;
    let mut conn = state.pool.acquire().await?;
    if conversations::get(&mut conn, p.org_id, id).await?.is_none() {
        return Err(Problem::not_found("conversation").into());
    }
    let rows = notes::list(&mut conn, p.org_id, id, cursor.map(|c| (c.time, c.id)), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |n| Cursor { time: n.created_at, id: n.id });
    Ok(Json(NotePage { data: page.data, next_cursor: page.next_cursor }))
}

/// Add an internal note to a conversation. The contact never sees it.
#[utoipa::path(post, path = "/v1/conversations/{id}/notes", operation_id = "create_note", tag = "notes",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = NewNote,
    responses((status = 201, description = "The note", body = Note)))]
pub async fn create_note(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewNote>,
) -> ApiResult<(StatusCode, Json<Note>)> {
    writer(&p)?;
    let content = body.content.trim();
    if content.is_empty() || body.content.chars().count() > NOTE_MAX {
        return Err(Problem::validation(vec![FieldError::new("content", "1 to 10000 characters, not blank")]).into());
    }
    let mut conn = state.pool.acquire().await?;
    let note = notes::insert(&mut conn, p.org_id, id, p.user_id, content)
        .await?
        .ok_or_else(|| Problem::not_found("conversation"))?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// Delete a note (its author, or an admin).
#[utoipa::path(delete, path = "/v1/conversations/{id}/notes/{note_id}", operation_id = "delete_note", tag = "notes",
    params(("id" = Uuid, Path, description = "The conversation"), ("note_id" = Uuid, Path, description = "The note")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_note(
    State(state): State<AppState>,
    p: Principal,
    Path((id, note_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    writer(&p)?;
    let mut conn = state.pool.acquire().await?;
    let note = notes::get(&mut conn, p.org_id, id, note_id).await?.ok_or_else(|| Problem::not_found("note"))?;
    let author = p.user_id.is_some() && p.user_id == note.author_id;
    if !author && p.role < Role::Admin {
        return Err(Problem::forbidden("only the note's author or an admin can delete it").into());
    }
    if !notes::delete(&mut conn, p.org_id, id, note_id).await? {
        return Err(Problem::not_found("note").into());
    }
    Ok(StatusCode::NO_CONTENT)
}
