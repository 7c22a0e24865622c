//! The analyst tables and the data package against a real nats-server: a regional situation
//! with origins, per-area figures, people whose status is undetermined, solutions progress and
//! small counts, read back as an analyst would, from every CSV.

mod common;

use std::{collections::BTreeMap, path::PathBuf, process::Command, time::Duration};

use common::*;
use tandem_proto::v1::{
    Agency, Classification, DurableSolutionsCriterion, LeadershipDetermination,
    OperationDetermination, OriginCount, Phase, PopulationFigure, PopulationGroup,
    ReconciledFigure, SituationReport, SolutionsProgress,
};
use tandem_testkit::reports::Report;

const FAST: Duration = Duration::from_millis(300);

fn reconciled(
    group: PopulationGroup,
    count: u64,
    agency: Agency,
    origins: &[(&str, u64)],
) -> ReconciledFigure {
    ReconciledFigure {
        group: group as i32,
        count,
        source_agency: agency as i32,
        report_id: "internal-report-id".into(),
        as_of: "2026-01-10".into(),
        source: "DTM round 12".into(),
        origins: origins
            .iter()
            .map(|(origin, count)| OriginCount {
                origin: (*origin).into(),
                count: *count,
            })
            .collect(),
    }
}

fn area(group: PopulationGroup, count: u64, admin1: &str, admin2: &str) -> PopulationFigure {
    PopulationFigure {
        group: group as i32,
        count,
        as_of: "2026-01-09".into(),
        source: "UNHCR registration".into(),
        admin1_pcode: admin1.into(),
        admin2_pcode: admin2.into(),
        ..Default::default()
    }
}

fn solution(criterion: DurableSolutionsCriterion, share: f64, as_of: &str) -> SolutionsProgress {
    SolutionsProgress {
        criterion: criterion as i32,
        share,
        as_of: as_of.into(),
        source: "DTM durable solutions survey 2026".into(),
    }
}

/// R4V, regional across COL and PER: refugees from Venezuela and Nicaragua (3 of them), people
/// whose status is undetermined (3 in COL), 2 migrants in PER, UNHCR's refugees by area in
/// COL (one area of 3, one district of 4), and progress on two durable-solutions criteria.
/// Its first determination, before it became regional, is in the series.
async fn regional_situation(js: &async_nats::jetstream::Context) -> u64 {
    let mut unhcr = Report::new(Agency::Unhcr, "unhcr-col-1", "R4V", 1)
        .figures("2026-01-09", "UNHCR", &[(PopulationGroup::Refugee, 1000)])
        .build();
    unhcr.population.extend([
        area(PopulationGroup::Refugee, 600, "CO05", ""),
        area(PopulationGroup::Refugee, 397, "CO08", ""),
        area(PopulationGroup::Refugee, 3, "CO11", ""),
        area(PopulationGroup::Refugee, 596, "CO05", "CO05001"),
        area(PopulationGroup::Refugee, 4, "CO05", "CO05002"),
    ]);
    unhcr.solutions_progress = vec![solution(
        DurableSolutionsCriterion::Livelihoods,
        0.4,
        "2026-01-08",
    )];
    unhcr.phase = Phase::Solutions as i32;
    accept(js, &unhcr, "r1").await;
    let mut iom: SituationReport = Report::new(Agency::Iom, "iom-col-1", "R4V", 1)
        .figures("2026-01-10", "DTM", &[(PopulationGroup::Migrant, 5000)])
        .build();
    iom.phase = Phase::Solutions as i32;
    iom.solutions_progress = vec![
        solution(DurableSolutionsCriterion::Livelihoods, 0.42, "2026-01-05"),
        solution(DurableSolutionsCriterion::Documentation, 0.7, "2026-01-05"),
    ];
    accept(js, &iom, "r2").await;
    let mut first = determination("R4V", 1, &[(PopulationGroup::Refugee, 1000)]);
    first.classification = Classification::RefugeeSituation as i32;
    determine(js, &first).await;
    let peru = Report::new(Agency::Iom, "iom-per-1", "R4V", 2)
        .country("PER")
        .figures("2026-01-10", "DTM", &[(PopulationGroup::Migrant, 2)])
        .build();
    accept(js, &peru, "r3").await;

    let colombia = vec![
        reconciled(
            PopulationGroup::Refugee,
            1000,
            Agency::Unhcr,
            &[("NIC", 3), ("VEN", 997)],
        ),
        reconciled(PopulationGroup::Migrant, 5000, Agency::Iom, &[]),
        reconciled(PopulationGroup::Undetermined, 3, Agency::Iom, &[]),
    ];
    let peru = vec![
        reconciled(
            PopulationGroup::Refugee,
            2000,
            Agency::Iom,
            &[("VEN", 2000)],
        ),
        reconciled(PopulationGroup::Migrant, 2, Agency::Iom, &[]),
        reconciled(PopulationGroup::Undetermined, 400, Agency::Iom, &[]),
    ];
    let operation = |country: &str, figures: Vec<ReconciledFigure>| OperationDetermination {
        country: country.into(),
        classification: Classification::MixedMovement as i32,
        arrangement: tandem_proto::v1::Arrangement::JointPlatform as i32,
        lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
        figures,
        ..Default::default()
    };
    let regional = LeadershipDetermination {
        regional: true,
        figures: vec![
            reconciled(
                PopulationGroup::Refugee,
                3000,
                Agency::Unhcr,
                &[("NIC", 3), ("VEN", 2997)],
            ),
            reconciled(PopulationGroup::Migrant, 5002, Agency::Iom, &[]),
            reconciled(PopulationGroup::Undetermined, 403, Agency::Iom, &[]),
        ],
        operations: vec![operation("COL", colombia), operation("PER", peru)],
        ..determination("R4V", 2, &[])
    };
    determine(js, &regional).await
}

