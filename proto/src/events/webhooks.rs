//! `webhook.*` events of the dispatcher. None carries a signing secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const WEBHOOK_ENDPOINT_CREATED: &str = "webhook.endpoint.created";
pub const WEBHOOK_ENDPOINT_UPDATED: &str = "webhook.endpoint.updated";
pub const WEBHOOK_ENDPOINT_DELETED: &str = "webhook.endpoint.deleted";
pub const WEBHOOK_ENDPOINT_DISABLED: &str = "webhook.endpoint.disabled";
pub const WEBHOOK_DELIVERY_EXHAUSTED: &str = "webhook.delivery.exhausted";

/// An endpoint as it is after `webhook.endpoint.created` or `webhook.endpoint.updated`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookEndpoint {
    pub endpoint_id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    pub rate_limit_per_second: Option<i32>,
    pub max_concurrency: i32,
    pub ordered: bool,
    pub enabled: bool,
    /// Who did it: a user or an API key.
    pub actor_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// `webhook.endpoint.deleted`: its pending deliveries went with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookEndpointDeleted {
    pub endpoint_id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    pub actor_id: Option<Uuid>,
}

/// `webhook.endpoint.disabled`: by a 410 from the receiver or by failing for too long.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookEndpointDisabled {
    pub endpoint_id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    pub reason: String,
}

/// `webhook.delivery.exhausted`: every attempt of the retry schedule failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookDeliveryExhausted {
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    pub organization_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
}
