//! End to end: identity, feedback, ticketing and the webhooks dispatcher in this process, wired
//! together as in production, driven over HTTP only, as a client would (inbox-sync, not built
//! yet, is played by a stand-in on the bus: `inbox_standin`).

mod client;
mod desk;
mod dispatcher_kill;
mod helpers;
mod inbound_flow;
mod inbox_standin;
mod nats_restart;
mod receiver;
mod signup_to_webhook;
mod support_flow;
