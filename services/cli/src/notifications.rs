//! `tandem notifications list|ack`: what notify sent and whether it was acknowledged, from KV
//! `tandem-notify`; acknowledging sends `tandem.notify.ack.<id>` and waits for notify to record
//! it. The logic is `tandem_notify::inbox`'s.

use std::{process::ExitCode, time::Duration};

use async_nats::{Client, jetstream};
use tandem_notify::inbox::{self, AckOutcome};

use crate::exit;

/// `tandem notifications …`
#[derive(clap::Subcommand)]
pub enum NotificationsCommand {
    /// One line per notification of both agencies, oldest first.
    List {
        /// Only those still waiting for an acknowledgement.
        #[arg(long)]
        pending: bool,
        /// One JSON object per line (the notification, its state, acknowledgement and
        /// escalations) instead.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a notification (and stop its escalation).
    Ack {
        /// The notification id (`ntf-…`).
        id: String,
        /// Seconds to wait for the notify service to record it.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Your directory id, recorded as who acknowledged (else `system`).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Runs a `tandem notifications` command.
pub async fn run(client: &Client, command: NotificationsCommand) -> anyhow::Result<ExitCode> {
    let js = jetstream::new(client.clone());
    match command {
        NotificationsCommand::List { pending, json } => {
            let records = inbox::list(&js, pending).await?;
            if json {
                for record in &records {
                    println!("{}", serde_json::to_string(record)?);
                }
            } else {
                print!("{}", inbox::render_list(&records));
            }
        }
        NotificationsCommand::Ack { id, timeout, by } => {
            let wait = Duration::from_secs(timeout);
            match inbox::acknowledge_as(&js, &id, by.as_deref(), wait).await? {
                AckOutcome::Acknowledged(_) => println!("acknowledged {id}"),
                AckOutcome::AlreadyAcknowledged(record) => match record.acknowledged {
                    Some(ack) => {
                        println!(
                            "{id} was already acknowledged at {} by {} (via {})",
                            ack.at, ack.by, ack.via
                        )
                    }
                    None => println!("{id} was already acknowledged"),
                },
                AckOutcome::Unknown => {
                    eprintln!("tandem: no notification {id}");
                    return Ok(ExitCode::from(exit::FAILURE));
                }
                AckOutcome::Sent => {
                    eprintln!(
                        "tandem: acknowledgement of {id} sent; no notify instance recorded it within {timeout} s (it will when one runs)"
                    );
                    return Ok(ExitCode::from(exit::TIMEOUT));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
