//! Helpers shared by intake's tests over a real nats-server.
#![allow(dead_code)] // each test binary uses its own subset

use std::time::Duration;

use async_nats::jetstream;
use tandem_intake::IntakeConfig;
use tandem_proto::v1::{Agency, SituationReport};
use tandem_runtime::{Shutdown, config::CommonConfig, topology};
use tandem_testkit::NatsServer;

/// Intake running in this process.
pub struct Intake {
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Intake {
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.task
            .await
            .expect("intake task")
            .expect("intake ran cleanly");
    }
}

/// Settings that make retries quick in tests.
pub fn config(server: &NatsServer) -> IntakeConfig {
    let mut common = CommonConfig::default();
    common.nats.url = server.url();
    common.consumer.max_deliver = 3;
    common.consumer.ack_wait_secs = 2;
    common.consumer.retry_base_ms = 20;
    IntakeConfig { common }
}

pub fn start_intake(server: &NatsServer) -> Intake {
    let shutdown = Shutdown::new();
    let task = tokio::spawn(tandem_intake::run(config(server), shutdown.clone()));
    Intake { shutdown, task }
}

/// The streams an agency system publishes into exist (intake creates them too; creation is
/// idempotent, so the test does not race intake's start).
pub async fn ensure_streams(js: &jetstream::Context) {
    let storage = Default::default();
    for stream in topology::intake_streams(&storage).into_iter().chain([
        topology::events_stream(&storage),
        topology::rejections_stream(&storage),
        topology::dlq_stream(&storage),
    ]) {
        topology::ensure_stream(js, stream).await.expect("stream");
    }
}

/// A valid report from IOM.
pub fn report(report_id: &str, situation_id: &str, revision: u32) -> SituationReport {
    tandem_testkit::reports::valid_report(Agency::Iom, report_id, situation_id, revision)
}

pub use tandem_testkit::clients::{Outcome, submit, submit_bytes};

/// Every outcome intake announced so far, once intake has handled everything published.
pub async fn outcomes(js: &jetstream::Context) -> Vec<Outcome> {
    for (stream, _, durable) in topology::INTAKE_STREAMS {
        tandem_testkit::wait_until_consumed(js, stream, durable, Duration::from_secs(60)).await;
    }
    tandem_testkit::clients::outcomes(js).await
}
