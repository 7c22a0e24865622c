//! Figures that mean what they say (docs/design.md, "Leadership policy v1"): the reconciled
//! figures carry their date, source and origins; per-area figures add up when a report gives no
//! total; undetermined people in the majority make a mixed movement; an old authoritative figure
//! yields to the other agency's newer one; the solutions phase summarises progress against the
//! IASC criteria.

use tandem_leadership::policy::{Policy, determine, reconcile};
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Agency, Arrangement, Classification, CriterionProgress, DurableSolutionsCriterion as Criterion,
    LeadershipDetermination, OriginCount, Phase, PolicyParameter, PopulationFigure,
    PopulationGroup as G, RationaleEntry, Scope, SituationReport, SolutionsProgress,
};

const SHIPPED: &str = include_str!("../../../deploy/policy/leadership-v1.toml");

/// A cross-border report on the move from `agency`, with `figures` as given.
fn report(agency: Agency, id: &str, figures: Vec<PopulationFigure>) -> SituationReport {
    SituationReport {
        report_id: id.to_owned(),
        situation_id: "r4v-col".to_owned(),
        revision: 1,
        reporting_agency: agency as i32,
        reported_at: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        country: "COL".to_owned(),
        scope: Scope::CrossBorder as i32,
        phase: Phase::Emergency as i32,
        on_the_move: true,
        population: figures,
        ..Default::default()
    }
}

/// `count` people of `group` from `origin`, as of `as_of`, per DTM.
fn figure(group: G, count: u64, origin: &str, as_of: &str) -> PopulationFigure {
    PopulationFigure {
        group: group as i32,
        count,
        as_of: as_of.to_owned(),
        source: format!("source of {as_of}"),
        origin: origin.to_owned(),
        ..Default::default()
    }
}

/// The same figure in a first- (and second-) level area.
fn in_area(figure: PopulationFigure, admin1: &str, admin2: &str) -> PopulationFigure {
    PopulationFigure {
        admin1_pcode: admin1.to_owned(),
        admin2_pcode: admin2.to_owned(),
        ..figure
    }
}

fn run(policy: &Policy, reports: &[SituationReport]) -> LeadershipDetermination {
    determine(
        policy,
        reports,
        None,
        Timestamp {
            seconds: 1_800_000_000,
            nanos: 0,
        },
    )
}

fn entry<'a>(determination: &'a LeadershipDetermination, rule: &str) -> &'a RationaleEntry {
    determination
        .rationale
        .iter()
        .find(|entry| entry.rule_id == rule)
        .unwrap_or_else(|| panic!("no {rule} entry in {:#?}", determination.rationale))
}

fn rule_ids(determination: &LeadershipDetermination) -> Vec<&str> {
    determination
        .rationale
        .iter()
        .map(|entry| entry.rule_id.as_str())
        .collect()
}

fn parameter(name: &str, value: &str) -> PolicyParameter {
    PolicyParameter {
        name: name.to_owned(),
        value: value.to_owned(),
        policy_version: "v1".to_owned(),
    }
}

