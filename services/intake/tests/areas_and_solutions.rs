//! Figures per area and durable-solutions progress, at their boundaries, without a server
//! (`validate` is pure): docs/design.md, "SituationReport", the rows on per-area figures and
//! `solutions_progress`.

use std::time::{Duration, SystemTime};

use prost::Message as _;
use tandem_intake::validate::{self, MAX_POPULATION_FIGURES, MAX_REPORT_BYTES};
use tandem_proto::{
    timestamp,
    v1::{
        Agency, Driver, DurableSolutionsCriterion as Criterion, Phase, PopulationFigure,
        PopulationGroup as G, Scope, SituationReport, SolutionsProgress,
    },
};

fn now() -> SystemTime {
    // 2026-03-01T12:00:00Z.
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_366_400)
}

fn report(population: Vec<PopulationFigure>) -> SituationReport {
    SituationReport {
        report_id: "dtm-col-areas".into(),
        situation_id: "COL-VEN-2026".into(),
        revision: 1,
        reporting_agency: Agency::Iom as i32,
        reported_at: Some(timestamp::from_system_time(now())),
        country: "COL".into(),
        scope: Scope::CrossBorder as i32,
        driver: Driver::Mixed as i32,
        phase: Phase::Protracted as i32,
        population,
        ..Default::default()
    }
}

/// A figure of `group` from `origin` in `admin1`/`admin2` (empty: the whole country).
fn at(group: G, origin: &str, admin1: &str, admin2: &str, count: u64) -> PopulationFigure {
    PopulationFigure {
        group: group as i32,
        count,
        as_of: "2026-02-28".into(),
        source: "DTM round 12".into(),
        origin: origin.into(),
        admin1_pcode: admin1.into(),
        admin2_pcode: admin2.into(),
    }
}

/// Every reason as (field, code, message).
fn reasons(report: &SituationReport) -> Vec<(String, String, String)> {
    validate::validate(report, (Agency::Iom, ""), now())
        .into_vec()
        .into_iter()
        .map(|reason| (reason.field, reason.code, reason.message))
        .collect()
}

fn codes(report: &SituationReport) -> Vec<(String, String)> {
    reasons(report)
        .into_iter()
        .map(|(field, code, _)| (field, code))
        .collect()
}

fn one(field: &str, code: &str) -> Vec<(String, String)> {
    vec![(field.into(), code.into())]
}

#[test]
fn per_area_figures_that_add_up_to_at_most_their_totals_are_accepted() {
    let report = report(vec![
        at(G::Migrant, "VEN", "", "", 1_000),
        at(G::Migrant, "VEN", "CO54", "", 600),
        at(G::Migrant, "VEN", "CO54", "CO54001", 350),
        at(G::Migrant, "VEN", "CO54", "CO54874", 250),
        at(G::Migrant, "VEN", "CO08", "", 400),
        // Another origin is its own breakdown.
        at(G::Migrant, "HTI", "CO54", "", 90),
        // Areas without a figure for the whole country: nothing to add up against.
        at(G::Refugee, "", "CO11", "", 5_000),
        at(G::Refugee, "", "CO11", "CO11001", 5_000),
    ]);
    assert_eq!(codes(&report), vec![]);
}

#[test]
fn per_area_figures_that_contradict_totals_are_rejected_with_a_reason() {
    // The departments add up to 1,001 migrants from Venezuela, one more than the country.
    let over_country = report(vec![
        at(G::Migrant, "VEN", "", "", 1_000),
        at(G::Migrant, "VEN", "CO54", "", 601),
        at(G::Migrant, "VEN", "CO08", "", 400),
    ]);
    let found = reasons(&over_country);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0.as_str(), found[0].1.as_str()),
        ("population[0].count", "INCONSISTENT_TOTAL")
    );
    assert_eq!(
        found[0].2,
        "POPULATION_GROUP_MIGRANT from \"VEN\": the areas add up to 1001, more than the figure of 1000 for the whole country"
    );

    // The municipalities of Norte de Santander add up to more than the department: the reason
    // names the department and both numbers.
    let over_department = report(vec![
        at(G::Refugee, "", "CO54", "", 500),
        at(G::Refugee, "", "CO54", "CO54001", 300),
        at(G::Refugee, "", "CO54", "CO54874", 201),
    ]);
    let found = reasons(&over_department);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "population[0].count");
    assert_eq!(found[0].1, "INCONSISTENT_TOTAL");
    assert_eq!(
        found[0].2,
        "POPULATION_GROUP_REFUGEE: the second-level areas of \"CO54\" add up to 501, more than its own figure of 500"
    );

    // A department given only by its municipalities counts their sum against the country.
    let municipalities_over_country = report(vec![
        at(G::Idp, "", "CO54", "CO54001", 70),
        at(G::Idp, "", "CO54", "CO54874", 40),
        at(G::Idp, "", "", "", 100),
    ]);
    assert_eq!(
        codes(&municipalities_over_country),
        one("population[2].count", "INCONSISTENT_TOTAL")
    );
}

#[test]
fn a_figures_pcodes_follow_the_reports_pcode_rules() {
    let wrong = report(vec![
        at(G::Migrant, "", "VE14", "", 10),
        at(G::Migrant, "", "", "CO54001", 10),
        at(G::Migrant, "", "CO54", "CO08001", 10),
        at(G::Migrant, "", "co54", "", 10),
    ]);
    assert_eq!(
        codes(&wrong),
        vec![
            ("population[0].admin1_pcode".into(), "INVALID_FORMAT".into()),
            ("population[1].admin1_pcode".into(), "REQUIRED".into()),
            ("population[2].admin2_pcode".into(), "INVALID_FORMAT".into()),
            ("population[3].admin1_pcode".into(), "INVALID_FORMAT".into()),
            ("population[3].admin1_pcode".into(), "INVALID_FORMAT".into()),
        ]
    );
}

