//! Conversations and their messages (agents): list by status, platform, label, unread,
//! assignee, connection and text, newest activity first; read, mark read, close or assign;
//! send a reply (or a WhatsApp template).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path, Query};
use platform::pagination::{Cursor, Page, PageQuery};
use platform::{ApiResult, FieldError, Problem};
use proto::events as ev;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{reader, writer};
use crate::events;
use crate::outbound::{self, Refusal};
use crate::store::connections;
use crate::store::conversations::{self, Conversation, Filter};
use crate::store::messages::{self, Message};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get, update))
        .routes(routes!(mark_read))
        .routes(routes!(list_messages, send))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    pub data: Vec<Conversation>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub data: Vec<Message>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    status: Option<String>,
    platform: Option<String>,
    label: Option<String>,
    unread: Option<String>,
    /// A user id, or `none` for unassigned conversations.
    assignee: Option<String>,
    connection_id: Option<String>,
    q: Option<String>,
}

const STATUSES: [&str; 3] = ["open", "closed", "archived"];

/// A conversation's status (for the document).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ConversationStatus {
    Open,
    Closed,
    Archived,
}

/// A platform (for the document).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PlatformName {
    Whatsapp,
    Messenger,
    Instagram,
    Tiktok,
}

fn filter(q: ListQuery) -> Result<(Filter, PageQuery), Problem> {
    let mut errors = Vec::new();
    let mut f = Filter::default();
    if let Some(s) = q.status {
        if STATUSES.contains(&s.as_str()) {
            f.status = Some(s);
        } else {
            errors.push(FieldError::new("status", "one of open, closed, archived"));
        }
    }
    if let Some(p) = q.platform {
        match p.parse::<crate::platforms::Platform>() {
            Ok(p) => f.platform = Some(p.as_str().to_owned()),
            Err(e) => errors.push(FieldError::new("platform", e)),
        }
    }
    f.label = q.label.filter(|l| !l.is_empty());
    if f.label.as_ref().is_some_and(|l| l.chars().count() > 100) {
        errors.push(FieldError::new("label", "at most 100 characters"));
    }
    match q.unread.as_deref() {
        None => {}
        Some("true") => f.unread = Some(true),
        Some("false") => f.unread = Some(false),
        Some(_) => errors.push(FieldError::new("unread", "true or false")),
    }
    match q.assignee.as_deref() {
        None => {}
        Some("none") => f.unassigned = true,
        Some(a) => match a.parse() {
            Ok(id) => f.assignee = Some(id),
            Err(_) => errors.push(FieldError::new("assignee", "a user id, or none")),
        },
    }
    if let Some(c) = q.connection_id {
        match c.parse() {
            Ok(id) => f.connection = Some(id),
            Err(_) => errors.push(FieldError::new("connection_id", "a connection id")),
        }
    }
    if let Some(text) = q.q.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
        if text.chars().count() > 200 {
            errors.push(FieldError::new("q", "at most 200 characters"));
        }
        f.q = Some(text);
    }
    if errors.is_empty() {
        Ok((f, q.page))
    } else {
        Err(Problem::validation(errors))
    }
}

/// Conversations, most recent activity first.
#[utoipa::path(get, path = "/v1/conversations", operation_id = "list_conversations", tag = "conversations",
    params(
        ("status" = Option<ConversationStatus>, Query, description = "open, closed or archived"),
        ("platform" = Option<PlatformName>, Query, description = "whatsapp, messenger, instagram or tiktok"),
        ("label" = Option<String>, Query, max_length = 100, description = "A label's name"),
        ("unread" = Option<bool>, Query, description = "Only those with (or without) unread messages"),
        ("assignee" = Option<String>, Query, pattern = "^(none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
            description = "A user id, or `none`"),
        ("connection_id" = Option<Uuid>, Query, description = "One connection's"),
        ("q" = Option<String>, Query, max_length = 200, description = "Text in the contact's name, username, id or the last message"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before")),
    responses((status = 200, description = "A page", body = ConversationPage)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<ConversationPage>> {
    reader(&p)?;
    let (f, page) = filter(q)?;
    let (limit, cursor) = page.parse()?;
    let mut conn = state.pool.acquire().await?;
    let rows = conversations::list(&mut conn, p.org_id, &f, cursor.map(|c| (c.time, c.id)), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |c| Cursor { time: c.activity_at, id: c.id });
    Ok(Json(ConversationPage { data: page.data, next_cursor: page.next_cursor }))
}

async fn found(state: &AppState, org: Uuid, id: Uuid) -> ApiResult<Conversation> {
    let mut conn = state.pool.acquire().await?;
    Ok(conversations::get(&mut conn, org, id).await?.ok_or_else(|| Problem::not_found("conversation"))?)
}

/// One conversation.
#[utoipa::path(get, path = "/v1/conversations/{id}", operation_id = "get_conversation", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    responses((status = 200, description = "The conversation", body = Conversation)))]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Conversation>> {
    reader(&p)?;
    Ok(Json(found(&state, p.org_id, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    /// `open`, `closed` or `archived`.
    #[schema(value_type = Option<ConversationStatus>, nullable = false)]
    status: Option<String>,
    /// A member's user id; `null` unassigns.
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(value_type = Option<Uuid>, nullable)]
    assignee_id: Option<Option<Uuid>>,
}

/// Close, archive, reopen or assign a conversation.
#[utoipa::path(patch, path = "/v1/conversations/{id}", operation_id = "update_conversation", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = UpdateConversation,
    responses((status = 200, description = "The conversation", body = Conversation)))]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateConversation>,
) -> ApiResult<Json<Conversation>> {
    writer(&p)?;
    if let Some(s) = &body.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(Problem::validation(vec![FieldError::new("status", "one of open, closed, archived")]).into());
        }
    }
    if let Some(Some(user)) = body.assignee_id {
        // Asked before the transaction: an assignee is an agent (or above) of this organization.
        state.directory.require_member(p.org_id, user, Role::Agent, "assignee_id").await?;
    }
    let mut tx = state.pool.begin().await?;
    let before = conversations::get(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("conversation"))?;
    conversations::update(&mut tx, p.org_id, id, body.status.as_deref(), body.assignee_id).await?;
    let after = conversations::get(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("conversation"))?;
    let mut changed = Vec::new();
    if before.status != after.status {
        changed.push("status");
    }
    if before.assignee_id != after.assignee_id {
        changed.push("assignee_id");
    }
    if !changed.is_empty() {
        events::conversation(&mut tx, ev::INBOX_CONVERSATION_UPDATED, &after, &changed).await?;
    }
    tx.commit().await?;
    Ok(Json(after))
}

