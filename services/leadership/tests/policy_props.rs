//! Properties of the policy engine over generated policies and generated situations, malformed
//! values included: the output is deterministic and independent of the reporters' clocks;
//! the classification is monotonic in the protection share when nothing else changes; every
//! determination has at least one lead and one rationale entry and is well formed; a
//! cross-border situation is classified by the generated thresholds, moved by the generated
//! hysteresis, exactly at the boundaries too.
//!
//! Each policy is the shipped file with everything a policy author may change generated:
//! version, thresholds, hysteresis, tolerance, the population sets, the authority table and
//! every rule's clause and text. It is loaded with [`Policy::from_toml`], the validation the
//! service itself uses, and a generated file it refuses fails the test, so the generator and the
//! validation cannot drift apart unnoticed.

use proptest::prelude::*;
use tandem_leadership::policy::{Policy, determine, same_outcome};
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Agency, Classification, LeadershipDetermination, PopulationFigure, PopulationGroup, Scope,
    SituationReport,
};

/// The shipped policy: the layout and rule texts that generated policies vary.
const SHIPPED: &str = include_str!("../../../deploy/policy/leadership-v1.toml");

/// Policy-file names of the population groups, in `PopulationGroup` order from 1.
const GROUP_NAMES: [&str; 10] = [
    "refugee",
    "asylum_seeker",
    "other_in_need_of_protection",
    "stateless",
    "migrant",
    "idp",
    "returned_refugee",
    "returned_idp",
    "host_community",
    "undetermined",
];

/// Millionths in one: policy decimals have at most six places.
const ONE: u64 = 1_000_000;

/// A valid generated policy and the values it was generated from, for the oracles.
#[derive(Clone, Debug)]
struct Generated {
    policy: Policy,
    /// Thresholds and hysteresis in millionths.
    refugee: u64,
    migrant: u64,
    hysteresis: u64,
    /// A group counted in the protection set (P) and one in the migrant set (M).
    protection_group: PopulationGroup,
    migrant_group: PopulationGroup,
}

/// Refugee threshold, migrant threshold, hysteresis and tolerance in millionths, each valid:
/// 0 < migrant, hysteresis ≤ migrant, migrant + hysteresis < refugee − hysteresis,
/// refugee + hysteresis ≤ 1. Half are whole hundredths, like a person writes them.
fn thresholds() -> impl Strategy<Value = (u64, u64, u64, u64)> {
    prop_oneof![Just(10_000u64), Just(1u64)].prop_flat_map(|unit| {
        (0..=150_000 / unit).prop_flat_map(move |h| {
            (h.max(1)..=500_000 / unit).prop_flat_map(move |m| {
                let top = ((ONE - 1) / unit).min((ONE - h * unit) / unit);
                ((m + 2 * h + 1)..=top, 1..=(ONE - 1) / unit)
                    .prop_map(move |(r, t)| (r * unit, m * unit, h * unit, t * unit))
            })
        })
    })
}

/// Words for rule texts and clauses, markup and non-ASCII included.
fn words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z]{1,10}",
            Just("<b>&amp;".to_owned()),
            Just("Überprüfung".to_owned()),
            Just("%".to_owned()),
        ],
        1..6,
    )
}

/// A rule text: generated words around a shuffled subset of the placeholders the shipped text
/// of the same rule uses (each rule accepts only its own placeholders).
fn rule_text(shipped: &str) -> impl Strategy<Value = String> + use<> {
    let placeholders: Vec<String> = shipped
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| format!("{{{name}}}")))
        .collect();
    let count = placeholders.len();
    (
        prop::sample::subsequence(placeholders, 0..=count).prop_shuffle(),
        words(),
    )
        .prop_map(|(placeholders, words)| {
            let mut pieces = words;
            for (index, placeholder) in placeholders.into_iter().enumerate() {
                let at = (index * 2 + 1).min(pieces.len());
                pieces.insert(at, placeholder);
            }
            pieces.join(" ")
        })
}

