//! SQL, next to the domain it serves. Every tenant-scoped statement filters by organization;
//! the webhook path finds its connection by platform account first (platforms do not know our
//! organizations) and everything after that by the connection's organization.

pub mod connections;
pub mod conversations;
pub mod labels;
pub mod media;
pub mod messages;
pub mod notes;
pub mod payloads;
