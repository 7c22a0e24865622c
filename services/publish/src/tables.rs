//! The analyst tables beside `/v1/situations.csv` (docs/design.md, "Data publication"): one row
//! per country operation, a long table of figures by country, area and origin, the progress
//! towards durable solutions and each situation's series of determinations; each an HXL-tagged
//! CSV described by the same [`Table`] that `/v1/datapackage.json` is made from.
//!
//! Every count of every table is a cell of one [`disclosure::suppress`] run per situation: the
//! situation's regional figure, its operations', their origins' and areas', with the breakdowns
//! a reader can add up, so that no table gives away a cell another hides.

use std::collections::BTreeMap;

use tandem_i18n::{Lang, words::word};
use tandem_proto::v1::{
    Agency, Arrangement, Classification, DurableSolutionsCriterion, PopulationGroup,
};

use crate::{
    dataset,
    disclosure::{self, Breakdown, Cell, Disclosed, GROUPS},
    snapshot::{AreaFigureMessage, FigureMessage, OperationMessage, SolutionMessage},
};

/// A column's Table Schema type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    String,
    /// A count: `*` (hidden) and empty (no figure) are its missing values.
    Integer,
    /// A decimal number.
    Number,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339.
    Datetime,
    /// `true` or `false`.
    Boolean,
}

impl Kind {
    /// The Table Schema type name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Date => "date",
            Kind::Datetime => "datetime",
            Kind::Boolean => "boolean",
        }
    }
}

/// One column of a table: its header, type, HXL hashtag and meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header, also the JSON field name of `/v1/situations`.
    pub name: &'static str,
    /// Its type in the data package.
    pub kind: Kind,
    /// The HXL hashtag with attributes, in the row under the header.
    pub hxl: &'static str,
    /// What it holds, for the data package.
    pub description: &'static str,
}

const fn column(
    name: &'static str,
    kind: Kind,
    hxl: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        kind,
        hxl,
        description,
    }
}

/// One published CSV table.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// The resource name in the data package.
    pub name: &'static str,
    /// Where it is served; `{id}` stands for a situation id.
    pub path: &'static str,
    /// A title for people.
    pub title: &'static str,
    /// What one row is.
    pub description: &'static str,
    /// Its columns, in order.
    pub columns: fn() -> Vec<Column>,
}

/// The population columns of the wide tables, in [`GROUPS`] order, with the total after them.
/// Tags follow the HXL dictionary's `#affected` (people affected) with HDX's attributes.
pub const GROUP_COLUMNS: [Column; GROUPS.len()] = [
    column("refugees", Kind::Integer, "#affected+refugees", "Refugees"),
    column(
        "asylum_seekers",
        Kind::Integer,
        "#affected+asylum_seekers",
        "Asylum seekers",
    ),
    column(
        "others_in_need_of_protection",
        Kind::Integer,
        "#affected+oip",
        "Other people in need of international protection",
    ),
    column(
        "stateless",
        Kind::Integer,
        "#affected+stateless",
        "Stateless people",
    ),
    column("migrants", Kind::Integer, "#affected+migrants", "Migrants"),
    column(
        "idps",
        Kind::Integer,
        "#affected+idps",
        "Internally displaced people",
    ),
    column(
        "returned_refugees",
        Kind::Integer,
        "#affected+returnees+refugees",
        "Returned refugees",
    ),
    column(
        "returned_idps",
        Kind::Integer,
        "#affected+returnees+idps",
        "Returned IDPs",
    ),
    column(
        "host_community",
        Kind::Integer,
        "#affected+host_community",
        "Host community members (not part of total)",
    ),
    column(
        "refugees_and_migrants",
        Kind::Integer,
        "#affected+refugees_and_migrants",
        "Refugees and migrants whose status is not determined",
    ),
];

const TOTAL_COLUMNS: [Column; 2] = [
    column(
        "total",
        Kind::Integer,
        "#affected+total",
        "Sum of the published counts of every group but host community; hidden counts are left out",
    ),
    column(
        "total_suppressed",
        Kind::Boolean,
        "#meta+total_suppressed",
        "Whether a hidden count was left out of total",
    ),
];

