//! Shared infrastructure of the Switchboard services: configuration, telemetry, problem+json
//! errors, extractors, database, outbox, NATS, consumers, authentication, gRPC plumbing and test
//! support. No domain types live here.

pub mod auth;
pub mod bus;
pub mod cache;
pub mod config;
pub mod consumer;
pub mod crypto;
pub mod db;
pub mod error;
pub mod extract;
pub mod grpc;
pub mod http;
pub mod idempotency;
pub mod lifecycle;
pub mod metrics;
pub mod outbox;
pub mod pagination;
pub mod service;
pub mod telemetry;
pub mod testing;

pub use error::{ApiError, ApiResult, FieldError, Problem};
