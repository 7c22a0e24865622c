//! The consumer of accepted reports: each one updates its situation's record and, unless it is
//! a redelivery, yields the next determination.
//!
//! Reports are reflected in the order intake accepted them (`situation_sequence`), one
//! determination each, even when several instances share the work: a report that arrives
//! before its predecessor waits for it — briefly here, woken by a watch on the situation's
//! record since the predecessor is usually being handled by another instance at that moment,
//! then through redelivery. Only on its last delivery does it go ahead without the
//! predecessor, so a lost predecessor never blocks a situation for good; the predecessor,
//! arriving later, is still reflected as a step of its own unless a newer revision from its
//! organisation already was.

use std::{sync::Arc, time::Duration};

use anyhow::anyhow;
use async_nats::jetstream::Message;
use prost::Message as _;
use tandem_proto::{partial::AcceptedNumber, v1::SituationAccepted};
use tandem_runtime::{
    consumer::{Delivery, Handler, HandlerError, Place},
    envelope,
};

use crate::{
    record::Change,
    situations::{Applied, Situations},
};

pub(crate) struct LeadershipHandler {
    pub(crate) situations: Arc<Situations>,
    /// How long one delivery waits for a missing predecessor.
    pub(crate) gap_wait: Duration,
    /// The consumer's `max_deliver`: the last delivery goes ahead regardless.
    pub(crate) max_deliver: i64,
}

impl Handler for LeadershipHandler {
    /// One situation's reports (intake names it in `ce-subject`) are taken in the order intake
    /// numbered them, which is not always stream order: with two intake instances, acceptance
    /// 2 can reach the stream before acceptance 1, and queued behind 2, which waits for it, 1
    /// would wait out the gap. An event that does not decode goes first, to its dead letter.
    fn place(&self, message: &Message, _: &Delivery) -> Place {
        let key = envelope::header(message.headers.as_ref(), "ce-subject")
            .unwrap_or(message.subject.as_str())
            .to_string();
        let position = AcceptedNumber::decode(message.payload.as_ref())
            .map_or(0, |number| number.situation_sequence);
        Place { key, position }
    }

    async fn handle(&self, message: &Message, delivery: Delivery) -> Result<(), HandlerError> {
        let accepted = SituationAccepted::decode(message.payload.clone()).map_err(|error| {
            HandlerError::DeadLetter(anyhow!("not a SituationAccepted: {error}"))
        })?;
        let report = accepted.report.ok_or_else(|| {
            HandlerError::DeadLetter(anyhow!("SituationAccepted without a report"))
        })?;
        let span = tracing::Span::current();
        span.record("situation.id", report.situation_id.as_str());
        span.record("report.id", report.report_id.as_str());
        span.record("agency", report.reporting_agency().as_str_name());
        let number = accepted.situation_sequence;
        let change = Change::Report {
            report: &report,
            situation_sequence: number,
            skip_gap: delivery.delivered >= self.max_deliver,
        };
        let mut applied = self.situations.apply(&report.situation_id, change).await?;
        if let Applied::Waiting(_) = applied {
            let predecessor = number.saturating_sub(1);
            if self
                .situations
                .wait_until_reflected(&report.situation_id, predecessor, self.gap_wait)
                .await?
            {
                applied = self.situations.apply(&report.situation_id, change).await?;
            }
        }
        match applied {
            Applied::Determined(determination) => {
                span.record(
                    "classification",
                    determination.classification().as_str_name(),
                );
                span.record(
                    "outcome",
                    if determination.changed {
                        "changed"
                    } else {
                        "unchanged"
                    },
                );
                tracing::info!(
                    sequence = determination.sequence,
                    classification = determination.classification().as_str_name(),
                    "determined"
                );
            }
            Applied::Nothing => {
                span.record("outcome", "already_reflected");
            }
            Applied::Waiting(gap) => {
                return Err(HandlerError::Retry(anyhow!(
                    "accepted report {} of situation {} arrived before report {} was reflected",
                    gap.arrived,
                    report.situation_id,
                    gap.reflected + 1
                )));
            }
        }
        Ok(())
    }
}
