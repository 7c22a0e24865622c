//! Reports and accepted-report events as the services' tests need them: [`Report`] is the one
//! builder of reports; [`announce_accepted`] publishes one as intake would have accepted it.

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
/// COL reported a minute ago, 1,200 migrants. [`Report`] builds variations of it.
pub fn valid_report(
    agency: Agency,
    report_id: &str,
    situation_id: &str,
    revision: u32,
) -> SituationReport {
    Report::new(agency, report_id, situation_id, revision).build()
}

/// The one builder of the tests' reports: it starts from a report intake accepts (see
/// [`valid_report`]), and each call changes one fact of it.
#[derive(Clone, Debug)]
pub struct Report(SituationReport);

impl Report {
    /// [`valid_report`]'s report, to change.
    pub fn new(agency: Agency, report_id: &str, situation_id: &str, revision: u32) -> Self {
        Self(SituationReport {
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
            population: vec![figure(PopulationGroup::Migrant, 1200, "2026-01-15", "DTM")],
            ..Default::default()
        })
    }

    /// The partner organisation that reports (a partner's report only).
    pub fn org(mut self, org: &str) -> Self {
        self.0.reporter_org = org.into();
        self
    }

    /// The country (ISO 3166-1 alpha-3).
    pub fn country(mut self, country: &str) -> Self {
        self.0.country = country.into();
        self
    }

    /// Declares the situation regional (IOM and UNHCR only).
    pub fn regional(mut self) -> Self {
        self.0.regional = true;
        self
    }

    /// When the reporter says it reported.
    pub fn reported_at(mut self, at: SystemTime) -> Self {
        self.0.reported_at = Some(timestamp::from_system_time(at));
        self
    }

    /// The scope, driver and phase of the situation.
    pub fn situation(mut self, scope: Scope, driver: Driver, phase: Phase) -> Self {
        self.0.scope = scope as i32;
        self.0.driver = driver as i32;
        self.0.phase = phase as i32;
        self
    }

    /// Whether the people are on the move.
    pub fn on_the_move(mut self, on_the_move: bool) -> Self {
        self.0.on_the_move = on_the_move;
        self
    }

    /// The first- and second-level P-codes.
    pub fn pcodes(mut self, admin1: &str, admin2: &str) -> Self {
        self.0.admin1_pcode = admin1.into();
        self.0.admin2_pcode = admin2.into();
        self
    }

    /// The population figures, (group, count) each, all as of `as_of` from `source`.
    pub fn figures(
        mut self,
        as_of: &str,
        source: &str,
        figures: &[(PopulationGroup, u64)],
    ) -> Self {
        self.0.population = figures
            .iter()
            .map(|(group, count)| figure(*group, *count, as_of, source))
            .collect();
        self
    }

    /// The report.
    pub fn build(self) -> SituationReport {
        self.0
    }
}

fn figure(group: PopulationGroup, count: u64, as_of: &str, source: &str) -> PopulationFigure {
    PopulationFigure {
        group: group as i32,
        count,
        as_of: as_of.into(),
        source: source.into(),
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
