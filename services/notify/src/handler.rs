//! The three consumers of notify: determinations (`tandem.leadership.determined.>` in
//! `TANDEM_EVENTS`), reviews (`tandem.leadership.reviewed.>`, for contests) and
//! acknowledgements (`tandem.notify.ack.<agency>.>` in `TANDEM_ACKS_<AGENCY>`), each a durable
//! consumer per agency (`tandem-notify-iom`, `-iom-reviews`, `-iom-acks`), so each agency's
//! instances share their own work and see every message once.

use std::sync::Arc;

use anyhow::anyhow;
use async_nats::jetstream::Message;
use prost::Message as _;
use tandem_proto::{
    partial::DeterminationStep,
    v1::{DeterminationReview, LeadershipDetermination, ReviewVerdict},
};
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

/// Tells of contests, from the reviews on `tandem.leadership.reviewed.>` (durable
/// `tandem-notify-<agency>-reviews`).
pub(crate) struct ReviewHandler {
    pub(crate) notifier: Arc<Notifier>,
}

impl Handler for ReviewHandler {
    async fn handle(&self, message: &Message, _: Delivery) -> Result<(), HandlerError> {
        let review = DeterminationReview::decode(message.payload.clone()).map_err(|error| {
            HandlerError::DeadLetter(anyhow!("not a DeterminationReview: {error}"))
        })?;
        tracing::Span::current().record("situation.id", review.situation_id.as_str());
        if review.verdict() != ReviewVerdict::Contest {
            return Ok(());
        }
        let trace_id = trace_id_of(envelope::header(message.headers.as_ref(), "traceparent"));
        self.notifier
            .on_contest(&review, &trace_id)
            .await
            .map_err(HandlerError::Retry)
    }
}

/// Records acknowledgements sent on `tandem.notify.ack.<id>`.
pub(crate) struct AckHandler {
    pub(crate) notifier: Arc<Notifier>,
}

impl Handler for AckHandler {
    async fn handle(&self, message: &Message, _: Delivery) -> Result<(), HandlerError> {
        let id = notifier::acked_id(&message.subject).map_err(HandlerError::DeadLetter)?;
        let (by, via) = acknowledger(&message.payload);
        // Another agency's notification is that agency's instances' business.
        self.notifier.acknowledge(id, &by, via).await?;
        Ok(())
    }
}

/// Who acknowledged, and through which channel, from an acknowledgement's payload:
/// `<channel>` or `<channel> <directory id>` with channel `cli`, `link`, `inbox` or `nats`. Anything
/// else is an acknowledgement over NATS by nobody named (`system`): only a well-formed
/// directory id is kept, since free text could name a person.
pub(crate) fn acknowledger(payload: &[u8]) -> (String, &'static str) {
    let text = std::str::from_utf8(payload).unwrap_or_default().trim();
    let (channel, by) = text.split_once(' ').unwrap_or((text, ""));
    let via = match channel {
        "cli" => "cli",
        "link" => "link",
        "inbox" => "inbox",
        "nats" => "nats",
        _ => return (SYSTEM.into(), "nats"),
    };
    let by = by.trim();
    let by = if crate::directory::is_valid_id(by) {
        by
    } else {
        SYSTEM
    };
    (by.to_string(), via)
}

/// Who an acknowledgement that names nobody is recorded as.
pub const SYSTEM: &str = "system";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_name_a_directory_id_or_the_system() {
        assert_eq!(
            acknowledger(b"link iom-cc-col"),
            ("iom-cc-col".into(), "link")
        );
        assert_eq!(acknowledger(b"cli"), ("system".into(), "cli"));
        assert_eq!(
            acknowledger(b"cli Jane Doe <jane@example.org>"),
            ("system".into(), "cli")
        );
        assert_eq!(acknowledger(b"seen"), ("system".into(), "nats"));
    }
}
