//! The envelope of every event: CloudEvents headers (NATS binding, binary mode), W3C trace
//! context, and `Nats-Msg-Id` for deduplication.
//!
//! Trace context travels in `traceparent` / `tracestate` so that one report is one trace across
//! every service: [`Envelope::headers`] injects the current span's context, and
//! [`parent_context`] extracts the publisher's so the consumer's span can continue it.

use async_nats::{
    HeaderMap,
    jetstream::{self, message::PublishMessage, publish::PublishAck},
};
use bytes::Bytes;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header NATS JetStream deduplicates on.
pub const MSG_ID: &str = "Nats-Msg-Id";

/// What an event says about itself.
#[derive(Clone, Debug)]
pub struct Envelope<'a> {
    /// The publishing service (`intake`, `leadership`, …): `ce-source` is `/tandem/<service>`.
    pub service: &'a str,
    /// The event name: `ce-type` is `org.tandem.<event>.v1`.
    pub event: &'a str,
    /// What the event is about (the situation id): `ce-subject`.
    pub subject: &'a str,
    /// Unique per event and stable across retries: `ce-id` and `Nats-Msg-Id`.
    pub id: &'a str,
}

impl Envelope<'_> {
    /// The headers of the event, carrying the current span's trace context.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-id", self.id);
        headers.insert("ce-source", format!("/tandem/{}", self.service).as_str());
        headers.insert("ce-type", format!("org.tandem.{}.v1", self.event).as_str());
        headers.insert("ce-time", now_rfc3339().as_str());
        if !self.subject.is_empty() {
            headers.insert("ce-subject", self.subject);
        }
        headers.insert("ce-datacontenttype", "application/protobuf");
        headers.insert(MSG_ID, self.id);
        inject_current_context(&mut headers);
        headers
    }

    /// Publishes `payload` on `subject` with these headers and waits for the stream to store it.
    /// A duplicate (same id within the stream's window) is success: the first copy is stored.
    pub async fn publish(
        &self,
        js: &jetstream::Context,
        subject: String,
        payload: Bytes,
    ) -> anyhow::Result<PublishAck> {
        let publish = PublishMessage::build()
            .headers(self.headers())
            .payload(payload);
        let ack = js.send_publish(subject, publish).await?.await?;
        Ok(ack)
    }

    /// Sends `payload` on `subject` with these headers, without storing it: a copy of a stored
    /// event for readers who cannot read the stream (a tenant's own outcomes). A redelivery
    /// may send it again, with the same `Nats-Msg-Id`.
    pub async fn announce(
        &self,
        client: &async_nats::Client,
        subject: String,
        payload: Bytes,
    ) -> anyhow::Result<()> {
        client
            .publish_with_headers(subject, self.headers(), payload)
            .await?;
        Ok(())
    }
}

/// Writes the current span's trace context into `headers` as `traceparent` / `tracestate`.
pub fn inject_current_context(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// The trace context a message's publisher sent; empty (a new trace) when none or invalid.
pub fn parent_context(headers: Option<&HeaderMap>) -> opentelemetry::Context {
    match headers {
        Some(headers) => TraceContextPropagator::new().extract(&HeaderExtractor(headers)),
        None => opentelemetry::Context::new(),
    }
}

/// The trace id (32 hex digits) of the trace a message's `traceparent` continues, if valid.
pub fn trace_id(headers: Option<&HeaderMap>) -> Option<String> {
    trace_id_in(&parent_context(headers))
}

/// The value of header `name`, if present and text.
pub fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.get(name).map(|value| value.as_str())
}

/// The trace id of the current span, as 32 hex digits (empty when there is none).
pub fn current_trace_id() -> String {
    trace_id_of(&tracing::Span::current())
}

/// The trace id of `span`, as 32 hex digits (empty when there is none).
pub fn trace_id_of(span: &tracing::Span) -> String {
    trace_id_in(&span.context()).unwrap_or_default()
}

fn trace_id_in(context: &opentelemetry::Context) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Where the tracing dashboard shows a trace: a URL with `{trace_id}` where the id goes (the id
/// is appended when the placeholder is missing), e.g. `http://localhost:16686/trace/{trace_id}`.
pub const TRACE_URL_ENV: &str = "TANDEM_TRACE_URL";

/// The dashboard link of `trace_id` when `TANDEM_TRACE_URL` is set.
pub fn trace_url(trace_id: &str) -> Option<String> {
    trace_link(&std::env::var(TRACE_URL_ENV).ok()?, trace_id)
}

/// `template` with `trace_id` in place of `{trace_id}` (or after it, when it has none); `None`
/// for a blank template or id.
pub fn trace_link(template: &str, trace_id: &str) -> Option<String> {
    let template = template.trim();
    if template.is_empty() || trace_id.is_empty() {
        return None;
    }
    Some(if template.contains("{trace_id}") {
        template.replace("{trace_id}", trace_id)
    } else {
        format!("{template}{trace_id}")
    })
}

/// Now, in RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|value| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::trace_link;

    #[test]
    fn the_id_goes_where_the_template_says_or_at_its_end() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_link("http://localhost:16686/trace/{trace_id}", id).as_deref(),
            Some("http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_link("https://grafana.example/explore?traceId={trace_id}&x=1", id).as_deref(),
            Some("https://grafana.example/explore?traceId=4bf92f3577b34da6a3ce929d0e0e4736&x=1")
        );
        assert_eq!(
            trace_link(" http://jaeger/trace/ ", id).as_deref(),
            Some("http://jaeger/trace/4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_link("  ", id), None);
    }
}
