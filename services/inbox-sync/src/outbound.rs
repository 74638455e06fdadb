//! Outbound messages: `POST /v1/conversations/{id}/messages` and the `inbox.send` command both
//! record a `pending` message (idempotent by `source_id`) and wake the sender; the sender claims
//! pending messages under a lease (shared safely by replicas), sends each through the platform
//! with the decrypted token — holding no database connection meanwhile — and records the
//! outcome with its events: `sent` (`inbox.message.sent`, `inbox.message.status_changed`),
//! retried with backoff on 5xx, 429 and no answer, `failed` on a refusal, and the connection
//! `expired` when the platform refuses its token.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::StreamExt;
use platform::bus::CloudEvent;
use platform::consumer::{Delivery, Handler};
use proto::events as ev;
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events;
use crate::platforms::send::{Api, Outgoing, SendError};
use crate::platforms::Platform;
use crate::store::connections;
use crate::store::conversations::Conversation;
use crate::store::messages::{self, Claimed, Message, NewMessage};
use crate::Services;

/// WhatsApp's customer-service window: free-form messages only this long after the customer's
/// last message.
pub const WHATSAPP_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// TikTok's: a business replies within 48 hours of the customer's last message, and has no
/// templates to send after.
pub const TIKTOK_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(48);
/// How long a sender owns a claimed message: longer than a send with its timeout.
const LEASE: Duration = Duration::from_secs(60);
const BATCH: i64 = 32;

/// Why a message cannot be sent now.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// WhatsApp's 24-hour window closed and no template was given.
    WindowClosed,
    /// TikTok's 48-hour window closed (TikTok has no templates).
    TiktokWindowClosed,
    /// The conversation's connection is disconnected or expired.
    ConnectionDown(String),
    /// The platform cannot send this (a template off WhatsApp, TikTok).
    Unsupported(&'static str),
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::WindowClosed => {
                "WhatsApp's 24-hour customer-service window is closed: the customer last wrote more \
                than 24 hours ago; send an approved template instead"
                    .to_owned()
            }
            Refusal::TiktokWindowClosed => "TikTok's 48-hour reply window is closed: the customer last wrote more \
                than 48 hours ago, and only they can open it again"
                .to_owned(),
            Refusal::ConnectionDown(status) => format!("the conversation's connection is {status}"),
            Refusal::Unsupported(what) => (*what).to_owned(),
        }
    }
}

/// What kind of reply is going out: the platforms' rules differ for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Template,
    /// A file by link; whether it has a caption.
    Media {
        caption: bool,
    },
}

/// A reply to record: what the message shows and what the sender sends.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// `text`, `template`, or the media's kind (`image`, `video`, `audio`, `file`).
    pub content_type: &'a str,
    /// The text, `[template <name>]` or the media's caption.
    pub content: std::borrow::Cow<'a, str>,
    pub template: Option<serde_json::Value>,
    /// `{url, filename}` of a file the platform fetches by link.
    pub media: Option<serde_json::Value>,
}

impl<'a> Draft<'a> {
    pub fn text(text: &'a str) -> Self {
        Self { content_type: "text", content: text.into(), template: None, media: None }
    }
}

/// Whether `what` may go out on `conversation` now.
pub fn check(
    conversation: &Conversation,
    connection_status: &str,
    what: Kind,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if connection_status != "active" {
        return Err(Refusal::ConnectionDown(connection_status.to_owned()));
    }
    let platform: Platform = conversation.platform.parse().map_err(|_| Refusal::Unsupported("unknown platform"))?;
    let template = what == Kind::Template;
    match (platform, what) {
        (Platform::Tiktok, Kind::Media { .. }) => {
            return Err(Refusal::Unsupported("TikTok replies are text: send the file's link as text"))
        }
        (Platform::Messenger | Platform::Instagram, Kind::Media { caption: true }) => {
            return Err(Refusal::Unsupported(
                "Messenger and Instagram send an attachment without a caption: send the text as its own reply",
            ))
        }
        _ => {}
    }
    match platform {
        Platform::Tiktok if template => return Err(Refusal::Unsupported("templates are WhatsApp's")),
        Platform::Tiktok => {
            if conversation.thread_id.is_none() {
                return Err(Refusal::Unsupported("TikTok has not named this conversation yet"));
            }
            if conversation.last_inbound_at.is_none_or(|at| now - at >= TIKTOK_WINDOW) {
                return Err(Refusal::TiktokWindowClosed);
            }
        }
        Platform::Whatsapp if !template => {
            let open = conversation.last_inbound_at.is_some_and(|at| now - at < WHATSAPP_WINDOW);
            if !open {
                return Err(Refusal::WindowClosed);
            }
        }
        Platform::Whatsapp => {}
        _ if template => return Err(Refusal::Unsupported("templates are WhatsApp's")),
        _ => {}
    }
    Ok(())
}

