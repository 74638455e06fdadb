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
use uuid::Uuid;

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
    // A body of customers' messages only (the usual batch) is written as sets: a few
    // statements for the body instead of a few for each message.
    let inbound = |u: &Update| matches!(u, Update::Message(m) if !m.outbound);
    if parsed.updates.len() > 1 && parsed.updates.iter().all(inbound) {
        let messages: Vec<&Message> =
            parsed.updates.iter().filter_map(|u| if let Update::Message(m) = u { Some(&**m) } else { None }).collect();
        for group in messages.chunk_by(|a, b| a.account_id == b.account_id) {
            match connection_of(tx, platform, only, &group[0].account_id, &mut found).await? {
                Some(c) => {
                    let stored = customers(tx, &c, group).await?;
                    receipt.stored += stored;
                    receipt.duplicates += group.len() - stored;
                }
                None => receipt.unknown += group.len(),
            }
        }
        return Ok(receipt);
    }
    for update in &parsed.updates {
        let account = key(update).0;
        connection_of(tx, platform, only, account, &mut found).await?;
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

/// The live connection of `account` (looked up once per body; an unknown account is logged).
async fn connection_of(
    tx: &mut PgConnection,
    platform: Platform,
    only: Option<&Connection>,
    account: &str,
    found: &mut HashMap<String, Option<Connection>>,
) -> anyhow::Result<Option<Connection>> {
    if let Some(c) = found.get(account) {
        return Ok(c.clone());
    }
    let c = match only {
        Some(c) => Some(c.clone()).filter(|c| c.account_id == account && c.status != "disconnected"),
        None => connections::live_by_account(tx, platform.as_str(), account).await?,
    };
    if c.is_none() {
        tracing::info!(platform = %platform, account, "webhook update for an account no connection has; acknowledged");
    }
    found.insert(account.to_owned(), c.clone());
    Ok(c)
}

fn contact_of(m: &Message) -> Contact<'_> {
    Contact {
        external_id: &m.contact.external_id,
        name: m.contact.name.as_deref(),
        username: m.contact.username.as_deref(),
        avatar_url: m.contact.avatar_url.as_deref(),
        thread_id: m.contact.thread_id.as_deref(),
    }
}

/// The row of message `m` of connection `c` in `conversation`.
fn row<'a>(c: &Connection, conversation: Uuid, m: &'a Message) -> NewMessage<'a> {
    let media = m.media.as_ref().map(|x| {
        serde_json::json!({
            "id": x.id, "url": x.url, "mime_type": x.mime_type, "sha256": x.sha256,
            "caption": x.caption, "filename": x.filename,
        })
    });
    // An inbound message reached us: `delivered` is all a status can say of it.
    let status = if m.outbound { Status::Sent } else { Status::Delivered };
    NewMessage {
        org: c.organization_id,
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
    }
}

/// Stores customers' messages `ms` of connection `c` (sorted by contact) as sets: the known
/// conversations in one statement (new contacts one by one), the messages in one, each
/// conversation once with what its new messages add up to, the events in one; how many were
/// new. The same as [`message`] for each, in fewer statements.
async fn customers(tx: &mut PgConnection, c: &Connection, ms: &[&Message]) -> anyhow::Result<usize> {
    let org = c.organization_id;
    let mut contacts: Vec<&str> = ms.iter().map(|m| m.contact.external_id.as_str()).collect();
    contacts.dedup();
    let mut conversations = conversations::known(tx, org, c.id, &contacts).await?;
    let mut created = std::collections::HashSet::new();
    for m in ms {
        if !conversations.contains_key(&m.contact.external_id) {
            let (id, new) = conversations::find_or_create(tx, org, c.id, &c.platform, &contact_of(m)).await?;
            if new {
                created.insert(id);
            }
            conversations.insert(m.contact.external_id.clone(), id);
        }
    }
    let rows: Vec<NewMessage<'_>> = ms.iter().map(|m| row(c, conversations[&m.contact.external_id], m)).collect();
    let mut stored: HashMap<String, messages::Message> = messages::insert_inbound(tx, &rows)
        .await?
        .into_iter()
        .filter_map(|s| Some((s.external_id.clone()?, s)))
        .collect();
    let count = stored.len();
    let mut received = Vec::with_capacity(count);
    for group in ms.chunk_by(|a, b| a.contact.external_id == b.contact.external_id) {
        // The new ones of this contact, each once (a body may carry a message twice).
        let new: Vec<(&Message, messages::Message)> =
            group.iter().filter_map(|m| stored.remove(&m.external_id).map(|s| (*m, s))).collect();
        let Some(latest) = new.iter().map(|(m, _)| *m).reduce(|a, b| if b.timestamp >= a.timestamp { b } else { a })
        else {
            continue;
        };
        // A name, username, avatar or thread learnt from any of them, the latest first.
        let pick = |f: fn(&Message) -> Option<&str>| new.iter().rev().find_map(|(m, _)| f(m));
        let contact = Contact {
            external_id: &latest.contact.external_id,
            name: pick(|m| m.contact.name.as_deref()),
            username: pick(|m| m.contact.username.as_deref()),
            avatar_url: pick(|m| m.contact.avatar_url.as_deref()),
            thread_id: pick(|m| m.contact.thread_id.as_deref()),
        };
        let id = conversations[&latest.contact.external_id];
        let preview = preview_of(&latest.text, latest.content_type.as_str());
        let n = i32::try_from(new.len()).unwrap_or(i32::MAX);
        let (conv, reopened) = conversations::on_message(tx, org, id, n, &preview, latest.timestamp, &contact).await?;
        if created.contains(&id) {
            events::conversation(tx, ev::INBOX_CONVERSATION_CREATED, &conv, &[]).await?;
        } else if reopened {
            events::conversation(tx, ev::INBOX_CONVERSATION_UPDATED, &conv, &["status"]).await?;
        }
        received.extend(new.into_iter().map(|(_, s)| (conv.clone(), s)));
    }
    let pairs: Vec<(&conversations::Conversation, &messages::Message)> = received.iter().map(|(c, m)| (c, m)).collect();
    events::received_all(tx, &pairs).await?;
    Ok(count)
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
    let contact = contact_of(m);
    let (conversation, created) = conversations::find_or_create(tx, org, c.id, &c.platform, &contact).await?;
    if m.outbound {
        // Reports of it may be arriving right now, before it is stored: one at a time.
        messages::lock_external(tx, c.id, &m.external_id).await?;
    }
    if m.outbound && messages::attach_echo(tx, org, conversation, &m.external_id, &m.text).await? {
        // The echo of a message we sent whose id we had not recorded yet.
        return Ok(false);
    }
    let row = row(c, conversation, m);
    let Some(mut stored) = messages::insert(tx, &row).await? else { return Ok(false) };
    let preview = preview_of(&m.text, m.content_type.as_str());
    let (conv, reopened) =
        conversations::on_message(tx, org, conversation, i32::from(!m.outbound), &preview, m.timestamp, &contact)
            .await?;
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
