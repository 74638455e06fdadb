//! What every service does before it can serve: connect, migrate, set up streams, bind.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use crate::bus::Bus;
use crate::config::CommonConfig;
use crate::http::Runtime;
use crate::metrics::Metrics;

/// A service's infrastructure, ready, with its listeners bound (port 0 works).
pub struct Foundation {
    pub runtime: Runtime,
    pub http: TcpListener,
    pub grpc: TcpListener,
}

/// Opens the pool, connects to NATS (retrying in the background while it is down), applies the
/// migrations, creates or updates the streams, and binds the HTTP and gRPC listeners.
pub async fn prepare(common: &CommonConfig, migrator: &Migrator) -> anyhow::Result<Foundation> {
    let pool =
        crate::db::pool_with(&common.database_url, common.database_max_connections, common.database_acquire_timeout)?;
    let bus = Bus::connect(&common.nats_url, &common.nats_prefix, common.service).await?;
    let runtime = Runtime {
        pool: pool.clone(),
        bus: bus.clone(),
        metrics: Metrics::new(common.service),
        migrated: Arc::new(AtomicBool::new(false)),
    };
    crate::db::migrate(&pool, migrator).await?;
    crate::http::mark_migrated(&runtime);
    if let Err(err) = bus.ensure_streams().await {
        // The outbox keeps events until the streams exist; readiness shows NATS's state.
        tracing::warn!(error = %err, "could not set up streams yet");
    }
    let http = crate::http::bind(common.http_addr).await?;
    let grpc = crate::http::bind(common.grpc_addr).await?;
    Ok(Foundation { runtime, http, grpc })
}

impl Foundation {
    /// The bound HTTP address (the real port when 0 was asked for).
    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.http.local_addr().expect("bound listener has an address")
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> std::net::SocketAddr {
        self.grpc.local_addr().expect("bound listener has an address")
    }
}