const SITUATION_ID: Column = column(
    "situation_id",
    Kind::String,
    "#crisis+code",
    "The situation id the agencies share",
);
const COUNTRY: Column = column(
    "country",
    Kind::String,
    "#country+code",
    "ISO 3166-1 alpha-3 of the country the people are in",
);
const CLASSIFICATION: [Column; 2] = [
    column(
        "classification",
        Kind::String,
        "#crisis+type",
        "The classification, in words",
    ),
    column(
        "classification_code",
        Kind::String,
        "#crisis+type+code",
        "The classification's code (Classification enum name)",
    ),
];
const ARRANGEMENT: [Column; 2] = [
    column(
        "arrangement",
        Kind::String,
        "#meta+arrangement",
        "The coordination arrangement, in words",
    ),
    column(
        "arrangement_code",
        Kind::String,
        "#meta+arrangement+code",
        "The arrangement's code (Arrangement enum name)",
    ),
];
const LEAD_AGENCIES: Column = column(
    "lead_agencies",
    Kind::String,
    "#org+lead",
    "Who leads: IOM, UNHCR, separated by ;",
);
const SOURCE_AGENCY: Column = column(
    "source_agency",
    Kind::String,
    "#org+source",
    "The agency whose report the figure comes from: IOM, UNHCR or PARTNER",
);

/// `/v1/situations.csv`: one row per situation.
pub const SITUATIONS: Table = Table {
    name: "situations",
    path: "/v1/situations.csv",
    title: "Situations",
    description: "One row per situation: who leads and its reconciled figures (regional totals \
                  for a regional situation)",
    columns: || {
        let mut columns = vec![
            SITUATION_ID,
            COUNTRY,
            column(
                "admin1_pcode",
                Kind::String,
                "#adm1+code",
                "Admin-1 P-code of the report accepted last",
            ),
            column(
                "admin2_pcode",
                Kind::String,
                "#adm2+code",
                "Admin-2 P-code of the report accepted last",
            ),
        ];
        columns.extend(GROUP_COLUMNS);
        columns.extend(TOTAL_COLUMNS);
        columns.extend([
            CLASSIFICATION[0],
            ARRANGEMENT[0],
            LEAD_AGENCIES,
            column(
                "source_agencies",
                Kind::String,
                "#org+source",
                "Who reported: IOM, UNHCR, PARTNER, separated by ;",
            ),
            column(
                "last_reported",
                Kind::Date,
                "#date+reported",
                "Date of the latest accepted report",
            ),
            column(
                "policy_version",
                Kind::String,
                "#meta+policy_version",
                "The leadership policy version of the determination",
            ),
            CLASSIFICATION[1],
            ARRANGEMENT[1],
        ]);
        columns
    },
};

/// `/v1/operations.csv`: one row per situation and country operation.
pub const OPERATIONS: Table = Table {
    name: "operations",
    path: "/v1/operations.csv",
    title: "Country operations",
    description: "One row per situation and country operation (one for a single-country \
                  situation): its classification, arrangement, leads and figures",
    columns: || {
        let mut columns = vec![
            SITUATION_ID,
            COUNTRY,
            column(
                "regional",
                Kind::Boolean,
                "#meta+regional",
                "Whether the situation spans countries",
            ),
            CLASSIFICATION[0],
            CLASSIFICATION[1],
            ARRANGEMENT[0],
            ARRANGEMENT[1],
            LEAD_AGENCIES,
        ];
        columns.extend(GROUP_COLUMNS);
        columns.extend(TOTAL_COLUMNS);
        columns.push(column(
            "as_of",
            Kind::Date,
            "#date",
            "Date of the determination",
        ));
        columns
    },
};

