//! What the platforms post to us, normalized: every entry, change, message and status of a
//! webhook body becomes one [`Update`], whatever the platform. Parsers never fail on an
//! unknown kind of update (it is skipped and counted); they fail only on a body that is not
//! the platform's shape at all, which the caller answers with a 400 after the signature held.

pub mod media;
pub mod meta;
pub mod oauth;
pub mod send;
pub mod signature;
pub mod tiktok;

use chrono::{DateTime, Utc};

/// The platforms of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Whatsapp,
    Messenger,
    Instagram,
    Tiktok,
}

impl Platform {
    pub const ALL: [Platform; 4] = [Platform::Whatsapp, Platform::Messenger, Platform::Instagram, Platform::Tiktok];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Whatsapp => "whatsapp",
            Platform::Messenger => "messenger",
            Platform::Instagram => "instagram",
            Platform::Tiktok => "tiktok",
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("one of whatsapp, messenger, instagram, tiktok (not {s:?})"))
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The seed's content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Text,
    Image,
    Video,
    Audio,
    File,
    Sticker,
    Location,
    /// A reaction to an earlier message (`reaction_to` names it).
    Reaction,
}

impl ContentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Text => "text",
            ContentType::Image => "image",
            ContentType::Video => "video",
            ContentType::Audio => "audio",
            ContentType::File => "file",
            ContentType::Sticker => "sticker",
            ContentType::Location => "location",
            ContentType::Reaction => "reaction",
        }
    }
}

/// Delivery status of an outbound message; it only moves forward (`failed` is final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Read => "read",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Pending, Status::Sent, Status::Delivered, Status::Read, Status::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// Its rank: a report moves a message only to a higher rank (`failed` is the highest).
    pub fn rank(self) -> i16 {
        match self {
            Status::Pending => 0,
            Status::Sent => 1,
            Status::Delivered => 2,
            Status::Read => 3,
            Status::Failed => 4,
        }
    }
}

/// Who wrote, as the platform names them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Contact {
    /// WhatsApp `wa_id`, Messenger PSID, Instagram IGSID, TikTok user id.
    pub external_id: String,
    pub name: Option<String>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    /// The platform's id of the conversation with them, where sending needs it (TikTok).
    pub thread_id: Option<String>,
}

/// A message media reference: the platform's id (fetched later with the connection's token)
/// and what the platform says of it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Media {
    /// WhatsApp media id; for Messenger/Instagram/TikTok, the URL they give.
    pub id: Option<String>,
    pub url: Option<String>,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
}

/// A message, inbound from a customer or (an echo, or one sent from the platform's own app)
/// outbound from the business.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Whom the message belongs to on our side: WhatsApp `phone_number_id`, Messenger page id,
    /// Instagram account id, TikTok business id. Finds the connection.
    pub account_id: String,
    /// The platform's id of the message (`wamid.…`, `m_…`).
    pub external_id: String,
    /// The customer of the conversation (for an echo, the recipient).
    pub contact: Contact,
    /// `false` for customers' messages; `true` for echoes of the business's own messages.
    pub outbound: bool,
    pub content_type: ContentType,
    /// The text, a caption, or empty.
    pub text: String,
    pub media: Option<Media>,
    /// `{latitude, longitude, name?, address?}` for a location.
    pub location: Option<serde_json::Value>,
    /// The platform id of the message this one replies to (context).
    pub reply_to: Option<String>,
    /// The platform id of the message a reaction is about; `text` holds the emoji.
    pub reaction_to: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// A delivery report of one of our outbound messages.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub account_id: String,
    pub external_id: String,
    pub status: Status,
    /// The platform's errors, kept as given, for `failed`.
    pub errors: Option<serde_json::Value>,
    pub timestamp: DateTime<Utc>,
}

/// Messenger/Instagram `delivery` and `read`: every outbound message of the conversation
/// sent up to `watermark` is delivered (or read).
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    pub account_id: String,
    /// The customer whose conversation it is.
    pub contact_external_id: String,
    pub status: Status,
    pub watermark: DateTime<Utc>,
}

/// One thing a webhook body told us.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Message(Box<Message>),
    Status(StatusReport),
    Watermark(Watermark),
}

/// Everything in one body, in order, with how many updates of kinds we do not handle were
/// skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub updates: Vec<Update>,
    pub skipped: usize,
}

/// A body that is not the platform's shape.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// A platform's JSON read into `T`, every U+0000 of its strings and keys replaced by U+FFFD
/// REPLACEMENT CHARACTER: a signed webhook is taken whatever it holds (refused, the platform
/// would retry it forever), and PostgreSQL's text and jsonb cannot hold U+0000. The raw body is
/// kept byte for byte (`inbound_payloads.body` is BYTEA).
pub fn read_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    platform::extract::parse_json_replacing_nul(bytes)
}

/// A platform's answer as JSON (`null` when it is not), U+0000 replaced as [`read_json`] does:
/// its errors and names are stored.
pub(crate) async fn answer_json(response: reqwest::Response) -> serde_json::Value {
    let mut answer: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    platform::extract::replace_nul_in_json(&mut answer);
    answer
}

/// Seconds since the epoch as a time; `None` outside chrono's range.
pub fn unix_seconds(s: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0)
}

/// Milliseconds since the epoch as a time (Messenger and Instagram).
pub fn unix_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// A transport error's text without its URL, whose query may carry a token or a signature.
pub(crate) fn quiet(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "could not connect (or the address is refused)".into()
    } else {
        "the request failed".into()
    }
}
