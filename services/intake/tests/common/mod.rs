//! Helpers shared by intake's tests over a real nats-server.
#![allow(dead_code)] // each test binary uses its own subset

use std::time::Duration;

use async_nats::{
    HeaderMap,
    jetstream::{self, publish::PublishAck},
};
use prost::Message as _;
use tandem_intake::IntakeConfig;
use tandem_proto::v1::{Agency, SituationAccepted, SituationRejected, SituationReport};
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

/// Publishes bytes as organisation `org` would, with `Nats-Msg-Id: <msg_id>`.
pub async fn publish_bytes(
    js: &jetstream::Context,
    org: &str,
    msg_id: &str,
    payload: Vec<u8>,
    headers: Option<HeaderMap>,
) -> PublishAck {
    let mut headers = headers.unwrap_or_default();
    headers.insert("Nats-Msg-Id", msg_id);
    js.publish_with_headers(topology::intake_subject(org), headers, payload.into())
        .await
        .expect("publish")
        .await
        .expect("stored")
}

/// Publishes a report as IOM, the way agency systems are told to.
pub async fn submit(js: &jetstream::Context, report: &SituationReport) -> PublishAck {
    let msg_id = format!("iom:{}", report.report_id);
    publish_bytes(js, "iom", &msg_id, report.encode_to_vec(), None).await
}

/// An outcome read back from TANDEM_EVENTS or TANDEM_REJECTIONS.
#[derive(Debug)]
pub enum Outcome {
    /// Boxed: an accepted event carries the whole report.
    Accepted(Box<SituationAccepted>, HeaderMap),
    Rejected(SituationRejected, HeaderMap),
}

impl Outcome {
    pub fn report_id(&self) -> &str {
        match self {
            Outcome::Accepted(event, _) => &event.report.as_ref().expect("report").report_id,
            Outcome::Rejected(event, _) => &event.report_id,
        }
    }

    pub fn reasons(&self) -> Vec<(String, String)> {
        match self {
            Outcome::Accepted(..) => vec![],
            Outcome::Rejected(event, _) => event
                .reasons
                .iter()
                .map(|r| (r.field.clone(), r.code.clone()))
                .collect(),
        }
    }

    pub fn headers(&self) -> &HeaderMap {
        match self {
            Outcome::Accepted(_, headers) | Outcome::Rejected(_, headers) => headers,
        }
    }
}

/// Every outcome intake announced so far, once intake has handled everything published.
pub async fn outcomes(js: &jetstream::Context) -> Vec<Outcome> {
    for (stream, _, durable) in topology::INTAKE_STREAMS {
        tandem_testkit::wait_until_consumed(js, stream, durable, Duration::from_secs(60)).await;
    }
    tandem_testkit::outcome_messages(js)
        .await
        .into_iter()
        .filter_map(|message| {
            let subject = message.subject.as_str();
            if subject.starts_with("tandem.situation.accepted.") {
                let event = SituationAccepted::decode(message.payload).expect("accepted decodes");
                Some(Outcome::Accepted(Box::new(event), message.headers))
            } else if subject.starts_with("tandem.situation.rejected.") {
                let event = SituationRejected::decode(message.payload).expect("rejected decodes");
                Some(Outcome::Rejected(event, message.headers))
            } else {
                None
            }
        })
        .collect()
}
