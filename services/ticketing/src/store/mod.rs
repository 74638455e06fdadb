//! Ticketing's SQL: one function per statement, grouped by what it is about. Every statement
//! that takes an id from a client filters by organization; the few keyed by a ticket id alone run
//! only after that ticket was found in the caller's organization.

pub mod agents;
pub mod articles;
pub mod attachments;
pub mod comments;
pub mod customers;
pub mod escalations;
pub mod history;
pub mod inbox;
pub mod listing;
pub mod projects;
pub mod routing;
pub mod rules;
pub mod settings;
pub mod sla;
pub mod suggestions;
pub mod teams;
pub mod tickets;
pub mod time;
pub mod watchers;
