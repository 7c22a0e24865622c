//! `tandem setup`: makes every stream, bucket, object store and durable consumer of a
//! deployment, as the NATS admin, before the services start (they may create none under the
//! shipped accounts). What exists is left as it is.

use async_nats::{Client, jetstream};
use tandem_runtime::{config::CommonConfig, setup, topology::Found};

/// Runs set-up on `client` (connected as the admin) and prints one line per thing.
pub async fn run(client: &Client, config: &CommonConfig) -> anyhow::Result<()> {
    let js = jetstream::new(client.clone());
    let steps = setup::run(&js, &config.storage, &config.consumer).await?;
    for step in &steps {
        let word = match step.found {
            Found::Created => "created",
            Found::Existed => "exists ",
        };
        println!("{word} {} {}", step.kind, step.name);
    }
    let created = steps
        .iter()
        .filter(|step| step.found == Found::Created)
        .count();
    println!(
        "tandem setup: {created} created, {} left as they were",
        steps.len() - created
    );
    Ok(())
}