/// A valid policy: the shipped file with every value an author may change generated.
fn policy() -> impl Strategy<Value = Generated> {
    let shipped: toml::Table = SHIPPED.parse().expect("the shipped policy is TOML");
    let rules = shipped["rules"].as_table().expect("rules table").clone();
    let texts: Vec<_> = rules
        .iter()
        .map(|(id, rule)| {
            let id = id.clone();
            (rule_text(rule["text"].as_str().expect("text")), words())
                .prop_map(move |(text, clause)| (id.clone(), text, clause.join(" ")))
        })
        .collect();
    (
        "[A-Za-z0-9._-]{1,64}",
        thresholds(),
        // Per group: the set it counts in (0 = P, 1 = M, 2 = D, 3 = none) and its authority.
        prop::collection::vec((0u8..4, 0u8..3), GROUP_NAMES.len())
            .prop_filter("P, M and D each need a group", |groups| {
                (0..3).all(|set| groups.iter().any(|(s, _)| *s == set))
            }),
        texts,
    )
        .prop_map(
            move |(version, (refugee, migrant, hysteresis, tolerance), groups, texts)| {
                let mut table = shipped.clone();
                table.insert("version".into(), version.into());
                let decimal = |millionths: u64| toml::Value::Float(millionths as f64 / ONE as f64);
                let mut thresholds = toml::Table::new();
                thresholds.insert("refugee".into(), decimal(refugee));
                thresholds.insert("migrant".into(), decimal(migrant));
                thresholds.insert("hysteresis".into(), decimal(hysteresis));
                thresholds.insert("discrepancy_tolerance".into(), decimal(tolerance));
                thresholds.insert("undetermined_majority".into(), decimal(500_000));
                table.insert("thresholds".into(), thresholds.into());
                let mut sets = [Vec::new(), Vec::new(), Vec::new()];
                let mut authority = toml::Table::new();
                for (name, (set, agency)) in GROUP_NAMES.iter().zip(&groups) {
                    if let Some(members) = sets.get_mut(usize::from(*set)) {
                        members.push(toml::Value::from(*name));
                    }
                    // Counted groups need an agency; uncounted ones may have one.
                    let agency = match (set, agency) {
                        (3, 0) => None,
                        (_, 2) => Some("unhcr"),
                        _ => Some("iom"),
                    };
                    if let Some(agency) = agency {
                        authority.insert((*name).into(), agency.into());
                    }
                }
                let [protection, migrants, displaced] = sets;
                let mut populations = toml::Table::new();
                populations.insert("protection".into(), protection.into());
                populations.insert("migrant".into(), migrants.into());
                populations.insert("displaced".into(), displaced.into());
                table.insert("populations".into(), populations.into());
                // Authoritative figures never yield: the generated reports are not dated.
                authority.insert("yield_after_days".into(), 0.into());
                table.insert("authority".into(), authority.into());
                let mut rules = toml::Table::new();
                for (id, text, clause) in texts {
                    let mut rule = toml::Table::new();
                    rule.insert("clause".into(), clause.into());
                    rule.insert("text".into(), text.into());
                    rules.insert(id, rule.into());
                }
                table.insert("rules".into(), rules.into());
                // The generated texts are English only: a file without `languages`.
                table.remove("languages");
                let text = toml::to_string(&table).expect("a table serialises");
                let policy = Policy::from_toml(&text)
                    .unwrap_or_else(|error| panic!("generated policy refused: {error}\n{text}"));
                let first_in = |set: u8| {
                    let index = groups
                        .iter()
                        .position(|(s, _)| *s == set)
                        .expect("filtered");
                    PopulationGroup::try_from(i32::try_from(index + 1).expect("nine groups"))
                        .expect("a group")
                };
                Generated {
                    policy,
                    refugee,
                    migrant,
                    hysteresis,
                    protection_group: first_in(0),
                    migrant_group: first_in(1),
                }
            },
        )
}

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

