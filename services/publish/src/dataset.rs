//! The published dataset: one [`Row`] per situation (its columns, with their HXL hashtags, are
//! [`crate::tables::SITUATIONS`]'s), and its two renderings, HXL-tagged CSV and JSON. Both render the same rows, whose figures have
//! already passed [`crate::disclosure`], so the formats cannot disagree on what is published.

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::{
    disclosure::Disclosed,
    tables::{self, Column, GROUP_COLUMNS},
};

/// The dataset's name, in `DatasetPublished.dataset` and object keys.
pub const DATASET: &str = "situations";

/// The columns of `/v1/situations.csv`, in order ([`tables::SITUATIONS`]). The header names
/// are also the JSON field names.
pub fn columns() -> Vec<Column> {
    (tables::SITUATIONS.columns)()
}

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
    /// The classification in words (`mixed movement`).
    pub classification: String,
    /// The arrangement in words (`joint platform`).
    pub arrangement: String,
    /// `Classification` enum name.
    pub classification_code: String,
    /// `Arrangement` enum name.
    pub arrangement_code: String,
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
    /// The row's CSV cells, in [`columns`] order.
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
            self.classification_code.clone(),
            self.arrangement_code.clone(),
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
        for (column, cell) in GROUP_COLUMNS.iter().zip(&self.figures.cells) {
            object.insert(column.name.into(), cell.to_json());
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
        object.insert(
            "classification_code".into(),
            self.classification_code.clone().into(),
        );
        object.insert(
            "arrangement_code".into(),
            self.arrangement_code.clone().into(),
        );
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
    tables::SITUATIONS.csv_head()
}

impl Row {
    /// The row as one CSV record with its line end: the CSV of a set of rows is
    /// [`csv_head`] followed by theirs, so a row can be rendered once and kept.
    pub fn csv_line(&self) -> String {
        csv_records([self.csv_cells()])
    }
}

/// `records` as CSV, each with its line end.
pub(crate) fn csv_records(records: impl IntoIterator<Item = Vec<String>>) -> String {
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
            classification: "migrant situation".into(),
            arrangement: "IOM-led response".into(),
            classification_code: "CLASSIFICATION_MIGRANT_SITUATION".into(),
            arrangement_code: "ARRANGEMENT_IOM_LED_RESPONSE".into(),
            lead_agencies: vec!["IOM".into()],
            source_agencies: vec!["IOM".into(), "UNHCR".into()],
            last_reported: "2026-01-01".into(),
            policy_version: "v1".into(),
            as_of: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn population_columns_follow_the_disclosure_groups() {
        let names: Vec<&str> = GROUP_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(GROUPS.len(), names.len());
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
        let columns = columns();
        assert_eq!(&columns[4..4 + GROUPS.len()], &GROUP_COLUMNS[..]);
        assert_eq!(columns[4 + GROUPS.len()].name, "total");
    }

    #[test]
    fn every_column_of_every_table_has_a_valid_hxl_hashtag() {
        for table in tables::TABLES {
            for Column { hxl: tag, .. } in (table.columns)() {
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
            "COL-1,COL,CO05,,*,,,,1200,,,,,,1200,true,migrant situation,\
             IOM-led response,IOM,IOM;UNHCR,2026-01-01,v1,CLASSIFICATION_MIGRANT_SITUATION,\
             ARRANGEMENT_IOM_LED_RESPONSE"
        );
        let json = row.to_json();
        for (Column { name, .. }, cell) in columns().iter().zip(row.csv_cells()) {
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
