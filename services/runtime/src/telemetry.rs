//! One function builds the tracing subscriber every service uses.
//!
//! - Logs: text or JSON lines on stderr, filtered by `RUST_LOG` (default `info` for services,
//!   `warn` for the command line).
//! - Traces: an OpenTelemetry layer is always installed so that every span has a W3C trace
//!   context to propagate; spans are *exported* only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, with `OTEL_EXPORTER_OTLP_PROTOCOL` `grpc`
//!   (default) or `http/protobuf`, through a batch exporter flushed by [`Telemetry::shutdown`].
//!   `OTEL_SERVICE_NAME` overrides the service name; `OTEL_TRACES_SAMPLER(_ARG)` is read by the
//!   SDK. Traces hold spans and the warning and error events in them; info events are logs only.
//! - Metrics: an OpenTelemetry meter provider, read by a Prometheus registry (served by
//!   [`crate::metrics::serve`]) and, when OTLP is asked for, exported every 10 s.
//! - The exporter's own crates (h2, tonic, hyper, reqwest, opentelemetry*) are filtered out of
//!   every layer; otherwise exporting a span would log, and trace, itself.

use anyhow::Context as _;
use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource,
    metrics::SdkMeterProvider,
    trace::{SdkTracerProvider, SpanExporter, TracerProviderBuilder},
};
use tracing_subscriber::{
    EnvFilter, Layer as _,
    filter::{FilterExt as _, filter_fn},
    layer::SubscriberExt as _,
    util::SubscriberInitExt as _,
};

use crate::config::LogFormat;

const QUIET_CRATES: [&str; 9] = [
    "h2",
    "tonic",
    "hyper",
    "hyper_util",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

/// Keeps the tracer and meter providers alive; call [`Telemetry::shutdown`] before exit to
/// flush spans and metrics.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    meters: SdkMeterProvider,
    registry: prometheus::Registry,
}

impl Telemetry {
    /// The Prometheus registry the metrics are read into, for [`crate::metrics::serve`].
    pub fn registry(&self) -> prometheus::Registry {
        self.registry.clone()
    }

    /// Flushes and stops span and metric export.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("tandem: flushing traces failed: {error}");
        }
        if let Err(error) = self.meters.shutdown() {
            eprintln!("tandem: flushing metrics failed: {error}");
        }
    }
}

/// Installs the global subscriber for `service_name` (`tandem-intake`), exporting over OTLP
/// when the `OTEL_*` environment asks for it.
pub fn init(service_name: &str, format: LogFormat) -> anyhow::Result<Telemetry> {
    init_with_level(service_name, format, "info")
}

/// As [`init`], logging at `default_level` when `RUST_LOG` is unset.
pub fn init_with_level(
    service_name: &str,
    format: LogFormat,
    default_level: &str,
) -> anyhow::Result<Telemetry> {
    // Before the OTLP http exporter builds its HTTP client.
    crate::tls::install_crypto_provider();
    let mut builder = SdkTracerProvider::builder();
    if otlp_requested() {
        builder = builder.with_batch_exporter(otlp_exporter()?);
    }
    install(service_name, format, default_level, builder)
}

/// Installs the global subscriber with `exporter` receiving every span as it ends (for tests
/// that inspect spans, and tools that want them synchronously).
pub fn init_with_exporter<E: SpanExporter + 'static>(
    service_name: &str,
    format: LogFormat,
    exporter: E,
) -> anyhow::Result<Telemetry> {
    install(
        service_name,
        format,
        "info",
        SdkTracerProvider::builder().with_simple_exporter(exporter),
    )
}

fn install(
    service_name: &str,
    format: LogFormat,
    default_level: &str,
    builder: TracerProviderBuilder,
) -> anyhow::Result<Telemetry> {
    let service_name =
        std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service_name.to_string());
    let resource = Resource::builder()
        .with_service_name(service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let provider = builder.with_resource(resource.clone()).build();
    let registry = prometheus::Registry::new();
    let prometheus_reader = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .without_target_info()
        // Every instrument is of the one scope `tandem`: a constant label on every series
        // would tell the operator nothing (docs/operating.md lists the labels).
        .scope_info_enabled(false)
        .build()
        .context("cannot set up the Prometheus metrics reader")?;
    let mut meters = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(prometheus_reader);
    if otlp_requested() {
        meters = meters.with_periodic_exporter(otlp_metric_exporter()?);
    }
    let meters = meters.build();
    opentelemetry::global::set_meter_provider(meters.clone());
    let tracer = provider.tracer(service_name);

    let fmt = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // Each layer has its own filter: `RUST_LOG=warn` must quieten the logs without switching
    // off the spans that carry the trace from one service to the next.
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter(&log_directives(default_level))))
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                // What the profile of `tandem bench` showed spans costing without adding to a
                // trace: clock readings on every poll for busy/idle times, an OpenTelemetry
                // context pushed on every poll (nothing here reads it: propagation goes
                // through the span), thread and source-location attributes.
                .with_tracked_inactivity(false)
                .with_context_activation(false)
                .with_threads(false)
                .with_location(false)
                .with_filter(filter("info").and(filter_fn(|meta| {
                    // Spans, and only the warnings and errors among events: an info line
                    // ("report accepted") is in the logs, with the trace id, and in the span's
                    // `outcome` attribute already.
                    meta.is_span() || *meta.level() <= tracing::Level::WARN
                }))),
        )
        .try_init()
        .context("a tracing subscriber is already installed")?;
    Ok(Telemetry {
        provider,
        meters,
        registry,
    })
}

/// `directives` with the exporter's own crates switched off.
fn filter(directives: &str) -> EnvFilter {
    let mut filter = EnvFilter::new(directives);
    for name in QUIET_CRATES {
        if let Ok(directive) = format!("{name}=off").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// `RUST_LOG`, or `default_level` when it is unset.
fn log_directives(default_level: &str) -> String {
    std::env::var("RUST_LOG").unwrap_or_else(|_| default_level.to_string())
}

fn otlp_requested() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.is_empty()))
}

fn otlp_exporter() -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    use opentelemetry_otlp::WithExportConfig as _;
    let protocol =
        std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").unwrap_or_else(|_| otlp_protocol());
    let exporter = match protocol.as_str() {
        "grpc" => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build(),
        "http/protobuf" => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
        other => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported; use grpc or http/protobuf"
        ),
    };
    exporter.context("cannot build the OTLP span exporter")
}

fn otlp_protocol() -> String {
    std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_else(|_| "grpc".into())
}

fn otlp_metric_exporter() -> anyhow::Result<opentelemetry_otlp::MetricExporter> {
    use opentelemetry_otlp::WithExportConfig as _;
    let protocol =
        std::env::var("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL").unwrap_or_else(|_| otlp_protocol());
    let exporter = match protocol.as_str() {
        "grpc" => opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build(),
        "http/protobuf" => opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
        other => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported; use grpc or http/protobuf"
        ),
    };
    exporter.context("cannot build the OTLP metric exporter")
}