/// `/v1/figures.csv`: the long table of figures.
pub const FIGURES: Table = Table {
    name: "figures",
    path: "/v1/figures.csv",
    title: "Figures by country, area and origin",
    description: "One row per figure: a country's count of a population group, and its \
                  breakdowns by country of origin and by administrative area",
    columns: || {
        vec![
            SITUATION_ID,
            COUNTRY,
            column(
                "admin1_pcode",
                Kind::String,
                "#adm1+code",
                "Admin-1 P-code of the area counted; empty for the whole country",
            ),
            column(
                "admin2_pcode",
                Kind::String,
                "#adm2+code",
                "Admin-2 P-code of the area counted; empty for the whole admin-1 area",
            ),
            column(
                "origin",
                Kind::String,
                "#country+code+origin",
                "ISO 3166-1 alpha-3 of the country the people come from; empty for all origins",
            ),
            column(
                "population_group",
                Kind::String,
                "#group+population",
                "The population group, in words",
            ),
            column(
                "population_group_code",
                Kind::String,
                "#group+population+code",
                "The population group's code (PopulationGroup enum name)",
            ),
            column(
                "count",
                Kind::Integer,
                "#affected",
                "People counted; * when hidden by disclosure control",
            ),
            column("as_of", Kind::Date, "#date", "The date the count refers to"),
            SOURCE_AGENCY,
        ]
    },
};

/// `/v1/solutions.csv`: progress towards durable solutions.
pub const SOLUTIONS: Table = Table {
    name: "solutions",
    path: "/v1/solutions.csv",
    title: "Progress towards durable solutions",
    description: "One row per situation, country and IASC durable-solutions criterion: the \
                  share of the displaced population meeting it, the most recent reported",
    columns: || {
        vec![
            SITUATION_ID,
            COUNTRY,
            column(
                "criterion",
                Kind::String,
                "#indicator+name",
                "The IASC durable-solutions criterion, in words",
            ),
            column(
                "criterion_code",
                Kind::String,
                "#indicator+code",
                "The criterion's code (DurableSolutionsCriterion enum name)",
            ),
            column(
                "share",
                Kind::Number,
                "#indicator+value",
                "Share of the displaced population meeting the criterion, 0 to 1",
            ),
            column("as_of", Kind::Date, "#date", "The date the share refers to"),
            SOURCE_AGENCY,
        ]
    },
};

/// `/v1/situations/{id}/series.csv`: a situation's determinations over time.
pub const SERIES: Table = Table {
    name: "series",
    path: "/v1/situations/{id}/series.csv",
    title: "A situation over time",
    description: "One row per determination of one situation, oldest first: its date, \
                  classification, arrangement and figures (regional totals for a regional \
                  situation)",
    columns: || {
        let mut columns = vec![
            SITUATION_ID,
            column(
                "sequence",
                Kind::Integer,
                "#meta+sequence",
                "The determination's number, from 1",
            ),
            column(
                "determined_at",
                Kind::Datetime,
                "#date+determined",
                "When the determination was made (RFC 3339, UTC)",
            ),
            CLASSIFICATION[0],
            CLASSIFICATION[1],
            ARRANGEMENT[0],
            ARRANGEMENT[1],
            LEAD_AGENCIES,
        ];
        columns.extend(GROUP_COLUMNS);
        columns.extend(TOTAL_COLUMNS);
        columns
    },
};

/// Every table, in the data package's order.
pub const TABLES: [Table; 5] = [SITUATIONS, OPERATIONS, FIGURES, SOLUTIONS, SERIES];

impl Table {
    /// The header row and the HXL row of the table's CSV.
    pub fn csv_head(&self) -> String {
        let columns = (self.columns)();
        dataset::csv_records([
            columns.iter().map(|c| c.name.to_string()).collect(),
            columns.iter().map(|c| c.hxl.to_string()).collect(),
        ])
    }
}

/// At most this many operations, origins per figure, and per-area figures per report are
/// used: far above what intake accepts, a bound should anything else send more.
pub(crate) const MAX_PARTS: usize = 256;

/// A determination as the tables use it.
pub(crate) struct Determination<'a> {
    pub country: &'a str,
    pub classification: i32,
    pub arrangement: i32,
    pub lead_agencies: &'a [i32],
    pub figures: &'a [FigureMessage],
    pub regional: bool,
    pub operations: &'a [OperationMessage],
}

