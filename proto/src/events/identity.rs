//! `identity.*` events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ORG_CREATED: &str = "identity.org.created";
pub const USER_CREATED: &str = "identity.user.created";
pub const MEMBER_ADDED: &str = "identity.member.added";
pub const MEMBER_REMOVED: &str = "identity.member.removed";
pub const MEMBER_ROLE_CHANGED: &str = "identity.member.role_changed";
pub const INVITATION_CREATED: &str = "identity.invitation.created";
pub const INVITATION_ACCEPTED: &str = "identity.invitation.accepted";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgCreated {
    pub organization_id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub created_by: Option<Uuid>,
}

/// Never carries the password hash or any token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserCreated {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberAdded {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberRemoved {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub actor_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberRoleChanged {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role_before: String,
    pub role_after: String,
    pub actor_id: Option<Uuid>,
}

/// The invitation's token is in the mail command only, never in this event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationCreated {
    pub invitation_id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationAccepted {
    pub invitation_id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
}

pub const ORG_UPDATED: &str = "identity.org.updated";
pub const TEAM_CREATED: &str = "identity.team.created";
pub const TEAM_UPDATED: &str = "identity.team.updated";
pub const TEAM_DELETED: &str = "identity.team.deleted";
pub const TEAM_MEMBER_ADDED: &str = "identity.team.member_added";
pub const TEAM_MEMBER_REMOVED: &str = "identity.team.member_removed";
pub const DEPARTMENT_CREATED: &str = "identity.department.created";
pub const DEPARTMENT_UPDATED: &str = "identity.department.updated";
pub const DEPARTMENT_DELETED: &str = "identity.department.deleted";
pub const API_KEY_CREATED: &str = "identity.api_key.created";
pub const API_KEY_REVOKED: &str = "identity.api_key.revoked";
pub const INVITATION_CANCELLED: &str = "identity.invitation.cancelled";
pub const USER_EMAIL_VERIFIED: &str = "identity.user.email_verified";

/// The organization after a change. `settings` values are left out (they are the
/// organization's own configuration); `changed` names every field the request changed,
/// `settings` included.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgUpdated {
    pub organization_id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub website_url: Option<String>,
    pub changed: Vec<String>,
    pub actor_id: Option<Uuid>,
}

/// A team or department as created or after an update (`identity.team.created|updated`,
/// `identity.department.created|updated`); `changed` is empty on creation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnitChanged {
    /// The team's or department's id.
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub manager_id: Option<Uuid>,
    pub is_active: bool,
    #[serde(default)]
    pub changed: Vec<String>,
    pub actor_id: Option<Uuid>,
}

pub type TeamCreated = UnitChanged;
pub type TeamUpdated = UnitChanged;
pub type DepartmentCreated = UnitChanged;
pub type DepartmentUpdated = UnitChanged;

/// `identity.team.deleted`, `identity.department.deleted`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnitDeleted {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub actor_id: Option<Uuid>,
}

pub type TeamDeleted = UnitDeleted;
pub type DepartmentDeleted = UnitDeleted;

/// A user joined a team, or their role in it changed (`previous_role` is then set).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TeamMemberAdded {
    pub team_id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    /// `member` or `lead`.
    pub role: String,
    pub previous_role: Option<String>,
    pub actor_id: Option<Uuid>,
}

/// A user left a team: removed from it, or from the organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TeamMemberRemoved {
    pub team_id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub actor_id: Option<Uuid>,
}

/// Never carries the key or its hash: the display prefix identifies it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeyCreated {
    pub api_key_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeyRevoked {
    pub api_key_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub revoked_by: Option<Uuid>,
}

/// A pending invitation that will not be accepted: cancelled by an admin, or replaced by a new
/// invitation to the same address (`reason` `cancelled` or `replaced`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationCancelled {
    pub invitation_id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
    pub reason: String,
    pub actor_id: Option<Uuid>,
}

/// A user confirmed their address through the mailed link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserEmailVerified {
    pub user_id: Uuid,
    pub email: String,
}
