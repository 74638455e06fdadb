//! The dispatcher as its users see it: endpoints managed over HTTP, events published on the
//! stream, and receivers (local HTTP servers) that verify every signature.

mod commands;
mod delivery;
mod endpoints;
mod failures;
mod helpers;
mod operations;
mod rejections;