/// A table's header and data records (the HXL row left out), as maps by column name.
fn table(text: &str) -> Vec<BTreeMap<String, String>> {
    let records = records(text);
    assert!(records.len() >= 2, "a header and an HXL row: {text}");
    assert!(
        records[1].iter().all(|tag| tag.starts_with('#')),
        "row 2 is the HXL row: {:?}",
        records[1]
    );
    records[2..]
        .iter()
        .map(|record| {
            records[0]
                .iter()
                .cloned()
                .zip(record.iter().cloned())
                .collect()
        })
        .collect()
}

/// The one row of `rows` with every (column, value) of `key`.
fn find<'a>(
    rows: &'a [BTreeMap<String, String>],
    key: &[(&str, &str)],
) -> &'a BTreeMap<String, String> {
    let found: Vec<_> = rows
        .iter()
        .filter(|row| key.iter().all(|(column, value)| row[*column] == *value))
        .collect();
    assert_eq!(found.len(), 1, "one row with {key:?} in {rows:#?}");
    found[0]
}

struct Tables {
    situations: Vec<BTreeMap<String, String>>,
    operations: Vec<BTreeMap<String, String>>,
    figures: Vec<BTreeMap<String, String>>,
    solutions: Vec<BTreeMap<String, String>>,
    series: Vec<BTreeMap<String, String>>,
}

async fn tables(publish: &Publish) -> Tables {
    Tables {
        situations: table(&publish.body("/v1/situations.csv").await),
        operations: table(&publish.body("/v1/operations.csv").await),
        figures: table(&publish.body("/v1/figures.csv").await),
        solutions: table(&publish.body("/v1/solutions.csv").await),
        series: table(&publish.body("/v1/situations/R4V/series.csv").await),
    }
}

const UNDETERMINED: &str = "refugees and migrants whose status is not determined";

