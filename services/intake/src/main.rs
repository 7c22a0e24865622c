//! `tandem-intake`: the intake service as its own process.

use clap::Parser;
use tandem_runtime::config::CommonArgs;

tandem_runtime::global_allocator!();

/// Validates situation reports from agency systems and announces each accepted or rejected.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tandem_runtime::service::main("tandem-intake", &args.common, tandem_intake::run).await
}
