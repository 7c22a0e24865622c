//! What the runs are fed: realistic reports, published with their acknowledgements in
//! flight, and counting what comes out.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::{
    timestamp,
    v1::{Agency, Driver, Phase, PopulationFigure, PopulationGroup, Scope, SituationReport},
};
use tandem_runtime::topology;

/// A message to publish to JetStream.
pub struct Outgoing {
    pub subject: String,
    pub payload: Vec<u8>,
    /// Its `Nats-Msg-Id`, when the stream is to deduplicate it.
    pub id: Option<String>,
}

impl Outgoing {
    /// Publishes the message; the returned future is its acknowledgement.
    pub async fn send(self, js: &jetstream::Context) -> anyhow::Result<PublishAckFuture> {
        let mut publish = PublishMessage::build().payload(self.payload.into());
        if let Some(id) = self.id {
            publish = publish.message_id(id);
        }
        Ok(js.send_publish(self.subject, publish).await?)
    }
}

/// The countries of the reports.
pub const COUNTRIES: [&str; 3] = ["COL", "LBY", "BGD"];

/// Realistic reports: situations in three countries, each reported by IOM, UNHCR and a
/// partner with increasing revisions.
pub fn reports(total: usize) -> Vec<SituationReport> {
    let situations = (total / 10).max(1);
    (0..total)
        .map(|i| {
            let situation = i % situations;
            let round = i / situations;
            let (agency, org) = [
                (Agency::Iom, ""),
                (Agency::Unhcr, ""),
                (Agency::Partner, "nrc"),
            ][round % 3];
            let revision = (round / 3 + 1) as u32;
            SituationReport {
                report_id: format!("bench-{i}"),
                situation_id: format!("BENCH-{situation}"),
                revision,
                reporting_agency: agency as i32,
                reporter_org: org.into(),
                reported_at: Some(timestamp::now()),
                country: COUNTRIES[situation % COUNTRIES.len()].into(),
                scope: Scope::CrossBorder as i32,
                driver: Driver::Mixed as i32,
                phase: Phase::Protracted as i32,
                on_the_move: true,
                population: vec![
                    PopulationFigure {
                        group: PopulationGroup::Refugee as i32,
                        count: 1_000 + (i as u64 * 37) % 5_000,
                        as_of: "2026-01-01".into(),
                        source: "bench".into(),
                        ..Default::default()
                    },
                    PopulationFigure {
                        group: PopulationGroup::Migrant as i32,
                        count: 2_000 + (i as u64 * 53) % 5_000,
                        as_of: "2026-01-01".into(),
                        source: "bench".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }
        })
        .collect()
}

/// A report as a client submits it: to its organisation's intake subject, with the id intake
/// deduplicates on.
pub fn submission(report: &SituationReport) -> Outgoing {
    let organisation =
        topology::organisation_token(report.reporting_agency(), &report.reporter_org)
            .unwrap_or_default();
    Outgoing {
        subject: topology::intake_subject(&organisation),
        payload: report.encode_to_vec(),
        id: Some(format!("{organisation}:{}", report.report_id)),
    }
}

/// Publishes `messages` with up to 1,000 acknowledgements in flight.
pub async fn publish_all(
    js: &jetstream::Context,
    messages: impl Iterator<Item = Outgoing>,
) -> anyhow::Result<()> {
    let mut in_flight = Vec::with_capacity(1000);
    for message in messages {
        in_flight.push(message.send(js).await?);
        if in_flight.len() == 1000 {
            for ack in
                futures::future::join_all(in_flight.drain(..).map(IntoFuture::into_future)).await
            {
                ack?;
            }
        }
    }
    for ack in futures::future::join_all(in_flight.into_iter().map(IntoFuture::into_future)).await {
        ack?;
    }
    Ok(())
}

/// Waits until `expected` messages arrived on `subscription`, failing after `timeout`.
pub async fn count(
    subscription: &mut async_nats::Subscriber,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut seen = 0;
    tokio::time::timeout(timeout, async {
        while seen < expected && subscription.next().await.is_some() {
            seen += 1;
        }
    })
    .await
    .with_context(|| format!("only {seen} of {expected} arrived in time"))
}
