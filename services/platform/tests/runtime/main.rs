//! The platform's moving parts against real PostgreSQL and NATS: the HTTP stack a service is
//! wrapped in, idempotency keys, the outbox relay, the consumer runner and its lease, retention,
//! and the fail-closed configuration.

mod app;
mod config;
mod consumer;
mod consumer_lease;
mod consumer_reconnect;
mod http;
mod idempotency;
mod outbox;
mod retention;
mod service_token;
mod support;
