//! Feedback's API as a client sees it, with identity running beside it for credentials.

mod attachments;
mod comments;
mod events;
mod grpc;
mod helpers;
mod listing;
mod posts;
mod public;
mod rejections;
mod visibility;
mod votes;
