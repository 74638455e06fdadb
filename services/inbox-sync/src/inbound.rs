//! A verified webhook body, stored: in one transaction (the caller's) the raw body, every
//! message of every entry with its conversation, every status and watermark, and their
//! events in the outbox — committed before the platform gets its 200, so nothing rests on
//! memory.
//!
//! Exactly once: a message is a row only if its `(connection, external id)` is new (the unique
//! index decides, also between two concurrent deliveries of one body), and only a new row
//! updates its conversation or emits anything. Statuses only move forward; a status of a message
//! not stored yet is kept and applied when it arrives.

use std::collections::HashMap;

use proto::events as ev;
use sqlx::PgConnection;

use crate::events;
use crate::platforms::{self, Message, Parsed, Platform, Status, StatusReport, Update, Watermark};
use crate::store::connections::{self, Connection};
use crate::store::conversations::{self, Contact};
use crate::store::messages::{self, NewMessage};
use crate::store::payloads;

/// Longest preview kept on a conversation.
const PREVIEW_CHARS: usize = 120;

/// What a body did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Messages stored now.
    pub stored: usize,
    /// Messages that were stored already (redeliveries).
    pub duplicates: usize,
    /// Status reports and watermarks that moved a message.
    pub statuses: usize,
    /// Updates for a platform account no live connection has (acknowledged, logged).
    pub unknown: usize,
    /// Updates of kinds not handled.
    pub skipped: usize,
}

impl Receipt {
    /// What a redelivered body did: every message of it is a duplicate, nothing moved.
    pub fn redelivered(parsed: &Parsed) -> Self {
        let duplicates = parsed.updates.iter().filter(|u| matches!(u, Update::Message(_))).count();
        Self { duplicates, skipped: parsed.skipped, ..Self::default() }
    }
}

/// Stores everything `parsed` holds, unless the same bytes were stored before (then every
/// message of the body counts as a duplicate and nothing is written). `only` is the connection a per-connection endpoint was
/// called for: updates of any other account are not its to give and are dropped.
pub async fn store(
    tx: &mut PgConnection,
    platform: Platform,
    only: Option<&Connection>,
    mut parsed: Parsed,
    body: &[u8],
) -> anyhow::Result<Receipt> {
    let mut receipt = Receipt { skipped: parsed.skipped, ..Receipt::default() };
    // The raw body first: a redelivery of the same bytes stops here, before any other work (and
    // a concurrent one waits here for the first to finish).
    let connection = only.map(|c| c.id);
    let counts = (parsed.updates.len(), parsed.skipped);
    if payloads::insert(tx, platform.as_str(), connection, body, counts, None).await?.is_none() {
        return Ok(Receipt::redelivered(&parsed));
    }
    // One order for every writer (account, then contact; each conversation's own order kept),
    // so concurrent bodies touching the same conversations do not deadlock.
    parsed.updates.sort_by(|a, b| key(a).cmp(&key(b)));
    let mut found: HashMap<String, Option<Connection>> = HashMap::new();
    for update in &parsed.updates {
        let account = key(update).0;
        if !found.contains_key(account) {
            let c = match only {
                Some(c) => Some(c.clone()).filter(|c| c.account_id == account && c.status != "disconnected"),
                None => connections::live_by_account(tx, platform.as_str(), account).await?,
            };
            if c.is_none() {
                tracing::info!(platform = %platform, account, "webhook update for an account no connection has; acknowledged");
            }
            found.insert(account.to_owned(), c);
        }
        let Some(Some(connection)) = found.get(account) else {
            receipt.unknown += 1;
            continue;
        };
        match update {
            Update::Message(m) => {
                if message(tx, connection, m).await? {
                    receipt.stored += 1;
                } else {
                    receipt.duplicates += 1;
                }
            }
            Update::Status(s) => receipt.statuses += usize::from(status(tx, connection, s).await?),
            Update::Watermark(w) => receipt.statuses += watermark(tx, connection, w).await?,
        }
    }
    Ok(receipt)
}

/// The account and contact an update is about: the order bodies are written in.
fn key(u: &Update) -> (&str, &str) {
    match u {
        Update::Message(m) => (&m.account_id, &m.contact.external_id),
        Update::Status(s) => (&s.account_id, &s.external_id),
        Update::Watermark(w) => (&w.account_id, &w.contact_external_id),
    }
}