#[test]
fn the_origin_and_undetermined_status_figures_flow_into_determinations() {
    let policy = Policy::default_v1();
    // R4V-style: 6,000 refugees and migrants of undetermined status, from two origins, beside
    // 3,000 refugees and 2,000 migrants: 6,000 of 11,000 counted, more than half.
    let iom = report(
        Agency::Iom,
        "dtm-r4v-7",
        vec![
            figure(G::Undetermined, 5_000, "VEN", "2026-01-31"),
            figure(G::Undetermined, 1_000, "HTI", "2026-01-15"),
            figure(G::Migrant, 2_000, "", "2026-01-31"),
            figure(G::Refugee, 3_000, "VEN", "2026-01-31"),
        ],
    );
    let determination = run(&policy, std::slice::from_ref(&iom));
    assert_eq!(
        determination.classification(),
        Classification::MixedMovement
    );
    assert_eq!(determination.arrangement(), Arrangement::JointPlatform);
    assert_eq!(
        determination.lead_agencies,
        [Agency::Iom as i32, Agency::Unhcr as i32]
    );
    assert_eq!(rule_ids(&determination), ["undetermined_majority"]);
    let why = entry(&determination, "undetermined_majority");
    assert_eq!(why.clause, "FoE B.1 mixed movements");
    assert_eq!(
        why.text,
        "6,000 refugees and migrants whose status is not determined are more than 0.50 of the 11,000 people counted across borders (3,000 in UNHCR's mandate population, 2,000 migrants): their flows cannot be told apart, so this is a mixed movement; IOM and UNHCR co-lead a joint platform."
    );
    assert_eq!(
        why.parameters,
        [parameter("thresholds.undetermined_majority", "0.50")]
    );

    // The undetermined figure keeps its origins (sorted), its oldest date and that date's source.
    let undetermined = determination
        .figures
        .iter()
        .find(|figure| figure.group == G::Undetermined as i32)
        .expect("the undetermined figure");
    assert_eq!(undetermined.count, 6_000);
    assert_eq!(undetermined.as_of, "2026-01-15");
    assert_eq!(undetermined.source, "source of 2026-01-15");
    assert_eq!(
        undetermined.origins,
        [
            OriginCount {
                origin: "HTI".to_owned(),
                count: 1_000
            },
            OriginCount {
                origin: "VEN".to_owned(),
                count: 5_000
            },
        ]
    );
    let migrants = &determination.figures[1];
    assert_eq!(
        (
            migrants.group,
            migrants.as_of.as_str(),
            migrants.origins.len()
        ),
        (G::Migrant as i32, "2026-01-31", 0)
    );

    // Exactly half is not a majority: the protection share decides (3,000 / 5,000 = 0.60).
    let mut half = iom.clone();
    half.population[0].count = 4_000;
    let determination = run(&policy, &[half]);
    assert_eq!(rule_ids(&determination), ["mixed_movement"]);

    // Only undetermined people: a mixed movement, not a cross-border situation without figures.
    let only = report(
        Agency::Iom,
        "dtm-r4v-8",
        vec![figure(G::Undetermined, 900, "VEN", "2026-01-31")],
    );
    let determination = run(&policy, std::slice::from_ref(&only));
    assert_eq!(rule_ids(&determination), ["undetermined_majority"]);

    // Inside a country, undetermined status says nothing of a border crossing: no rule.
    let internal = SituationReport {
        scope: Scope::Internal as i32,
        ..iom.clone()
    };
    assert_eq!(
        run(&policy, &[internal]).classification(),
        Classification::IdpSituation
    );

    // A policy may turn the rule off (1), or require a larger majority.
    let off = Policy::from_toml(
        &SHIPPED.replace("undetermined_majority = 0.5", "undetermined_majority = 1"),
    )
    .expect("a valid policy");
    assert_eq!(rule_ids(&run(&off, &[only])), ["no_figures"]);
    let two_thirds = Policy::from_toml(
        &SHIPPED.replace("undetermined_majority = 0.5", "undetermined_majority = 0.6"),
    )
    .expect("a valid policy");
    assert_eq!(
        rule_ids(&run(&two_thirds, std::slice::from_ref(&iom))),
        ["mixed_movement"],
        "6,000 of 11,000 is below 0.6"
    );
    let refused = Policy::from_toml(
        &SHIPPED.replace("undetermined_majority = 0.5", "undetermined_majority = 0.4"),
    )
    .expect_err("a minority is refused");
    assert_eq!(
        refused.problems()[0].to_string(),
        "thresholds.undetermined_majority: is 0.40, but must lie between 0.5 and 1 (a majority of the people counted across borders; 1 turns the rule off)"
    );
}

#[test]
fn per_area_figures_count_as_the_sum_of_their_areas_when_no_total_is_given() {
    let policy = Policy::default_v1();
    let areas_only = report(
        Agency::Unhcr,
        "unhcr-areas",
        vec![
            in_area(figure(G::Refugee, 700, "VEN", "2026-02-01"), "CO54", ""),
            // A department given by its municipalities only.
            in_area(
                figure(G::Refugee, 200, "VEN", "2026-01-20"),
                "CO08",
                "CO08001",
            ),
            in_area(
                figure(G::Refugee, 100, "VEN", "2026-02-01"),
                "CO08",
                "CO08758",
            ),
            // Municipalities of a department that has its own figure: already in it.
            in_area(
                figure(G::Refugee, 300, "VEN", "2026-02-01"),
                "CO54",
                "CO54001",
            ),
            // A whole-country figure beside its areas is the figure.
            figure(G::Migrant, 5_000, "", "2026-02-01"),
            in_area(figure(G::Migrant, 4_000, "", "2026-02-01"), "CO54", ""),
        ],
    );
    let reports = [areas_only];
    let reconciled = reconcile(&policy, &reports);
    let counts: Vec<(i32, u64, &str)> = reconciled
        .figures
        .iter()
        .map(|figure| (figure.group, figure.count, figure.as_of.as_str()))
        .collect();
    assert_eq!(
        counts,
        [
            (G::Refugee as i32, 1_000, "2026-01-20"),
            (G::Migrant as i32, 5_000, "2026-02-01"),
        ]
    );
    assert_eq!(
        reconciled.figures[0].origins,
        [OriginCount {
            origin: "VEN".to_owned(),
            count: 1_000
        }]
    );
    assert_eq!((reconciled.protection, reconciled.migrants), (1_000, 5_000));
}

