//! The leadership policy v1, rule by rule: one case per rule and per threshold boundary (0.80
//! and 0.20 exactly, just inside, just outside), internal conflict, disaster and solutions, no
//! figures, host communities only, designations; then hysteresis sequences in both directions.
//! Each case states what a coordinator would check: classification, arrangement, who leads,
//! which rules fired, and the numbers in the rationale.

use tandem_leadership::policy::{Policy, determine};
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Agency, Arrangement, Classification, Driver, LeadershipDetermination, LeadershipFunction,
    Phase, PopulationFigure, PopulationGroup, Scope, SituationReport,
};

use Agency::{Iom, Partner, Unhcr};
use PopulationGroup as G;

/// A UNHCR report on situation `sit-1` in Colombia, emergency phase, conflict-driven.
fn report(scope: Scope, figures: &[(PopulationGroup, u64)]) -> SituationReport {
    SituationReport {
        report_id: "unhcr-1".to_owned(),
        situation_id: "sit-1".to_owned(),
        revision: 1,
        reporting_agency: Unhcr as i32,
        reported_at: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        country: "COL".to_owned(),
        scope: scope as i32,
        driver: Driver::Conflict as i32,
        phase: Phase::Emergency as i32,
        on_the_move: true,
        population: figures
            .iter()
            .map(|(group, count)| PopulationFigure {
                group: *group as i32,
                count: *count,
                as_of: "2024-01-01".to_owned(),
                source: "test".to_owned(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A cross-border report with `refugees` in P and `migrants` in M, people on the move together.
fn cross(refugees: u64, migrants: u64) -> SituationReport {
    report(
        Scope::CrossBorder,
        &[(G::Refugee, refugees), (G::Migrant, migrants)],
    )
}

fn at(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

fn run(reports: &[SituationReport]) -> LeadershipDetermination {
    determine(&Policy::default_v1(), reports, None, at(1_700_000_100))
}

fn rule_ids(determination: &LeadershipDetermination) -> Vec<&str> {
    determination
        .rationale
        .iter()
        .map(|entry| entry.rule_id.as_str())
        .collect()
}

fn agencies(values: &[Agency]) -> Vec<i32> {
    values.iter().map(|agency| *agency as i32).collect()
}

/// The functions as (function, agencies) pairs, in output order.
fn functions(determination: &LeadershipDetermination) -> Vec<(LeadershipFunction, Vec<i32>)> {
    determination
        .functions
        .iter()
        .map(|assignment| {
            (
                LeadershipFunction::try_from(assignment.function)
                    .unwrap_or(LeadershipFunction::Unspecified),
                assignment.agencies.clone(),
            )
        })
        .collect()
}

/// The five FoE functions, each held by `holders`.
fn five(holders: &[Agency]) -> Vec<(LeadershipFunction, Vec<i32>)> {
    use LeadershipFunction::*;
    [
        StrategicPlanning,
        EngagementWithStates,
        DataManagement,
        ResourceMobilization,
        InclusiveCoordination,
    ]
    .into_iter()
    .map(|function| (function, agencies(holders)))
    .collect()
}

/// One row of the table.
struct Case {
    name: &'static str,
    reports: Vec<SituationReport>,
    classification: Classification,
    arrangement: Arrangement,
    leads: &'static [Agency],
    rules: &'static [&'static str],
    /// A piece of the classification rule's text, with its numbers.
    text: &'static str,
}

#[test]
fn one_case_per_rule_and_per_boundary() {
    use Arrangement as A;
    use Classification as C;
    let internal = |driver: Driver, phase: Phase| SituationReport {
        driver: driver as i32,
        phase: phase as i32,
        ..report(Scope::Internal, &[(G::Idp, 5_000), (G::ReturnedIdp, 1_000)])
    };
    let not_moving = SituationReport {
        on_the_move: false,
        ..cross(500, 500)
    };
    let cases = vec![
        Case {
            name: "clearly refugee (0.90)",
            reports: vec![cross(900, 100)],
            classification: C::RefugeeSituation,
            arrangement: A::RefugeeCoordinationModel,
            leads: &[Unhcr],
            rules: &["refugee_situation"],
            text: "Protection share 0.90 ≥ refugee threshold 0.80 (900 in UNHCR's mandate population, 100 migrants)",
        },
        Case {
            name: "exactly 0.80 is a refugee situation",
            reports: vec![cross(800, 200)],
            classification: C::RefugeeSituation,
            arrangement: A::RefugeeCoordinationModel,
            leads: &[Unhcr],
            rules: &["refugee_situation"],
            text: "Protection share 0.80 ≥ refugee threshold 0.80",
        },
        Case {
            name: "just above 0.80",
            reports: vec![cross(8_001, 1_999)],
            classification: C::RefugeeSituation,
            arrangement: A::RefugeeCoordinationModel,
            leads: &[Unhcr],
            rules: &["refugee_situation"],
            text: "Protection share 0.8001 ≥ refugee threshold 0.80",
        },
        Case {
            name: "just below 0.80 is mixed",
            reports: vec![cross(7_999, 2_001)],
            classification: C::MixedMovement,
            arrangement: A::JointPlatform,
            leads: &[Iom, Unhcr],
            rules: &["mixed_movement"],
            text: "Protection share 0.7999 between migrant threshold 0.20 and refugee threshold 0.80 (7,999 in UNHCR's mandate population, 2,001 migrants)",
        },
        Case {
            name: "a share that rounds to 0.80 but is below it stays mixed",
            reports: vec![cross(799_999_999, 200_000_001)],
            classification: C::MixedMovement,
            arrangement: A::JointPlatform,
            leads: &[Iom, Unhcr],
            rules: &["mixed_movement"],
            text: "Protection share 0.799999 between",
        },
        Case {
            name: "exactly 0.20 is a migrant situation",
            reports: vec![cross(200, 800)],
            classification: C::MigrantSituation,
            arrangement: A::IomLedResponse,
            leads: &[Iom],
            rules: &["migrant_situation"],
            text: "Protection share 0.20 ≤ migrant threshold 0.20 (200 in UNHCR's mandate population, 800 migrants)",
        },
        Case {
            name: "just below 0.20",
            reports: vec![cross(1_999, 8_001)],
            classification: C::MigrantSituation,
            arrangement: A::IomLedResponse,
            leads: &[Iom],
            rules: &["migrant_situation"],
            text: "Protection share 0.1999 ≤ migrant threshold 0.20",
        },
        Case {
            name: "just above 0.20 is mixed",
            reports: vec![cross(2_001, 7_999)],
            classification: C::MixedMovement,
            arrangement: A::JointPlatform,
            leads: &[Iom, Unhcr],
            rules: &["mixed_movement"],
            text: "Protection share 0.2001 between migrant threshold 0.20",
        },
        Case {
            name: "clearly migrant (0.05)",
            reports: vec![cross(50, 950)],
            classification: C::MigrantSituation,
            arrangement: A::IomLedResponse,
            leads: &[Iom],
            rules: &["migrant_situation"],
            text: "Protection share 0.05 ≤ migrant threshold 0.20",
        },
        Case {
            name: "in between, not on the move: respective mandates",
            reports: vec![not_moving],
            classification: C::RespectiveMandates,
            arrangement: A::RespectiveMandates,
            leads: &[Iom, Unhcr],
            rules: &["respective_mandates"],
            text: "Protection share 0.50 between migrant threshold 0.20 and refugee threshold 0.80 (500 in UNHCR's mandate population, 500 migrants), not travelling together",
        },
        Case {
            name: "P counts every protection group, host communities do not count",
            reports: vec![report(
                Scope::CrossBorder,
                &[
                    (G::Refugee, 100),
                    (G::AsylumSeeker, 200),
                    (G::OtherInNeedOfProtection, 100),
                    (G::Stateless, 100),
                    (G::ReturnedRefugee, 300),
                    (G::Migrant, 200),
                    (G::HostCommunity, 1_000_000),
                ],
            )],
            classification: C::RefugeeSituation,
            arrangement: A::RefugeeCoordinationModel,
            leads: &[Unhcr],
            rules: &["refugee_situation"],
            text: "Protection share 0.80 ≥ refugee threshold 0.80 (800 in UNHCR's mandate population, 200 migrants)",
        },
        Case {
            name: "internal, conflict: cluster system, UNHCR holds both clusters",
            reports: vec![internal(Driver::Conflict, Phase::Emergency)],
            classification: C::IdpSituation,
            arrangement: A::ClusterSystem,
            leads: &[Unhcr],
            rules: &["idp_cluster", "cccm_not_disaster"],
            text: "Internal displacement (6,000 IDPs and returned IDPs, driver: conflict)",
        },
        Case {
            name: "internal, disaster: IOM leads CCCM, so both lead",
            reports: vec![internal(Driver::Disaster, Phase::Protracted)],
            classification: C::IdpSituation,
            arrangement: A::ClusterSystem,
            leads: &[Iom, Unhcr],
            rules: &["idp_cluster", "cccm_disaster"],
            text: "IOM leads the CCCM cluster",
        },
        Case {
            name: "internal, economic driver: CCCM stays with UNHCR",
            reports: vec![internal(Driver::Economic, Phase::Emergency)],
            classification: C::IdpSituation,
            arrangement: A::ClusterSystem,
            leads: &[Unhcr],
            rules: &["idp_cluster", "cccm_not_disaster"],
            text: "(driver: economic): UNHCR leads the CCCM cluster",
        },
        Case {
            name: "internal, solutions phase: joint durable solutions",
            reports: vec![internal(Driver::Disaster, Phase::Solutions)],
            classification: C::IdpDurableSolutions,
            arrangement: A::JointSolutionsSupport,
            leads: &[Iom, Unhcr],
            rules: &["idp_durable_solutions"],
            text: "solutions phase (6,000 IDPs and returned IDPs)",
        },
        Case {
            name: "no figures at all",
            reports: vec![report(Scope::CrossBorder, &[])],
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: &[Iom, Unhcr],
            rules: &["no_figures"],
            text: "No counted population (UNHCR's mandate population 0, migrants 0, internally displaced 0; 0 in groups that do not count",
        },
        Case {
            name: "host community only counts as no figures",
            reports: vec![report(Scope::Internal, &[(G::HostCommunity, 12_500)])],
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: &[Iom, Unhcr],
            rules: &["no_figures"],
            text: "12,500 in groups that do not count, such as host communities",
        },
        Case {
            name: "zero counts are no figures",
            reports: vec![cross(0, 0)],
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: &[Iom, Unhcr],
            rules: &["no_figures"],
            text: "migrants 0",
        },
        Case {
            name: "cross-border with only IDPs: no refugee or migrant figures",
            reports: vec![report(Scope::CrossBorder, &[(G::Idp, 3_000)])],
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: &[Iom, Unhcr],
            rules: &["no_cross_border_figures"],
            text: "(UNHCR's mandate population 0, migrants 0; 3,000 internally displaced)",
        },
        Case {
            name: "no reports at all",
            reports: vec![],
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: &[Iom, Unhcr],
            rules: &["no_figures"],
            text: "No counted population",
        },
        Case {
            name: "scope missing (intake refuses this): joint assessment",
            reports: vec![report(Scope::Unspecified, &[(G::Refugee, 10)])],
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: &[Iom, Unhcr],
            rules: &["unknown_scope"],
            text: "The most recent report (unhcr-1) does not say whether people crossed a border",
        },
        Case {
            name: "designation of IOM in a refugee situation",
            reports: vec![SituationReport {
                designated_leads: vec![Iom as i32],
                designation_reference: "SG decision of 12 April 2018".to_owned(),
                ..cross(900, 100)
            }],
            classification: C::RefugeeSituation,
            arrangement: A::Designated,
            leads: &[Iom],
            rules: &["designation", "refugee_situation"],
            text: "Report unhcr-1 recorded a formal designation (SG decision of 12 April 2018), in force until IOM or UNHCR revokes it: every leadership function goes to IOM",
        },
        Case {
            name: "designation, unsorted with duplicates, of an IDP situation",
            reports: vec![SituationReport {
                designated_leads: vec![Unhcr as i32, Iom as i32, Unhcr as i32],
                ..internal(Driver::Conflict, Phase::Emergency)
            }],
            classification: C::IdpSituation,
            arrangement: A::Designated,
            leads: &[Iom, Unhcr],
            rules: &["designation", "idp_cluster", "cccm_not_disaster"],
            text: "every leadership function goes to IOM and UNHCR",
        },
        Case {
            name: "designation of a partner only is honoured and flagged",
            reports: vec![SituationReport {
                designated_leads: vec![Partner as i32],
                ..cross(500, 500)
            }],
            classification: C::MixedMovement,
            arrangement: A::Designated,
            leads: &[Partner],
            rules: &["designation", "designation_partner_only", "mixed_movement"],
            text: "names only a partner organisation, which this determination cannot name (see report unhcr-1)",
        },
        Case {
            name: "designation with no known agency is no designation",
            reports: vec![SituationReport {
                designated_leads: vec![0, 42],
                ..cross(900, 100)
            }],
            classification: C::RefugeeSituation,
            arrangement: A::RefugeeCoordinationModel,
            leads: &[Unhcr],
            rules: &["refugee_situation"],
            text: "Protection share 0.90",
        },
        Case {
            name: "designation when there are no figures",
            reports: vec![SituationReport {
                designated_leads: vec![Unhcr as i32],
                ..report(Scope::CrossBorder, &[])
            }],
            classification: C::PendingJointAssessment,
            arrangement: A::Designated,
            leads: &[Unhcr],
            rules: &["designation", "no_figures"],
            text: "every leadership function goes to UNHCR",
        },
    ];

    let mut failures = Vec::new();
    for case in &cases {
        let d = run(&case.reports);
        let mut wrong = Vec::new();
        if d.classification() != case.classification {
            wrong.push(format!("classification {:?}", d.classification()));
        }
        if d.arrangement() != case.arrangement {
            wrong.push(format!("arrangement {:?}", d.arrangement()));
        }
        if d.lead_agencies != agencies(case.leads) {
            wrong.push(format!("leads {:?}", d.lead_agencies));
        }
        if rule_ids(&d) != case.rules {
            wrong.push(format!("rules {:?}", rule_ids(&d)));
        }
        if !d
            .rationale
            .iter()
            .any(|entry| entry.text.contains(case.text))
        {
            wrong.push(format!(
                "no rationale text contains {:?}; texts: {:#?}",
                case.text,
                d.rationale
                    .iter()
                    .map(|entry| &entry.text)
                    .collect::<Vec<_>>()
            ));
        }
        if d.rationale
            .iter()
            .any(|entry| entry.clause.is_empty() || entry.text.is_empty())
        {
            wrong.push("a rationale entry without clause or text".to_owned());
        }
        // Every situation carries the five FoE functions; the cluster system adds its two.
        let listed: Vec<LeadershipFunction> = functions(&d).into_iter().map(|(f, _)| f).collect();
        let expected_functions = if case.classification == C::IdpSituation {
            7
        } else {
            5
        };
        if listed.len() != expected_functions || !listed.is_sorted() {
            wrong.push(format!("functions {listed:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!("{}: {}", case.name, wrong.join("; ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn cross_border_functions_follow_the_leads() {
    assert_eq!(functions(&run(&[cross(900, 100)])), five(&[Unhcr]));
    assert_eq!(functions(&run(&[cross(100, 900)])), five(&[Iom]));
    assert_eq!(functions(&run(&[cross(500, 500)])), five(&[Iom, Unhcr]));
    let not_moving = SituationReport {
        on_the_move: false,
        ..cross(500, 500)
    };
    assert_eq!(functions(&run(&[not_moving])), five(&[Iom, Unhcr]));
    assert_eq!(
        functions(&run(&[report(Scope::CrossBorder, &[])])),
        five(&[Iom, Unhcr])
    );
}

#[test]
fn cluster_system_assigns_clusters_and_shares_data() {
    use LeadershipFunction::*;
    let idps = [(G::Idp, 10_000)];
    let conflict = run(&[report(Scope::Internal, &idps)]);
    assert_eq!(
        functions(&conflict),
        vec![
            (StrategicPlanning, agencies(&[Unhcr])),
            (EngagementWithStates, agencies(&[Unhcr])),
            (DataManagement, agencies(&[Iom, Unhcr])),
            (ResourceMobilization, agencies(&[Unhcr])),
            (InclusiveCoordination, agencies(&[Unhcr])),
            (ProtectionCluster, agencies(&[Unhcr])),
            (CccmCluster, agencies(&[Unhcr])),
        ]
    );
    let disaster = run(&[SituationReport {
        driver: Driver::Disaster as i32,
        ..report(Scope::Internal, &idps)
    }]);
    assert_eq!(
        functions(&disaster),
        vec![
            (StrategicPlanning, agencies(&[Iom, Unhcr])),
            (EngagementWithStates, agencies(&[Iom, Unhcr])),
            (DataManagement, agencies(&[Iom, Unhcr])),
            (ResourceMobilization, agencies(&[Iom, Unhcr])),
            (InclusiveCoordination, agencies(&[Iom, Unhcr])),
            (ProtectionCluster, agencies(&[Unhcr])),
            (CccmCluster, agencies(&[Iom])),
        ]
    );
    assert_eq!(disaster.rationale[0].clause, "IASC cluster approach");
    let solutions = run(&[SituationReport {
        phase: Phase::Solutions as i32,
        ..report(Scope::Internal, &idps)
    }]);
    assert_eq!(functions(&solutions), five(&[Iom, Unhcr]));
    assert_eq!(solutions.rationale[0].clause, "FoE B.2 durable solutions");
}

#[test]
fn designation_hands_every_function_to_the_designated() {
    let designated = run(&[SituationReport {
        designated_leads: vec![Iom as i32],
        ..report(Scope::Internal, &[(G::Idp, 10_000)])
    }]);
    assert!(
        functions(&designated)
            .iter()
            .all(|(_, holders)| *holders == agencies(&[Iom]))
    );
    assert_eq!(functions(&designated).len(), 7);
    let partner = run(&[SituationReport {
        designated_leads: vec![Partner as i32],
        ..cross(900, 100)
    }]);
    assert_eq!(functions(&partner), five(&[Partner]));
}

#[test]
fn a_designation_lasts_until_iom_or_unhcr_revokes_it() {
    let policy = Policy::default_v1();
    let reference = "SG decision of 12 April 2018";
    let unhcr_designates = SituationReport {
        designated_leads: vec![Iom as i32, Unhcr as i32],
        designation_reference: reference.to_owned(),
        ..cross(900, 100)
    };
    let first = determine(&policy, &[unhcr_designates], None, at(1));
    assert_eq!(first.arrangement(), Arrangement::Designated);
    let designation = first.designation.clone().unwrap_or_default();
    assert_eq!(designation.reference, reference);
    assert_eq!(designation.report_id, "unhcr-1");
    assert_eq!(designation.leads, agencies(&[Iom, Unhcr]));

    // UNHCR's next report, without a designation, replaces the designating one: the
    // designation stays in force and every determination under it names the reference.
    let next_round = SituationReport {
        report_id: "unhcr-2".to_owned(),
        revision: 2,
        ..cross(950, 50)
    };
    let iom_round = SituationReport {
        report_id: "dtm-1".to_owned(),
        reporting_agency: Iom as i32,
        ..cross(950, 50)
    };
    let second = determine(
        &policy,
        std::slice::from_ref(&next_round),
        Some(&first),
        at(2),
    );
    let third = determine(
        &policy,
        &[next_round.clone(), iom_round.clone()],
        Some(&second),
        at(3),
    );
    for d in [&second, &third] {
        assert_eq!(d.arrangement(), Arrangement::Designated, "{d:?}");
        assert_eq!(d.lead_agencies, agencies(&[Iom, Unhcr]));
        assert_eq!(d.designation, first.designation);
        assert!(d.rationale[0].text.contains(reference), "{:?}", d.rationale);
    }

    // A partner's report cannot revoke it (intake refuses it; the engine ignores it too).
    let partner_revokes = SituationReport {
        report_id: "nrc-1".to_owned(),
        reporting_agency: Partner as i32,
        reporter_org: "nrc".to_owned(),
        revoke_designation: true,
        ..cross(950, 50)
    };
    let fourth = determine(
        &policy,
        &[next_round.clone(), iom_round.clone(), partner_revokes],
        Some(&third),
        at(4),
    );
    assert_eq!(fourth.arrangement(), Arrangement::Designated);

    // IOM revokes it: the classification's own arrangement returns.
    let iom_revokes = SituationReport {
        report_id: "dtm-2".to_owned(),
        revision: 2,
        revoke_designation: true,
        ..iom_round
    };
    let fifth = determine(
        &policy,
        &[next_round.clone(), iom_revokes],
        Some(&fourth),
        at(5),
    );
    assert_eq!(fifth.arrangement(), Arrangement::RefugeeCoordinationModel);
    assert_eq!(fifth.designation, None);
    assert!(fifth.changed);
    let sixth = determine(&policy, &[next_round], Some(&fifth), at(6));
    assert_eq!(
        sixth.designation, None,
        "a revoked designation does not return"
    );
}

#[test]
fn the_determination_carries_its_bookkeeping() {
    let first = run(&[cross(830, 170)]);
    assert_eq!(first.situation_id, "sit-1");
    assert_eq!(first.country, "COL");
    assert_eq!(first.sequence, 1);
    assert_eq!(first.determination_id, "sit-1/1");
    assert!(first.changed, "the first determination is a change");
    assert_eq!(first.previous_classification(), Classification::Unspecified);
    assert_eq!(first.policy_version, "v1");
    assert_eq!(first.determined_at, Some(at(1_700_000_100)));
    assert!((first.protection_share - 0.83).abs() < 1e-12);
    assert_eq!(
        first.rationale[0].text,
        "Protection share 0.83 ≥ refugee threshold 0.80 (830 in UNHCR's mandate population, 170 migrants): refugee situation; UNHCR leads under the refugee coordination model."
    );
    assert_eq!(first.rationale[0].clause, "FoE B.1 mixed movements");
    assert_eq!(first.based_on.len(), 1);
    assert_eq!(first.based_on[0].report_id, "unhcr-1");
    assert_eq!(first.based_on[0].revision, 1);

    let policy = Policy::default_v1();
    let second = determine(&policy, &[cross(840, 160)], Some(&first), at(1_700_000_200));
    assert_eq!(second.sequence, 2);
    assert_eq!(second.determination_id, "sit-1/2");
    assert!(
        !second.changed,
        "same classification, arrangement and leads"
    );
    assert_eq!(
        second.previous_classification(),
        Classification::RefugeeSituation
    );
    let third = determine(
        &policy,
        &[SituationReport {
            designated_leads: vec![Unhcr as i32],
            ..cross(840, 160)
        }],
        Some(&second),
        at(1_700_000_300),
    );
    assert!(third.changed, "the arrangement became DESIGNATED");
    assert_eq!(third.lead_agencies, agencies(&[Unhcr]));
}

/// Runs a sequence of shares through the policy, each determination the previous of the next,
/// and returns the classifications and `changed` flags.
fn sequence(
    shares: &[(u64, u64)],
    on_the_move: bool,
) -> (Vec<Classification>, Vec<bool>, Vec<LeadershipDetermination>) {
    let policy = Policy::default_v1();
    let mut previous: Option<LeadershipDetermination> = None;
    let mut all = Vec::new();
    for (step, (p, m)) in shares.iter().enumerate() {
        let report = SituationReport {
            on_the_move,
            revision: step as u32 + 1,
            ..cross(*p, *m)
        };
        let next = determine(
            &policy,
            &[report],
            previous.as_ref(),
            at(1_700_000_000 + i64::try_from(step).expect("a few steps")),
        );
        all.push(next.clone());
        previous = Some(next);
    }
    (
        all.iter().map(|d| d.classification()).collect(),
        all.iter().map(|d| d.changed).collect(),
        all,
    )
}

#[test]
fn hysteresis_on_the_refugee_side() {
    use Classification::*;
    // 0.82 → 0.78 stays refugee → 0.74 becomes mixed → 0.82 stays mixed → 0.86 becomes refugee.
    let (classes, changed, all) =
        sequence(&[(82, 18), (78, 22), (74, 26), (82, 18), (86, 14)], true);
    assert_eq!(
        classes,
        [
            RefugeeSituation,
            RefugeeSituation,
            MixedMovement,
            MixedMovement,
            RefugeeSituation
        ]
    );
    assert_eq!(changed, [true, false, true, false, true]);
    assert_eq!(rule_ids(&all[0]), ["refugee_situation"]);
    assert_eq!(rule_ids(&all[1]), ["hysteresis", "refugee_situation"]);
    assert_eq!(
        all[1].rationale[0].text,
        "Previously a refugee situation: the boundaries move 0.05 in its favour so that the classification does not flap (refugee situation at a share ≥ 0.75, migrant situation at ≤ 0.20)."
    );
    assert!(
        all[1].rationale[1]
            .text
            .starts_with("Protection share 0.78 ≥ refugee threshold 0.75")
    );
    assert!(
        all[3].rationale[0]
            .text
            .contains("refugee situation at a share ≥ 0.85, migrant situation at ≤ 0.15")
    );
    assert!(all[3].rationale[1].text.starts_with(
        "Protection share 0.82 between migrant threshold 0.15 and refugee threshold 0.85"
    ));
    assert_eq!(all[4].sequence, 5);
}

#[test]
fn hysteresis_on_the_migrant_side() {
    use Classification::*;
    // 0.18 → 0.22 stays migrant → 0.26 becomes mixed → 0.18 stays mixed → 0.14 becomes migrant.
    let (classes, changed, all) =
        sequence(&[(18, 82), (22, 78), (26, 74), (18, 82), (14, 86)], true);
    assert_eq!(
        classes,
        [
            MigrantSituation,
            MigrantSituation,
            MixedMovement,
            MixedMovement,
            MigrantSituation
        ]
    );
    assert_eq!(changed, [true, false, true, false, true]);
    assert!(
        all[1].rationale[1]
            .text
            .starts_with("Protection share 0.22 ≤ migrant threshold 0.25")
    );
}

#[test]
fn hysteresis_boundaries_are_exact() {
    use Classification::*;
    // Previously refugee: exactly 0.75 stays; just below does not.
    let (classes, ..) = sequence(&[(90, 10), (75, 25)], true);
    assert_eq!(classes[1], RefugeeSituation);
    let (classes, ..) = sequence(&[(90, 10), (7_499, 2_501)], true);
    assert_eq!(classes[1], MixedMovement);
    // Previously migrant: exactly 0.25 stays; just above does not.
    let (classes, ..) = sequence(&[(10, 90), (25, 75)], true);
    assert_eq!(classes[1], MigrantSituation);
    let (classes, ..) = sequence(&[(10, 90), (2_501, 7_499)], true);
    assert_eq!(classes[1], MixedMovement);
    // Previously mixed: refugee at exactly 0.85, not at 0.8499; migrant at exactly 0.15.
    let (classes, ..) = sequence(&[(50, 50), (85, 15)], true);
    assert_eq!(classes[1], RefugeeSituation);
    let (classes, ..) = sequence(&[(50, 50), (8_499, 1_501)], true);
    assert_eq!(classes[1], MixedMovement);
    let (classes, ..) = sequence(&[(50, 50), (15, 85)], true);
    assert_eq!(classes[1], MigrantSituation);
    let (classes, ..) = sequence(&[(50, 50), (1_501, 8_499)], true);
    assert_eq!(classes[1], MixedMovement);
}

#[test]
fn hysteresis_also_holds_for_respective_mandates() {
    use Classification::*;
    let (classes, changed, _) = sequence(&[(50, 50), (83, 17), (86, 14)], false);
    assert_eq!(
        classes,
        [RespectiveMandates, RespectiveMandates, RefugeeSituation]
    );
    assert_eq!(changed, [true, false, true]);
}

#[test]
fn hysteresis_only_follows_a_cross_border_classification() {
    let policy = Policy::default_v1();
    // Previously an IDP situation: plain thresholds, no hysteresis entry.
    let idp = run(&[report(Scope::Internal, &[(G::Idp, 100)])]);
    let next = determine(&policy, &[cross(78, 22)], Some(&idp), at(1_700_000_500));
    assert_eq!(next.classification(), Classification::MixedMovement);
    assert_eq!(rule_ids(&next), ["mixed_movement"]);
    assert!(next.changed);
    // Previously refugee, now internal: the cluster rules, no hysteresis.
    let refugee = run(&[cross(90, 10)]);
    let internal = determine(
        &policy,
        &[report(Scope::Internal, &[(G::Idp, 100)])],
        Some(&refugee),
        at(1_700_000_600),
    );
    assert_eq!(rule_ids(&internal), ["idp_cluster", "cccm_not_disaster"]);
}

#[test]
fn each_rationale_entry_names_its_source_apart_from_the_parameters_it_used() {
    let policy = Policy::default_v1();
    let parameters = |entry: &tandem_proto::v1::RationaleEntry| -> Vec<(String, String, String)> {
        entry
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.value.clone(), p.policy_version.clone()))
            .collect()
    };
    let named = |name: &str, value: &str| (name.to_owned(), value.to_owned(), "v1".to_owned());

    let refugee = run(&[cross(830, 170)]);
    assert_eq!(refugee.rationale[0].clause, "FoE B.1 mixed movements");
    assert_eq!(
        parameters(&refugee.rationale[0]),
        [named("thresholds.refugee", "0.80")]
    );
    assert_eq!(refugee.rationale[0].reference, "");

    // Previously a refugee situation, now 0.78: the hysteresis keeps it. The hysteresis entry
    // cites no framework clause, only the parameters.
    let kept = determine(
        &policy,
        &[cross(780, 220)],
        Some(&refugee),
        at(1_700_000_200),
    );
    let ids: Vec<&str> = kept.rationale.iter().map(|e| e.rule_id.as_str()).collect();
    assert_eq!(ids, ["hysteresis", "refugee_situation"]);
    assert_eq!(kept.rationale[0].clause, "");
    assert_eq!(
        parameters(&kept.rationale[0]),
        [
            named("thresholds.refugee", "0.80"),
            named("thresholds.migrant", "0.20"),
            named("thresholds.hysteresis", "0.05"),
        ]
    );
    assert_eq!(
        parameters(&kept.rationale[1]),
        [
            named("thresholds.refugee", "0.80"),
            named("thresholds.hysteresis", "0.05"),
        ]
    );

    // A designation names its reference as the source; the IDP rules use no parameters.
    let designated = run(&[SituationReport {
        designated_leads: vec![Iom as i32],
        designation_reference: "SG decision of 12 April 2018".to_owned(),
        ..report(Scope::Internal, &[(G::Idp, 10_000)])
    }]);
    assert_eq!(
        designated.rationale[0].reference,
        "SG decision of 12 April 2018"
    );
    assert!(
        designated
            .rationale
            .iter()
            .all(|e| e.rule_id == "designation" || e.parameters.is_empty())
    );
    assert_eq!(designated.rationale[1].clause, "IASC cluster approach");

    // A discrepancy uses the tolerance.
    let unhcr = SituationReport {
        report_id: "unhcr-2".to_owned(),
        ..cross(1_000, 100)
    };
    let iom = SituationReport {
        report_id: "iom-1".to_owned(),
        reporting_agency: Iom as i32,
        ..cross(500, 100)
    };
    let discrepant = run(&[unhcr, iom]);
    let last = discrepant.rationale.last().cloned().unwrap_or_default();
    assert_eq!(last.rule_id, "discrepancy");
    assert_eq!(last.clause, "FoE B.3 data");
    assert_eq!(
        parameters(&last),
        [named("thresholds.discrepancy_tolerance", "0.25")]
    );
}

#[test]
fn undetermined_people_count_in_neither_share_unless_the_policy_puts_them_in_a_set() {
    // By default P = 850, M = 150: a refugee situation at a share of 0.85, whatever the number
    // of people of undetermined status counted beside them, as long as they are not the
    // majority (`undetermined_majority`).
    let minority = [
        (G::Refugee, 850),
        (G::Migrant, 150),
        (G::Undetermined, 1_000),
    ];
    let determination = run(&[report(Scope::CrossBorder, &minority)]);
    assert_eq!(
        determination.classification(),
        Classification::RefugeeSituation
    );
    assert!((determination.protection_share - 0.85).abs() < 1e-9);
    assert_eq!(rule_ids(&determination), ["refugee_situation"]);

    // A policy that counts them as migrants: P = 850, M = 10,150, a migrant situation (the
    // majority rule is for undetermined people counted in neither P nor M).
    let figures = [
        (G::Refugee, 850),
        (G::Migrant, 150),
        (G::Undetermined, 10_000),
    ];
    let reports = [report(Scope::CrossBorder, &figures)];
    let shipped = include_str!("../../../deploy/policy/leadership-v1.toml");
    let migrants = shipped.replace(
        "migrant = [\"migrant\"]",
        "migrant = [\"migrant\", \"undetermined\"]",
    );
    let migrants = migrants.replace(
        "migrant = \"iom\"\n",
        "migrant = \"iom\"\nundetermined = \"iom\"\n",
    );
    let policy = Policy::from_toml(&migrants).expect("a valid policy");
    let determination = determine(&policy, &reports, None, at(1_700_000_100));
    assert_eq!(
        determination.classification(),
        Classification::MigrantSituation
    );
}
