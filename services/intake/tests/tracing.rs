//! One report is one trace: the W3C `traceparent` an agency system publishes with its report is
//! the parent of intake's span, and intake's outcome event carries intake's span on to the next
//! service. The spans are read back from an in-memory exporter installed with the runtime's own
//! `telemetry::init_with_exporter`, the way a service installs its OTLP exporter.
//!
//! The global subscriber is installed once per process (`OnceLock`), and each test finds its
//! spans by its own report id, so the tests are correct whether they run one per process
//! (nextest) or together (`cargo test`).

mod common;

use std::time::Duration;

use async_nats::HeaderMap;
use common::*;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
use tandem_testkit::{
    NatsServer,
    spans::{attribute, exporter},
};

/// Intake's finished span of the report `report_id`, once it has ended.
async fn intake_span(report_id: &str) -> SpanData {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let spans = exporter("tandem-intake")
            .get_finished_spans()
            .expect("finished spans");
        let mine: Vec<SpanData> = spans
            .into_iter()
            .filter(|span| attribute(span, "report.id").as_deref() == Some(report_id))
            .collect();
        if !mine.is_empty() {
            assert_eq!(
                mine.len(),
                1,
                "one span per handled report: {:#?}",
                mine.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            return mine.into_iter().next().expect("one span");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no finished span for report {report_id}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `traceparent` header value split into (trace id, span id, flags).
fn parse_traceparent(headers: &HeaderMap) -> (String, String, String) {
    let value = headers
        .get("traceparent")
        .expect("the outcome carries a traceparent")
        .to_string();
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00", "W3C version 00: {value}");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

fn traceparent(trace_id: &str, span_id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{trace_id}-{span_id}-01").as_str(),
    );
    headers
}

#[tokio::test]
async fn the_publishers_traceparent_is_the_parent_of_intakes_span_and_travels_on() {
    // The publisher's trace and its span that sent the report.
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PUBLISHER_SPAN: &str = "00f067aa0ba902b7";
    exporter("tandem-intake");
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    let report = report("trace-accepted-1", "COL-TRACE-1", 1);
    submit_bytes(
        &js,
        "iom",
        "iom:trace-accepted-1",
        report.encode_to_vec(),
        Some(traceparent(TRACE, PUBLISHER_SPAN)),
    )
    .await;
    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 1);
    let Outcome::Accepted(_, headers) = &outcomes[0] else {
        panic!("expected acceptance: {outcomes:?}");
    };

    let span = intake_span("trace-accepted-1").await;
    assert_eq!(span.name, "intake process tandem.intake.iom.report");
    assert_eq!(span.span_kind, SpanKind::Consumer);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE).expect("hex"),
        "intake's span is in the publisher's trace"
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex(PUBLISHER_SPAN).expect("hex"),
        "and its parent is the publisher's span"
    );
    assert!(span.parent_span_is_remote);
    assert!(
        span.span_context.is_sampled(),
        "the sampled flag is honoured"
    );
    assert_eq!(attribute(&span, "outcome").as_deref(), Some("accepted"));
    assert_eq!(
        attribute(&span, "situation.id").as_deref(),
        Some("COL-TRACE-1")
    );
    assert_eq!(attribute(&span, "agency").as_deref(), Some("iom"));
    assert_eq!(
        attribute(&span, "messaging.message.id").as_deref(),
        Some("iom:trace-accepted-1")
    );

    // The accepted event continues the trace from intake's span, not from the publisher's.
    let (trace, parent, flags) = parse_traceparent(headers);
    assert_eq!(trace, TRACE, "the outcome is in the publisher's trace");
    assert_ne!(parent, PUBLISHER_SPAN, "the outcome's parent is intake");
    assert_eq!(
        parent,
        span.span_context.span_id().to_string(),
        "the outcome's parent is intake's span"
    );
    assert_eq!(flags, "01", "still sampled");
    intake.stop().await;
}

