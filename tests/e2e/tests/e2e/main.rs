//! End to end: identity, feedback, ticketing, inbox-sync and the webhooks dispatcher in this
//! process, wired together as in production, driven over HTTP only, as a client — or, for
//! inbox-sync's webhooks, a platform — would. The one third party, Meta's Graph API, is a local
//! stand-in (`graph`).

mod billing_flow;
mod client;
mod desk;
mod dispatcher_kill;
mod graph;
mod helpers;
mod inbound_flow;
mod nats_restart;
mod receiver;
mod signup_to_webhook;
mod support_flow;
