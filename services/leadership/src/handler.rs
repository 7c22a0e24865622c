//! The consumer of accepted reports: each one updates its situation's record and, unless it is
//! a redelivery or superseded, yields the next determination.

use std::sync::Arc;

use anyhow::anyhow;
use async_nats::jetstream::Message;
use prost::Message as _;
use tandem_proto::v1::SituationAccepted;
use tandem_runtime::{
    consumer::{Handler, HandlerError},
    envelope,
};

use crate::{record::Change, situations::Situations};

pub(crate) struct LeadershipHandler {
    pub(crate) situations: Arc<Situations>,
}

impl Handler for LeadershipHandler {
    /// One situation's reports are determined in stream order (intake names the situation in
    /// `ce-subject`).
    fn ordering_key(&self, message: &Message) -> String {
        envelope::header(message.headers.as_ref(), "ce-subject")
            .unwrap_or(message.subject.as_str())
            .to_string()
    }

    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
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
        match self
            .situations
            .apply(&report.situation_id, Change::Report(&report))
            .await?
        {
            Some(determination) => {
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
            None => {
                span.record("outcome", "already_reflected");
            }
        }
        Ok(())
    }
}