fn cross_border(
    policy: &Generated,
    protection: u64,
    migrants: u64,
    on_the_move: bool,
) -> SituationReport {
    SituationReport {
        report_id: "r".to_owned(),
        situation_id: "sit".to_owned(),
        reporting_agency: Agency::Unhcr as i32,
        scope: Scope::CrossBorder as i32,
        on_the_move,
        population: vec![
            PopulationFigure {
                group: policy.protection_group as i32,
                count: protection,
                ..Default::default()
            },
            PopulationFigure {
                group: policy.migrant_group as i32,
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
    fn output_is_deterministic_and_ignores_the_reporters_clocks(
        reports in reports(),
        clocks in prop::collection::vec(any::<Option<(i64, i32)>>(), 4),
        previous in previous(),
        generated in policy(),
    ) {
        let policy = generated.policy;
        let first = determine(&policy, &reports, previous.as_ref(), now());
        let again = determine(&policy, &reports, previous.as_ref(), now());
        prop_assert_eq!(&first, &again);
        // Recency is the order of acceptance: any `reported_at` gives the same determination.
        let mut reclocked = reports.clone();
        for (report, clock) in reclocked.iter_mut().zip(clocks.into_iter().cycle()) {
            report.reported_at = clock.map(|(seconds, nanos)| Timestamp { seconds, nanos });
        }
        let reclocked = determine(&policy, &reclocked, previous.as_ref(), now());
        prop_assert_eq!(&first, &reclocked);
    }

    #[test]
    fn every_determination_is_well_formed(
        reports in reports(),
        previous in previous(),
        generated in policy(),
    ) {
        let policy = generated.policy;
        let d = determine(&policy, &reports, previous.as_ref(), now());

        prop_assert!(!d.lead_agencies.is_empty(), "no lead");
        prop_assert!(!d.rationale.is_empty(), "no rationale");
        for entry in &d.rationale {
            prop_assert!(!entry.rule_id.is_empty() && !entry.text.is_empty());
            // Every entry names a normative source or the parameters it rests on.
            prop_assert!(!entry.clause.is_empty() || !entry.parameters.is_empty(), "{:?}", entry);
            for parameter in &entry.parameters {
                prop_assert_eq!(&parameter.policy_version, policy.version());
            }
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
        prop_assert_eq!(&d.policy_version, policy.version());
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
        generated in policy(),
    ) {
        prop_assume!(a.0 + a.1 > 0 && b.0 + b.1 > 0);
        // Order the two situations by share, exactly: p_a / t_a ≤ p_b / t_b.
        let share_le = |x: (u64, u64), y: (u64, u64)| {
            u128::from(x.0) * u128::from(y.0 + y.1) <= u128::from(y.0) * u128::from(x.0 + x.1)
        };
        let (low, high) = if share_le(a, b) { (a, b) } else { (b, a) };
        let previous = previous.map(|classification| LeadershipDetermination {
            classification: classification as i32,
            ..Default::default()
        });
        let classify = |(p, m): (u64, u64)| {
            determine(
                &generated.policy,
                &[cross_border(&generated, p, m, on_the_move)],
                previous.as_ref(),
                now(),
            )
                .classification()
        };
        prop_assert!(rank(classify(low)) <= rank(classify(high)));
    }

    #[test]
    fn the_generated_thresholds_and_hysteresis_decide_a_cross_border_situation(
        (generated, (protection, migrants)) in policy().prop_flat_map(|generated| {
            let (r, m, h) = (generated.refugee, generated.migrant, generated.hysteresis);
            // Shares anywhere, and shares exactly on (or one millionth beside) each boundary
            // a previous classification can put in force, scaled so the counts vary.
            let boundaries = vec![r, r - h, r + h, m, m - h, m + h];
            let on_a_boundary = (prop::sample::select(boundaries), -1i64..=1, 1u64..1000)
                .prop_map(|(at, off, scale)| {
                    let protection = at.saturating_add_signed(off).min(ONE);
                    (protection * scale, (ONE - protection) * scale)
                });
            let figures = prop_oneof![(0u64..1_000_000, 0u64..1_000_000), on_a_boundary];
            (Just(generated), figures)
        }),
        on_the_move in any::<bool>(),
        previous in prop::sample::select(vec![
            None,
            Some(Classification::RefugeeSituation),
            Some(Classification::MigrantSituation),
            Some(Classification::MixedMovement),
            Some(Classification::RespectiveMandates),
            Some(Classification::IdpSituation),
            Some(Classification::PendingJointAssessment),
        ]),
    ) {
        prop_assume!(protection + migrants > 0);
        // The rule as docs/design.md states it, read independently of the engine: the
        // boundaries move by the hysteresis in favour of a previous cross-border classification.
        let (r, m, h) = (generated.refugee, generated.migrant, generated.hysteresis);
        let (refugee_at, migrant_at) = match previous {
            Some(Classification::RefugeeSituation) => (r - h, m),
            Some(Classification::MigrantSituation) => (r, m + h),
            Some(Classification::MixedMovement | Classification::RespectiveMandates) => {
                (r + h, m - h)
            }
            _ => (r, m),
        };
        let (p, total) = (u128::from(protection), u128::from(protection + migrants));
        let share_times_one = p * u128::from(ONE);
        let (classification, leads) =
            if share_times_one >= u128::from(refugee_at) * total {
                (Classification::RefugeeSituation, vec![Agency::Unhcr])
            } else if share_times_one <= u128::from(migrant_at) * total {
                (Classification::MigrantSituation, vec![Agency::Iom])
            } else if on_the_move {
                (Classification::MixedMovement, vec![Agency::Iom, Agency::Unhcr])
            } else {
                (Classification::RespectiveMandates, vec![Agency::Iom, Agency::Unhcr])
            };

        let previous = previous.map(|classification| LeadershipDetermination {
            classification: classification as i32,
            ..Default::default()
        });
        let report = cross_border(&generated, protection, migrants, on_the_move);
        let d = determine(&generated.policy, &[report], previous.as_ref(), now());
        prop_assert_eq!(d.classification(), classification);
        let expected_leads: Vec<i32> = leads.into_iter().map(|agency| agency as i32).collect();
        prop_assert_eq!(d.lead_agencies, expected_leads);
    }
}
