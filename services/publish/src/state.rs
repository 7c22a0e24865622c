//! What the service knows, built from `TANDEM_EVENTS` alone, with no I/O: every instance that
//! applies the same events holds the same state, whatever it saw before.
//!
//! Applying is idempotent: a redelivered or duplicated event changes nothing, a report counts
//! only when its revision is newer than the one held for its organisation, and a determination
//! only when its `sequence` is newer than the situation's. Each situation's published row is
//! rendered when an event changes it and kept, so that a new dataset version costs the
//! situations that changed, not all of them. The state converts to and from the messages of a
//! snapshot ([`crate::snapshot`]) field by field.

use std::collections::{BTreeMap, BTreeSet};

use tandem_proto::{
    Timestamp,
    v1::{
        Agency, Arrangement, Classification, DatasetPublished, LeadershipDetermination,
        SituationReport,
    },
    words,
};
use tandem_runtime::topology;

use crate::{
    dataset::{self, Row},
    disclosure,
    snapshot::{
        DeterminationMessage, FigureMessage, ReportMessage, SituationMessage, StateMessage,
    },
};

/// Every situation's publishable facts, and the dataset versions announced so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    situations: BTreeMap<String, Situation>,
    datasets: BTreeMap<u64, DatasetPublished>,
    version: u64,
    /// How many of the newest dataset versions are kept (`None`: all).
    versions_kept: Option<usize>,
    /// Object keys of versions no longer kept, for the version publisher to delete.
    unkept: Vec<String>,
}

/// One situation: the latest accepted report of each organisation and the current determination.
#[derive(Clone, Debug, Default, PartialEq)]
struct Situation {
    reports: BTreeMap<String, ReportFacts>,
    determination: Option<DeterminationFacts>,
    /// The row as published, with its CSV line, once the situation has a determination:
    /// rendered again only when the situation changes.
    published: Option<(Row, String)>,
}

/// What of an accepted report the dataset uses. Notes, report ids, organisation names and
/// figure sources are deliberately not kept: what is not held cannot leak.
#[derive(Clone, Debug, PartialEq)]
struct ReportFacts {
    revision: u32,
    agency: Agency,
    country: String,
    admin1_pcode: String,
    admin2_pcode: String,
    reported_at: (i64, i32),
    stream_sequence: u64,
}

/// What of a determination the dataset uses (no report ids, no discrepancy counts: those could
/// carry small counts around the disclosure rule).
#[derive(Clone, Debug, PartialEq)]
struct DeterminationFacts {
    sequence: u64,
    country: String,
    classification: i32,
    arrangement: i32,
    lead_agencies: Vec<i32>,
    figures: Vec<(i32, u64)>,
    policy_version: String,
    determined_at: Option<Timestamp>,
}

impl State {
    /// The stream sequence of the last event that changed the state: the dataset's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Applies a `SituationAccepted` report stored at `stream_sequence`. Returns whether the
    /// state changed.
    pub fn apply_accepted(&mut self, report: &SituationReport, stream_sequence: u64) -> bool {
        if report.situation_id.is_empty() {
            return false;
        }
        let agency = Agency::try_from(report.reporting_agency).unwrap_or(Agency::Unspecified);
        // Keyed by organisation like intake and leadership do; the key is never published.
        let organisation = topology::organisation_token(agency, &report.reporter_org)
            .unwrap_or_else(|| format!("unknown.{}", report.reporting_agency));
        let situation = self
            .situations
            .entry(report.situation_id.clone())
            .or_default();
        if situation
            .reports
            .get(&organisation)
            .is_some_and(|held| held.revision >= report.revision)
        {
            return false;
        }
        let reported_at = report
            .reported_at
            .as_ref()
            .map_or((0, 0), |t| (t.seconds, t.nanos));
        situation.reports.insert(
            organisation,
            ReportFacts {
                revision: report.revision,
                agency,
                country: report.country.clone(),
                admin1_pcode: report.admin1_pcode.clone(),
                admin2_pcode: report.admin2_pcode.clone(),
                reported_at,
                stream_sequence,
            },
        );
        situation.render(&report.situation_id);
        self.version = self.version.max(stream_sequence);
        true
    }

