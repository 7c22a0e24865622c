//! `tandem situation get|list`: the current determinations, from KV `tandem-leadership`.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::{Client, jetstream};
use futures::TryStreamExt as _;
use prost::Message as _;
use tandem_leadership::{situations::record_key, words};
use tandem_proto::v1::LeadershipRecord;
use tandem_runtime::{kv_key, topology};

/// `tandem situation …`
#[derive(clap::Subcommand)]
pub enum SituationCommand {
    /// Who leads one situation and why.
    Get {
        /// The situation id.
        id: String,
        /// Print the LeadershipDetermination in the JSON mapping.
        #[arg(long)]
        json: bool,
    },
    /// One line per situation: id, country, classification, leads.
    List,
}

pub async fn run(client: &Client, command: SituationCommand) -> anyhow::Result<ExitCode> {
    let records = jetstream::new(client.clone())
        .get_key_value(topology::LEADERSHIP_BUCKET)
        .await
        .context("no determinations yet (bucket tandem-leadership is missing: is the leadership service running?)")?;
    match command {
        SituationCommand::Get { id, json } => {
            let Some(record) = load(&records, &record_key(&id)).await? else {
                eprintln!("tandem: no determination for situation {id}");
                return Ok(ExitCode::from(crate::exit::FAILURE));
            };
            let determination = record.determination.unwrap_or_default();
            if json {
                println!("{}", tandem_proto::json::to_string(&determination));
            } else {
                print!("{}", words::summary(&determination));
            }
        }
        SituationCommand::List => {
            let mut keys: Vec<String> = records.keys().await?.try_collect().await?;
            keys.sort();
            for key in keys {
                let Some(determination) = load(&records, &key).await?.and_then(|r| r.determination)
                else {
                    continue;
                };
                println!("{}", words::headline(&determination));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The record under `key`, if any.
pub async fn load(
    records: &jetstream::kv::Store,
    key: &str,
) -> anyhow::Result<Option<LeadershipRecord>> {
    let Some(bytes) = records.get(key).await? else {
        return Ok(None);
    };
    let record = LeadershipRecord::decode(bytes).with_context(|| {
        format!(
            "the record of {} is corrupt",
            kv_key::unsegment(key).unwrap_or_default()
        )
    })?;
    Ok(Some(record))
}

/// Every record, with its situation id, sorted by id.
pub async fn all(
    records: &jetstream::kv::Store,
) -> anyhow::Result<Vec<(String, LeadershipRecord)>> {
    let keys: Vec<String> = records.keys().await?.try_collect().await?;
    let mut all = Vec::new();
    for key in keys {
        if let (Some(id), Some(record)) = (kv_key::unsegment(&key), load(records, &key).await?) {
            all.push((id, record));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(all)
}
