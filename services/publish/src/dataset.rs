//! The published dataset: one [`Row`] per situation, its columns with their HXL hashtags, and
//! its two renderings, HXL-tagged CSV and JSON. Both render the same rows, whose figures have
//! already passed [`crate::disclosure`], so the formats cannot disagree on what is published.

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::disclosure::Disclosed;

/// The dataset's name, in `DatasetPublished.dataset` and object keys.
pub const DATASET: &str = "situations";

/// Columns: (header, HXL hashtag), in order. The header names are also the JSON field names.
pub const COLUMNS: [(&str, &str); 22] = [
    ("situation_id", "#crisis+code"),
    ("country", "#country+code"),
    ("admin1_pcode", "#adm1+code"),
    ("admin2_pcode", "#adm2+code"),
    ("refugees", "#population+refugees"),
    ("asylum_seekers", "#population+asylum_seekers"),
    ("others_in_need_of_protection", "#population+oip"),
    ("stateless", "#population+stateless"),
    ("migrants", "#population+migrants"),
    ("idps", "#population+idps"),
    ("returned_refugees", "#population+returnees+refugees"),
    ("returned_idps", "#population+returnees+idps"),
    ("host_community", "#population+host_community"),
    ("refugees_and_migrants", "#population+refugees_and_migrants"),
    ("total", "#population+total"),
    ("total_suppressed", "#meta+total_suppressed"),
    ("classification", "#crisis+type"),
    ("arrangement", "#meta+arrangement"),
    ("lead_agencies", "#org+lead"),
    ("source_agencies", "#org+source"),
    ("last_reported", "#date+reported"),
    ("policy_version", "#meta+policy_version"),
];

/// Where the population columns start in [`COLUMNS`]; they follow [`disclosure::GROUPS`].
const FIRST_GROUP_COLUMN: usize = 4;

/// Separates several agencies in one CSV cell.
pub const LIST_SEPARATOR: &str = ";";

/// One situation as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The situation id agencies share.
    pub situation_id: String,
    /// ISO 3166-1 alpha-3.
    pub country: String,
    /// Admin-1 P-code, possibly empty.
    pub admin1_pcode: String,
    /// Admin-2 P-code, possibly empty.
    pub admin2_pcode: String,
    /// The reconciled figures after disclosure control.
    pub figures: Disclosed,
    /// `Classification` enum name.
    pub classification: String,
    /// `Arrangement` enum name.
    pub arrangement: String,
    /// `IOM`, `UNHCR`: who leads.
    pub lead_agencies: Vec<String>,
    /// `IOM`, `UNHCR`, `PARTNER`: who reported.
    pub source_agencies: Vec<String>,
    /// `YYYY-MM-DD` of the latest accepted report.
    pub last_reported: String,
    /// The leadership policy version of the determination.
    pub policy_version: String,
    /// When the determination was made (RFC 3339); JSON only.
    pub as_of: String,
}

impl Row {
    /// The row's CSV cells, in [`COLUMNS`] order.
    pub fn csv_cells(&self) -> Vec<String> {
        let mut cells = vec![
            self.situation_id.clone(),
            self.country.clone(),
            self.admin1_pcode.clone(),
            self.admin2_pcode.clone(),
        ];
        cells.extend(self.figures.cells.iter().map(|c| c.to_csv()));
        cells.extend([
            self.figures.total.to_string(),
            self.figures.total_suppressed.to_string(),
            self.classification.clone(),
            self.arrangement.clone(),
            self.lead_agencies.join(LIST_SEPARATOR),
            self.source_agencies.join(LIST_SEPARATOR),
            self.last_reported.clone(),
            self.policy_version.clone(),
        ]);
        cells
    }

    /// The row as a JSON object: the CSV columns by header name (agency lists as arrays,
    /// counts as numbers, `"*"` or `null`), plus `as_of`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("situation_id".into(), self.situation_id.clone().into());
        object.insert("country".into(), self.country.clone().into());
        object.insert("admin1_pcode".into(), self.admin1_pcode.clone().into());
        object.insert("admin2_pcode".into(), self.admin2_pcode.clone().into());
        for (index, cell) in self.figures.cells.iter().enumerate() {
            let (name, _) = COLUMNS[FIRST_GROUP_COLUMN + index];
            object.insert(name.into(), cell.to_json());
        }
        object.insert("total".into(), self.figures.total.into());
        object.insert(
            "total_suppressed".into(),
            self.figures.total_suppressed.into(),
        );
        object.insert("classification".into(), self.classification.clone().into());
        object.insert("arrangement".into(), self.arrangement.clone().into());
        object.insert("lead_agencies".into(), json!(self.lead_agencies));
        object.insert("source_agencies".into(), json!(self.source_agencies));
        object.insert("last_reported".into(), self.last_reported.clone().into());
        object.insert("policy_version".into(), self.policy_version.clone().into());
        object.insert("as_of".into(), self.as_of.clone().into());
        Value::Object(object)
    }
}

