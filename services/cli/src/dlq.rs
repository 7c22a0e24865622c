//! `tandem dlq list|replay`: what the services could not process, and sending it again once the
//! cause is fixed.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::{Client, HeaderMap, jetstream};
use prost::Message as _;
use tandem_proto::v1::DeadLetter;
use tandem_runtime::{envelope, topology};

use crate::exit;

/// `tandem dlq …`
#[derive(clap::Subcommand)]
pub enum DlqCommand {
    /// Every dead letter: its sequence, service, subject, deliveries and error.
    List,
    /// Publish dead letters again on their original subjects (with their original headers and
    /// a new `Nats-Msg-Id`), then remove them from TANDEM_DLQ.
    Replay {
        /// The TANDEM_DLQ sequences to replay (from `tandem dlq list`).
        #[arg(required_unless_present = "all")]
        sequences: Vec<u64>,
        /// Replay every dead letter.
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(client: &Client, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let js = jetstream::new(client.clone());
    let Ok(mut stream) = js.get_stream(topology::DLQ_STREAM).await else {
        println!(
            "no dead letters (stream {} does not exist yet)",
            topology::DLQ_STREAM
        );
        return Ok(ExitCode::SUCCESS);
    };
    let state = stream.info().await?.state.clone();
    let stored: Vec<u64> = if state.messages == 0 {
        Vec::new()
    } else {
        (state.first_sequence..=state.last_sequence).collect()
    };
    match command {
        DlqCommand::List => {
            for sequence in stored {
                let Ok(message) = stream.get_raw_message(sequence).await else {
                    continue;
                };
                let letter = DeadLetter::decode(message.payload).context("not a DeadLetter")?;
                println!(
                    "{sequence:>6}  {:<10} {} (stored at {}#{}) after {} deliveries: {}",
                    letter.service,
                    letter.subject,
                    letter.stream,
                    letter.stream_sequence,
                    letter.deliveries,
                    letter.error
                );
            }
        }
        DlqCommand::Replay { sequences, all } => {
            let chosen = if all { stored } else { sequences };
            let mut failed = false;
            for sequence in chosen {
                let letter = match stream.get_raw_message(sequence).await {
                    Ok(message) => {
                        DeadLetter::decode(message.payload).context("not a DeadLetter")?
                    }
                    Err(error) => {
                        eprintln!("tandem: no dead letter {sequence}: {error}");
                        failed = true;
                        continue;
                    }
                };
                let mut headers = HeaderMap::new();
                for header in &letter.headers {
                    if header.name != envelope::MSG_ID {
                        headers.append(header.name.as_str(), header.value.as_str());
                    }
                }
                // A new id: the original one may still be in the stream's duplicate window.
                headers.insert(
                    envelope::MSG_ID,
                    format!("replay:{}:{sequence}", topology::DLQ_STREAM).as_str(),
                );
                js.publish_with_headers(letter.subject.clone(), headers, letter.payload.into())
                    .await?
                    .await
                    .with_context(|| {
                        format!("replaying dead letter {sequence} on {}", letter.subject)
                    })?;
                stream.delete_message(sequence).await?;
                println!("replayed {sequence} on {}", letter.subject);
            }
            if failed {
                return Ok(ExitCode::from(exit::FAILURE));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
