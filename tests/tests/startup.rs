//! A service started before JetStream is available — a server still starting, a cluster still
//! electing its JetStream leader — waits for it, saying so, instead of exiting; once JetStream
//! is there it sets up its streams and buckets and works.

use std::time::Duration;

use async_nats::jetstream;
use prost::Message as _;
use tandem_proto::v1::{Agency, SituationAccepted};
use tandem_runtime::topology;
use tandem_testkit::{NatsServer, reports::valid_report, services::ServiceCommand};

/// How many failed set-ups the service must have logged while it kept running.
const FAILED_SETUPS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_started_before_jetstream_waits_for_it_then_works() {
    let mut server = NatsServer::start_without_jetstream();
    let intake = ServiceCommand::new("tandem-intake", &server.url())
        .label("intake")
        // Info, for the line that says set-up is done and the service consumes.
        .env("RUST_LOG", "info")
        .spawn();

    // Without JetStream every attempt to set up fails at once; the service logs each one and
    // tries again instead of exiting.
    intake
        .wait_for_log("several failed set-ups", Duration::from_secs(30), |lines| {
            let failed = lines
                .iter()
                .filter(|line| line.contains("cannot set up streams and buckets"))
                .count();
            (failed >= FAILED_SETUPS).then_some(())
        })
        .await;
    assert!(
        intake.is_running(),
        "intake exited instead of waiting for JetStream:\n{}",
        intake.log().join("\n")
    );

    // JetStream arrives (same port): the service sets up, then consumes — by then every stream
    // it needs exists — and handles a report.
    server.restart();
    intake
        .wait_for_log("consuming after set-up", Duration::from_secs(30), |lines| {
            lines
                .iter()
                .any(|line| line.contains("consuming"))
                .then_some(())
        })
        .await;
    let js = server.jetstream().await;
    let report = valid_report(Agency::Iom, "r-startup", "S-STARTUP", 1);
    js.publish(
        topology::intake_subject("iom"),
        report.encode_to_vec().into(),
    )
    .await
    .expect("publish sent")
    .await
    .expect("the intake stream stores the report");
    let accepted = first_message(&js, &topology::accepted_subject(&report.country)).await;
    let accepted = SituationAccepted::decode(accepted).expect("a SituationAccepted");
    assert_eq!(accepted.report.map(|r| r.report_id), Some(report.report_id));
}

/// The payload of the first message on `subject` in the event stream.
async fn first_message(js: &jetstream::Context, subject: &str) -> bytes::Bytes {
    let stream = js
        .get_stream(topology::EVENTS_STREAM)
        .await
        .expect("intake created the event stream");
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: subject.to_string(),
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let message = tokio::time::timeout(
        Duration::from_secs(30),
        futures::StreamExt::next(&mut messages),
    )
    .await
    .expect("an outcome within 30 s")
    .expect("the stream goes on")
    .expect("a message");
    message.payload.clone()
}
