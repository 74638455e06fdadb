//! inbox-sync as the platforms and an agent see it, with identity beside it for credentials and
//! a local stand-in for Meta's Graph API.

mod connections;
mod conversations;
mod helpers;
mod labels;
mod media;
mod oauth;
mod outbound;
mod rejections;
mod retention;
mod webhooks;