#[tokio::test]
async fn the_origin_and_undetermined_status_figures_flow_into_every_table() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let last = regional_situation(&js).await;
    publish.wait_applied(last).await;
    let t = tables(&publish).await;

    let situation = find(&t.situations, &[("situation_id", "R4V")]);
    assert_eq!(situation["refugees_and_migrants"], "403");
    assert_eq!(situation["refugees"], "3000");
    assert_eq!(situation["classification"], "mixed movement");
    assert_eq!(
        situation["classification_code"],
        "CLASSIFICATION_MIXED_MOVEMENT"
    );
    assert_eq!(situation["arrangement"], "joint platform");

    assert_eq!(t.operations.len(), 2, "one row per country operation");
    let peru = find(&t.operations, &[("country", "PER")]);
    assert_eq!(peru["regional"], "true");
    assert_eq!(peru["refugees"], "2000");
    assert_eq!(peru["lead_agencies"], "IOM;UNHCR");
    assert_eq!(peru["as_of"], "2026-01-01");

    let venezuelans = find(
        &t.figures,
        &[
            ("country", "PER"),
            ("origin", "VEN"),
            ("population_group", "refugees"),
        ],
    );
    assert_eq!(venezuelans["count"], "2000");
    assert_eq!(venezuelans["as_of"], "2026-01-10");
    assert_eq!(venezuelans["source_agency"], "IOM");
    find(
        &t.figures,
        &[
            ("country", "COL"),
            ("origin", "NIC"),
            ("population_group", "refugees"),
        ],
    );
    for country in ["COL", "PER"] {
        let row = find(
            &t.figures,
            &[
                ("country", country),
                ("origin", ""),
                ("population_group", UNDETERMINED),
            ],
        );
        assert_eq!(
            row["population_group_code"],
            "POPULATION_GROUP_UNDETERMINED"
        );
    }
    let area = find(
        &t.figures,
        &[("admin1_pcode", "CO05"), ("admin2_pcode", "")],
    );
    assert_eq!(area["count"], "600");
    assert_eq!(area["source_agency"], "UNHCR");

    assert_eq!(t.series.len(), 2, "both determinations");
    assert_eq!(t.series[0]["classification"], "refugee situation");
    assert_eq!(t.series[0]["refugees"], "1000");
    assert_eq!(t.series[1]["refugees_and_migrants"], "403");

    // Nothing of what the reports say about themselves is published.
    for text in [
        publish.body("/v1/figures.csv").await,
        publish.body("/v1/solutions.csv").await,
        publish.body("/v1/operations.csv").await,
    ] {
        for secret in [
            "internal-report-id",
            "unhcr-col-1",
            "DTM round 12",
            "survey",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    publish.stop().await;
}

#[tokio::test]
async fn solutions_progress_appears_in_the_published_table() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let last = regional_situation(&js).await;
    publish.wait_applied(last).await;
    let t = tables(&publish).await;

    assert_eq!(t.solutions.len(), 2, "{:#?}", t.solutions);
    let livelihoods = find(
        &t.solutions,
        &[("criterion_code", "DURABLE_SOLUTIONS_CRITERION_LIVELIHOODS")],
    );
    assert_eq!(livelihoods["situation_id"], "R4V");
    assert_eq!(livelihoods["country"], "COL");
    assert_eq!(livelihoods["criterion"], "access to livelihoods");
    assert_eq!(livelihoods["share"], "0.4", "UNHCR's share is the latest");
    assert_eq!(livelihoods["as_of"], "2026-01-08");
    assert_eq!(livelihoods["source_agency"], "UNHCR");
    let documentation = find(&t.solutions, &[("criterion", "documentation")]);
    assert_eq!(documentation["share"], "0.7");
    assert_eq!(documentation["source_agency"], "IOM");
    let filtered = table(&publish.body("/v1/solutions.csv?country=PER").await);
    assert!(filtered.is_empty(), "{filtered:#?}");
    publish.stop().await;
}

/// The population cells of a wide row: the group columns' names.
fn group_columns() -> impl Iterator<Item = &'static str> {
    tandem_publish::tables::GROUP_COLUMNS.iter().map(|c| c.name)
}

/// Asserts a breakdown (a total and the cells a reader adds up to it) does not leave exactly
/// one cell hidden: that cell would be the total less the others.
fn assert_not_recoverable(what: &str, total: &str, parts: &[&str]) {
    if parts.is_empty() {
        return;
    }
    let hidden = parts.iter().chain([&total]).filter(|c| **c == "*").count();
    assert_ne!(
        hidden, 1,
        "{what}: total {total}, parts {parts:?}: the one hidden cell is their difference"
    );
}

