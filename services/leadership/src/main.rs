//! `tandem-leadership`: the leadership service as its own process.

use clap::Parser;
use tandem_runtime::config::CommonArgs;

tandem_runtime::global_allocator!();

/// Determines who leads each situation (IOM, UNHCR or both) under the Framework of Engagement.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tandem_runtime::service::main("tandem-leadership", &args.common, tandem_leadership::run).await
}
