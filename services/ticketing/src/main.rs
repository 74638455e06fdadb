//! Runs ticketing with configuration from the environment until SIGTERM or ctrl-c.

use platform::config::Env;
use ticketing::{Application, Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(Env::from_process())?;
    platform::telemetry::init(config.common.log_format);
    let app = Application::build(config).await?;
    tracing::info!(http = %app.http_addr(), grpc = %app.grpc_addr(), "ticketing listening");
    app.run_until_stopped(platform::http::shutdown_on_signals()).await
}