#[tokio::test]
async fn small_cells_are_hidden_in_every_table_and_none_can_be_recovered_from_the_totals() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let last = regional_situation(&js).await;
    publish.wait_applied(last).await;
    let t = tables(&publish).await;

    // No count of 1 to 4 anywhere.
    let counts = t
        .situations
        .iter()
        .chain(&t.operations)
        .chain(&t.series)
        .flat_map(|row| group_columns().chain(["total"]).map(|c| &row[c]))
        .chain(t.figures.iter().map(|row| &row["count"]));
    for count in counts {
        assert!(
            !matches!(count.parse::<u64>(), Ok(1..=4)),
            "a small count is published: {count}"
        );
    }
    let situation = find(&t.situations, &[("situation_id", "R4V")]);
    let colombia = find(&t.operations, &[("country", "COL")]);
    let peru = find(&t.operations, &[("country", "PER")]);
    assert_eq!(colombia["refugees_and_migrants"], "*");
    assert_eq!(peru["refugees_and_migrants"], "*", "else 403 - 400 = 3");
    assert_eq!(peru["migrants"], "*");
    assert_eq!(colombia["migrants"], "*", "else 5002 - 5000 = 2");

    // The region and its operations.
    for group in group_columns() {
        assert_not_recoverable(group, &situation[group], &[&colombia[group], &peru[group]]);
    }
    // The series shows the situation as its row does now.
    let latest = t.series.last().expect("a series");
    for column in group_columns().chain(["total", "total_suppressed"]) {
        assert_eq!(latest[column], situation[column], "{column}");
    }
    // Each country's figure is its operation's cell, and its origins and areas break it down.
    let operation_column: BTreeMap<&str, &str> = [
        ("refugees", "refugees"),
        ("migrants", "migrants"),
        (UNDETERMINED, "refugees_and_migrants"),
    ]
    .into();
    for whole in t
        .figures
        .iter()
        .filter(|r| r["origin"].is_empty() && r["admin1_pcode"].is_empty())
    {
        let operation = find(&t.operations, &[("country", &whole["country"])]);
        let group = whole["population_group"].as_str();
        assert_eq!(
            whole["count"], operation[operation_column[group]],
            "{whole:?}"
        );
    }
    let same = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>, columns: &[&str]| {
        columns.iter().all(|c| a[*c] == b[*c])
    };
    for total in &t.figures {
        let parts: Vec<&str> = t
            .figures
            .iter()
            .filter(|part| {
                same(
                    total,
                    part,
                    &["situation_id", "country", "population_group"],
                )
            })
            .filter(|part| {
                if total["origin"].is_empty() && total["admin1_pcode"].is_empty() {
                    // The whole country: its origins.
                    !part["origin"].is_empty() && part["admin1_pcode"].is_empty()
                } else if total["admin1_pcode"].is_empty() {
                    false
                } else {
                    // An admin-1 area: its districts.
                    same(total, part, &["origin", "admin1_pcode"])
                        && total["admin2_pcode"].is_empty()
                        && !part["admin2_pcode"].is_empty()
                }
            })
            .map(|part| part["count"].as_str())
            .collect();
        assert_not_recoverable(&format!("{total:?}"), &total["count"], &parts);
        if total["admin1_pcode"].is_empty() {
            let areas: Vec<&str> = t
                .figures
                .iter()
                .filter(|part| {
                    same(
                        total,
                        part,
                        &["situation_id", "country", "population_group", "origin"],
                    )
                })
                .filter(|part| !part["admin1_pcode"].is_empty() && part["admin2_pcode"].is_empty())
                .map(|part| part["count"].as_str())
                .collect();
            assert_not_recoverable(&format!("areas of {total:?}"), &total["count"], &areas);
        }
    }
    let hidden_area = find(&t.figures, &[("admin1_pcode", "CO11")]);
    assert_eq!(hidden_area["count"], "*");
    assert_eq!(
        find(&t.figures, &[("admin2_pcode", "CO05001")])["count"],
        "*",
        "else 600 - 4"
    );
    publish.stop().await;
}

/// The workspace's `target/venv`, where `scripts/test` installs frictionless and libhxl.
fn venv_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/test installs it (python3 -m venv target/venv && \
         target/venv/bin/pip install frictionless libhxl)",
        python.display()
    );
    python
}

#[tokio::test]
async fn the_data_package_passes_frictionless_validate_and_every_csv_parses_with_libhxl() {
    let python = venv_python();
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let last = regional_situation(&js).await;
    publish.wait_applied(last).await;

    let dir = tempfile::tempdir().expect("temporary directory");
    let package = publish.body("/v1/datapackage.json").await;
    std::fs::write(dir.path().join("datapackage.json"), &package).expect("package written");
    let package: serde_json::Value = serde_json::from_str(&package).expect("JSON");
    let resources = package["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 5, "four tables and R4V's series");
    for resource in resources {
        let path = resource["path"].as_str().expect("a path");
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().expect("a folder")).expect("folder made");
        std::fs::write(&file, publish.body(&format!("/v1/{path}")).await).expect("CSV written");
    }
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_dataset.py");
    let output = Command::new(python)
        .arg(script)
        .arg(dir.path())
        .output()
        .expect("the check runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("5 resources valid"), "{said}");
    publish.stop().await;
}

#[tokio::test]
async fn the_tables_filter_by_country_and_refuse_bad_requests_with_the_reason() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let last = regional_situation(&js).await;
    publish.wait_applied(last).await;

    let peru = table(&publish.body("/v1/figures.csv?country=per").await);
    assert!(!peru.is_empty());
    assert!(peru.iter().all(|row| row["country"] == "PER"), "{peru:#?}");
    let operations = table(&publish.body("/v1/operations.csv?country=PER").await);
    assert_eq!(operations.len(), 1);

    for (path, status, says) in [
        ("/v1/figures.csv?country=zz", 400, "ISO 3166-1 alpha-3"),
        (
            "/v1/operations.csv?contry=COL",
            400,
            "unknown query parameter 'contry'",
        ),
        ("/v1/datapackage.json?version=1", 400, "takes none"),
        (
            "/v1/situations/NOPE-1/series.csv",
            404,
            "no determination of situation 'NOPE-1'",
        ),
        (
            "/v1/situations/bad%20id/series.csv",
            400,
            "a situation id is",
        ),
    ] {
        let (got, _, body) = publish.get(path).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
    }
    publish.stop().await;
}