#[tokio::test]
async fn a_rejected_reports_span_carries_the_rejection() {
    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    const PUBLISHER_SPAN: &str = "b7ad6b7169203331";
    exporter("tandem-intake");
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    let mut bad = report("trace-rejected-1", "COL-TRACE-2", 0);
    bad.country = "XYZ".into();
    submit_bytes(
        &js,
        "iom",
        "iom:trace-rejected-1",
        bad.encode_to_vec(),
        Some(traceparent(TRACE, PUBLISHER_SPAN)),
    )
    .await;
    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 1);
    let Outcome::Rejected(rejected, headers) = &outcomes[0] else {
        panic!("expected a rejection: {outcomes:?}");
    };
    let codes: Vec<&str> = rejected.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["REQUIRED", "UNKNOWN_CODE"]);

    let span = intake_span("trace-rejected-1").await;
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE).expect("hex")
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex(PUBLISHER_SPAN).expect("hex")
    );
    assert_eq!(attribute(&span, "outcome").as_deref(), Some("rejected"));
    let error = attribute(&span, "error").expect("the span names the rejection's codes");
    assert_eq!(
        error.split(',').collect::<Vec<_>>(),
        codes,
        "every code, in the order of the reasons"
    );

    let (trace, parent, _) = parse_traceparent(headers);
    assert_eq!(trace, TRACE);
    assert_eq!(parent, span.span_context.span_id().to_string());
    intake.stop().await;
}

#[tokio::test]
async fn a_report_without_traceparent_starts_a_trace_at_intake() {
    exporter("tandem-intake");
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    submit(&js, "iom", &report("trace-root-1", "COL-TRACE-3", 1)).await;
    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 1);

    let span = intake_span("trace-root-1").await;
    assert_eq!(
        span.parent_span_id,
        SpanId::INVALID,
        "intake's span is the root"
    );
    assert!(span.span_context.is_valid());
    let (trace, parent, _) = parse_traceparent(outcomes[0].headers());
    assert_eq!(trace, span.span_context.trace_id().to_string());
    assert_eq!(parent, span.span_context.span_id().to_string());
    intake.stop().await;
}

/// `tandem-intake` as its own process, killed when dropped.
struct IntakeProcess(std::process::Child);

impl IntakeProcess {
    /// Starts the binary with no OTLP exporter configured and `RUST_LOG` as given.
    fn start(server: &NatsServer, rust_log: Option<&str>) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tandem-intake"));
        command
            .env("NATS_URL", server.url())
            .env("TANDEM_CONSUMER__ACK_WAIT_SECS", "2")
            .env_remove("RUST_LOG")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_TRACES_SAMPLER")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        Self(command.spawn().expect("start tandem-intake"))
    }
}

impl Drop for IntakeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Publishes a report with a `traceparent` to a `tandem-intake` process and checks that its
/// outcome event continues the publisher's trace.
async fn assert_the_binary_carries_the_trace_on(rust_log: Option<&str>) {
    const TRACE: &str = "5b8aa5a2d2c872e8321cf37308d69df2";
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let _intake = IntakeProcess::start(&server, rust_log);
    let report = report("trace-process-1", "COL-TRACE-4", 1);
    submit_bytes(
        &js,
        "iom",
        "iom:trace-process-1",
        report.encode_to_vec(),
        Some(traceparent(TRACE, "051581bf3cb55c13")),
    )
    .await;
    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 1);
    assert!(matches!(outcomes[0], Outcome::Accepted(..)));
    let headers = outcomes[0].headers();
    assert!(
        headers.get("traceparent").is_some(),
        "the outcome has no traceparent: the trace is cut ({headers:?})"
    );
    let (trace, parent, _) = parse_traceparent(headers);
    assert_eq!(trace, TRACE, "the outcome continues the publisher's trace");
    assert_ne!(parent, "051581bf3cb55c13", "from intake's span");
}

#[tokio::test]
async fn the_intake_binary_carries_the_trace_on_without_an_exporter() {
    assert_the_binary_carries_the_trace_on(None).await;
}

#[tokio::test]
async fn the_intake_binary_carries_the_trace_on_when_logs_are_quieted() {
    // Operators quiet logs with RUST_LOG=warn; traces must not depend on the log level.
    assert_the_binary_carries_the_trace_on(Some("warn")).await;
}
