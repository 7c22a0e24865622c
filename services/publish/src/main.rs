//! `tandem-publish`: the data publication service as its own process.

use clap::Parser;
use tandem_publish::PublishConfig;
use tandem_runtime::config::CommonArgs;

tandem_runtime::global_allocator!();

/// Publishes the joint, disclosure-controlled situation dataset over HTTP (HXL CSV and JSON)
/// and as versioned snapshots in the object store.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Where the HTTP API listens (overrides TANDEM_PUBLISH_ADDR and the file).
    #[arg(long)]
    addr: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let addr = args.addr;
    tandem_runtime::service::main(
        "tandem-publish",
        &args.common,
        |mut config: PublishConfig, shutdown| {
            if let Some(addr) = addr {
                config.publish_addr = addr;
            }
            tandem_publish::run(config, shutdown)
        },
    )
    .await
}
