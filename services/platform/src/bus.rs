//! NATS: the connection, the names of subjects and streams, and the CloudEvents envelope.
//!
//! Every subject and stream name goes through [`Bus`], which prepends the configured prefix, so
//! tests running in parallel on one NATS server never see each other's messages.

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, stream};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Name of the stream of domain events (`events.>`).
pub const EVENTS_STREAM: &str = "EVENTS";
/// Name of the stream of durable commands between services (`mail.>`, `notify.>`, `inbox.send`).
pub const COMMANDS_STREAM: &str = "COMMANDS";
/// Subject of mail commands.
pub const MAIL_SEND: &str = "mail.send";
/// Subject of in-app notification commands.
pub const NOTIFY_SEND: &str = "notify.send";

/// A NATS connection with the service's naming prefix.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
    prefix: String,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects, retrying in the background while the server is down, so that a service starts
    /// (and reports not ready) without NATS.
    pub async fn connect(url: &str, prefix: &str, name: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(Duration::from_secs(5)))
            .connect(url)
            .await
            .with_context(|| format!("connecting to NATS at {url}"))?;
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(Duration::from_secs(5));
        Ok(Self { client, jetstream, prefix: prefix.to_owned() })
    }

    /// `name` with the prefix: `events.feedback.created` → `t42.events.feedback.created`.
    pub fn subject(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The subject of an event type: `feedback.created` → `events.feedback.created`.
    pub fn event_subject(&self, event_type: &str) -> String {
        self.subject(&format!("events.{event_type}"))
    }

    /// A stream or durable consumer name with the prefix.
    pub fn stream_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}_{name}", self.prefix)
        }
    }

    /// The event type of a subject of ours, or `None` for a foreign subject.
    pub fn event_type_of<'a>(&self, subject: &'a str) -> Option<&'a str> {
        let rest = if self.prefix.is_empty() {
            subject
        } else {
            subject.strip_prefix(self.prefix.as_str())?.strip_prefix('.')?
        };
        rest.strip_prefix("events.")
    }

    /// Whether the connection to the server is up.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates or updates the `EVENTS` and `COMMANDS` streams; safe to call from every replica.
    pub async fn ensure_streams(&self) -> anyhow::Result<()> {
        let events = stream::Config {
            name: self.stream_name(EVENTS_STREAM),
            subjects: vec![self.subject("events.>")],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        // Commands may carry one-time links: kept only until every consumer has them.
        let commands = stream::Config {
            name: self.stream_name(COMMANDS_STREAM),
            subjects: vec![self.subject("mail.>"), self.subject("notify.>"), self.subject("inbox.send")],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::WorkQueue,
            max_age: Duration::from_secs(3 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        for config in [events, commands] {
            let name = config.name.clone();
            self.jetstream
                .create_or_update_stream(config)
                .await
                .with_context(|| format!("creating or updating stream {name}"))?;
        }
        Ok(())
    }
}

/// CloudEvents 1.0 JSON envelope of every event and command, plus the tenant (`orgid`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CloudEvent<T> {
    pub specversion: String,
    pub id: Uuid,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub datacontenttype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgid: Option<Uuid>,
    pub data: T,
}

impl<T> CloudEvent<T> {
    /// A new event with a fresh UUIDv7 id.
    pub fn new(source: &str, event_type: &str, orgid: Option<Uuid>, subject: Option<String>, data: T) -> Self {
        Self {
            specversion: "1.0".to_owned(),
            id: Uuid::now_v7(),
            source: source.to_owned(),
            event_type: event_type.to_owned(),
            time: Utc::now(),
            subject,
            datacontenttype: "application/json".to_owned(),
            orgid,
            data,
        }
    }
}