/// Mark everything in the conversation read (its unread count becomes 0).
#[utoipa::path(post, path = "/v1/conversations/{id}/read", operation_id = "mark_conversation_read", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    responses((status = 200, description = "The conversation", body = Conversation)))]
pub async fn mark_read(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Conversation>> {
    writer(&p)?;
    let mut conn = state.pool.acquire().await?;
    if !conversations::mark_read(&mut conn, p.org_id, id).await? {
        return Err(Problem::not_found("conversation").into());
    }
    drop(conn);
    Ok(Json(found(&state, p.org_id, id).await?))
}

/// A conversation's messages, newest first.
#[utoipa::path(get, path = "/v1/conversations/{id}/messages", operation_id = "list_messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before")),
    responses((status = 200, description = "A page", body = MessagePage)))]
pub async fn list_messages(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<MessagePage>> {
    reader(&p)?;
    let (limit, cursor) = q.parse()?;
    found(&state, p.org_id, id).await?;
    let mut conn = state.pool.acquire().await?;
    let rows = messages::list(&mut conn, p.org_id, id, cursor.map(|c| (c.time, c.id)), limit + 1).await?;
    let page = Page::from_rows(rows, limit, |m| Cursor { time: m.created_at, id: m.id });
    Ok(Json(MessagePage { data: page.data, next_cursor: page.next_cursor }))
}

/// An approved WhatsApp template, for outside the 24-hour window.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[schema(min_length = 1, max_length = 512, pattern = "\\S")]
    name: String,
    /// A language code such as `en_US`.
    #[schema(pattern = "^[A-Za-z0-9_-]{2,15}$")]
    language: String,
    /// The body's parameters, in order (each at most 1024 characters).
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<String>)]
    parameters: Vec<String>,
}

/// A file to send: the platform downloads it from `url`, which must be public.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutgoingMedia {
    /// `image`, `video`, `audio` or `file` (a document).
    #[schema(pattern = "^(image|video|audio|file)$")]
    kind: String,
    /// Where the platform fetches the file: an `https` URL (at most 2048 characters).
    #[schema(format = "uri", max_length = 2048)]
    url: String,
    /// Shown under an image, a video or a file on WhatsApp (at most 1024 characters); audio
    /// takes none, and Messenger and Instagram send attachments without one (409).
    #[schema(max_length = 1024, nullable = false)]
    caption: Option<String>,
    /// The name a `file` is shown with (at most 240 characters).
    #[schema(max_length = 240, nullable = false)]
    filename: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The reply's text (1 to 4096 characters, not only spaces). Exactly one of `text`,
    /// `template` and `media` (422 otherwise).
    #[schema(min_length = 1, max_length = 4096, pattern = "\\S", nullable = false)]
    text: Option<String>,
    #[schema(nullable = false)]
    template: Option<Template>,
    #[schema(nullable = false)]
    media: Option<OutgoingMedia>,
    /// Makes the request idempotent: a second send with it answers the first message.
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    source_id: Option<String>,
}

