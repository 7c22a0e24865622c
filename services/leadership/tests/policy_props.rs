//! Properties of the policy engine over generated situations, malformed values included:
//! the output is deterministic and independent of the order of the reports; the classification
//! is monotonic in the protection share when nothing else changes; every determination has at
//! least one lead and one rationale entry and is well formed.

use proptest::prelude::*;
use tandem_leadership::policy::{Policy, determine, same_outcome};
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Agency, Classification, LeadershipDetermination, PopulationFigure, PopulationGroup, Scope,
    SituationReport,
};

/// The organisations that may report: IOM, UNHCR and two partners.
const ORGANISATIONS: [(Agency, &str); 4] = [
    (Agency::Iom, ""),
    (Agency::Unhcr, ""),
    (Agency::Partner, "hias"),
    (Agency::Partner, "nrc"),
];

/// A count: mostly realistic, sometimes zero or enormous.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0u64..200_000,
        1 => Just(0u64),
        1 => (u64::MAX - 10)..=u64::MAX,
    ]
}

/// A population group value, sometimes unspecified or unknown.
fn group() -> impl Strategy<Value = i32> {
    prop_oneof![10 => 1i32..=9, 1 => Just(0i32), 1 => 10i32..100]
}

/// An enum value in `0..=max`, sometimes out of range.
fn raw_enum(max: i32) -> impl Strategy<Value = i32> {
    prop_oneof![10 => 0..=max, 1 => -3i32..50]
}

fn report_for(organisation: usize) -> impl Strategy<Value = SituationReport> {
    let (agency, org) = ORGANISATIONS[organisation];
    (
        (1u32..5, prop::option::weighted(0.95, (0i64..6, 0i32..3))),
        (raw_enum(2), raw_enum(4), raw_enum(3), any::<bool>()),
        prop::collection::vec((group(), count()), 0..7),
        prop::collection::vec(raw_enum(3), 0..3).prop_map(|leads| {
            // Designations are rare in practice.
            if leads.len() == 2 { leads } else { Vec::new() }
        }),
    )
        .prop_map(
            move |((revision, at), (scope, driver, phase, on_the_move), figures, designated)| {
                SituationReport {
                    report_id: format!("{}{}-{revision}", agency.as_str_name(), org),
                    situation_id: "sit".to_owned(),
                    revision,
                    reporting_agency: agency as i32,
                    reporter_org: org.to_owned(),
                    // A narrow range of times, so that ties happen.
                    reported_at: at.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
                    country: "COL".to_owned(),
                    scope,
                    driver,
                    phase,
                    on_the_move,
                    population: figures
                        .into_iter()
                        .map(|(group, count)| PopulationFigure {
                            group,
                            count,
                            ..Default::default()
                        })
                        .collect(),
                    designated_leads: designated,
                    ..Default::default()
                }
            },
        )
}

/// The latest report of each of a random subset of the organisations.
fn reports() -> impl Strategy<Value = Vec<SituationReport>> {
    prop::sample::subsequence(vec![0usize, 1, 2, 3], 0..=4).prop_flat_map(|organisations| {
        organisations
            .into_iter()
            .map(report_for)
            .collect::<Vec<_>>()
    })
}

/// A previous determination: none, or one with any classification (unknown values included).
fn previous() -> impl Strategy<Value = Option<LeadershipDetermination>> {
    prop::option::of(
        (
            raw_enum(7),
            raw_enum(8),
            prop::collection::vec(raw_enum(3), 0..3),
            0u64..10,
        )
            .prop_map(|(classification, arrangement, lead_agencies, sequence)| {
                LeadershipDetermination {
                    situation_id: "sit".to_owned(),
                    sequence,
                    classification,
                    arrangement,
                    lead_agencies,
                    ..Default::default()
                }
            }),
    )
}

fn now() -> Timestamp {
    Timestamp {
        seconds: 100,
        nanos: 0,
    }
}

/// Where a cross-border classification sits on the protection-share axis.
fn rank(classification: Classification) -> u8 {
    match classification {
        Classification::MigrantSituation => 0,
        Classification::MixedMovement | Classification::RespectiveMandates => 1,
        Classification::RefugeeSituation => 2,
        other => panic!("not a cross-border classification: {other:?}"),
    }
}

