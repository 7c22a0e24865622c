//! `tandem-notify`: the notify service as its own process, for one agency.

use clap::Parser;
use tandem_notify::{NotifyAgency, NotifyConfig, run};
use tandem_runtime::config;

tandem_runtime::global_allocator!();

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
    let agency = args.agency;
    tandem_runtime::service::main(
        "tandem-notify",
        &args.common,
        move |mut config: NotifyConfig, shutdown| {
            if let Some(agency) = agency {
                config.agency = agency;
            }
            run(config, shutdown)
        },
    )
    .await
}