impl SendMessage {
    /// The reply as the sender will send it, or what is wrong with it.
    fn draft(&self) -> Result<(outbound::Kind, outbound::Draft<'_>), Vec<FieldError>> {
        let mut errors = Vec::new();
        let text = self.text.as_deref().map(str::trim).unwrap_or("");
        let given =
            usize::from(!text.is_empty()) + usize::from(self.template.is_some()) + usize::from(self.media.is_some());
        match given {
            0 => errors.push(FieldError::new("text", "a text, a template or a media is needed")),
            1 => {}
            _ => errors.push(FieldError::new("text", "one of text, template and media, not several")),
        }
        if text.chars().count() > 4096 {
            errors.push(FieldError::new("text", "at most 4096 characters"));
        }
        if let Some(t) = &self.template {
            if t.name.trim().is_empty() || t.name.len() > 512 {
                errors.push(FieldError::new("template.name", "1 to 512 characters"));
            }
            if !(2..=15).contains(&t.language.len())
                || !t.language.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                errors.push(FieldError::new("template.language", "a language code such as en_US"));
            }
            if t.parameters.len() > 20 || t.parameters.iter().any(|p| p.chars().count() > 1024) {
                errors.push(FieldError::new("template.parameters", "at most 20, each at most 1024 characters"));
            }
        }
        let caption = self.media.as_ref().and_then(|m| m.caption.as_deref()).map(str::trim).unwrap_or("");
        if let Some(m) = &self.media {
            if !matches!(m.kind.as_str(), "image" | "video" | "audio" | "file") {
                errors.push(FieldError::new("media.kind", "one of image, video, audio, file"));
            }
            let url = reqwest::Url::parse(&m.url).ok();
            if m.url.len() > 2048 || !url.is_some_and(|u| u.scheme() == "https" && u.host_str().is_some()) {
                errors.push(FieldError::new("media.url", "an https URL of at most 2048 characters"));
            }
            if caption.chars().count() > 1024 {
                errors.push(FieldError::new("media.caption", "at most 1024 characters"));
            }
            if m.kind == "audio" && !caption.is_empty() {
                errors.push(FieldError::new("media.caption", "audio takes no caption"));
            }
            match &m.filename {
                Some(_) if m.kind != "file" => {
                    errors.push(FieldError::new("media.filename", "only a file has a name"));
                }
                Some(f) if f.trim().is_empty() || f.chars().count() > 240 || f.contains(['/', '\\']) => {
                    errors.push(FieldError::new("media.filename", "1 to 240 characters, without slashes"));
                }
                _ => {}
            }
        }
        if let Some(s) = &self.source_id {
            if s.is_empty() || s.len() > 200 {
                errors.push(FieldError::new("source_id", "1 to 200 characters"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let template = self.template.as_ref().and_then(|t| serde_json::to_value(t).ok());
        Ok(match (&self.template, &self.media) {
            (Some(t), _) => (
                outbound::Kind::Template,
                outbound::Draft {
                    content_type: "template",
                    content: format!("[template {}]", t.name).into(),
                    template,
                    media: None,
                },
            ),
            (None, Some(m)) => (
                outbound::Kind::Media { caption: !caption.is_empty() },
                outbound::Draft {
                    content_type: &m.kind,
                    content: caption.into(),
                    template: None,
                    media: Some(serde_json::json!({"url": m.url, "filename": m.filename})),
                },
            ),
            (None, None) => (outbound::Kind::Text, outbound::Draft::text(text)),
        })
    }
}

/// Send a reply; it goes out through the platform shortly (`status` moves from `pending`).
/// On WhatsApp outside the 24-hour window only a template can be sent (409 otherwise).
#[utoipa::path(post, path = "/v1/conversations/{id}/messages", operation_id = "send_message", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = SendMessage,
    responses((status = 202, description = "Queued for sending", body = Message),
        (status = 409, description = "Outside the platform's reply window, the connection is down, or the platform cannot send this", body = Problem)))]
pub async fn send(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SendMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    writer(&p)?;
    let (kind, draft) = body.draft().map_err(Problem::validation)?;
    let mut tx = state.pool.begin().await?;
    let conversation =
        conversations::get(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("conversation"))?;
    if let Some(source) = &body.source_id {
        if let Some(m) = messages::by_source(&mut tx, p.org_id, source).await? {
            if m.conversation_id != conversation.id {
                return Err(Problem::conflict("this source_id was used for a message of another conversation").into());
            }
            return Ok((StatusCode::ACCEPTED, Json(m)));
        }
    }
    let status = connections::get(&mut tx, p.org_id, conversation.connection_id).await?.map(|c| c.status);
    let status = status.unwrap_or_else(|| "disconnected".to_owned());
    if let Err(refusal) = outbound::check(&conversation, &status, kind, Utc::now()) {
        let slug = match refusal {
            Refusal::WindowClosed | Refusal::TiktokWindowClosed => "messaging-window-closed",
            Refusal::ConnectionDown(_) => "connection-unavailable",
            Refusal::Unsupported(_) => "unsupported",
        };
        return Err(Problem::new(StatusCode::CONFLICT, slug, "Cannot send now").detail(refusal.message()).into());
    }
    let m = outbound::enqueue(&mut tx, &conversation, draft, p.user_id, body.source_id.as_deref()).await?;
    tx.commit().await?;
    state.send_wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(m)))
}
