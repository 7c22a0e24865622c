//! Reports and accepted-report events as the services' tests need them.

use async_nats::jetstream;
use prost::Message as _;
use std::time::{Duration, SystemTime};
use tandem_proto::{
    timestamp,
    v1::{
        Agency, Driver, Phase, PopulationFigure, PopulationGroup, Scope, SituationAccepted,
        SituationReport,
    },
};
use tandem_runtime::{envelope::Envelope, topology};

/// A report intake accepts: from `agency` (a partner reports as `nrc`), on a mixed movement in
/// COL reported a minute ago, 1,200 migrants.
pub fn valid_report(
    agency: Agency,
    report_id: &str,
    situation_id: &str,
    revision: u32,
) -> SituationReport {
    SituationReport {
        report_id: report_id.into(),
        situation_id: situation_id.into(),
        revision,
        reporting_agency: agency as i32,
        reporter_org: match agency {
            Agency::Partner => "nrc".into(),
            _ => String::new(),
        },
        reported_at: Some(timestamp::from_system_time(
            SystemTime::now() - Duration::from_secs(60),
        )),
        country: "COL".into(),
        scope: Scope::CrossBorder as i32,
        driver: Driver::Mixed as i32,
        phase: Phase::Emergency as i32,
        on_the_move: true,
        population: vec![PopulationFigure {
            group: PopulationGroup::Migrant as i32,
            count: 1200,
            as_of: "2026-01-15".into(),
            source: "DTM".into(),
        }],
        ..Default::default()
    }
}

/// Publishes `report` as accepted, with intake's envelope and `msg_id`, numbered
/// `situation_sequence` within its situation (0: unnumbered). Returns its stream sequence.
pub async fn announce_accepted(
    js: &jetstream::Context,
    report: &SituationReport,
    msg_id: &str,
    situation_sequence: u64,
) -> u64 {
    let event = SituationAccepted {
        report: Some(report.clone()),
        accepted_at: Some(timestamp::now()),
        situation_sequence,
    };
    Envelope {
        service: "intake",
        event: "situation.accepted",
        subject: &report.situation_id,
        id: msg_id,
    }
    .publish(
        js,
        topology::accepted_subject(&report.country),
        event.encode_to_vec().into(),
    )
    .await
    .expect("accepted report stored")
    .sequence
}