fn cross_border(protection: u64, migrants: u64, on_the_move: bool) -> SituationReport {
    SituationReport {
        report_id: "r".to_owned(),
        situation_id: "sit".to_owned(),
        reporting_agency: Agency::Unhcr as i32,
        scope: Scope::CrossBorder as i32,
        on_the_move,
        population: vec![
            PopulationFigure {
                group: PopulationGroup::AsylumSeeker as i32,
                count: protection,
                ..Default::default()
            },
            PopulationFigure {
                group: PopulationGroup::Migrant as i32,
                count: migrants,
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn output_is_deterministic_and_independent_of_report_order(
        (reports, shuffled) in reports().prop_flat_map(|reports| {
            let shuffled = Just(reports.clone()).prop_shuffle();
            (Just(reports), shuffled)
        }),
        previous in previous(),
    ) {
        let policy = Policy::default_v1();
        let first = determine(&policy, &reports, previous.as_ref(), now());
        let again = determine(&policy, &reports, previous.as_ref(), now());
        prop_assert_eq!(&first, &again);
        let reordered = determine(&policy, &shuffled, previous.as_ref(), now());
        prop_assert_eq!(&first, &reordered);
    }

    #[test]
    fn every_determination_is_well_formed(reports in reports(), previous in previous()) {
        let policy = Policy::default_v1();
        let d = determine(&policy, &reports, previous.as_ref(), now());

        prop_assert!(!d.lead_agencies.is_empty(), "no lead");
        prop_assert!(!d.rationale.is_empty(), "no rationale");
        for entry in &d.rationale {
            prop_assert!(!entry.rule_id.is_empty() && !entry.clause.is_empty() && !entry.text.is_empty());
            prop_assert!(!entry.text.contains('{'), "unfilled placeholder in {}", entry.text);
        }
        prop_assert!(d.lead_agencies.is_sorted() && d.lead_agencies.windows(2).all(|w| w[0] != w[1]));
        prop_assert!(d.lead_agencies.iter().all(|a| Agency::try_from(*a).is_ok_and(|a| a != Agency::Unspecified)));
        prop_assert!(d.classification != 0 && d.arrangement != 0);

        // Functions: sorted, the five FoE functions always, every one held by someone, and
        // only the leads hold functions, except shared data management and CCCM under the
        // cluster system.
        let functions: Vec<i32> = d.functions.iter().map(|f| f.function).collect();
        prop_assert!(functions.is_sorted());
        prop_assert!(functions.starts_with(&[1, 2, 3, 4, 5]));
        let expected_len = if d.classification() == Classification::IdpSituation { 7 } else { 5 };
        prop_assert_eq!(functions.len(), expected_len);
        for assignment in &d.functions {
            prop_assert!(!assignment.agencies.is_empty());
            prop_assert!(assignment.agencies.is_sorted());
        }

        // Bookkeeping.
        let expected_sequence = previous.as_ref().map_or(1, |p| p.sequence + 1);
        prop_assert_eq!(d.sequence, expected_sequence);
        prop_assert_eq!(&d.determination_id, &format!("{}/{}", d.situation_id, d.sequence));
        prop_assert_eq!(d.based_on.len(), reports.len());
        prop_assert!(d.figures.windows(2).all(|w| w[0].group < w[1].group));
        prop_assert!((0.0..=1.0).contains(&d.protection_share));
        prop_assert_eq!(&d.policy_version, "v1");
        match &previous {
            None => prop_assert!(d.changed),
            Some(previous) => {
                let same = previous.classification == d.classification
                    && previous.arrangement == d.arrangement
                    && {
                        let mut leads = previous.lead_agencies.clone();
                        leads.sort_unstable();
                        leads.dedup();
                        leads == d.lead_agencies
                    };
                prop_assert_eq!(d.changed, !same);
            }
        }
        prop_assert!(same_outcome(&d, &d));
    }

    #[test]
    fn classification_is_monotonic_in_the_protection_share(
        a in (0u64..1_000_000, 0u64..1_000_000),
        b in (0u64..1_000_000, 0u64..1_000_000),
        on_the_move in any::<bool>(),
        previous in prop::sample::select(vec![
            None,
            Some(Classification::RefugeeSituation),
            Some(Classification::MigrantSituation),
            Some(Classification::MixedMovement),
            Some(Classification::RespectiveMandates),
            Some(Classification::IdpSituation),
        ]),
    ) {
        prop_assume!(a.0 + a.1 > 0 && b.0 + b.1 > 0);
        // Order the two situations by share, exactly: p_a / t_a ≤ p_b / t_b.
        let share_le = |x: (u64, u64), y: (u64, u64)| {
            u128::from(x.0) * u128::from(y.0 + y.1) <= u128::from(y.0) * u128::from(x.0 + x.1)
        };
        let (low, high) = if share_le(a, b) { (a, b) } else { (b, a) };
        let policy = Policy::default_v1();
        let previous = previous.map(|classification| LeadershipDetermination {
            classification: classification as i32,
            ..Default::default()
        });
        let classify = |(p, m): (u64, u64)| {
            determine(&policy, &[cross_border(p, m, on_the_move)], previous.as_ref(), now())
                .classification()
        };
        prop_assert!(rank(classify(low)) <= rank(classify(high)));
    }
}
