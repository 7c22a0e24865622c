//! One report is one trace, into the data service too: the span in which the publish service
//! applies an event continues the trace of the service that published it (its `traceparent`).
//! Spans are read back from an in-memory exporter installed with the runtime's own
//! `telemetry::init_with_exporter`, once per process; each test finds its spans by situation.

mod common;

use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use common::*;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use prost::Message as _;
use tandem_proto::v1::PopulationGroup;
use tandem_runtime::{envelope::Envelope, topology};
use tandem_testkit::{
    NatsServer,
    spans::{attribute, exporter},
};

#[tokio::test]
async fn applying_a_determination_continues_the_leadership_trace() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const LEADERSHIP_SPAN: &str = "00f067aa0ba902b7";
    exporter("tandem-publish");
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_events_stream(&js).await;
    let publish = Publish::start(&server, std::time::Duration::from_millis(300)).await;

    let determined = determination("COL-TRACE-1", 1, &[(PopulationGroup::Migrant, 10)]);
    let mut headers = Envelope {
        service: "leadership",
        event: "leadership.determined",
        subject: "COL-TRACE-1",
        id: "determination:COL-TRACE-1/1",
    }
    .headers();
    headers.insert(
        "traceparent",
        format!("00-{TRACE}-{LEADERSHIP_SPAN}-01").as_str(),
    );
    let ack = js
        .send_publish(
            topology::determined_subject("COL"),
            PublishMessage::build()
                .headers(headers)
                .payload(Bytes::from(determined.encode_to_vec())),
        )
        .await
        .expect("publish")
        .await
        .expect("stored");
    publish.wait_applied(ack.sequence).await;

    let mut span = None;
    eventually("the apply span to end", DEADLINE, || {
        let found = exporter("tandem-publish")
            .get_finished_spans()
            .expect("spans")
            .into_iter()
            .filter(|s| attribute(s, "situation.id").as_deref() == Some("COL-TRACE-1"))
            .collect::<Vec<_>>();
        let done = !found.is_empty();
        if done {
            assert_eq!(found.len(), 1, "one span per applied event");
            span = found.into_iter().next();
        }
        async move { done }
    })
    .await;
    let span = span.expect("span");
    assert_eq!(span.name, "publish apply tandem.leadership.determined.COL");
    assert_eq!(span.span_kind, SpanKind::Consumer);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE).expect("hex")
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex(LEADERSHIP_SPAN).expect("hex")
    );
    assert_eq!(attribute(&span, "outcome").as_deref(), Some("applied"));
    assert_eq!(
        attribute(&span, "stream.sequence").as_deref(),
        Some(ack.sequence.to_string().as_str())
    );
    publish.stop().await;
}
