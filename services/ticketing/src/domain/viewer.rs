//! Who may see a ticket: agents and above (and API keys of that role) the whole organization's;
//! a customer only tickets they requested or whose customer profile is theirs, and never
//! internal notes.

use platform::auth::{Principal, Role};
use uuid::Uuid;

use super::ticket::Ticket;

#[derive(Debug, Clone)]
pub struct Viewer {
    pub org: Uuid,
    pub user: Option<Uuid>,
    /// Agent or above.
    pub staff: bool,
    /// The caller's customer profile, for customers.
    pub profile: Option<Uuid>,
    /// Whether the caller is an API key.
    pub api_key: bool,
}

impl Viewer {
    /// The viewer `p` is, with the customer profile found for a customer (or none).
    pub fn new(p: &Principal, profile: Option<Uuid>) -> Self {
        Self {
            org: p.org_id,
            user: p.user_id,
            staff: p.role >= Role::Agent,
            profile,
            api_key: p.kind == platform::auth::CredentialKind::ApiKey,
        }
    }

    /// Whether the caller requested `t` (directly or through their customer profile).
    pub fn is_requester(&self, t: &Ticket) -> bool {
        (self.user.is_some() && t.requester_user_id == self.user)
            || (self.profile.is_some() && t.customer_id == self.profile)
    }

    pub fn sees(&self, t: &Ticket) -> bool {
        t.organization_id == self.org && (self.staff || self.is_requester(t))
    }

    /// Internal notes, their attachments and history.
    pub fn sees_internal(&self) -> bool {
        self.staff
    }
}
