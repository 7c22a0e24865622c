//! `tandem setup`: makes every stream, bucket, object store and durable consumer of a
//! deployment, as the NATS admin, before the services start (they may create none under the
//! shipped accounts), and brings an existing deployment to the current settings
//! ([`tandem_runtime::setup`]).

use async_nats::{Client, jetstream};
use tandem_runtime::{config::CommonConfig, setup, topology::Found};

/// Runs set-up on `client` (connected as the admin) and prints one line per thing, each
/// change of an updated one on a line of its own, then what is left for the operator.
pub async fn run(client: &Client, config: &CommonConfig) -> anyhow::Result<()> {
    let js = jetstream::new(client.clone());
    let report = setup::run(&js, &config.storage, &config.consumer).await?;
    let count = |found: Found| report.steps.iter().filter(|s| s.found == found).count();
    for step in &report.steps {
        let word = match step.found {
            Found::Created => "created",
            Found::Existed => "exists ",
            Found::Updated => "updated",
        };
        println!("{word} {} {}", step.kind, step.name);
        for change in &step.changes {
            println!("          {change}");
        }
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    println!(
        "tandem setup: {} created, {} updated, {} left as they were",
        count(Found::Created),
        count(Found::Updated),
        count(Found::Existed)
    );
    Ok(())
}