    /// Applies a determination stored at `stream_sequence`. Returns whether the state changed.
    pub fn apply_determination(
        &mut self,
        determination: &LeadershipDetermination,
        stream_sequence: u64,
    ) -> bool {
        if determination.situation_id.is_empty() {
            return false;
        }
        let situation = self
            .situations
            .entry(determination.situation_id.clone())
            .or_default();
        if situation
            .determination
            .as_ref()
            .is_some_and(|held| held.sequence >= determination.sequence)
        {
            return false;
        }
        situation.determination = Some(DeterminationFacts {
            sequence: determination.sequence,
            country: determination.country.clone(),
            classification: determination.classification,
            arrangement: determination.arrangement,
            lead_agencies: determination.lead_agencies.clone(),
            figures: determination
                .figures
                .iter()
                .map(|f| (f.group, f.count))
                .collect(),
            policy_version: determination.policy_version.clone(),
            determined_at: determination.determined_at,
        });
        situation.render(&determination.situation_id);
        self.version = self.version.max(stream_sequence);
        true
    }

    /// An empty state that keeps the newest `kept` dataset versions (at least one).
    pub fn keeping_versions(kept: usize) -> Self {
        Self {
            versions_kept: Some(kept.max(1)),
            ..Self::default()
        }
    }

    /// The object keys of the versions dropped since the last call: each instance learns of
    /// them from the announcements, so whichever stores the next version deletes them (the
    /// others' deletions then find nothing to do).
    pub fn take_unkept(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unkept)
    }

    /// Records an announced dataset version; the copy the stream stored replaces one recorded
    /// before (instances announcing the same version differ only in `published_at`, and the
    /// stream keeps the first). Returns whether anything changed.
    pub fn apply_published(&mut self, published: &DatasetPublished) -> bool {
        if self.datasets.get(&published.version) == Some(published) {
            return false;
        }
        self.datasets.insert(published.version, published.clone());
        if let Some(kept) = self.versions_kept {
            while self.datasets.len() > kept {
                if let Some((_, dropped)) = self.datasets.pop_first() {
                    self.unkept.push(dropped.object_key);
                }
            }
        }
        true
    }

    /// The announced dataset versions, oldest first.
    pub fn datasets(&self) -> impl Iterator<Item = &DatasetPublished> {
        self.datasets.values()
    }

    /// The announced version `version`.
    pub fn dataset(&self, version: u64) -> Option<&DatasetPublished> {
        self.datasets.get(&version)
    }

    /// The newest announced version.
    pub fn latest_dataset(&self) -> Option<&DatasetPublished> {
        self.datasets.values().next_back()
    }

    /// The dataset rows, ordered by situation id, of `country` (ISO3) or of every country.
    /// A situation is published once it has a determination: until then there is no joint
    /// figure to show.
    pub fn rows(&self, country: Option<&str>) -> Vec<Row> {
        self.published(country)
            .map(|(row, _)| row.clone())
            .collect()
    }

    /// The rows of [`State::rows`] as HXL-tagged CSV ([`dataset::to_csv`]), from the lines
    /// rendered when each situation last changed.
    pub fn csv(&self, country: Option<&str>) -> String {
        let mut csv = dataset::csv_head();
        for (_, line) in self.published(country) {
            csv.push_str(line);
        }
        csv
    }

    fn published(&self, country: Option<&str>) -> impl Iterator<Item = &(Row, String)> {
        self.situations
            .values()
            .filter_map(|situation| situation.published.as_ref())
            .filter(move |(row, _)| country.is_none_or(|c| row.country == c))
    }

    /// The row of situation `id`.
    pub fn row(&self, id: &str) -> Option<Row> {
        let (row, _) = self.situations.get(id)?.published.as_ref()?;
        Some(row.clone())
    }

    /// Number of published rows.
    pub fn row_count(&self) -> usize {
        self.published(None).count()
    }

    /// The state as a snapshot's message.
    pub(crate) fn to_message(&self) -> StateMessage {
        StateMessage {
            version: self.version,
            situations: self
                .situations
                .iter()
                .map(|(id, situation)| situation.to_message(id))
                .collect(),
            datasets: self.datasets.values().cloned().collect(),
            unkept: self.unkept.clone(),
        }
    }

    /// Replaces the state with `message`'s, keeping this state's retention of versions.
    pub(crate) fn restore(&mut self, message: StateMessage) {
        let mut restored = Self {
            versions_kept: self.versions_kept,
            version: message.version,
            unkept: message.unkept,
            ..Self::default()
        };
        for situation in message.situations {
            let id = situation.id.clone();
            let mut situation = Situation::from_message(situation);
            situation.render(&id);
            restored.situations.insert(id, situation);
        }
        for published in message.datasets {
            restored.apply_published(&published);
        }
        *self = restored;
    }
}