#[test]
fn a_group_is_unique_per_origin_and_area() {
    let repeated = report(vec![
        at(G::Migrant, "VEN", "CO54", "", 10),
        at(G::Migrant, "VEN", "CO08", "", 10),
        at(G::Migrant, "VEN", "CO54", "", 10),
    ]);
    let found = reasons(&repeated);
    assert_eq!(
        (found[0].0.as_str(), found[0].1.as_str()),
        ("population[2].group", "DUPLICATE_GROUP")
    );
    assert_eq!(
        found[0].2,
        "POPULATION_GROUP_MIGRANT from \"VEN\" in \"CO54\" appears more than once; report each group once per origin and area"
    );
}

/// 1,000 figures (a group in 1,000 second-level areas) fit in 64 KiB and are accepted; one more
/// is too many.
#[test]
fn a_report_may_give_a_thousand_area_figures() {
    let mut areas: Vec<PopulationFigure> = (0..MAX_POPULATION_FIGURES)
        .map(|i| PopulationFigure {
            source: String::new(),
            ..at(G::Idp, "", "CO05", &format!("CO05{i:03}X"), 10)
        })
        .collect();
    let report = report(areas.clone());
    assert!(
        report.encoded_len() <= MAX_REPORT_BYTES,
        "{}",
        report.encoded_len()
    );
    assert_eq!(codes(&report), vec![]);

    areas.push(at(G::Migrant, "", "", "", 1));
    let report = self::report(areas);
    assert_eq!(codes(&report), one("population", "TOO_MANY"));
}

fn progress(criterion: Criterion, share: f64, as_of: &str) -> SolutionsProgress {
    SolutionsProgress {
        criterion: criterion as i32,
        share,
        as_of: as_of.into(),
        source: "DTM durable solutions survey 2026".into(),
    }
}

fn in_solutions_phase(progress: Vec<SolutionsProgress>) -> SituationReport {
    SituationReport {
        scope: Scope::Internal as i32,
        phase: Phase::Solutions as i32,
        solutions_progress: progress,
        ..report(vec![at(G::ReturnedIdp, "", "", "", 40_000)])
    }
}

#[test]
fn solutions_progress_is_accepted_in_the_solutions_phase() {
    let report = in_solutions_phase(vec![
        progress(Criterion::Documentation, 0.31, "2026-02-01"),
        progress(Criterion::SafetyAndSecurity, 0.0, "2026-02-01"),
        progress(Criterion::Livelihoods, 1.0, "2026-03-01"),
    ]);
    assert_eq!(codes(&report), vec![]);
}

#[test]
fn solutions_progress_outside_the_solutions_phase_is_refused() {
    let mut report =
        in_solutions_phase(vec![progress(Criterion::Documentation, 0.31, "2026-02-01")]);
    report.phase = Phase::Protracted as i32;
    let found = reasons(&report);
    assert_eq!(
        found,
        vec![(
            "solutions_progress".into(),
            "CONFLICT".into(),
            "solutions_progress is only accepted on a report whose phase is PHASE_SOLUTIONS; this one's phase is PHASE_PROTRACTED".into()
        )]
    );
}

#[test]
fn each_criterion_once_with_a_share_between_0_and_1_and_a_past_date() {
    let report = in_solutions_phase(vec![
        progress(Criterion::Documentation, 0.31, "2026-02-01"),
        progress(Criterion::Documentation, 0.40, "2026-02-01"),
        progress(Criterion::Unspecified, 0.5, "2026-02-01"),
        progress(Criterion::Livelihoods, 1.01, "2026-02-01"),
        progress(Criterion::Participation, f64::NAN, "2026-02-01"),
        progress(Criterion::StandardOfLiving, -0.1, "2026-03-03"),
        SolutionsProgress {
            source: "call +41 22 739 81 11".into(),
            ..progress(Criterion::HousingLandAndProperty, 0.2, "1 Feb")
        },
    ]);
    assert_eq!(
        codes(&report),
        vec![
            (
                "solutions_progress[1].criterion".into(),
                "DUPLICATE_CRITERION".into()
            ),
            ("solutions_progress[2].criterion".into(), "REQUIRED".into()),
            ("solutions_progress[3].share".into(), "OUT_OF_RANGE".into()),
            ("solutions_progress[4].share".into(), "OUT_OF_RANGE".into()),
            ("solutions_progress[5].share".into(), "OUT_OF_RANGE".into()),
            ("solutions_progress[5].as_of".into(), "OUT_OF_RANGE".into()),
            (
                "solutions_progress[6].as_of".into(),
                "INVALID_FORMAT".into()
            ),
            (
                "solutions_progress[6].source".into(),
                "PERSONAL_DATA".into()
            ),
        ]
    );

    let mut nine = in_solutions_phase(
        (1..=8)
            .map(|c| {
                progress(
                    Criterion::try_from(c).expect("a criterion"),
                    0.5,
                    "2026-02-01",
                )
            })
            .collect(),
    );
    assert_eq!(codes(&nine), vec![]);
    nine.solutions_progress
        .push(progress(Criterion::Documentation, 0.5, "2026-02-01"));
    let found = codes(&nine);
    assert_eq!(found[0], ("solutions_progress".into(), "TOO_MANY".into()));
}