/// The rows as HXL-tagged CSV: header row, hashtag row, one row per situation.
pub fn to_csv(rows: &[Row]) -> String {
    let mut csv = csv_head();
    for row in rows {
        csv.push_str(&row.csv_line());
    }
    csv
}

/// The header row and the hashtag row of the CSV.
pub fn csv_head() -> String {
    csv_records([
        COLUMNS.map(|(header, _)| header.to_string()).to_vec(),
        COLUMNS.map(|(_, tag)| tag.to_string()).to_vec(),
    ])
}

impl Row {
    /// The row as one CSV record with its line end: the CSV of a set of rows is
    /// [`csv_head`] followed by theirs, so a row can be rendered once and kept.
    pub fn csv_line(&self) -> String {
        csv_records([self.csv_cells()])
    }
}

fn csv_records(records: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing into memory fails only on an I/O error of the Vec, which cannot happen.
    for record in records {
        let _ = writer.write_record(record);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The rows as the JSON document of `GET /v1/situations`: the dataset version, `as_of` (the
/// newest determination among the rows), and the rows.
pub fn to_json(rows: &[Row], version: u64) -> Value {
    let as_of = rows.iter().map(|r| r.as_of.as_str()).max().unwrap_or("");
    json!({
        "dataset": DATASET,
        "version": version,
        "as_of": as_of,
        "count": rows.len(),
        "situations": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The object-store key of dataset version `version`.
pub fn object_key(version: u64) -> String {
    format!("{DATASET}/{version}.csv")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::{GROUPS, disclose};
    use tandem_proto::v1::PopulationGroup;

    fn row() -> Row {
        Row {
            situation_id: "COL-1".into(),
            country: "COL".into(),
            admin1_pcode: "CO05".into(),
            admin2_pcode: String::new(),
            figures: disclose([
                (PopulationGroup::Refugee, 2),
                (PopulationGroup::Migrant, 1200),
            ]),
            classification: "CLASSIFICATION_MIGRANT_SITUATION".into(),
            arrangement: "ARRANGEMENT_IOM_LED_RESPONSE".into(),
            lead_agencies: vec!["IOM".into()],
            source_agencies: vec!["IOM".into(), "UNHCR".into()],
            last_reported: "2026-01-01".into(),
            policy_version: "v1".into(),
            as_of: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn population_columns_follow_the_disclosure_groups() {
        let names: Vec<&str> = COLUMNS[FIRST_GROUP_COLUMN..FIRST_GROUP_COLUMN + GROUPS.len()]
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(
            names,
            [
                "refugees",
                "asylum_seekers",
                "others_in_need_of_protection",
                "stateless",
                "migrants",
                "idps",
                "returned_refugees",
                "returned_idps",
                "host_community",
                "refugees_and_migrants"
            ]
        );
        assert_eq!(COLUMNS[FIRST_GROUP_COLUMN + GROUPS.len()].0, "total");
    }

    #[test]
    fn every_column_has_a_valid_hxl_hashtag() {
        for (_, tag) in COLUMNS {
            let mut parts = tag.split('+');
            let hashtag = parts.next().unwrap_or_default();
            assert!(hashtag.starts_with('#') && hashtag.len() > 1, "{tag}");
            for part in std::iter::once(&hashtag[1..]).chain(parts) {
                assert!(
                    part.starts_with(|c: char| c.is_ascii_lowercase())
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{tag}"
                );
            }
        }
    }

    #[test]
    fn csv_and_json_carry_the_same_cells() {
        let row = row();
        let csv = to_csv(std::slice::from_ref(&row));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("#crisis+code,#country+code"));
        assert_eq!(
            lines[2],
            "COL-1,COL,CO05,,*,,,,1200,,,,,,1200,true,CLASSIFICATION_MIGRANT_SITUATION,\
             ARRANGEMENT_IOM_LED_RESPONSE,IOM,IOM;UNHCR,2026-01-01,v1"
        );
        let json = row.to_json();
        for ((name, _), cell) in COLUMNS.iter().zip(row.csv_cells()) {
            let value = &json[*name];
            let text = match value {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(LIST_SEPARATOR),
                other => other.to_string(),
            };
            assert_eq!(text, cell, "column {name}");
        }
        assert_eq!(json["as_of"], "2026-01-01T00:00:00Z");
    }
}