/// Stores one message; whether it was new.
async fn message(tx: &mut PgConnection, c: &Connection, m: &Message) -> anyhow::Result<bool> {
    let org = c.organization_id;
    let contact = Contact {
        external_id: &m.contact.external_id,
        name: m.contact.name.as_deref(),
        username: m.contact.username.as_deref(),
        avatar_url: m.contact.avatar_url.as_deref(),
        thread_id: m.contact.thread_id.as_deref(),
    };
    let (conversation, created) = conversations::find_or_create(tx, org, c.id, &c.platform, &contact).await?;
    if m.outbound {
        // Reports of it may be arriving right now, before it is stored: one at a time.
        messages::lock_external(tx, c.id, &m.external_id).await?;
    }
    if m.outbound && messages::attach_echo(tx, org, conversation, &m.external_id, &m.text).await? {
        // The echo of a message we sent whose id we had not recorded yet.
        return Ok(false);
    }
    let media = m.media.as_ref().map(|x| {
        serde_json::json!({
            "id": x.id, "url": x.url, "mime_type": x.mime_type, "sha256": x.sha256,
            "caption": x.caption, "filename": x.filename,
        })
    });
    // An inbound message reached us: `delivered` is all a status can say of it.
    let status = if m.outbound { Status::Sent } else { Status::Delivered };
    let row = NewMessage {
        org,
        conversation,
        connection: c.id,
        external_id: Some(&m.external_id),
        outbound: m.outbound,
        content_type: m.content_type.as_str(),
        content: &m.text,
        media,
        location: m.location.clone(),
        reply_to: m.reply_to.as_deref(),
        reaction_to: m.reaction_to.as_deref(),
        status: status.as_str(),
        status_rank: status.rank(),
        sent_by: None,
        source_id: None,
        template: None,
        at: Some(m.timestamp),
    };
    let Some(mut stored) = messages::insert(tx, &row).await? else { return Ok(false) };
    let preview = preview_of(&m.text, m.content_type.as_str());
    let (conv, reopened) =
        conversations::on_message(tx, org, conversation, !m.outbound, &preview, m.timestamp, &contact).await?;
    if created {
        events::conversation(tx, ev::INBOX_CONVERSATION_CREATED, &conv, &[]).await?;
    } else if reopened {
        events::conversation(tx, ev::INBOX_CONVERSATION_UPDATED, &conv, &["status"]).await?;
    }
    if m.outbound {
        // Sent from the platform's own app (or echoed before we knew its id): an outbound
        // message, and a report that came before it applies now.
        if let Some((status, rank, errors)) = messages::take_early(tx, c.id, &m.external_id).await? {
            if let Some(moved) =
                messages::advance(tx, org, c.id, &m.external_id, &status, rank, errors.as_ref()).await?
            {
                stored = moved;
            }
        }
        events::sent(tx, &c.platform, &stored).await?;
    } else {
        events::received(tx, &conv, &stored).await?;
    }
    Ok(true)
}

/// A conversation's preview of a message: its text, shortened, or its kind.
pub fn preview_of(text: &str, content_type: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        format!("[{content_type}]")
    } else {
        text.chars().take(PREVIEW_CHARS).collect()
    }
}

/// Applies one report; whether it moved a message.
async fn status(tx: &mut PgConnection, c: &Connection, s: &StatusReport) -> anyhow::Result<bool> {
    let org = c.organization_id;
    let (name, rank) = (s.status.as_str(), s.status.rank());
    // The send that is recording this id, or its echo being stored, may not be committed yet.
    messages::lock_external(tx, c.id, &s.external_id).await?;
    if let Some(moved) = messages::advance(tx, org, c.id, &s.external_id, name, rank, s.errors.as_ref()).await? {
        events::status_changed(tx, &moved).await?;
        return Ok(true);
    }
    if messages::by_external(tx, org, c.id, &s.external_id).await?.is_none() {
        messages::keep_early(tx, c.id, &s.external_id, name, rank, s.errors.as_ref(), s.timestamp).await?;
    }
    Ok(false)
}

/// Applies a Messenger/Instagram watermark to every earlier outbound message; how many moved.
async fn watermark(tx: &mut PgConnection, c: &Connection, w: &Watermark) -> anyhow::Result<usize> {
    let org = c.organization_id;
    let Some(conversation) = conversations::of_contact(tx, org, c.id, &w.contact_external_id).await? else {
        return Ok(0);
    };
    let moved = messages::advance_until(tx, org, conversation, w.watermark, w.status.as_str(), w.status.rank()).await?;
    for m in &moved {
        events::status_changed(tx, m).await?;
    }
    Ok(moved.len())
}

/// Keeps a body that was signed but does not parse, for inspection.
pub async fn keep_malformed(
    tx: &mut PgConnection,
    platform: &str,
    only: Option<&Connection>,
    body: &[u8],
    error: &platforms::Malformed,
) -> anyhow::Result<()> {
    payloads::insert(tx, platform, only.map(|c| c.id), body, (0, 0), Some(&error.0)).await?;
    Ok(())
}