impl Situation {
    /// Renders the published row again after a change.
    fn render(&mut self, id: &str) {
        self.published = self.row(id).map(|row| {
            let line = row.csv_line();
            (row, line)
        });
    }

    fn to_message(&self, id: &str) -> SituationMessage {
        SituationMessage {
            id: id.to_string(),
            reports: self
                .reports
                .iter()
                .map(|(organisation, r)| ReportMessage {
                    organisation: organisation.clone(),
                    revision: r.revision,
                    agency: r.agency as i32,
                    country: r.country.clone(),
                    admin1_pcode: r.admin1_pcode.clone(),
                    admin2_pcode: r.admin2_pcode.clone(),
                    reported_seconds: r.reported_at.0,
                    reported_nanos: r.reported_at.1,
                    stream_sequence: r.stream_sequence,
                })
                .collect(),
            determination: self.determination.as_ref().map(|d| DeterminationMessage {
                sequence: d.sequence,
                country: d.country.clone(),
                classification: d.classification,
                arrangement: d.arrangement,
                lead_agencies: d.lead_agencies.clone(),
                figures: d
                    .figures
                    .iter()
                    .map(|(group, count)| FigureMessage {
                        group: *group,
                        count: *count,
                    })
                    .collect(),
                policy_version: d.policy_version.clone(),
                determined_at: d.determined_at,
            }),
        }
    }

    /// The situation of `message`, not yet rendered.
    fn from_message(message: SituationMessage) -> Self {
        Self {
            reports: message
                .reports
                .into_iter()
                .map(|r| {
                    let facts = ReportFacts {
                        revision: r.revision,
                        agency: Agency::try_from(r.agency).unwrap_or(Agency::Unspecified),
                        country: r.country,
                        admin1_pcode: r.admin1_pcode,
                        admin2_pcode: r.admin2_pcode,
                        reported_at: (r.reported_seconds, r.reported_nanos),
                        stream_sequence: r.stream_sequence,
                    };
                    (r.organisation, facts)
                })
                .collect(),
            determination: message.determination.map(|d| DeterminationFacts {
                sequence: d.sequence,
                country: d.country,
                classification: d.classification,
                arrangement: d.arrangement,
                lead_agencies: d.lead_agencies,
                figures: d.figures.into_iter().map(|f| (f.group, f.count)).collect(),
                policy_version: d.policy_version,
                determined_at: d.determined_at,
            }),
            published: None,
        }
    }

