//! `tandem-notify`: the notify service as its own process, for one agency.

use clap::Parser;
use tandem_notify::{NotifyAgency, NotifyConfig, run};
use tandem_runtime::{Shutdown, config, telemetry};

/// Notifies the focal points of one agency of determinations and discrepancies, follows up
/// until they acknowledge, and escalates when they do not.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: config::CommonArgs,
    /// The agency whose focal points this instance notifies (overrides TANDEM_AGENCY).
    #[arg(long, value_enum)]
    agency: Option<NotifyAgency>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config: NotifyConfig = config::load(&args.common)?;
    if let Some(agency) = args.agency {
        config.agency = agency;
    }
    let telemetry = telemetry::init(
        &format!("tandem-notify-{}", config.agency.token()),
        config.common.log_format,
    )?;
    let result = run(config, Shutdown::on_signals()).await;
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "notify stopped");
    }
    telemetry.shutdown();
    result
}
