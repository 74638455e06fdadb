//! End to end: identity, feedback and the webhooks dispatcher in this process, wired together as
//! in production, driven over HTTP only, as a client would.

mod client;
mod dispatcher_kill;
mod helpers;
mod nats_restart;
mod receiver;
mod signup_to_webhook;
