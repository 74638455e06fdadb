//! Runs billing-metrics with configuration from the environment until SIGTERM or ctrl-c.

use billing_metrics::{Application, Config};
use platform::config::Env;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(Env::from_process())?;
    platform::telemetry::init(config.common.log_format);
    let app = Application::build(config).await?;
    tracing::info!(http = %app.http_addr(), grpc = %app.grpc_addr(), "billing-metrics listening");
    app.run_until_stopped(platform::http::shutdown_on_signals()).await
}
