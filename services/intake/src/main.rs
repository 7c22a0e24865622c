//! `tandem-intake`: the intake service as its own process.

use clap::Parser;
use tandem_intake::{IntakeConfig, run};
use tandem_runtime::{Shutdown, config, telemetry};

/// Validates situation reports from agency systems and announces each accepted or rejected.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: config::CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config: IntakeConfig = config::load(&args.common)?;
    let telemetry = telemetry::init("tandem-intake", config.common.log_format)?;
    let result = run(config, Shutdown::on_signals()).await;
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "intake stopped");
    }
    telemetry.shutdown();
    result
}
