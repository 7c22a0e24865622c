//! What the service knows, built from `TANDEM_EVENTS` alone, with no I/O: every instance that
//! applies the same events holds the same state, whatever it saw before.
//!
//! Applying is idempotent: a redelivered or duplicated event changes nothing, a report counts
//! only when its revision is newer than the one held for its organisation in its country (a
//! regional situation has one report per organisation and country operation), and a
//! determination only when its `sequence` is newer than the situation's. Each situation's
//! published rows (of every table, [`crate::tables`]) are rendered when an event changes it and
//! kept, so that a new dataset version costs the situations that changed, not all of them. The state converts to and from the messages of a
//! snapshot ([`crate::snapshot`]) field by field.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::atomic::{AtomicU64, Ordering},
};

use tandem_proto::{
    Timestamp,
    v1::{Agency, DatasetPublished, LeadershipDetermination, ReconciledFigure, SituationReport},
};
use tandem_runtime::topology;

use crate::{
    chunks::{self, Chunked},
    dataset::{self, Row},
    snapshot::{
        AreaFigureMessage, DeterminationMessage, FigureMessage, OperationMessage, ReportMessage,
        SituationMessage, SolutionMessage, StateMessage,
    },
    tables::{self, MAX_PARTS, Table},
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

/// One situation: the latest accepted report of each organisation in each country, and the
/// current determination.
#[derive(Clone, Debug, Default)]
struct Situation {
    /// By (organisation, country).
    reports: BTreeMap<(String, String), ReportFacts>,
    determination: Option<DeterminationFacts>,
    /// The rows as published once the situation has a determination: rendered again only when
    /// the situation changes.
    published: Option<Published>,
    /// Which render `published` is ([`next_stamp`]), for telling the dataset's chunks that
    /// changed from those that did not ([`crate::chunks::Signature`]).
    stamp: u64,
    /// Whether its row ends a chunk ([`chunks::ends_chunk`] of its id), kept beside the stamp
    /// so that cutting the dataset reads neither the id nor the line of an unchanged chunk.
    ends_chunk: bool,
}

/// Two situations are equal when their facts are: the stamp says when a row was rendered, not
/// what it is.
impl PartialEq for Situation {
    fn eq(&self, other: &Self) -> bool {
        self.reports == other.reports
            && self.determination == other.determination
            && self.published == other.published
    }
}

/// A stamp no render in this process had before, so that a chunk's newest stamp changes with
/// any of its rows, whichever state rendered it.
fn next_stamp() -> u64 {
    static STAMPS: AtomicU64 = AtomicU64::new(1);
    STAMPS.fetch_add(1, Ordering::Relaxed)
}

/// A situation's rows in every table, rendered.
#[derive(Clone, Debug, PartialEq)]
struct Published {
    /// Its row of `/v1/situations.csv`, with its CSV line.
    row: Row,
    line: String,
    /// Its lines of the other tables, each with the country it is about.
    operations: Vec<(String, String)>,
    figures: Vec<(String, String)>,
    solutions: Vec<(String, String)>,
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
    /// Its per-area figures, without their free-text source.
    areas: Vec<AreaFigureMessage>,
    /// Its progress on durable solutions, without the free-text source.
    solutions: Vec<SolutionMessage>,
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
    figures: Vec<FigureMessage>,
    policy_version: String,
    determined_at: Option<Timestamp>,
    regional: bool,
    operations: Vec<OperationMessage>,
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
        let key = (organisation, report.country.clone());
        if situation
            .reports
            .get(&key)
            .is_some_and(|held| held.revision >= report.revision)
        {
            return false;
        }
        let reported_at = report
            .reported_at
            .as_ref()
            .map_or((0, 0), |t| (t.seconds, t.nanos));
        situation.reports.insert(
            key,
            ReportFacts {
                revision: report.revision,
                agency,
                country: report.country.clone(),
                admin1_pcode: report.admin1_pcode.clone(),
                admin2_pcode: report.admin2_pcode.clone(),
                reported_at,
                stream_sequence,
                areas: report
                    .population
                    .iter()
                    .filter(|f| !f.admin1_pcode.is_empty())
                    .take(MAX_PARTS)
                    .map(|f| AreaFigureMessage {
                        group: f.group,
                        count: f.count,
                        origin: f.origin.clone(),
                        admin1_pcode: f.admin1_pcode.clone(),
                        admin2_pcode: f.admin2_pcode.clone(),
                        as_of: f.as_of.clone(),
                    })
                    .collect(),
                solutions: report
                    .solutions_progress
                    .iter()
                    .take(MAX_PARTS)
                    .map(|p| SolutionMessage {
                        criterion: p.criterion,
                        share: p.share,
                        as_of: p.as_of.clone(),
                    })
                    .collect(),
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
        situation.determination = Some(DeterminationFacts::of(determination));
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

    /// The object keys of the versions dropped and not yet deleted: each instance learns of
    /// them from the announcements, so whichever stores the next version deletes them (the
    /// others' deletions then find nothing to do).
    pub fn unkept(&self) -> &[String] {
        &self.unkept
    }

    /// Forgets the dropped versions `deleted`, now deleted.
    pub fn forget_unkept(&mut self, deleted: &[String]) {
        self.unkept.retain(|key| !deleted.contains(key));
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

    /// The CSV of [`State::csv`] for every country, cut into chunks ([`crate::chunks`]):
    /// only the chunks not in `known` are rendered.
    pub fn chunked(&self, known: &chunks::Known) -> Chunked {
        let rows = self.situations.iter().filter_map(|(id, situation)| {
            let published = situation.published.as_ref()?;
            Some((
                id.as_str(),
                published.line.as_str(),
                situation.stamp,
                situation.ends_chunk,
            ))
        });
        chunks::cut(&dataset::csv_head(), rows, known)
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

    fn published(&self, country: Option<&str>) -> impl Iterator<Item = (&Row, &String)> {
        self.situations
            .values()
            .filter_map(|situation| situation.published.as_ref())
            .map(|published| (&published.row, &published.line))
            .filter(move |(row, _)| country.is_none_or(|c| row.country == c))
    }

    /// `table` (operations, figures or solutions) as HXL-tagged CSV: the rows about `country`
    /// (ISO3), or every row, ordered by situation id.
    pub fn table_csv(&self, table: Table, country: Option<&str>) -> String {
        let mut csv = table.csv_head();
        for published in self
            .situations
            .values()
            .filter_map(|s| s.published.as_ref())
        {
            let lines = match table.name {
                name if name == tables::OPERATIONS.name => &published.operations,
                name if name == tables::FIGURES.name => &published.figures,
                name if name == tables::SOLUTIONS.name => &published.solutions,
                _ => continue,
            };
            for (line_country, line) in lines {
                if country.is_none_or(|c| c == line_country) {
                    csv.push_str(line);
                }
            }
        }
        csv
    }

    /// The series of situation `id` (`/v1/situations/{id}/series.csv`) from its
    /// `determinations`, oldest first: each disclosed as the tables disclose a determination,
    /// except the current one, whose figures are the situation's row as published (its
    /// per-area breakdowns may hide more than the determination alone would).
    pub fn series_csv(&self, id: &str, determinations: &[LeadershipDetermination]) -> String {
        let current = self
            .situations
            .get(id)
            .and_then(|s| Some((s.determination.as_ref()?.sequence, s.published.as_ref()?)));
        let mut csv = tables::SERIES.csv_head();
        for determination in determinations
            .iter()
            .take(crate::history::MAX_DETERMINATIONS)
        {
            let facts = DeterminationFacts::of(determination);
            let view = facts.view();
            let cells = match current {
                Some((sequence, published)) if sequence == determination.sequence => {
                    published.row.figures.clone()
                }
                _ => tables::disclose(&view, &[]).situation,
            };
            let determined_at = determination
                .determined_at
                .as_ref()
                .map(rfc3339)
                .unwrap_or_default();
            csv.push_str(&tables::series_line(
                id,
                determination.sequence,
                &determined_at,
                &view,
                &cells,
            ));
        }
        csv
    }

    /// The ids of the published situations, in order.
    pub fn situation_ids(&self) -> Vec<String> {
        self.situations
            .iter()
            .filter(|(_, s)| s.published.is_some())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The row of situation `id`.
    pub fn row(&self, id: &str) -> Option<Row> {
        Some(self.situations.get(id)?.published.as_ref()?.row.clone())
    }

    /// The countries situation `id` has reports from, in order: its one country, or each
    /// operation's of a regional situation.
    pub fn countries(&self, id: &str) -> Vec<String> {
        let Some(situation) = self.situations.get(id) else {
            return Vec::new();
        };
        let countries: BTreeSet<&String> = situation.reports.keys().map(|(_, c)| c).collect();
        countries.into_iter().cloned().collect()
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

impl DeterminationFacts {
    /// What the dataset keeps of `determination`.
    fn of(determination: &LeadershipDetermination) -> Self {
        let figures = |figures: &[ReconciledFigure]| -> Vec<FigureMessage> {
            figures
                .iter()
                .take(MAX_PARTS)
                .map(|f| FigureMessage {
                    group: f.group,
                    count: f.count,
                    as_of: f.as_of.clone(),
                    source_agency: f.source_agency,
                    origins: f.origins.iter().take(MAX_PARTS).cloned().collect(),
                })
                .collect()
        };
        Self {
            sequence: determination.sequence,
            country: determination.country.clone(),
            classification: determination.classification,
            arrangement: determination.arrangement,
            lead_agencies: determination.lead_agencies.clone(),
            figures: figures(&determination.figures),
            policy_version: determination.policy_version.clone(),
            determined_at: determination.determined_at,
            regional: determination.regional,
            operations: determination
                .operations
                .iter()
                .take(MAX_PARTS)
                .map(|o| OperationMessage {
                    country: o.country.clone(),
                    classification: o.classification,
                    arrangement: o.arrangement,
                    lead_agencies: o.lead_agencies.clone(),
                    figures: figures(&o.figures),
                })
                .collect(),
        }
    }

    fn view(&self) -> tables::Determination<'_> {
        tables::Determination {
            country: &self.country,
            classification: self.classification,
            arrangement: self.arrangement,
            lead_agencies: &self.lead_agencies,
            figures: &self.figures,
            regional: self.regional,
            operations: &self.operations,
        }
    }

    fn to_message(&self) -> DeterminationMessage {
        DeterminationMessage {
            sequence: self.sequence,
            country: self.country.clone(),
            classification: self.classification,
            arrangement: self.arrangement,
            lead_agencies: self.lead_agencies.clone(),
            figures: self.figures.clone(),
            policy_version: self.policy_version.clone(),
            determined_at: self.determined_at,
            regional: self.regional,
            operations: self.operations.clone(),
        }
    }

    fn from_message(d: DeterminationMessage) -> Self {
        Self {
            sequence: d.sequence,
            country: d.country,
            classification: d.classification,
            arrangement: d.arrangement,
            lead_agencies: d.lead_agencies,
            figures: d.figures,
            policy_version: d.policy_version,
            determined_at: d.determined_at,
            regional: d.regional,
            operations: d.operations,
        }
    }
}

impl Situation {
    /// Renders the published rows again after a change.
    fn render(&mut self, id: &str) {
        self.stamp = next_stamp();
        self.ends_chunk = chunks::ends_chunk(id);
        self.published = self.determination.as_ref().map(|determination| {
            let view = determination.view();
            let reports: Vec<tables::Report> = self
                .reports
                .values()
                .map(|r| tables::Report {
                    agency: r.agency,
                    country: &r.country,
                    stream_sequence: r.stream_sequence,
                    areas: &r.areas,
                    solutions: &r.solutions,
                })
                .collect();
            let disclosed = tables::disclose(&view, &reports);
            let as_of = determination
                .determined_at
                .as_ref()
                .map(|t| date(t.seconds))
                .unwrap_or_default();
            let row = self.row(id, determination, disclosed.situation.clone());
            let line = row.csv_line();
            Published {
                row,
                line,
                operations: tables::operation_lines(id, &view, &disclosed, &as_of),
                figures: tables::figure_lines(id, &disclosed),
                solutions: tables::solution_lines(id, &reports),
            }
        });
    }

    fn to_message(&self, id: &str) -> SituationMessage {
        SituationMessage {
            id: id.to_string(),
            reports: self
                .reports
                .iter()
                .map(|((organisation, _), r)| ReportMessage {
                    organisation: organisation.clone(),
                    revision: r.revision,
                    agency: r.agency as i32,
                    country: r.country.clone(),
                    admin1_pcode: r.admin1_pcode.clone(),
                    admin2_pcode: r.admin2_pcode.clone(),
                    reported_seconds: r.reported_at.0,
                    reported_nanos: r.reported_at.1,
                    stream_sequence: r.stream_sequence,
                    areas: r.areas.clone(),
                    solutions: r.solutions.clone(),
                })
                .collect(),
            determination: self
                .determination
                .as_ref()
                .map(DeterminationFacts::to_message),
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
                        country: r.country.clone(),
                        admin1_pcode: r.admin1_pcode,
                        admin2_pcode: r.admin2_pcode,
                        reported_at: (r.reported_seconds, r.reported_nanos),
                        stream_sequence: r.stream_sequence,
                        areas: r.areas,
                        solutions: r.solutions,
                    };
                    ((r.organisation, r.country), facts)
                })
                .collect(),
            determination: message.determination.map(DeterminationFacts::from_message),
            published: None,
            stamp: 0,
            ends_chunk: false,
        }
    }

    /// The situation's row of `/v1/situations.csv`, with its figures as disclosed.
    fn row(
        &self,
        id: &str,
        determination: &DeterminationFacts,
        figures: crate::disclosure::Disclosed,
    ) -> Row {
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
            .map(|r| tables::agency_name(r.agency))
            .collect();
        let [classification, classification_code] =
            tables::classification(determination.classification);
        let [arrangement, arrangement_code] = tables::arrangement(determination.arrangement);
        Row {
            situation_id: id.to_string(),
            country,
            admin1_pcode: latest.map(|r| r.admin1_pcode.clone()).unwrap_or_default(),
            admin2_pcode: latest.map(|r| r.admin2_pcode.clone()).unwrap_or_default(),
            figures,
            classification,
            arrangement,
            classification_code,
            arrangement_code,
            lead_agencies: tables::lead_agencies(&determination.lead_agencies),
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
        }
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
    use tandem_proto::v1::{Arrangement, Classification, PopulationGroup};

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
            let mut rendered = situation.clone();
            rendered.render(id);
            assert_eq!(situation.published, rendered.published, "{id}");
            let published = situation.published.as_ref().expect("published");
            assert_eq!(published.line, published.row.csv_line());
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
