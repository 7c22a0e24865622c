//! The body of every service binary's `main`: configuration, telemetry, signals, run, flush, so
//! each `main.rs` is only its flags and description.

use std::future::Future;

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    Shutdown,
    config::{self, CommonArgs, CommonConfig},
    metrics, telemetry,
};

/// A service's configuration: its own settings around the common ones.
pub trait ServiceConfig: Default + Serialize + DeserializeOwned {
    /// The settings every service has.
    fn common(&self) -> &CommonConfig;
}

/// Loads `C`, installs telemetry as `service_name`, runs `run` until SIGTERM/SIGINT, and
/// flushes traces before returning.
pub async fn main<C, F, Fut>(service_name: &str, args: &CommonArgs, run: F) -> anyhow::Result<()>
where
    C: ServiceConfig,
    F: FnOnce(C, Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config: C = config::load(args)?;
    let telemetry = telemetry::init(service_name, config.common().log_format)?;
    let shutdown = Shutdown::on_signals();
    if let Some(address) = &config.common().metrics_addr {
        let bound = metrics::serve(telemetry.registry(), address, shutdown.clone()).await?;
        tracing::info!(%bound, "metrics on /metrics");
    }
    let result = run(config, shutdown).await;
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "{service_name} stopped");
    }
    telemetry.shutdown();
    result
}
