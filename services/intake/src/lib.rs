//! The intake service: every situation report an agency system publishes is validated against
//! the contract and answered, exactly once, with `SituationAccepted` (on
//! `tandem.situation.accepted.<ISO3>`) or `SituationRejected` listing every reason (on
//! `tandem.situation.rejected.<agency>`, stored on `TANDEM_REJECTIONS`).
//!
//! - [`config`]: [`IntakeConfig`], only the settings every service has.
//! - [`validate`]: decoding and the stateless rules, pure.
//! - [`state`]: revision order and one country per situation, pure.
//! - `handler`: the consumer handler tying them to KV `tandem-intake` and the event stream.
//! - [`run`]: creates what intake owns and consumes `tandem.intake.>` until shutdown.
//!
//! The service parts come with the default feature `service`; without it the crate is only
//! the pure rules, which the fuzz targets build with coverage instrumentation in minutes
//! rather than instrumenting NATS, tokio and OpenTelemetry too.

#[cfg(feature = "service")]
pub mod config;
#[cfg(feature = "service")]
mod handler;
pub mod state;
pub mod validate;

#[cfg(feature = "service")]
use std::sync::Arc;

#[cfg(feature = "service")]
use tandem_proto::roster;
#[cfg(feature = "service")]
use tandem_runtime::{
    Shutdown, consumer::ConsumerSpec, records::Records, service::Service, topology,
};

#[cfg(feature = "service")]
pub use config::IntakeConfig;

/// The service's name in subjects, consumers, dead letters and traces.
pub const SERVICE: &str = "intake";

/// Runs intake until `shutdown` fires; several instances may run at once.
#[cfg(feature = "service")]
pub async fn run(config: IntakeConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let storage = &config.common.storage;
    let description = "Validates situation reports and announces them accepted or rejected";
    Service::new(roster::INTAKE, description, &config.common.nats, &shutdown)
        .run(
            |js| async move {
                let streams = topology::intake_streams(storage).into_iter().chain([
                    topology::events_stream(storage),
                    topology::rejections_stream(storage),
                    topology::dlq_stream(storage),
                ]);
                let (bucket, reads) = topology::intake_bucket(storage);
                topology::ensure_streams_and_bucket(&js, streams, bucket, reads).await
            },
            |service, situations| {
                let handler = Arc::new(handler::IntakeHandler::new(
                    service.js().clone(),
                    Records::new(situations),
                ));
                // One durable per intake stream (each tenant's deduplication is its own); the
                // handler and its records are shared, and compare-and-set orders reports of
                // one situation across them.
                for durable in topology::intake_durables() {
                    let stream = durable.stream;
                    let spec = ConsumerSpec::of(durable, config.common.consumer.clone());
                    service.consume(stream, spec, handler.clone());
                }
                Ok(())
            },
        )
        .await
}
