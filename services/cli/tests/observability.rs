//! One trace per report across the services, as an operator sees it in a tracing dashboard:
//! the service binaries run as their own processes and export over OTLP (http/protobuf) to a
//! small in-process OTLP receiver.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::HeaderMap;
use axum::{Router, body::Bytes, extract::State, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
};
use prost::Message as _;
use tandem_proto::v1::{Agency, Driver, Phase, PopulationGroup, Scope, SituationReport};
use tandem_runtime::topology;
use tandem_testkit::{
    NatsServer,
    reports::Report,
    services::{ServiceCommand, ServiceProcess},
};

/// A span as the receiver got it.
#[derive(Clone, Debug)]
struct ReceivedSpan {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: HashMap<String, String>,
}

type Received = Arc<Mutex<Vec<ReceivedSpan>>>;

async fn receive(State(received): State<Received>, body: Bytes) -> Vec<u8> {
    if let Ok(request) = ExportTraceServiceRequest::decode(body) {
        record(&received, request);
    }
    ExportTraceServiceResponse::default().encode_to_vec()
}

/// The same receiver over gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`).
struct GrpcReceiver(Received);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        record(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn record(received: &Received, request: ExportTraceServiceRequest) {
    let mut spans = received.lock().expect("lock");
    for resource_spans in request.resource_spans {
        let attributes = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        let service = attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref()?.value.as_ref().map(text))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: span
                        .attributes
                        .iter()
                        .filter_map(|kv| {
                            Some((kv.key.clone(), text(kv.value.as_ref()?.value.as_ref()?)))
                        })
                        .collect(),
                });
            }
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::StringValue(s) => s.clone(),
        Value::IntValue(i) => i.to_string(),
        Value::BoolValue(b) => b.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn start(name: &str, server: &NatsServer, otlp: &str) -> ServiceProcess {
    let mut command = ServiceCommand::new(name, &server.url());
    if name == "tandem-notify" {
        command = command.arg("--agency").arg("iom");
    }
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("TANDEM_PUBLISH_ADDR", "127.0.0.1:0")
        .env("TANDEM_PUBLISH_INTERVAL_MS", "100")
        .spawn()
}

fn report(id: &str, revision: u32) -> SituationReport {
    Report::new(Agency::Iom, id, "TRACE-1", revision)
        .reported_at(std::time::SystemTime::now())
        .country("LBY")
        .situation(Scope::CrossBorder, Driver::Economic, Phase::Protracted)
        .on_the_move(false)
        .figures("2026-01-01", "", &[(PopulationGroup::Migrant, 5000)])
        .build()
}

/// A nats-server with the streams intake reads and writes.
async fn server_with_streams() -> (NatsServer, async_nats::jetstream::Context) {
    let server = NatsServer::start();
    let js = server.jetstream().await;
    let storage = Default::default();
    for stream in topology::intake_streams(&storage).into_iter().chain([
        topology::events_stream(&storage),
        topology::dlq_stream(&storage),
    ]) {
        topology::ensure_stream(&js, stream).await.expect("stream");
    }
    (server, js)
}

/// Submits `report` as IOM would, inside the agency's trace `trace_id` / span `parent_span`.
async fn submit_traced(
    js: &async_nats::jetstream::Context,
    report: &SituationReport,
    trace_id: &str,
    parent_span: &str,
) {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("iom:{}", report.report_id).as_str());
    headers.insert(
        "traceparent",
        format!("00-{trace_id}-{parent_span}-01").as_str(),
    );
    js.publish_with_headers(
        topology::intake_subject("iom"),
        headers,
        report.encode_to_vec().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");
}