/// Records a pending outbound message on `conversation` (the caller checked it may go);
/// with a `source_id` seen before, the message recorded for it.
pub async fn enqueue(
    tx: &mut PgConnection,
    conversation: &Conversation,
    draft: Draft<'_>,
    sent_by: Option<Uuid>,
    source_id: Option<&str>,
) -> anyhow::Result<Message> {
    let org = conversation.organization_id;
    let Draft { content_type, content, template, media } = draft;
    let text: &str = &content;
    let row = NewMessage {
        org,
        conversation: conversation.id,
        connection: conversation.connection_id,
        external_id: None,
        outbound: true,
        content_type,
        content: text,
        media,
        location: None,
        reply_to: None,
        reaction_to: None,
        status: "pending",
        status_rank: 0,
        sent_by,
        source_id,
        template,
        at: None,
    };
    if let Some(m) = messages::insert(tx, &row).await? {
        // The reply is the conversation's latest activity, as the customer's messages are.
        let contact = crate::store::conversations::Contact::default();
        let preview = crate::inbound::preview_of(text, content_type);
        crate::store::conversations::on_message(tx, org, conversation.id, 0, &preview, m.created_at, &contact).await?;
        return Ok(m);
    }
    let source = source_id.ok_or_else(|| anyhow::anyhow!("an outbound message without source id collided"))?;
    messages::by_source(tx, org, source).await?.ok_or_else(|| anyhow::anyhow!("message of source {source} vanished"))
}

/// Records a message that could not be sent at all as `failed`, with its event (the sender of an
/// `inbox.send` command learns it from `inbox.message.status_changed`).
pub async fn refuse(
    tx: &mut PgConnection,
    conversation: &Conversation,
    text: &str,
    sent_by: Option<Uuid>,
    source_id: Option<&str>,
    refusal: &Refusal,
) -> anyhow::Result<Message> {
    let m = enqueue(tx, conversation, Draft::text(text), sent_by, source_id).await?;
    match messages::failed(tx, m.organization_id, m.id, &json!(refusal.message())).await? {
        Some(failed) => {
            events::status_changed(tx, &failed).await?;
            Ok(failed)
        }
        None => Ok(m),
    }
}

/// `inbox.send` from ticketing: the reply as an outbound message, exactly once per `source_id`.
pub struct SendCommand {
    pub wake: Arc<Notify>,
}

impl Handler for SendCommand {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let cmd: CloudEvent<ev::InboxSend> = serde_json::from_slice(&d.payload)?;
            let s = cmd.data;
            let org = s.organization_id;
            let Some(conversation) = crate::store::conversations::get(tx, org, s.conversation_id).await? else {
                tracing::warn!(conversation = %s.conversation_id, "inbox.send for a conversation that does not exist; dropped");
                return Ok(());
            };
            if messages::by_source(tx, org, &s.source_id).await?.is_some() {
                return Ok(());
            }
            let connection = connections::get(tx, org, conversation.connection_id).await?;
            let status = connection.map_or_else(|| "disconnected".to_owned(), |c| c.status);
            match check(&conversation, &status, Kind::Text, Utc::now()) {
                Ok(()) => {
                    enqueue(tx, &conversation, Draft::text(&s.content), s.sent_by_user_id, Some(&s.source_id)).await?;
                }
                Err(refusal) => {
                    refuse(tx, &conversation, &s.content, s.sent_by_user_id, Some(&s.source_id), &refusal).await?;
                }
            }
            Ok(())
        })
    }

    /// The sender looks once the message is committed (before, it would not find it).
    fn committed<'a>(&'a self, _touched: platform::cache::Touched) -> BoxFuture<'a, ()> {
        self.wake.notify_one();
        Box::pin(async {})
    }
}

/// Sends pending messages until `shutdown`.
pub struct Sender {
    pub services: Arc<Services>,
    pub api: Api,
}

