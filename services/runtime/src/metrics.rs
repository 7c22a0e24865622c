//! Metrics operators expect, through the OpenTelemetry metrics API: exported over OTLP when the
//! `OTEL_*` environment asks (see [`crate::telemetry`]) and always readable in the Prometheus
//! text format on `GET /metrics` when `metrics_addr` is set.
//!
//! Every service gets, from its consumer loop:
//! - `tandem_messages_total{service, outcome}` — `processed`, `retried`, `dead_lettered`;
//! - `tandem_processing_duration_seconds{service}` — handling time, a histogram;
//! - `tandem_consumer_pending{service}` — messages waiting for the service (consumer lag),
//!   as the server reported with the last delivery.
//!
//! Services add their own through [`meter`] (intake's reports by outcome, notify's deliveries
//! by channel and outcome and its escalations).

use std::{net::SocketAddr, time::Duration};

use anyhow::Context as _;
use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Gauge, Histogram, Meter},
};
use prometheus::{Encoder as _, Registry, TextEncoder};

use crate::Shutdown;

/// The meter every tandem instrument is made from.
pub fn meter() -> Meter {
    global::meter("tandem")
}

/// The consumer loop's instruments for one service.
#[derive(Clone)]
pub(crate) struct ConsumerInstruments {
    service: KeyValue,
    messages: Counter<u64>,
    duration: Histogram<f64>,
    pending: Gauge<u64>,
}

impl ConsumerInstruments {
    pub(crate) fn new(service: &'static str) -> Self {
        let meter = meter();
        Self {
            service: KeyValue::new("service", service),
            messages: meter
                .u64_counter("tandem.messages")
                .with_description("Messages handled by a service, by outcome")
                .build(),
            duration: meter
                .f64_histogram("tandem.processing.duration")
                .with_unit("s")
                .with_description("Time to handle one message")
                .build(),
            pending: meter
                .u64_gauge("tandem.consumer.pending")
                .with_description("Messages waiting for the service's consumer (lag)")
                .build(),
        }
    }

    /// One message handled with `outcome`, in `elapsed`, with `pending` still waiting.
    pub(crate) fn record(&self, outcome: &'static str, elapsed: Duration, pending: u64) {
        let service = std::slice::from_ref(&self.service);
        self.messages.add(
            1,
            &[self.service.clone(), KeyValue::new("outcome", outcome)],
        );
        self.duration.record(elapsed.as_secs_f64(), service);
        self.pending.record(pending, service);
    }
}

/// Serves `GET /metrics` (Prometheus text format) from `registry` on `address` until
/// `shutdown`. Returns the bound address (useful with port 0).
pub async fn serve(
    registry: Registry,
    address: &str,
    shutdown: Shutdown,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for /metrics on {address}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state(registry);
    tokio::spawn(async move {
        if let Err(error) = crate::http::serve(listener, app, shutdown).await {
            tracing::warn!(%error, "the /metrics endpoint stopped");
        }
    });
    Ok(bound)
}

async fn render(State(registry): State<Registry>) -> impl IntoResponse {
    let mut body = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&registry.gather(), &mut body) {
        tracing::warn!(%error, "cannot render metrics");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