/// One accepted report as the tables use it.
pub(crate) struct Report<'a> {
    pub agency: Agency,
    pub country: &'a str,
    pub stream_sequence: u64,
    pub areas: &'a [AreaFigureMessage],
    pub solutions: &'a [SolutionMessage],
}

/// A situation's figures after disclosure control, for every table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DisclosedSituation {
    /// The situation's row (regional totals for a regional situation).
    pub situation: Disclosed,
    /// Each operation's cells, in the order of [`operations`].
    pub operations: Vec<Disclosed>,
    /// The rows of the long table.
    pub figures: Vec<FigureRow>,
}

/// One row of `/v1/figures.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FigureRow {
    pub country: String,
    pub admin1_pcode: String,
    pub admin2_pcode: String,
    pub origin: String,
    pub group: PopulationGroup,
    pub cell: Cell,
    pub as_of: String,
    pub source_agency: Agency,
}

/// The operations of `determination`: its own for a regional one, else the determination
/// itself as its one operation.
pub(crate) fn operations(determination: &Determination) -> Vec<OperationMessage> {
    if determination.regional && !determination.operations.is_empty() {
        return determination
            .operations
            .iter()
            .take(MAX_PARTS)
            .cloned()
            .collect();
    }
    vec![OperationMessage {
        country: determination.country.to_string(),
        classification: determination.classification,
        arrangement: determination.arrangement,
        lead_agencies: determination.lead_agencies.to_vec(),
        figures: determination.figures.to_vec(),
    }]
}

/// The counts of a situation and what a reader can add up, for [`disclosure::suppress`].
#[derive(Default)]
struct Cells {
    counts: Vec<u64>,
    breakdowns: Vec<Breakdown>,
}

impl Cells {
    fn add(&mut self, count: u64) -> usize {
        self.counts.push(count);
        self.counts.len() - 1
    }

    fn breakdown(&mut self, total: usize, parts: Vec<usize>) {
        if !parts.is_empty() {
            self.breakdowns.push(Breakdown { total, parts });
        }
    }
}

/// The first figure of each group, by its index in [`GROUPS`] (as [`disclosure::disclose`]
/// keeps a group's first figure).
fn by_group(figures: &[FigureMessage]) -> BTreeMap<usize, &FigureMessage> {
    let mut groups = BTreeMap::new();
    for figure in figures {
        let Ok(group) = PopulationGroup::try_from(figure.group) else {
            continue;
        };
        if let Some(index) = GROUPS.iter().position(|g| *g == group) {
            groups.entry(index).or_insert(figure);
        }
    }
    groups
}

