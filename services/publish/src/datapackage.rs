//! `/v1/datapackage.json`: the published tables as a Frictionless Tabular Data Package
//! (docs/design.md, "Data package"), made from the same [`Table`]s the CSVs are rendered with,
//! so the description cannot drift from the data.
//!
//! Resource paths are relative to the package's own URL (`/v1/`), as the Data Package
//! specification resolves them. Each CSV's second row is its HXL hashtag row: the dialect
//! names row 1 the header and row 2 a comment row, so `frictionless validate` reads the data
//! from row 3. A hidden count (`*`) and an empty cell are the schema's missing values, so count
//! columns stay integers.

use serde_json::{Value, json};

use crate::{
    config::DataPackageConfig,
    disclosure::SUPPRESSED_MARK,
    tables::{self, Table},
};

/// The package's name (lower case, as the specification requires).
pub const NAME: &str = "tandem-situations";

/// The data package of dataset `version`, with one series resource per situation in
/// `situations` (ids, in order).
pub fn package(config: &DataPackageConfig, version: u64, situations: &[String]) -> Value {
    let mut resources: Vec<Value> = tables::TABLES
        .iter()
        .filter(|t| t.name != tables::SERIES.name)
        .map(|table| resource(table, table.name, &table.path["/v1/".len()..], table.title))
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for id in situations {
        // Frictionless refuses a path with `..` (it could leave the package's folder), and `.`
        // names the folder itself: such ids get no series resource.
        if id.contains("..") || id == "." {
            continue;
        }
        let base = format!("series-{}", resource_name(id));
        let mut name = base.clone();
        // Ids that differ only in case or punctuation: numbered, the first unnumbered.
        for n in 2.. {
            if names.insert(name.clone()) {
                break;
            }
            name = format!("{base}-{n}");
        }
        let path = format!("situations/{id}/series.csv");
        let title = format!("{} over time", id);
        resources.push(resource(&tables::SERIES, &name, &path, &title));
    }
    json!({
        "profile": "tabular-data-package",
        "name": NAME,
        "title": "tandem: joint IOM and UNHCR situations, leadership and figures",
        "description": "Who leads the response to each refugee, migrant, mixed-movement and IDP \
            situation under the IOM/UNHCR Framework of Engagement, with the figures IOM, UNHCR \
            and partners reported, reconciled and under disclosure control: counts of 1 to 4 \
            people and the cells that would reveal them are published as *.",
        "version": version.to_string(),
        "licenses": [{
            "name": config.licence_name,
            "title": config.licence_title,
            "path": config.licence_path,
        }],
        "sources": [
            {"title": "IOM Displacement Tracking Matrix (DTM)", "path": "https://dtm.iom.int"},
            {"title": "UNHCR", "path": "https://www.unhcr.org"},
        ],
        "keywords": ["hxl", "refugees", "migrants", "idps", "displacement"],
        // HDX's field: days between updates, 0 for data updated live.
        "data_update_frequency": config.update_frequency,
        "resources": resources,
    })
}

/// A resource name: lower case letters, digits and `-._`, as the specification requires.
fn resource_name(id: &str) -> String {
    id.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '.' | '_') => c,
            _ => '-',
        })
        .collect()
}

fn resource(table: &Table, name: &str, path: &str, title: &str) -> Value {
    let fields: Vec<Value> = (table.columns)()
        .iter()
        .map(|column| {
            json!({
                "name": column.name,
                "type": column.kind.name(),
                "description": column.description,
                // Not a Table Schema property: the HXL hashtag, as in the CSV's second row.
                "hxl": column.hxl,
            })
        })
        .collect();
    json!({
        "profile": "tabular-data-resource",
        "name": name,
        "path": path,
        "title": title,
        "description": table.description,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "dialect": { "headerRows": [1], "commentRows": [2] },
        "schema": {
            "fields": fields,
            "missingValues": ["", SUPPRESSED_MARK],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_a_resource_and_series_names_are_valid_and_unique() {
        let config = DataPackageConfig::default();
        let ids = ["COL-1", "col-1", "R4V:2026", "..", "a..b"].map(String::from);
        let package = package(&config, 7, &ids);
        let resources = package["resources"].as_array().expect("resources");
        let names: Vec<&str> = resources
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "situations",
                "operations",
                "figures",
                "solutions",
                "series-col-1",
                "series-col-1-2",
                "series-r4v-2026"
            ]
        );
        assert_eq!(resources[4]["path"], "situations/COL-1/series.csv");
        assert_eq!(resources[0]["path"], "situations.csv");
        assert_eq!(package["licenses"][0]["name"], "CC-BY-IGO-3.0");
        let fields = resources[2]["schema"]["fields"].as_array().expect("fields");
        assert!(
            fields
                .iter()
                .any(|f| f["name"] == "origin" && f["hxl"] == "#country+code+origin")
        );
    }
}
