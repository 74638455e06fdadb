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
pub mod directory;
pub mod error;
pub mod extract;
pub mod grpc;
pub mod http;
pub mod idempotency;
pub mod lifecycle;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod pagination;
pub mod quota;
pub mod retention;
pub mod service;
pub mod ssrf;
pub mod telemetry;
pub mod testing;

pub use error::{ApiError, ApiResult, FieldError, Problem};

/// The web framework, for macros used in service crates.
pub use axum;

/// Declares a service's handler state: `$state` wraps `Arc<$services>` (axum clones the state
/// for every request, so it must be cheap), derefs to it, and yields its `auth` client to the
/// [`auth::Principal`] extractor.
#[macro_export]
macro_rules! app_state {
    ($state:ident, $services:ty) => {
        /// Everything a request handler needs, behind one `Arc`.
        #[derive(Clone)]
        pub struct $state(pub std::sync::Arc<$services>);

        impl std::ops::Deref for $state {
            type Target = $services;
            fn deref(&self) -> &$services {
                &self.0
            }
        }

        impl $crate::axum::extract::FromRef<$state> for $crate::auth::AuthClient {
            fn from_ref(state: &$state) -> Self {
                state.0.auth.clone()
            }
        }
    };
}
