//! Handling one stored report: decode, validate, check and update the situation's record with
//! compare-and-set, announce the outcome.
//!
//! Exactly one outcome per stored report, across redeliveries, crashes and several instances:
//! - every outcome's `Nats-Msg-Id` is the stored report's place in its intake stream
//!   (`intake-outcome:<stream>:<sequence>`), so whatever a redelivery decides, the stream keeps only the
//!   first announcement. (A report redelivered after an instance died may by then be stale, a
//!   newer revision having been accepted meanwhile; the id keeps it from being answered twice.)
//! - the record is written before the announcement and remembers the sequence of the accepted
//!   message, so a redelivery after a crash between the two announces it then;
//! - compare-and-set on the record's KV revision makes concurrent instances retry on a lost
//!   race instead of overwriting each other; the record is the one this instance remembers
//!   (see `tandem_runtime::records`), read again only when another instance changed it.

use std::{future::ready, time::SystemTime};

use anyhow::anyhow;
use async_nats::jetstream::{self, Message};
use opentelemetry::{KeyValue, metrics::Counter};
use prost::Message as _;
use tandem_proto::{
    partial::ReportSituation,
    timestamp,
    v1::{IntakeSituation, Reason, SituationAccepted, SituationRejected, SituationReport},
};
use tandem_runtime::{
    consumer::{Delivery, Handler, HandlerError, Place},
    envelope::Envelope,
    kv_key, metrics,
    records::{self, Records, Updated},
    topology,
};

use crate::{
    SERVICE,
    state::{self, Decision},
    validate,
};

pub(crate) struct IntakeHandler {
    js: jetstream::Context,
    situations: Records<IntakeSituation>,
    /// `tandem_reports_total{organisation, outcome}`: accepted, rejected, duplicate.
    reports: Counter<u64>,
}

impl IntakeHandler {
    pub(crate) fn new(js: jetstream::Context, situations: Records<IntakeSituation>) -> Self {
        let reports = metrics::meter()
            .u64_counter("tandem.reports")
            .with_description("Situation reports answered by intake, by outcome")
            .build();
        Self {
            js,
            situations,
            reports,
        }
    }

    fn count(&self, organisation: &str, outcome: &'static str) {
        let organisation = organisation
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        self.reports.add(
            1,
            &[
                KeyValue::new("organisation", organisation),
                KeyValue::new("outcome", outcome),
            ],
        );
    }

    /// Applies the stateful rules and records the acceptance; returns the stateful reasons to
    /// reject, or `None` when there is nothing to announce (a duplicate).
    async fn check_and_record(
        &self,
        report: &SituationReport,
        organisation: &str,
        stream_sequence: u64,
        valid: bool,
    ) -> Result<Option<Outcome>, HandlerError> {
        let key = situation_key(&report.situation_id);
        let updated = self
            .situations
            .update(&key, |current| {
                let decision = state::decide(
                    current.as_deref(),
                    report,
                    organisation,
                    stream_sequence,
                    valid,
                );
                ready(Ok::<_, HandlerError>(match decision {
                    Decision::Accept(next) => records::Decision::Write(next, ()),
                    Decision::AlreadyAccepted(number) => {
                        records::Decision::Keep(Some(Outcome::Accepted(number)))
                    }
                    Decision::Duplicate => records::Decision::Keep(None),
                    Decision::Reject(reasons) => {
                        records::Decision::Keep(Some(Outcome::Rejected(reasons)))
                    }
                }))
            })
            .await?;
        Ok(match updated {
            Updated::Written { record, .. } => Some(Outcome::Accepted(record.accepted_count)),
            Updated::Kept { answer, .. } => answer,
        })
    }

    async fn accept(
        &self,
        report: SituationReport,
        organisation: &str,
        id: &str,
        situation_sequence: u64,
    ) -> Result<(), HandlerError> {
        let subject = topology::accepted_subject(&report.country);
        let situation_id = report.situation_id.clone();
        let event = SituationAccepted {
            report: Some(report),
            accepted_at: Some(timestamp::now()),
            situation_sequence,
        };
        let envelope = Envelope {
            service: SERVICE,
            event: "situation.accepted",
            subject: &situation_id,
            id,
        };
        self.store_and_announce(&envelope, subject, organisation, event.encode_to_vec())
            .await?;
        tracing::Span::current().record("outcome", "accepted");
        self.count(organisation, "accepted");
        tracing::info!(situation.id = %situation_id, "report accepted");
        Ok(())
    }

