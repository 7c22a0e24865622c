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
    let situations = nats::set_up(&shutdown, || {
        topology::ensure_streams_and_bucket(
            &js,
            [
                topology::intake_stream(storage),
                topology::events_stream(storage),
                topology::dlq_stream(storage),
            ],
            topology::bucket(
                topology::INTAKE_BUCKET,
                "Intake: the country and last accepted revisions of each situation",
                1,
                storage,
            ),
            topology::Reads::Leader,
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
    let spec = ConsumerSpec {
        service: SERVICE,
        stream: topology::INTAKE_STREAM,
        durable: "tandem-intake".into(),
        filter_subject: topology::INTAKE_FILTER.into(),
        settings: config.common.consumer.clone(),
    };
    let handler = Arc::new(handler::IntakeHandler::new(
        js.clone(),
        Records::new(situations),
    ));
    let result = consumer::run(js, spec, handler, counters, shutdown).await;
    // Acks are fire-and-forget publishes: make sure the last ones left before we go.
    let _ = client.flush().await;
    result
}
