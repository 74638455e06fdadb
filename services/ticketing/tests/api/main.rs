//! Ticketing's API as a client sees it, with identity running beside it for credentials.

mod articles;
mod attachments;
mod cache;
mod csat;
mod customers;
mod escalations;
mod events;
mod helpers;
mod inbox;
mod merge;
mod notes;
mod numbering;
mod projects;
mod quota;
mod rejections;
mod routing;
mod rules;
mod search;
mod sla;
mod status;
mod suggestions;
mod tickets;
