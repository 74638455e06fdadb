//! Identity's API, as a client sees it. One test binary; every test has its own database and
//! NATS prefix, so they run in parallel.

mod api_keys;
mod auth;
mod billing;
mod catalog;
mod directory;
mod events;
mod grpc;
mod helpers;
mod invitations;
mod members;
mod platform_http;
mod rejections;
mod reset;
mod retention;
