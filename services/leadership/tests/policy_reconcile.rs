//! Reconciliation of IOM's, UNHCR's and a partner's reports on one situation, given in the order
//! intake accepted them: the authoritative agency's figure wins for its groups, otherwise the
//! most recently accepted; situation facts come from the most recently accepted report of an
//! organisation allowed to set them (IOM and UNHCR by default), never from the reporter's clock;
//! IOM/UNHCR figures that differ by more than 25% are a discrepancy.

use tandem_leadership::policy::{Policy, determine, reconcile};
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Agency, Classification, Discrepancy, Driver, OriginCount, Phase, PopulationFigure,
    PopulationGroup, ReconciledFigure, Scope, SituationReport,
};

use PopulationGroup as G;

fn report(
    agency: Agency,
    org: &str,
    id: &str,
    seconds: i64,
    figures: &[(PopulationGroup, u64)],
) -> SituationReport {
    SituationReport {
        report_id: id.to_owned(),
        situation_id: "darien".to_owned(),
        revision: 2,
        reporting_agency: agency as i32,
        reporter_org: org.to_owned(),
        reported_at: Some(Timestamp { seconds, nanos: 0 }),
        country: "PAN".to_owned(),
        scope: Scope::CrossBorder as i32,
        driver: Driver::Mixed as i32,
        phase: Phase::Emergency as i32,
        on_the_move: true,
        population: figures
            .iter()
            .map(|(group, count)| PopulationFigure {
                group: *group as i32,
                count: *count,
                as_of: "2024-05-01".to_owned(),
                source: id.to_owned(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// IOM (oldest), UNHCR, then a partner (most recent).
fn three_reports() -> Vec<SituationReport> {
    vec![
        report(
            Agency::Iom,
            "",
            "dtm-12",
            1_000,
            &[
                (G::Migrant, 40_000),
                (G::Refugee, 9_800),
                (G::AsylumSeeker, 12_000),
                (G::Stateless, 30),
                (G::HostCommunity, 25_000),
            ],
        ),
        report(
            Agency::Unhcr,
            "",
            "unhcr-77",
            2_000,
            &[
                (G::Refugee, 14_300),
                (G::AsylumSeeker, 11_500),
                (G::Migrant, 60_000),
            ],
        ),
        SituationReport {
            on_the_move: false,
            ..report(
                Agency::Partner,
                "hias",
                "hias-5",
                3_000,
                &[
                    (G::Migrant, 39_000),
                    (G::Stateless, 45),
                    (G::ReturnedRefugee, 350),
                    (G::Refugee, 99_999),
                ],
            )
        },
    ]
}

/// The figure reconciled from report `id`, which dates its figures 2024-05-01 and names itself
/// as their source.
fn figure(group: PopulationGroup, count: u64, agency: Agency, id: &str) -> ReconciledFigure {
    ReconciledFigure {
        group: group as i32,
        count,
        source_agency: agency as i32,
        report_id: id.to_owned(),
        as_of: "2024-05-01".to_owned(),
        source: id.to_owned(),
        ..Default::default()
    }
}

#[test]
fn authoritative_agency_wins_else_the_most_recent() {
    let policy = Policy::default_v1();
    let reports = three_reports();
    let reconciled = reconcile(&policy, &reports);
    assert_eq!(
        reconciled.figures,
        vec![
            // UNHCR is authoritative for refugees: its figure, though IOM and the partner also
            // report refugees and the partner more recently.
            figure(G::Refugee, 14_300, Agency::Unhcr, "unhcr-77"),
            figure(G::AsylumSeeker, 11_500, Agency::Unhcr, "unhcr-77"),
            // UNHCR did not report stateless people: the most recent figure, the partner's.
            figure(G::Stateless, 45, Agency::Partner, "hias-5"),
            // IOM is authoritative for migrants, though UNHCR and the partner report later.
            figure(G::Migrant, 40_000, Agency::Iom, "dtm-12"),
            figure(G::ReturnedRefugee, 350, Agency::Partner, "hias-5"),
            // Host communities are reconciled and listed, but do not count.
            figure(G::HostCommunity, 25_000, Agency::Iom, "dtm-12"),
        ]
    );
    assert_eq!(reconciled.protection, 14_300 + 11_500 + 45 + 350);
    assert_eq!(reconciled.migrants, 40_000);
    assert_eq!(reconciled.displaced, 0);
    assert_eq!(reconciled.uncounted, 25_000);
    assert_eq!(
        reconciled.latest.map(|r| r.report_id.as_str()),
        Some("hias-5")
    );
}

#[test]
fn discrepancies_compare_iom_and_unhcr_only() {
    let policy = Policy::default_v1();
    let reports = three_reports();
    let reconciled = reconcile(&policy, &reports);
    // Refugees: 9,800 vs 14,300 differ by 31% of the larger (> 25%). Asylum seekers: 12,000 vs
    // 11,500, 4%: fine. Migrants: 40,000 vs 60,000, 33%. The partner's 99,999 refugees are no
    // discrepancy: only IOM and UNHCR figures are compared.
    assert_eq!(
        reconciled.discrepancies,
        vec![
            Discrepancy {
                group: G::Refugee as i32,
                iom_count: 9_800,
                unhcr_count: 14_300,
                relative_difference: 4_500.0 / 14_300.0,
                new: false,
            },
            Discrepancy {
                group: G::Migrant as i32,
                iom_count: 40_000,
                unhcr_count: 60_000,
                relative_difference: 20_000.0 / 60_000.0,
                new: false,
            },
        ]
    );
}

#[test]
fn a_difference_of_exactly_the_tolerance_is_no_discrepancy() {
    let policy = Policy::default_v1();
    let at_tolerance = [
        report(Agency::Iom, "", "i", 1, &[(G::Idp, 1_000)]),
        report(Agency::Unhcr, "", "u", 2, &[(G::Idp, 750)]),
    ];
    assert!(reconcile(&policy, &at_tolerance).discrepancies.is_empty());
    let beyond = [
        report(Agency::Iom, "", "i", 1, &[(G::Idp, 1_000)]),
        report(Agency::Unhcr, "", "u", 2, &[(G::Idp, 749)]),
    ];
    assert_eq!(reconcile(&policy, &beyond).discrepancies.len(), 1);
}

#[test]
fn the_determination_reads_the_most_recent_report_and_explains_the_discrepancies() {
    let policy = Policy::default_v1();
    let d = determine(
        &policy,
        &three_reports(),
        None,
        Timestamp {
            seconds: 4_000,
            nanos: 0,
        },
    );
    // P = 26,195, M = 40,000: share 0.40. The partner's report is the most recent and says
    // people are not travelling together, but partners contribute figures only: UNHCR's report
    // (on the move) sets the fact, so this is a mixed movement.
    assert_eq!(d.classification(), Classification::MixedMovement);
    assert_eq!(d.situation_id, "darien");
    assert_eq!(d.country, "PAN");
    let ids: Vec<&str> = d.rationale.iter().map(|e| e.rule_id.as_str()).collect();
    assert_eq!(ids, ["mixed_movement", "discrepancy", "discrepancy"]);
    assert!(
        d.rationale[0]
            .text
            .starts_with("Protection share 0.40 between migrant threshold 0.20 and refugee threshold 0.80 (26,195 in UNHCR's mandate population, 40,000 migrants)"),
        "{}",
        d.rationale[0].text
    );
    assert_eq!(d.rationale[1].clause, "FoE B.3 data");
    assert_eq!(
        d.rationale[1].text,
        "IOM reports 9,800 and UNHCR 14,300 refugees: the figures differ by 31% of the larger, more than the 25% tolerance; the data focal points of both agencies reconcile them."
    );
    assert!(d.rationale[2].text.starts_with(
        "IOM reports 40,000 and UNHCR 60,000 migrants: the figures differ by 33% of the larger"
    ));
    assert_eq!(d.discrepancies.len(), 2);
    assert_eq!(d.figures.len(), 6);
    // One reference per report, sorted by agency.
    let refs: Vec<(i32, &str, &str, u32)> = d
        .based_on
        .iter()
        .map(|r| {
            (
                r.reporting_agency,
                r.reporter_org.as_str(),
                r.report_id.as_str(),
                r.revision,
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            (Agency::Iom as i32, "", "dtm-12", 2),
            (Agency::Unhcr as i32, "", "unhcr-77", 2),
            (Agency::Partner as i32, "hias", "hias-5", 2),
        ]
    );
}

#[test]
fn acceptance_order_decides_recency_not_the_reporters_clock() {
    let policy = Policy::default_v1();
    let at = Timestamp {
        seconds: 9,
        nanos: 0,
    };
    // Two partners report stateless people; the one accepted last wins, although the other's
    // clock says it reported later.
    let ahead = report(Agency::Partner, "alpha", "a-1", 500, &[(G::Stateless, 10)]);
    let behind = report(Agency::Partner, "beta", "b-1", 5, &[(G::Stateless, 20)]);
    let accepted_last = determine(&policy, &[ahead.clone(), behind.clone()], None, at);
    assert_eq!(accepted_last.figures[0].report_id, "b-1");
    let swapped = determine(&policy, &[behind, ahead], None, at);
    assert_eq!(swapped.figures[0].report_id, "a-1");

    // UNHCR's clock runs an hour ahead: IOM's report, accepted after it, still sets the facts.
    let unhcr_ahead = SituationReport {
        phase: Phase::Emergency as i32,
        ..report(Agency::Unhcr, "", "u-1", 3_600 + 100, &[(G::Refugee, 500)])
    };
    let iom_later = SituationReport {
        phase: Phase::Protracted as i32,
        on_the_move: false,
        ..report(Agency::Iom, "", "i-1", 100, &[(G::Migrant, 500)])
    };
    let in_order = [unhcr_ahead.clone(), iom_later.clone()];
    let reconciled = reconcile(&policy, &in_order);
    assert_eq!(reconciled.facts.phase(), Phase::Protracted);
    assert!(!reconciled.facts.on_the_move());
    assert_eq!(reconciled.latest.map(|r| r.report_id.as_str()), Some("i-1"));
    let swapped = [iom_later, unhcr_ahead];
    let reversed = reconcile(&policy, &swapped);
    assert_eq!(reversed.facts.phase(), Phase::Emergency);
    assert!(reversed.facts.on_the_move());
}

#[test]
fn partner_reports_do_not_change_scope_or_phase_under_the_default_policy() {
    let policy = Policy::default_v1();
    let at = Timestamp {
        seconds: 9,
        nanos: 0,
    };
    let internal = |agency, org: &str, id: &str, phase: Phase| SituationReport {
        scope: Scope::Internal as i32,
        driver: Driver::Conflict as i32,
        phase: phase as i32,
        ..report(agency, org, id, 10, &[(G::Idp, 1_000)])
    };
    let iom = internal(Agency::Iom, "", "dtm-1", Phase::Emergency);
    let partner = SituationReport {
        scope: Scope::CrossBorder as i32,
        ..internal(Agency::Partner, "nrc", "nrc-1", Phase::Solutions)
    };
    let d = determine(&policy, &[iom.clone(), partner.clone()], None, at);
    assert_eq!(d.classification(), Classification::IdpSituation);
    // Its report is still reconciled (its figures count where IOM and UNHCR gave none).
    assert!(d.based_on.iter().any(|r| r.report_id == "nrc-1"));
    // With no IOM or UNHCR report, the facts are unknown: IOM and UNHCR assess jointly.
    let alone = determine(&policy, std::slice::from_ref(&partner), None, at);
    assert_eq!(
        alone.classification(),
        Classification::PendingJointAssessment
    );
    assert_eq!(alone.rationale[0].rule_id, "unknown_scope");
    // A policy that lets partners set the phase follows the partner.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/policy/leadership-v1.toml"
    ))
    .unwrap_or_else(|error| panic!("policy file: {error}"));
    let trusting = Policy::from_toml(&text.replace(
        "phase = [\"iom\", \"unhcr\"]",
        "phase = [\"iom\", \"unhcr\", \"partner\"]",
    ))
    .unwrap_or_else(|error| panic!("{error}"));
    let d = determine(&trusting, &[iom, partner], None, at);
    assert_eq!(d.classification(), Classification::IdpDurableSolutions);
}

#[test]
fn an_authoritative_figure_wins_even_when_older_and_smaller() {
    let policy = Policy::default_v1();
    let reports = [
        report(Agency::Unhcr, "", "u-old", 10, &[(G::Refugee, 5)]),
        report(Agency::Iom, "", "i-new", 20, &[(G::Refugee, 5_000)]),
        report(Agency::Partner, "nrc", "p-new", 30, &[(G::Idp, 70)]),
        report(Agency::Iom, "", "i-idp", 5, &[(G::Idp, 60)]),
    ];
    let reconciled = reconcile(&policy, &reports);
    assert_eq!(
        reconciled.figures,
        vec![
            figure(G::Refugee, 5, Agency::Unhcr, "u-old"),
            figure(G::Idp, 60, Agency::Iom, "i-idp"),
        ]
    );
    // 5 vs 5,000 refugees: a discrepancy of 99.9%.
    assert_eq!(reconciled.discrepancies.len(), 1);
}

#[test]
fn a_discrepancy_is_new_only_when_the_previous_determination_did_not_list_it() {
    let policy = Policy::default_v1();
    let at = Timestamp {
        seconds: 4_000,
        nanos: 0,
    };
    let new_groups = |d: &tandem_proto::v1::LeadershipDetermination| -> Vec<(i32, bool)> {
        d.discrepancies.iter().map(|x| (x.group, x.new)).collect()
    };
    // The situation's first determination: both discrepancies are news.
    let first = determine(&policy, &three_reports(), None, at);
    assert_eq!(
        new_groups(&first),
        [(G::Refugee as i32, true), (G::Migrant as i32, true)]
    );
    // Determined again on the same figures: nothing new.
    let again = determine(&policy, &three_reports(), Some(&first), at);
    assert_eq!(
        new_groups(&again),
        [(G::Refugee as i32, false), (G::Migrant as i32, false)]
    );
    // After a determination that had only the refugee discrepancy, the migrant one is new.
    let mut refugees_only = first.clone();
    refugees_only
        .discrepancies
        .retain(|d| d.group == G::Refugee as i32);
    let after = determine(&policy, &three_reports(), Some(&refugees_only), at);
    assert_eq!(
        new_groups(&after),
        [(G::Refugee as i32, false), (G::Migrant as i32, true)]
    );
}

#[test]
fn a_groups_figures_from_two_origins_are_summed_not_overwritten() {
    let policy = Policy::default_v1();
    let mut unhcr = report(
        Agency::Unhcr,
        "",
        "unhcr-78",
        1_000,
        &[(G::Refugee, 14_000), (G::Refugee, 2_500), (G::Migrant, 100)],
    );
    unhcr.population[0].origin = "VEN".to_owned();
    unhcr.population[1].origin = "HTI".to_owned();
    // A later report from IOM replaces IOM's figures, not UNHCR's refugees from either origin.
    let iom = report(Agency::Iom, "", "dtm-13", 2_000, &[(G::Migrant, 30_000)]);
    let reports = [unhcr, iom];
    let reconciled = reconcile(&policy, &reports);
    assert_eq!(
        reconciled.figures,
        vec![
            ReconciledFigure {
                origins: vec![
                    OriginCount {
                        origin: "HTI".to_owned(),
                        count: 2_500
                    },
                    OriginCount {
                        origin: "VEN".to_owned(),
                        count: 14_000
                    },
                ],
                ..figure(G::Refugee, 16_500, Agency::Unhcr, "unhcr-78")
            },
            figure(G::Migrant, 30_000, Agency::Iom, "dtm-13"),
        ]
    );
    assert_eq!(reconciled.protection, 16_500);
    assert_eq!(reconciled.migrants, 30_000);
}