#[test]
fn an_old_authoritative_figure_yields_after_its_age_with_a_rationale() {
    let policy = Policy::default_v1();
    let unhcr_refugees = |as_of: &str| {
        report(
            Agency::Unhcr,
            "unhcr-2024",
            vec![
                figure(G::Refugee, 10_000, "", as_of),
                figure(G::Migrant, 1_000, "", "2025-06-30"),
            ],
        )
    };
    let iom = report(
        Agency::Iom,
        "dtm-2025",
        vec![
            figure(G::Refugee, 12_000, "", "2025-06-30"),
            figure(G::Migrant, 1_500, "", "2025-06-30"),
        ],
    );

    // 366 days before IOM's: UNHCR's refugees yield; IOM's newer figure counts.
    let reports = [unhcr_refugees("2024-06-29"), iom.clone()];
    let determination = run(&policy, &reports);
    let refugees = &determination.figures[0];
    assert_eq!(
        (
            refugees.count,
            refugees.source_agency,
            refugees.report_id.as_str(),
            refugees.as_of.as_str()
        ),
        (12_000, Agency::Iom as i32, "dtm-2025", "2025-06-30")
    );
    let why = entry(&determination, "authority_yielded");
    assert_eq!(why.clause, "FoE B.3 data");
    assert_eq!(
        why.text,
        "UNHCR's figure of 10,000 refugees (as of 2024-06-29) is more than 365 days older than IOM's figure of 12,000 (as of 2025-06-30): the newer figure counts."
    );
    assert_eq!(
        why.parameters,
        [parameter("authority.yield_after_days", "365")]
    );
    // Migrants: IOM is authoritative and its figure is the newer one; nothing yields.
    assert_eq!(
        determination
            .rationale
            .iter()
            .filter(|e| e.rule_id == "authority_yielded")
            .count(),
        1
    );
    assert_eq!(determination.figures[1].count, 1_500);

    // 365 days exactly: not older than the limit, the authority's figure stands.
    let determination = run(&policy, &[unhcr_refugees("2024-06-30"), iom.clone()]);
    assert_eq!(determination.figures[0].count, 10_000);
    assert!(!rule_ids(&determination).contains(&"authority_yielded"));

    // Measured between the figures, not against the clock: the same reports determined years
    // later give the same figure.
    let later = determine(
        &policy,
        &reports,
        None,
        Timestamp {
            seconds: 2_500_000_000,
            nanos: 0,
        },
    );
    assert_eq!(later.figures, run(&policy, &reports).figures);

    // 0: an authoritative figure never yields.
    let never =
        Policy::from_toml(&SHIPPED.replace("yield_after_days = 365", "yield_after_days = 0"))
            .expect("a valid policy");
    let determination = run(&never, &reports);
    assert_eq!(determination.figures[0].count, 10_000);
    assert!(!rule_ids(&determination).contains(&"authority_yielded"));

    let refused =
        Policy::from_toml(&SHIPPED.replace("yield_after_days = 365", "yield_after_days = -1"))
            .expect_err("a negative age is refused");
    assert_eq!(
        refused.problems()[0].to_string(),
        "authority.yield_after_days: must be a whole number of days from 0 (an authoritative figure never yields) to 36500"
    );
}

fn progress(criterion: Criterion, share: f64, as_of: &str) -> SolutionsProgress {
    SolutionsProgress {
        criterion: criterion as i32,
        share,
        as_of: as_of.to_owned(),
        source: format!("survey of {as_of}"),
    }
}

