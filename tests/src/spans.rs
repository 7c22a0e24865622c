//! Capturing this process's spans in memory, for tests that check what a service traces.

use std::sync::OnceLock;

use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tandem_runtime::{
    config::LogFormat,
    telemetry::{self, Telemetry},
};

/// The exporter every span of this process ends in, installed (once) as `service_name`'s
/// telemetry on first use.
pub fn exporter(service_name: &str) -> &'static InMemorySpanExporter {
    static INSTALLED: OnceLock<(InMemorySpanExporter, Telemetry)> = OnceLock::new();
    &INSTALLED
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let telemetry =
                telemetry::init_with_exporter(service_name, LogFormat::Text, exporter.clone())
                    .expect("install the tracing subscriber");
            (exporter, telemetry)
        })
        .0
}

/// The value of attribute `key` of `span`, as text.
pub fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(value) => value.as_str().to_string(),
            other => other.to_string(),
        })
}
