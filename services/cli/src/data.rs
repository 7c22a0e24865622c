//! `tandem data get`: the current joint situation dataset from a running publish service, as
//! HXL-tagged CSV or JSON on standard output, exactly as an analyst would get it with curl.

use std::{io::Write as _, process::ExitCode};

use anyhow::Context as _;
use tandem_publish::client::{self, Format};

/// `tandem data …`
#[derive(clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(clap::Subcommand)]
enum DataCommand {
    /// Print the current dataset (one row per situation, small counts suppressed).
    Get {
        /// Only situations in this country (ISO 3166-1 alpha-3, e.g. COL).
        #[arg(long)]
        country: Option<String>,
        /// `csv` (HXL-tagged: header row, hashtag row, then the rows) or `json`.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// The data service: `host:port` or `http://host:port`.
        #[arg(long, env = "TANDEM_PUBLISH_ADDR", default_value = "127.0.0.1:8470")]
        url: String,
    },
}

/// Runs `tandem data …`. Needs no NATS connection: it talks to the data service over HTTP.
pub async fn run(args: DataArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DataCommand::Get {
            country,
            format,
            url,
        } => {
            let body = client::fetch(&url, country.as_deref(), format).await?;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(body.as_bytes())
                .and_then(|()| {
                    if body.ends_with('\n') {
                        Ok(())
                    } else {
                        stdout.write_all(b"\n")
                    }
                })
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
