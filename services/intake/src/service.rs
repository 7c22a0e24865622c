//! The intake service as it runs: its configuration and [`run`].

use std::sync::Arc;

use crate::handler;
use async_nats::jetstream;
use serde::{Deserialize, Serialize};
use tandem_runtime::{
    Shutdown,
    config::CommonConfig,
    consumer::{self, ConsumerSpec, Counters},
    nats,
    records::Records,
    service_api, topology,
};

/// The service's name in subjects, consumers, dead letters and traces.
pub const SERVICE: &str = "intake";

/// Intake's configuration: only what every service has.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct IntakeConfig {
    /// NATS, storage and consumer settings.
    #[serde(flatten)]
    pub common: CommonConfig,
}

impl tandem_runtime::service::ServiceConfig for IntakeConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// Runs intake until `shutdown` fires; several instances may run at once.
pub async fn run(config: IntakeConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let client = nats::connect(&config.common.nats, "tandem-intake", &shutdown).await?;
    let js = jetstream::new(client.clone());
    let storage = &config.common.storage;
    let (bucket, reads) = topology::intake_bucket(storage);
    let situations = nats::set_up(&shutdown, || {
        topology::ensure_streams_and_bucket(
            &js,
            topology::intake_streams(storage).into_iter().chain([
                topology::events_stream(storage),
                topology::dlq_stream(storage),
            ]),
            bucket.clone(),
            reads,
        )
    })
    .await?;

    let counters = Arc::new(Counters::default());
    service_api::register(
        &client,
        SERVICE,
        "Validates situation reports and announces them accepted or rejected",
        counters.clone(),
        shutdown.clone(),
    )
    .await?;
    let handler = Arc::new(handler::IntakeHandler::new(
        js.clone(),
        Records::new(situations),
    ));
    // One durable per intake stream (each tenant's deduplication is its own); the handler and
    // its records are shared, and compare-and-set orders reports of one situation across them.
    let consumers = topology::intake_durables().map(|durable| {
        let spec = ConsumerSpec::of(durable, config.common.consumer.clone());
        consumer::run(
            js.clone(),
            spec,
            handler.clone(),
            counters.clone(),
            shutdown.clone(),
        )
    });
    let [iom, unhcr, partners] = consumers;
    let result = tokio::try_join!(iom, unhcr, partners).map(|_| ());
    if result.is_err() {
        // One consumer failed: stop the others too rather than run a third of a service.
        shutdown.trigger();
    }
    // Acks are fire-and-forget publishes: make sure the last ones left before we go.
    let _ = client.flush().await;
    result
}