/// Applies disclosure control to every figure of a situation at once: the regional figures
/// (regional situations), each operation's, their origins', and the per-area figures of the
/// report each operation's figure comes from (the latest accepted of its agency in that
/// country).
pub(crate) fn disclose(determination: &Determination, reports: &[Report]) -> DisclosedSituation {
    let operations = operations(determination);
    let mut cells = Cells::default();
    // (operation, group index) → cell; and the figure rows with their cells.
    let mut operation_cells: Vec<BTreeMap<usize, usize>> = Vec::new();
    let mut rows: Vec<(FigureRow, usize)> = Vec::new();
    for operation in &operations {
        let mut groups = BTreeMap::new();
        for (index, figure) in by_group(&operation.figures) {
            let group = GROUPS[index];
            let source_agency =
                Agency::try_from(figure.source_agency).unwrap_or(Agency::Unspecified);
            let whole = cells.add(figure.count);
            groups.insert(index, whole);
            let row = |origin: &str, admin1: &str, admin2: &str, as_of: &str| FigureRow {
                country: operation.country.clone(),
                admin1_pcode: admin1.to_string(),
                admin2_pcode: admin2.to_string(),
                origin: origin.to_string(),
                group,
                cell: Cell::Missing,
                as_of: as_of.to_string(),
                source_agency,
            };
            rows.push((row("", "", "", &figure.as_of), whole));
            // Origins, each the total of its own areas.
            let mut origin_cells = BTreeMap::from([(String::new(), whole)]);
            let mut parts = Vec::new();
            for origin in figure.origins.iter().take(MAX_PARTS) {
                if origin.origin.is_empty() || origin_cells.contains_key(&origin.origin) {
                    continue;
                }
                let cell = cells.add(origin.count);
                origin_cells.insert(origin.origin.clone(), cell);
                parts.push(cell);
                rows.push((row(&origin.origin, "", "", &figure.as_of), cell));
            }
            cells.breakdown(whole, parts);
            // Areas of the report the figure comes from: admin-1 areas break down their
            // origin's figure, admin-2 areas their admin-1 area's (or the origin's figure when
            // the report gave no admin-1 figure for it).
            let report = reports
                .iter()
                .filter(|r| r.agency == source_agency && r.country == operation.country)
                .max_by_key(|r| r.stream_sequence);
            let areas: Vec<&AreaFigureMessage> = report
                .map(|r| r.areas)
                .unwrap_or_default()
                .iter()
                .take(MAX_PARTS)
                .filter(|a| a.group == figure.group && !a.admin1_pcode.is_empty())
                .collect();
            let mut area_parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            let mut admin1_cells: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for area in areas.iter().filter(|a| a.admin2_pcode.is_empty()) {
                let Some(&parent) = origin_cells.get(&area.origin) else {
                    continue;
                };
                let key = (area.origin.as_str(), area.admin1_pcode.as_str());
                if admin1_cells.contains_key(&key) {
                    continue;
                }
                let cell = cells.add(area.count);
                admin1_cells.insert(key, cell);
                area_parts.entry(parent).or_default().push(cell);
                rows.push((row(&area.origin, &area.admin1_pcode, "", &area.as_of), cell));
            }
            let mut admin2_seen = std::collections::BTreeSet::new();
            for area in areas.iter().filter(|a| !a.admin2_pcode.is_empty()) {
                let parent = admin1_cells
                    .get(&(area.origin.as_str(), area.admin1_pcode.as_str()))
                    .or_else(|| origin_cells.get(&area.origin));
                let Some(&parent) = parent else {
                    continue;
                };
                if !admin2_seen.insert((&area.origin, &area.admin1_pcode, &area.admin2_pcode)) {
                    continue;
                }
                let cell = cells.add(area.count);
                area_parts.entry(parent).or_default().push(cell);
                rows.push((
                    row(
                        &area.origin,
                        &area.admin1_pcode,
                        &area.admin2_pcode,
                        &area.as_of,
                    ),
                    cell,
                ));
            }
            for (total, parts) in area_parts {
                cells.breakdown(total, parts);
            }
        }
        operation_cells.push(groups);
    }
    // The situation's figures: a regional one's break down into its operations'; a
    // single-country one's are its operation's.
    let situation_cells: BTreeMap<usize, usize> =
        if operations.len() == 1 && !determination.regional {
            operation_cells.first().cloned().unwrap_or_default()
        } else {
            let mut situation = BTreeMap::new();
            for (index, figure) in by_group(determination.figures) {
                let cell = cells.add(figure.count);
                situation.insert(index, cell);
                let parts = operation_cells
                    .iter()
                    .filter_map(|groups| groups.get(&index).copied())
                    .collect();
                cells.breakdown(cell, parts);
            }
            situation
        };
    let hidden = disclosure::suppress(&cells.counts, &cells.breakdowns);
    let published = |groups: &BTreeMap<usize, usize>| {
        let mut row = [Cell::Missing; GROUPS.len()];
        for (index, cell) in groups {
            row[*index] = disclosure::cell(Some(cells.counts[*cell]), hidden[*cell]);
        }
        Disclosed::from_cells(row)
    };
    DisclosedSituation {
        situation: published(&situation_cells),
        operations: operation_cells.iter().map(published).collect(),
        figures: rows
            .into_iter()
            .map(|(row, cell)| FigureRow {
                cell: disclosure::cell(Some(cells.counts[cell]), hidden[cell]),
                ..row
            })
            .collect(),
    }
}

/// An agency as the tables name it: `IOM`, `UNHCR`, and `PARTNER` for every partner, never
/// by organisation name: reporter identities are not published.
pub(crate) fn agency_name(agency: Agency) -> &'static str {
    agency.as_str_name().trim_start_matches("AGENCY_")
}

