//! Agents' vocabularies: the seeds' representative roles and presence.

use serde::{Deserialize, Serialize};

/// An agent's role on the desk (seed 001's representatives); independent of the identity role,
/// which decides permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AgentRole {
    JuniorSupport,
    SeniorSupport,
    TeamLead,
    Admin,
}

/// Presence: only `online` agents receive tickets by round-robin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AgentStatus {
    Online,
    Away,
    Offline,
}

/// The largest capacity an agent may have (the schema's bound).
pub const MAX_CAPACITY: i32 = 10_000;
