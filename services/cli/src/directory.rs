//! `tandem directory import|list|remove`: the focal points notify sends to, in KV
//! `tandem-directory`. The logic (validation, storage) is `tandem_notify::directory`'s; this
//! reads the file and prints.

use std::{io::Read as _, path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use async_nats::{Client, jetstream};
use tandem_notify::{
    config::WebhookConfig,
    directory::{self, Directory, EntrySummary},
};

use crate::exit;

/// `tandem directory …`
#[derive(clap::Subcommand)]
pub enum DirectoryCommand {
    /// Add or replace focal points from a JSON or YAML file (- for standard input): a list of
    /// {id, name, agency, role, countries, channels}. Every entry is checked first; one error
    /// refuses the whole file, and every error is listed.
    Import {
        /// The file.
        file: PathBuf,
        /// Accept webhooks to loopback addresses, over plain http:// too (development only;
        /// the notifier needs `webhook.allow_loopback` as well).
        #[arg(long)]
        allow_loopback: bool,
        /// Accept webhooks to this host inside the operator's network although it is not
        /// public (repeatable; the notifier needs it in `webhook.allowed_internal_hosts`).
        #[arg(long = "allow-internal-host", value_name = "HOST")]
        allowed_internal_hosts: Vec<String>,
    },
    /// One line per focal point, without secrets, webhook paths or mailboxes.
    List {
        /// One JSON object per line instead.
        #[arg(long)]
        json: bool,
    },
    /// Remove a focal point by id.
    Remove {
        /// The directory id.
        id: String,
    },
}

/// Runs a `tandem directory` command.
pub async fn run(client: &Client, command: DirectoryCommand) -> anyhow::Result<ExitCode> {
    let js = jetstream::new(client.clone());
    match command {
        DirectoryCommand::Import {
            file,
            allow_loopback,
            allowed_internal_hosts,
        } => {
            let text = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                text
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let webhooks = WebhookConfig {
                allow_loopback,
                allowed_internal_hosts,
                ..WebhookConfig::default()
            };
            let entries = match directory::parse_with(&text, &webhooks) {
                Ok(entries) => entries,
                Err(errors) => {
                    eprintln!("tandem: {errors}");
                    return Ok(ExitCode::from(exit::FAILURE));
                }
            };
            Directory::open(&js, &Default::default())
                .await?
                .import(&entries)
                .await?;
            println!("imported {} focal point(s)", entries.len());
        }
        DirectoryCommand::List { json } => {
            let entries = Directory::open(&js, &Default::default())
                .await?
                .entries()
                .await?;
            if json {
                for entry in &entries {
                    println!("{}", serde_json::to_string(&EntrySummary::from(entry))?);
                }
            } else {
                print!("{}", directory::render_list(&entries));
            }
        }
        DirectoryCommand::Remove { id } => {
            if !Directory::open(&js, &Default::default())
                .await?
                .remove(&id)
                .await?
            {
                eprintln!("tandem: no focal point {id} in the directory");
                return Ok(ExitCode::from(exit::FAILURE));
            }
            println!("removed {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