/// Lead agencies as published: names, sorted, separated by [`dataset::LIST_SEPARATOR`].
pub(crate) fn lead_agencies(agencies: &[i32]) -> Vec<String> {
    let names: std::collections::BTreeSet<&str> = agencies
        .iter()
        .map(|a| agency_name(Agency::try_from(*a).unwrap_or(Agency::Unspecified)))
        .collect();
    names.into_iter().map(String::from).collect()
}

/// A classification's cells: in words, and its code.
pub(crate) fn classification(value: i32) -> [String; 2] {
    let classification = Classification::try_from(value).unwrap_or(Classification::Unspecified);
    [
        word(Lang::En, classification),
        classification.as_str_name().to_string(),
    ]
}

/// An arrangement's cells: in words, and its code.
pub(crate) fn arrangement(value: i32) -> [String; 2] {
    let arrangement = Arrangement::try_from(value).unwrap_or(Arrangement::Unspecified);
    [
        word(Lang::En, arrangement),
        arrangement.as_str_name().to_string(),
    ]
}

/// The population cells and total of a wide row.
fn population_cells(disclosed: &Disclosed) -> impl Iterator<Item = String> + '_ {
    disclosed.cells.iter().map(|c| c.to_csv()).chain([
        disclosed.total.to_string(),
        disclosed.total_suppressed.to_string(),
    ])
}

/// The lines of `/v1/operations.csv` of one situation, each with its country.
pub(crate) fn operation_lines(
    id: &str,
    determination: &Determination,
    disclosed: &DisclosedSituation,
    as_of: &str,
) -> Vec<(String, String)> {
    operations(determination)
        .iter()
        .zip(&disclosed.operations)
        .map(|(operation, cells)| {
            let mut record = vec![
                id.to_string(),
                operation.country.clone(),
                determination.regional.to_string(),
            ];
            record.extend(classification(operation.classification));
            record.extend(arrangement(operation.arrangement));
            record.push(lead_agencies(&operation.lead_agencies).join(dataset::LIST_SEPARATOR));
            record.extend(population_cells(cells));
            record.push(as_of.to_string());
            (operation.country.clone(), dataset::csv_records([record]))
        })
        .collect()
}

/// The lines of `/v1/figures.csv` of one situation, each with its country.
pub(crate) fn figure_lines(id: &str, disclosed: &DisclosedSituation) -> Vec<(String, String)> {
    disclosed
        .figures
        .iter()
        .map(|row| {
            let record = vec![
                id.to_string(),
                row.country.clone(),
                row.admin1_pcode.clone(),
                row.admin2_pcode.clone(),
                row.origin.clone(),
                word(Lang::En, row.group),
                row.group.as_str_name().to_string(),
                row.cell.to_csv(),
                row.as_of.clone(),
                agency_name(row.source_agency).to_string(),
            ];
            (row.country.clone(), dataset::csv_records([record]))
        })
        .collect()
}

/// The lines of `/v1/solutions.csv` of one situation, each with its country: per country and
/// criterion the share with the latest `as_of` among the reports (the report accepted last
/// when two give the same date), as leadership reconciles them.
pub(crate) fn solution_lines(id: &str, reports: &[Report]) -> Vec<(String, String)> {
    let mut latest: BTreeMap<(&str, i32), (&SolutionMessage, &Report)> = BTreeMap::new();
    for report in reports {
        for solution in report.solutions.iter().take(MAX_PARTS) {
            let key = (report.country, solution.criterion);
            let newer = latest.get(&key).is_none_or(|(held, by)| {
                (solution.as_of.as_str(), report.stream_sequence)
                    > (held.as_of.as_str(), by.stream_sequence)
            });
            if newer {
                latest.insert(key, (solution, report));
            }
        }
    }
    latest
        .into_iter()
        .map(|((country, _), (solution, report))| {
            let criterion = DurableSolutionsCriterion::try_from(solution.criterion)
                .unwrap_or(DurableSolutionsCriterion::Unspecified);
            let record = vec![
                id.to_string(),
                country.to_string(),
                word(Lang::En, criterion),
                criterion.as_str_name().to_string(),
                solution.share.to_string(),
                solution.as_of.clone(),
                agency_name(report.agency).to_string(),
            ];
            (country.to_string(), dataset::csv_records([record]))
        })
        .collect()
}