fn in_solutions(agency: Agency, id: &str, progress: Vec<SolutionsProgress>) -> SituationReport {
    SituationReport {
        scope: Scope::Internal as i32,
        phase: Phase::Solutions as i32,
        solutions_progress: progress,
        ..report(
            agency,
            id,
            vec![figure(G::ReturnedIdp, 40_000, "", "2026-01-31")],
        )
    }
}

#[test]
fn solutions_progress_appears_in_the_determination() {
    let policy = Policy::default_v1();
    let iom = in_solutions(
        Agency::Iom,
        "dtm-ds-1",
        vec![
            progress(Criterion::Documentation, 0.31, "2026-01-31"),
            progress(Criterion::SafetyAndSecurity, 0.80, "2025-12-01"),
            progress(Criterion::Livelihoods, 0.45, "2026-01-31"),
        ],
    );
    let unhcr = in_solutions(
        Agency::Unhcr,
        "unhcr-ds-1",
        vec![
            // Newer than IOM's: counts.
            progress(Criterion::SafetyAndSecurity, 0.70, "2026-01-15"),
            // Older than IOM's: does not.
            progress(Criterion::Documentation, 0.50, "2025-11-30"),
            // Same date as IOM's, accepted later: counts.
            progress(Criterion::Livelihoods, 0.40, "2026-01-31"),
        ],
    );
    // A partner's later survey does not displace the agencies' shares; it fills in a criterion
    // neither agency gives.
    let partner = SituationReport {
        reporter_org: "nrc".to_owned(),
        ..in_solutions(
            Agency::Partner,
            "nrc-ds-1",
            vec![
                progress(Criterion::Documentation, 0.95, "2026-02-15"),
                progress(Criterion::Participation, 0.60, "2026-02-15"),
            ],
        )
    };
    let determination = run(&policy, &[iom, unhcr, partner]);
    assert_eq!(
        determination.classification(),
        Classification::IdpDurableSolutions
    );
    let solutions = determination.solutions.as_ref().expect("a summary");
    let row = |criterion: Criterion, share: f64, as_of: &str, agency: Agency, id: &str| {
        CriterionProgress {
            criterion: criterion as i32,
            share,
            as_of: as_of.to_owned(),
            source: format!("survey of {as_of}"),
            source_agency: agency as i32,
            report_id: id.to_owned(),
        }
    };
    assert_eq!(
        solutions.criteria,
        [
            row(
                Criterion::SafetyAndSecurity,
                0.70,
                "2026-01-15",
                Agency::Unhcr,
                "unhcr-ds-1"
            ),
            row(
                Criterion::Livelihoods,
                0.40,
                "2026-01-31",
                Agency::Unhcr,
                "unhcr-ds-1"
            ),
            row(
                Criterion::Documentation,
                0.31,
                "2026-01-31",
                Agency::Iom,
                "dtm-ds-1"
            ),
            row(
                Criterion::Participation,
                0.60,
                "2026-02-15",
                Agency::Partner,
                "nrc-ds-1"
            ),
        ]
    );
    assert_eq!(solutions.criteria_reported, 4);
    assert_eq!(solutions.weakest(), Criterion::Documentation);
    assert_eq!(
        rule_ids(&determination),
        ["idp_durable_solutions", "solutions_progress"]
    );
    let why = entry(&determination, "solutions_progress");
    assert_eq!(why.clause, "IASC Framework on Durable Solutions");
    assert_eq!(
        why.text,
        "4 of 8 IASC durable solutions criteria reported; weakest: documentation 0.31 (as of 2026-01-31)."
    );
    assert!(why.parameters.is_empty());

    // Outside the solutions phase there is no summary, whatever an old report carried.
    let mut emergency = in_solutions(
        Agency::Iom,
        "dtm-ds-2",
        vec![progress(Criterion::Documentation, 0.31, "2026-01-31")],
    );
    emergency.phase = Phase::Protracted as i32;
    let determination = run(&policy, &[emergency]);
    assert_eq!(determination.solutions, None);
    assert!(!rule_ids(&determination).contains(&"solutions_progress"));

    // In the solutions phase without any progress reported: no summary either.
    let silent = in_solutions(Agency::Iom, "dtm-ds-3", vec![]);
    assert_eq!(run(&policy, &[silent]).solutions, None);
}