    fn row(&self, id: &str) -> Option<Row> {
        let determination = self.determination.as_ref()?;
        // P-codes come from the report accepted last, as the other facts of the situation do
        // in reconciliation (docs/design.md, "Several reports on one situation"): never from
        // the reporter's own clock.
        let latest = self.reports.values().max_by_key(|r| r.stream_sequence);
        let country = if determination.country.is_empty() {
            latest.map(|r| r.country.clone()).unwrap_or_default()
        } else {
            determination.country.clone()
        };
        let source_agencies: BTreeSet<&str> = self
            .reports
            .values()
            .map(|r| agency_name(r.agency))
            .collect();
        let lead_agencies: BTreeSet<&str> = determination
            .lead_agencies
            .iter()
            .map(|a| agency_name(Agency::try_from(*a).unwrap_or(Agency::Unspecified)))
            .collect();
        let figures = determination.figures.iter().filter_map(|(group, count)| {
            Some((
                tandem_proto::v1::PopulationGroup::try_from(*group).ok()?,
                *count,
            ))
        });
        Some(Row {
            situation_id: id.to_string(),
            country,
            admin1_pcode: latest.map(|r| r.admin1_pcode.clone()).unwrap_or_default(),
            admin2_pcode: latest.map(|r| r.admin2_pcode.clone()).unwrap_or_default(),
            figures: disclosure::disclose(figures),
            classification: Classification::try_from(determination.classification)
                .unwrap_or(Classification::Unspecified)
                .as_str_name()
                .to_string(),
            arrangement: Arrangement::try_from(determination.arrangement)
                .unwrap_or(Arrangement::Unspecified)
                .as_str_name()
                .to_string(),
            lead_agencies: lead_agencies.into_iter().map(String::from).collect(),
            source_agencies: source_agencies.into_iter().map(String::from).collect(),
            last_reported: self
                .reports
                .values()
                .map(|r| r.reported_at)
                .max()
                .map(|(seconds, _)| date(seconds))
                .unwrap_or_default(),
            policy_version: determination.policy_version.clone(),
            as_of: determination
                .determined_at
                .as_ref()
                .map(rfc3339)
                .unwrap_or_default(),
        })
    }
}

/// An agency as the dataset names it. Partners are published as `PARTNER`, never by
/// organisation name: reporter identities are not published.
fn agency_name(agency: Agency) -> &'static str {
    match agency {
        Agency::Partner => "PARTNER",
        agency => words::agency(agency).unwrap_or("UNSPECIFIED"),
    }
}