impl Sender {
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let wake = self.services.send_wake.clone();
        loop {
            let wait = match self.pass().await {
                Ok(sent) if sent as i64 >= BATCH => Duration::ZERO,
                Ok(_) => self.until_next().await,
                Err(err) => {
                    tracing::warn!(error = %err, "sending pass failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn until_next(&self) -> Duration {
        let Ok(mut conn) = self.services.pool.acquire().await else { return Duration::from_secs(1) };
        match messages::next_due(&mut conn).await {
            Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(Duration::from_secs(5)),
            _ => Duration::from_secs(5),
        }
    }

    /// Claims and sends one batch; how many were claimed.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let claimed = {
            let mut conn = self.services.pool.acquire().await?;
            messages::claim(&mut conn, BATCH, LEASE).await?
        };
        let n = claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(16, |m| async move {
                let id = m.id;
                if let Err(err) = self.send_one(m).await {
                    // The lease runs out and the message is tried again.
                    tracing::warn!(message = %id, error = %err, "could not record a send; retried after the lease");
                }
            })
            .await;
        Ok(n)
    }

    async fn send_one(&self, m: Claimed) -> anyhow::Result<()> {
        let s = &self.services;
        let org = m.organization_id;
        let (connection, secrets, conversation) = {
            let mut conn = s.pool.acquire().await?;
            let c = connections::get(&mut conn, org, m.connection_id).await?;
            let secrets = connections::secrets(&mut conn, org, m.connection_id).await?;
            let conv = crate::store::conversations::get(&mut conn, org, m.conversation_id).await?;
            (c, secrets, conv)
        };
        let (Some(connection), Some(secrets), Some(conversation)) = (connection, secrets, conversation) else {
            return self.record(&m, Err(SendError::Refused(json!("the conversation is gone"))), "").await;
        };
        if connection.status != "active" {
            let why = json!(Refusal::ConnectionDown(connection.status.clone()).message());
            return self.record(&m, Err(SendError::Refused(why)), &connection.platform).await;
        }
        let token = match s.keys.decrypt(&secrets.access_token, &crate::sealed_for(connection.id, "access_token")) {
            Ok(t) => SecretString::from(t),
            Err(e) => {
                let why = json!(format!("the connection's token cannot be read: {e}"));
                return self.record(&m, Err(SendError::Refused(why)), &connection.platform).await;
            }
        };
        let platform: Platform = connection.platform.parse().map_err(anyhow::Error::msg)?;
        let what = match (m.template.clone(), &m.media) {
            (Some(t), _) => Outgoing::Template(t),
            (None, Some(media)) => Outgoing::Media {
                kind: m.content_type.clone(),
                url: media["url"].as_str().unwrap_or_default().to_owned(),
                caption: Some(m.content.clone()).filter(|c| !c.is_empty()),
                filename: media["filename"].as_str().map(str::to_owned),
            },
            (None, None) => Outgoing::Text(m.content.clone()),
        };
        // TikTok replies go to its conversation, the others to the contact.
        let to = match platform {
            Platform::Tiktok => conversation.thread_id.as_deref().unwrap_or(&conversation.external_id),
            _ => &conversation.external_id,
        };
        let mut outcome = self.api.send(platform, &connection.account_id, &token, to, &what).await;
        if let Err(SendError::Retry { error, after }) = &outcome {
            if m.attempts < i32::try_from(s.config.send_attempts).unwrap_or(i32::MAX) {
                let backoff =
                    s.config.send_backoff * 2u32.saturating_pow(u32::try_from(m.attempts - 1).unwrap_or(0).min(16));
                let delay = after.unwrap_or(backoff).max(backoff.min(Duration::from_secs(1)));
                tracing::info!(message = %m.id, attempt = m.attempts, error = %error, ?delay, "send failed; retrying");
                let mut conn = s.pool.acquire().await?;
                messages::retry_later(&mut conn, org, m.id, delay).await?;
                return Ok(());
            }
            outcome = Err(SendError::Refused(json!(error)));
        }
        if let Err(SendError::TokenRefused(why)) = &outcome {
            let mut tx = s.pool.begin().await?;
            if let Some(c) = connections::mark(&mut tx, org, connection.id, "expired", why).await? {
                events::connection(&mut tx, ev::INBOX_CONNECTION_EXPIRED, &c).await?;
            }
            tx.commit().await?;
        }
        self.record(&m, outcome, &connection.platform).await
    }

    /// Records the outcome of a send. The platform may have taken the message already, so a
    /// failure to record is retried here, for half the lease, before the lease runs out and the
    /// message would be sent again.
    async fn record(
        &self,
        m: &Claimed,
        outcome: Result<Option<String>, SendError>,
        platform: &str,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match self.finish(m, &outcome, platform).await {
                Ok(()) => return Ok(()),
                Err(err) if started.elapsed() + pause < LEASE / 2 => {
                    tracing::warn!(message = %m.id, error = %err, "could not record a send yet; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn finish(
        &self,
        m: &Claimed,
        outcome: &Result<Option<String>, SendError>,
        platform: &str,
    ) -> anyhow::Result<()> {
        let (org, id) = (m.organization_id, m.id);
        let mut tx = self.services.pool.begin().await?;
        match outcome {
            Ok(external) => {
                let mut reports = Vec::new();
                if let Some(external) = external.as_deref() {
                    // A report of this id waits for us or is being kept right now: one at a time.
                    messages::lock_external(&mut tx, m.connection_id, external).await?;
                    // An echo that came first and matched no text holds the id; ours takes it over.
                    reports.extend(messages::take_from_echo(&mut tx, org, m.connection_id, id, external).await?);
                    reports.extend(messages::take_early(&mut tx, m.connection_id, external).await?);
                }
                if let Some(sent) = messages::sent(&mut tx, org, id, external.as_deref()).await? {
                    let mut now = sent;
                    for (status, rank, errors) in reports {
                        let Some(external) = external.as_deref() else { break };
                        if let Some(moved) =
                            messages::advance(&mut tx, org, m.connection_id, external, &status, rank, errors.as_ref())
                                .await?
                        {
                            now = moved;
                        }
                    }
                    if now.status != "failed" {
                        events::sent(&mut tx, platform, &now).await?;
                    }
                    events::status_changed(&mut tx, &now).await?;
                }
            }
            Err(e) => {
                let errors = match e {
                    SendError::Refused(v) => v.clone(),
                    SendError::TokenRefused(why) => json!(why),
                    SendError::Retry { error, .. } => json!(error),
                };
                if let Some(failed) = messages::failed(&mut tx, org, id, &errors).await? {
                    events::status_changed(&mut tx, &failed).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
