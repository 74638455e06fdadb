//! Feedback's API as a client sees it, with identity running beside it for credentials.

mod attachments;
mod comments;
mod events;
mod helpers;
mod listing;
mod posts;
mod public;
mod votes;