/// `YYYY-MM-DD` of a Unix time, UTC; empty when out of range.
fn date(seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// RFC 3339 of a protobuf timestamp, whole seconds, UTC; empty when out of range.
fn rfc3339(timestamp: &Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(timestamp.seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{PopulationGroup, ReconciledFigure};

    use super::*;
    use crate::disclosure::Cell;

    fn report(org: Agency, revision: u32, seconds: i64, admin1: &str) -> SituationReport {
        SituationReport {
            report_id: format!("internal-{revision}"),
            situation_id: "COL-1".into(),
            revision,
            reporting_agency: org as i32,
            reported_at: Some(Timestamp { seconds, nanos: 0 }),
            country: "COL".into(),
            admin1_pcode: admin1.into(),
            notes: "secret note".into(),
            ..Default::default()
        }
    }

    fn determination(sequence: u64, migrants: u64) -> LeadershipDetermination {
        LeadershipDetermination {
            situation_id: "COL-1".into(),
            sequence,
            determination_id: format!("COL-1/{sequence}"),
            country: "COL".into(),
            classification: Classification::MigrantSituation as i32,
            arrangement: Arrangement::IomLedResponse as i32,
            lead_agencies: vec![Agency::Iom as i32],
            figures: vec![ReconciledFigure {
                group: PopulationGroup::Migrant as i32,
                count: migrants,
                source_agency: Agency::Iom as i32,
                report_id: "internal-1".into(),
                ..Default::default()
            }],
            policy_version: "v1".into(),
            determined_at: Some(Timestamp {
                seconds: 1_767_225_600,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_situation_is_published_once_it_has_a_determination() {
        let mut state = State::default();
        assert!(state.apply_accepted(&report(Agency::Iom, 1, 1_767_225_600, "CO05"), 1));
        assert!(state.rows(None).is_empty());
        assert!(state.apply_determination(&determination(1, 1200), 2));
        let rows = state.rows(None);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.country, "COL");
        assert_eq!(row.admin1_pcode, "CO05");
        assert_eq!(row.last_reported, "2026-01-01");
        assert_eq!(row.as_of, "2026-01-01T00:00:00Z");
        assert_eq!(row.lead_agencies, vec!["IOM"]);
        assert_eq!(row.source_agencies, vec!["IOM"]);
        assert_eq!(row.figures.total, 1200);
        assert_eq!(state.version(), 2);
    }

    #[test]
    fn replays_and_stale_events_change_nothing() {
        let mut state = State::default();
        state.apply_accepted(&report(Agency::Iom, 2, 1_767_225_600, "CO05"), 1);
        state.apply_determination(&determination(2, 1200), 2);
        let before = state.clone();
        assert!(!state.apply_accepted(&report(Agency::Iom, 2, 1_767_225_600, "CO05"), 1));
        assert!(!state.apply_accepted(&report(Agency::Iom, 1, 1_767_312_000, "CO99"), 3));
        assert!(!state.apply_determination(&determination(2, 9), 2));
        assert!(!state.apply_determination(&determination(1, 9), 4));
        assert_eq!(state, before);
    }

    #[test]
    fn pcodes_follow_the_report_accepted_last_and_agencies_accumulate() {
        let mut state = State::default();
        state.apply_accepted(&report(Agency::Iom, 1, 1_767_225_600, "CO05"), 1);
        state.apply_accepted(&report(Agency::Unhcr, 1, 1_767_312_000, "CO08"), 2);
        // Accepted last, though its reporter dates it earliest.
        state.apply_accepted(&report(Agency::Iom, 2, 1_767_139_200, "CO11"), 3);
        state.apply_determination(&determination(1, 3), 4);
        let row = state.row("COL-1").expect("row");
        assert_eq!(row.admin1_pcode, "CO11");
        assert_eq!(row.last_reported, "2026-01-02");
        assert_eq!(row.source_agencies, vec!["IOM", "UNHCR"]);
        assert_eq!(row.figures.cells[4], Cell::Suppressed);
        assert_eq!(state.rows(Some("PER")), vec![]);
        assert_eq!(state.rows(Some("COL")).len(), 1);
    }

    #[test]
    fn the_kept_rows_and_lines_are_those_of_the_current_facts() {
        let mut state = State::default();
        state.apply_accepted(&report(Agency::Iom, 1, 1_767_225_600, "CO05"), 1);
        state.apply_determination(&determination(1, 1200), 2);
        state.apply_accepted(&report(Agency::Unhcr, 1, 1_767_312_000, "CO08"), 3);
        state.apply_determination(&determination(2, 3), 4);
        state.apply_accepted(&report(Agency::Iom, 2, 1_767_398_400, "CO11"), 5);
        for (id, situation) in &state.situations {
            let row = situation.row(id).expect("a row");
            let line = row.csv_line();
            assert_eq!(situation.published, Some((row, line)), "{id}");
        }
        assert_eq!(state.csv(None), dataset::to_csv(&state.rows(None)));
        assert_eq!(state.csv(Some("PER")), dataset::csv_head());
    }

    #[test]
    fn dataset_versions_are_recorded_once() {
        let mut state = State::default();
        let published = DatasetPublished {
            version: 7,
            ..Default::default()
        };
        assert!(state.apply_published(&published));
        assert!(!state.apply_published(&published));
        assert_eq!(state.latest_dataset().map(|d| d.version), Some(7));
    }
}