/// Waits until `check` holds for the spans received so far.
async fn wait_for(
    received: &Received,
    what: &str,
    check: impl Fn(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    tandem_testkit::eventually(what, Duration::from_secs(60), || {
        let spans = received.lock().expect("lock").clone();
        let found = if check(&spans) {
            Ok(spans)
        } else {
            Err(format!("spans so far: {spans:#?}"))
        };
        std::future::ready(found)
    })
    .await
}

#[tokio::test]
async fn one_report_is_one_trace_through_every_service() {
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let otlp = format!("http://{}", listener.local_addr().expect("addr"));
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (server, js) = server_with_streams().await;
    // IOM's country coordinator for Libya, told over NATS.
    let entries = tandem_notify::directory::parse(
        "[{\"id\": \"lby-iom-cc\", \"name\": \"Trace Test\", \"agency\": \"iom\", \"role\": \"COUNTRY_COORDINATOR\", \"countries\": [\"LBY\"], \"channels\": [{\"nats\": {}}]}]",
    )
    .expect("directory entry");
    tandem_notify::directory::Directory::open(&js, &Default::default())
        .await
        .expect("directory")
        .import(&entries)
        .await
        .expect("import");
    let _services: Vec<ServiceProcess> = [
        "tandem-intake",
        "tandem-leadership",
        "tandem-notify",
        "tandem-publish",
    ]
    .iter()
    .map(|name| start(name, &server, &otlp))
    .collect();

    // An agency system's own trace: its span id is the parent of intake's span.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let agency_span = "00f067aa0ba902b7";
    submit_traced(&js, &report("trace-ok", 1), trace_id, agency_span).await;

    let in_trace = |spans: &[ReceivedSpan], service: &str| {
        spans
            .iter()
            .filter(|s| s.trace_id == trace_id && s.service == service)
            .cloned()
            .collect::<Vec<_>>()
    };
    let spans = wait_for(
        &received,
        "spans of intake, leadership, notify (handling and delivery) and publish",
        |spans| {
            let notify = in_trace(spans, "tandem-notify");
            ["tandem-intake", "tandem-leadership", "tandem-publish"]
                .iter()
                .all(|service| !in_trace(spans, service).is_empty())
                // The delivery span, and notify's handling span that ends after it.
                && notify.iter().any(|s| s.attributes.contains_key("notification.channel"))
                && notify.iter().any(|s| !s.attributes.contains_key("notification.channel"))
        },
    )
    .await;

    let intake = in_trace(&spans, "tandem-intake");
    let intake_span = intake
        .iter()
        .find(|s| s.parent_span_id == agency_span)
        .expect("intake continues the agency's span");
    assert_eq!(
        intake_span.attributes.get("report.id").map(String::as_str),
        Some("trace-ok")
    );
    assert_eq!(
        intake_span
            .attributes
            .get("situation.id")
            .map(String::as_str),
        Some("TRACE-1")
    );
    assert_eq!(
        intake_span.attributes.get("outcome").map(String::as_str),
        Some("accepted")
    );

    let leadership = in_trace(&spans, "tandem-leadership");
    let leadership_span = leadership
        .iter()
        .find(|s| s.parent_span_id == intake_span.span_id)
        .expect("leadership's span is a child of intake's");
    assert_eq!(
        leadership_span
            .attributes
            .get("classification")
            .map(String::as_str),
        Some("CLASSIFICATION_MIGRANT_SITUATION")
    );

    let notify = in_trace(&spans, "tandem-notify");
    let notify_span = notify
        .iter()
        .find(|s| s.parent_span_id == leadership_span.span_id)
        .expect("notify's span is a child of leadership's");
    let delivery = notify
        .iter()
        .find(|s| s.attributes.contains_key("notification.channel"))
        .expect("a delivery span");
    assert_eq!(
        delivery.parent_span_id, notify_span.span_id,
        "each delivery hangs under notify's handling"
    );
    assert_eq!(
        delivery
            .attributes
            .get("notification.channel")
            .map(String::as_str),
        Some("CHANNEL_NATS")
    );
    assert_eq!(
        delivery.attributes.get("outcome").map(String::as_str),
        Some("delivered")
    );

    let publish_spans = in_trace(&spans, "tandem-publish");
    // Events under intake's or leadership's spans, notification statuses (for the histories)
    // under notify's.
    let known: Vec<&str> = intake
        .iter()
        .chain(&leadership)
        .chain(&notify)
        .map(|s| s.span_id.as_str())
        .collect();
    assert!(
        publish_spans
            .iter()
            .all(|s| known.contains(&s.parent_span_id.as_str())),
        "publish's spans hang under intake's, leadership's or notify's: {publish_spans:#?}"
    );

    // A rejected report: its trace says why.
    let rejected_trace = "0af7651916cd43dd8448eb211c80319c";
    let mut bad = report("trace-bad", 0);
    bad.country = "XYZ".into();
    submit_traced(&js, &bad, rejected_trace, agency_span).await;
    let spans = wait_for(&received, "the rejected report's intake span", |spans| {
        spans.iter().any(|s| {
            s.trace_id == rejected_trace
                && s.service == "tandem-intake"
                && s.attributes.contains_key("outcome")
        })
    })
    .await;
    let rejected = spans
        .iter()
        .find(|s| {
            s.trace_id == rejected_trace
                && s.service == "tandem-intake"
                && s.attributes.contains_key("outcome")
        })
        .expect("span");
    assert_eq!(
        rejected.attributes.get("outcome").map(String::as_str),
        Some("rejected")
    );
    let error = rejected
        .attributes
        .get("error")
        .cloned()
        .unwrap_or_default();
    assert!(
        error.contains("REQUIRED") && error.contains("UNKNOWN_CODE"),
        "{error}"
    );
    assert!(!rejected.name.is_empty());
}

/// A free loopback port (bound and released: nothing else on this machine races for it in tests).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `GET path` on `127.0.0.1:port`, the body.
async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn metrics_and_json_logs_tell_the_operator_what_happened() {
    let (server, js) = server_with_streams().await;
    let port = free_port();
    let intake = ServiceCommand::new("tandem-intake", &server.url())
        .env("TANDEM_METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("TANDEM_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .spawn();

    let trace_id = "11112222333344445555666677778888";
    for report in [report("m-ok", 1), report("m-bad", 0)] {
        submit_traced(&js, &report, trace_id, "1111222233334444").await;
    }
    tandem_testkit::wait_until_consumed(
        &js,
        topology::INTAKE_IOM_STREAM,
        tandem_proto::roster::INTAKE.durables[0],
        Duration::from_secs(30),
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let metrics = http_get(port, "/metrics").await;
        if metrics.contains("outcome=\"rejected\"") {
            break metrics;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never showed the rejection:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let value = |name: &str, labels: &[&str]| -> Option<f64> {
        metrics
            .lines()
            .find(|line| line.starts_with(name) && labels.iter().all(|l| line.contains(l)))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
    };
    assert_eq!(
        value(
            "tandem_messages_total",
            &["outcome=\"processed\"", "service=\"intake\""]
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        value(
            "tandem_reports_total",
            &["outcome=\"accepted\"", "organisation=\"iom\""]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value("tandem_reports_total", &["outcome=\"rejected\""]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value(
            "tandem_processing_duration_seconds_count",
            &["service=\"intake\""]
        ),
        Some(2.0),
        "{metrics}"
    );
    assert!(
        value("tandem_consumer_pending", &["service=\"intake\""]).is_some(),
        "{metrics}"
    );

    // JSON logs: the lines about the reports carry the trace id.
    let lines = intake
        .wait_for_log(
            "the log lines of the accepted and the rejected report",
            Duration::from_secs(30),
            |lines| {
                let mut wanted = Vec::new();
                for line in lines {
                    let entry: serde_json::Value =
                        serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
                    let message = entry["fields"]["message"].as_str().unwrap_or_default();
                    if message == "report accepted" || message == "report rejected" {
                        wanted.push(entry);
                    }
                }
                (wanted.len() == 2).then_some(wanted)
            },
        )
        .await;
    assert_eq!(lines.len(), 2);
    for entry in lines {
        assert_eq!(entry["span"]["trace_id"], trace_id, "{entry}");
    }
}

#[tokio::test]
async fn spans_are_exported_over_grpc_too() {
    let received: Received = Arc::default();
    let port = free_port();
    let receiver = TraceServiceServer::new(GrpcReceiver(received.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(receiver)
            .serve(([127, 0, 0, 1], port).into()),
    );
    let (server, js) = server_with_streams().await;
    let _intake = ServiceCommand::new("tandem-intake", &server.url())
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .spawn();
    let trace_id = "99998888777766665555444433332222";
    submit_traced(&js, &report("grpc-1", 1), trace_id, "1111222233334444").await;
    let spans = wait_for(&received, "intake's span over gRPC", |spans| {
        spans
            .iter()
            .any(|s| s.trace_id == trace_id && s.service == "tandem-intake")
    })
    .await;
    let span = spans.iter().find(|s| s.trace_id == trace_id).expect("span");
    assert_eq!(span.parent_span_id, "1111222233334444");
}
