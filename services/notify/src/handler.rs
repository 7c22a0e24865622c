//! The two consumers of notify: determinations (`tandem.leadership.determined.>` in
//! `TANDEM_EVENTS`) and acknowledgements (`tandem.notify.ack.>` in `TANDEM_NOTIFY`), each a
//! durable consumer per agency (`tandem-notify-iom`, `tandem-notify-iom-acks`), so each agency's
//! instances share their own work and see every message once.

use std::sync::Arc;

use anyhow::anyhow;
use async_nats::jetstream::Message;
use prost::Message as _;
use tandem_proto::{partial::DeterminationStep, v1::LeadershipDetermination};
use tandem_runtime::{
    consumer::{Delivery, Handler, HandlerError, Place},
    envelope,
};

use crate::notifier::{self, Notifier};

/// Turns determinations into notifications.
pub(crate) struct DeterminationHandler {
    pub(crate) notifier: Arc<Notifier>,
}

impl Handler for DeterminationHandler {
    /// Determinations of one situation are handled in their order.
    fn place(&self, message: &Message, delivery: &Delivery) -> Place {
        match DeterminationStep::decode(message.payload.as_ref()) {
            Ok(step) => Place {
                key: step.situation_id,
                position: step.sequence,
            },
            Err(_) => Place {
                key: message.subject.to_string(),
                position: delivery.stream_sequence,
            },
        }
    }

    async fn handle(&self, message: &Message, _: Delivery) -> Result<(), HandlerError> {
        let determination =
            LeadershipDetermination::decode(message.payload.clone()).map_err(|error| {
                HandlerError::DeadLetter(anyhow!("not a LeadershipDetermination: {error}"))
            })?;
        let span = tracing::Span::current();
        span.record("situation.id", determination.situation_id.as_str());
        span.record(
            "classification",
            determination.classification().as_str_name(),
        );
        // The report's trace: from the span when telemetry is on, else from the header itself.
        let mut trace_id = envelope::current_trace_id();
        if trace_id.is_empty() {
            trace_id = trace_id_of(envelope::header(message.headers.as_ref(), "traceparent"));
        }
        self.notifier
            .on_determination(&determination, &trace_id)
            .await
            .map_err(HandlerError::Retry)
    }
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`); empty when there
/// is none or it is malformed.
fn trace_id_of(traceparent: Option<&str>) -> String {
    traceparent
        .and_then(|value| value.split('-').nth(1))
        .filter(|id| {
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && *id != "0".repeat(32)
        })
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// Records acknowledgements sent on `tandem.notify.ack.<id>`.
pub(crate) struct AckHandler {
    pub(crate) notifier: Arc<Notifier>,
}

impl Handler for AckHandler {
    async fn handle(&self, message: &Message, _: Delivery) -> Result<(), HandlerError> {
        let id = notifier::acked_id(&message.subject).map_err(HandlerError::DeadLetter)?;
        // Only the channel is kept: a free-text payload could name a person.
        let via = match message.payload.as_ref() {
            b"cli" => "cli",
            b"link" => "link",
            _ => "nats",
        };
        // Another agency's notification is that agency's instances' business.
        self.notifier.acknowledge(id, via).await?;
        Ok(())
    }
}