    async fn reject(
        &self,
        event: SituationRejected,
        organisation: &str,
        id: &str,
    ) -> Result<(), HandlerError> {
        let codes: Vec<&str> = event.reasons.iter().map(|r| r.code.as_str()).collect();
        let span = tracing::Span::current();
        span.record("outcome", "rejected");
        self.count(organisation, "rejected");
        span.record("error", codes.join(","));
        let envelope = Envelope {
            service: SERVICE,
            event: "situation.rejected",
            subject: &event.situation_id,
            id,
        };
        self.store_and_announce(
            &envelope,
            topology::rejected_subject(organisation),
            organisation,
            event.encode_to_vec(),
        )
        .await?;
        tracing::info!(report.id = %event.report_id, reasons = ?codes, "report rejected");
        Ok(())
    }

    /// Stores an outcome on its stream, then copies it to the organisation's own outcome
    /// subject, which the organisation's credentials may read (the stored event is what
    /// counts; the copy may repeat on a redelivery, with the same id).
    async fn store_and_announce(
        &self,
        envelope: &Envelope<'_>,
        subject: String,
        organisation: &str,
        payload: Vec<u8>,
    ) -> Result<(), HandlerError> {
        let payload = prost::bytes::Bytes::from(payload);
        envelope.publish(&self.js, subject, payload.clone()).await?;
        envelope
            .announce(
                &self.js.client(),
                topology::outcome_subject(organisation),
                payload,
            )
            .await?;
        Ok(())
    }
}

enum Outcome {
    /// Accepted as the situation's report number `.0`.
    Accepted(u64),
    Rejected(Vec<Reason>),
}

impl Handler for IntakeHandler {
    /// Reports on one situation are handled in stream order, so revisions sent in order are
    /// accepted in order.
    fn place(&self, message: &Message, delivery: &Delivery) -> Place {
        let key = match ReportSituation::decode(message.payload.as_ref()) {
            Ok(key) => key.situation_id,
            Err(_) => message.subject.to_string(),
        };
        Place {
            key,
            position: delivery.stream_sequence,
        }
    }

    async fn handle(&self, message: &Message, delivery: Delivery) -> Result<(), HandlerError> {
        let Some((agency, org)) = topology::organisation_of_intake_subject(&message.subject) else {
            return Err(HandlerError::DeadLetter(anyhow!(
                "{} is not an intake subject",
                message.subject
            )));
        };
        let organisation = topology::organisation_token(agency, &org).unwrap_or_default();
        let stream_sequence = delivery.stream_sequence;
        // The consumer loop hands over only messages with JetStream metadata.
        let stream = message
            .info()
            .map(|info| info.stream.to_string())
            .unwrap_or_default();
        let id = topology::intake_outcome_id(&stream, stream_sequence);
        let span = tracing::Span::current();
        span.record("agency", organisation.as_str());

        let now = SystemTime::now();
        let report = match validate::decode(&message.payload) {
            Ok(report) => report,
            Err(refused) => {
                let event = validate::rejection(
                    &refused.report_id,
                    &refused.situation_id,
                    (agency, &org),
                    refused.reason.into(),
                    now,
                );
                return self.reject(event, &organisation, &id).await;
            }
        };
        // Cut like the rejection's ids: spans and logs hold no unbounded value of a report.
        let situation_id = validate::cut(&report.situation_id, validate::MAX_SITUATION_ID);
        span.record("situation.id", situation_id.as_ref());
        let report_id = validate::cut(&report.report_id, validate::MAX_REPORT_ID);
        span.record("report.id", report_id.as_ref());

        let mut reasons = validate::validate(&report, (agency, &org), now);
        if !reasons.names("situation_id") {
            let valid = reasons.is_empty();
            match self
                .check_and_record(&report, &organisation, stream_sequence, valid)
                .await?
            {
                Some(Outcome::Accepted(number)) => {
                    return self.accept(report, &organisation, &id, number).await;
                }
                Some(Outcome::Rejected(stateful)) => {
                    // One reason per field: a country that is not even a code is not also
                    // "another country".
                    for reason in stateful {
                        if !reasons.names(&reason.field) {
                            reasons.push(reason);
                        }
                    }
                }
                None => {
                    span.record("outcome", "duplicate");
                    self.count(&organisation, "duplicate");
                    tracing::info!(
                        "report id already accepted from a previous submission; nothing new to announce"
                    );
                    return Ok(());
                }
            }
        }
        let event = validate::rejection(
            &report.report_id,
            &report.situation_id,
            (agency, &org),
            reasons,
            now,
        );
        self.reject(event, &organisation, &id).await
    }
}

/// The KV key of a situation's record.
pub(crate) fn situation_key(situation_id: &str) -> String {
    format!("situation.{}", kv_key::segment(situation_id))
}