/// One line of `/v1/situations/{id}/series.csv`.
pub(crate) fn series_line(
    id: &str,
    sequence: u64,
    determined_at: &str,
    determination: &Determination,
    cells: &Disclosed,
) -> String {
    let mut record = vec![
        id.to_string(),
        sequence.to_string(),
        determined_at.to_string(),
    ];
    record.extend(classification(determination.classification));
    record.extend(arrangement(determination.arrangement));
    record.push(lead_agencies(determination.lead_agencies).join(dataset::LIST_SEPARATOR));
    record.extend(population_cells(cells));
    dataset::csv_records([record])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(group: PopulationGroup, count: u64, agency: Agency) -> FigureMessage {
        FigureMessage {
            group: group as i32,
            count,
            as_of: "2026-01-10".into(),
            source_agency: agency as i32,
            origins: Vec::new(),
        }
    }

    fn area(count: u64, admin1: &str) -> AreaFigureMessage {
        AreaFigureMessage {
            group: PopulationGroup::Refugee as i32,
            count,
            admin1_pcode: admin1.into(),
            ..Default::default()
        }
    }

    fn single(figures: &[FigureMessage]) -> Determination<'_> {
        Determination {
            country: "COL",
            classification: Classification::RefugeeSituation as i32,
            arrangement: Arrangement::RefugeeCoordinationModel as i32,
            lead_agencies: &[],
            figures,
            regional: false,
            operations: &[],
        }
    }

    #[test]
    fn areas_come_from_the_latest_report_of_the_figures_agency_in_its_country() {
        let figures = [figure(PopulationGroup::Refugee, 900, Agency::Unhcr)];
        let (old, unhcr, iom, peru) = (
            [area(800, "CO01")],
            [area(500, "CO05"), area(400, "CO08")],
            [area(700, "CO11")],
            [area(600, "PE01")],
        );
        let report = |agency, country, stream_sequence, areas| Report {
            agency,
            country,
            stream_sequence,
            areas,
            solutions: &[],
        };
        let reports = [
            report(Agency::Unhcr, "COL", 1, &old[..]),
            report(Agency::Unhcr, "COL", 3, &unhcr[..]),
            report(Agency::Iom, "COL", 4, &iom[..]),
            report(Agency::Unhcr, "PER", 5, &peru[..]),
        ];
        let disclosed = disclose(&single(&figures), &reports);
        let areas: Vec<(&str, Cell)> = disclosed
            .figures
            .iter()
            .map(|r| (r.admin1_pcode.as_str(), r.cell))
            .collect();
        assert_eq!(
            areas,
            [
                ("", Cell::Count(900)),
                ("CO05", Cell::Count(500)),
                ("CO08", Cell::Count(400))
            ]
        );
    }

    #[test]
    fn a_single_country_situation_is_its_one_operation_cell_for_cell() {
        // The area of 3 takes the other area with it; the country's figure stays.
        let figures = [
            figure(PopulationGroup::Refugee, 903, Agency::Unhcr),
            figure(PopulationGroup::Migrant, 2, Agency::Iom),
        ];
        let areas = [area(3, "CO05"), area(900, "CO08")];
        let reports = [Report {
            agency: Agency::Unhcr,
            country: "COL",
            stream_sequence: 1,
            areas: &areas,
            solutions: &[],
        }];
        let disclosed = disclose(&single(&figures), &reports);
        assert_eq!(
            disclosed.operations,
            std::slice::from_ref(&disclosed.situation)
        );
        assert_eq!(disclosed.situation.total, 903);
        assert!(disclosed.situation.total_suppressed, "the 2 migrants");
        let cells: Vec<Cell> = disclosed.figures.iter().map(|r| r.cell).collect();
        assert_eq!(
            cells,
            [
                Cell::Count(903),
                Cell::Suppressed,
                Cell::Suppressed,
                Cell::Suppressed
            ]
        );
    }
}
