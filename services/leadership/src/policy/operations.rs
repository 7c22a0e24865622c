//! Regional situations (docs/design.md, "Regional situations"): a situation that spans
//! countries is determined as a whole, on the regional totals, and per country operation.
//!
//! - The reports are grouped by `country` (the record keeps the latest report of each
//!   organisation per country); each group is one operation, at most [`MAX_OPERATIONS`].
//! - Regional totals: per population group, the sum over the operations of each operation's
//!   reconciled figure (so IOM's and UNHCR's figures are reconciled within a country, never
//!   added across agencies). The situation as a whole is determined on them by the same rules;
//!   its facts (scope, phase, …) and `based_on` come from all reports, its discrepancies are
//!   the operations' (listed per operation, not repeated on the whole).
//! - Each operation has its own figures, protection share, discrepancies and `based_on`. Under
//!   `[operations] classify = "regional"` (the default) the regional decision binds it, with an
//!   `operation_bound` rationale entry; under `"own"` it is classified on its own figures, with
//!   hysteresis against its own previous classification.
//! - A designation of the situation as a whole (recorded by any IOM or UNHCR report of the
//!   situation without `designation_country`, as in the Secretary-General's 2018 decision on
//!   the Venezuela outflow) applies to the situation and every operation without its own. A
//!   designation naming a country operation (`designation_country`, e.g. a host State's request
//!   for its national platform) binds that operation only, and is kept and revoked on its own:
//!   the rule of the designation in force applies per operation, to the reports and designations
//!   for that country. An `[[override]]` naming a country applies to that operation in place of
//!   the situation's override.
//! - The determination is published on the subject of `country`, the situation's first country.

use tandem_proto::Timestamp;
use tandem_proto::v1::{
    LeadershipDetermination, OperationDetermination, OriginCount, ReconciledFigure, SituationReport,
};

use super::Policy;
use super::engine::{
    Bound, Counts, WHOLE, designation_in_force, determine_for, fill, same_outcome,
};
use super::load::Operations;
use super::names::Agencies;
use super::reconcile::{Totals, reconcile_into};

/// The most country operations a determination holds (intake refuses a report for a 65th
/// country), which keeps a determination well under the 1 MiB event limit.
pub const MAX_OPERATIONS: usize = 64;

/// Whether a report declares its situation regional: only IOM and UNHCR may.
pub fn declares(report: &SituationReport) -> bool {
    report.regional
        && matches!(
            Agencies::of(report.reporting_agency),
            Agencies::IOM | Agencies::UNHCR
        )
}

/// Whether the situation is regional: declared before (the previous determination is), or by
/// one of the reports.
pub(crate) fn is_regional(
    reports: &[SituationReport],
    previous: Option<&LeadershipDetermination>,
) -> bool {
    previous.is_some_and(|previous| previous.regional) || reports.iter().any(declares)
}

/// The determination of a regional situation: the whole on the regional totals, and one
/// operation per country, sorted by country.
pub(crate) fn determine(
    policy: &Policy,
    reports: &[SituationReport],
    previous: Option<&LeadershipDetermination>,
    determined_at: Timestamp,
) -> LeadershipDetermination {
    let mut countries: Vec<&str> = reports.iter().map(|r| r.country.as_str()).collect();
    countries.sort_unstable();
    countries.dedup();
    countries.truncate(MAX_OPERATIONS);
    let by_country: Vec<(&str, Vec<SituationReport>)> = countries
        .into_iter()
        .map(|country| {
            let held = reports.iter().filter(|r| r.country == country).cloned();
            (country, held.collect())
        })
        .collect();
    let carried = previous.map(|previous| previous.designation.as_ref());
    let designation = designation_in_force(reports, carried, WHOLE);

    // The whole: facts and references from every report, figures and counts summed over the
    // operations' reconciliations.
    let mut whole = LeadershipDetermination::default();
    let (mut unused_figures, mut unused_discrepancies) = (Vec::new(), Vec::new());
    let all = reconcile_into(
        policy,
        reports,
        &mut unused_figures,
        &mut unused_discrepancies,
        &mut whole.based_on,
    );
    let mut sum = Counts::default();
    for (_, held) in &by_country {
        let (mut figures, mut discrepancies, mut based_on) = (Vec::new(), Vec::new(), Vec::new());
        let totals = reconcile_into(
            policy,
            held,
            &mut figures,
            &mut discrepancies,
            &mut based_on,
        );
        sum.protection += totals.protection;
        sum.migrants += totals.migrants;
        sum.displaced += totals.displaced;
        sum.uncounted += totals.uncounted;
        sum.undetermined += totals.undetermined;
        add_figures(&mut whole.figures, &figures);
    }
    let totals = Totals {
        protection: sum.protection,
        migrants: sum.migrants,
        displaced: sum.displaced,
        uncounted: sum.uncounted,
        undetermined: sum.undetermined,
        // An authoritative figure yields within its country: each operation says so.
        yielded: Vec::new(),
        ..all
    };
    let (_, regional) = fill(
        policy,
        totals,
        previous,
        designation.clone(),
        Bound::No,
        determined_at,
        &mut whole,
    );
    whole.regional = true;
    // Published on the subject of the situation's first country, whichever report is latest.
    whole.country = previous
        .map(|previous| previous.country.as_str())
        .filter(|country| !country.is_empty())
        .or(reports.first().map(|report| report.country.as_str()))
        .unwrap_or_default()
        .to_owned();

    whole.operations = by_country
        .iter()
        .map(|(country, held)| {
            let previous_operation = previous.map(|previous| {
                previous
                    .operations
                    .iter()
                    .find(|operation| operation.country == *country)
            });
            let before = previous
                .zip(previous_operation.flatten())
                .map(|(previous, operation)| as_determination(previous, operation));
            // The operation's own designation (`country` set), not the whole's it carried.
            let carried = previous_operation.map(|operation| {
                operation
                    .and_then(|operation| operation.designation.as_ref())
                    .filter(|designation| designation.country == *country)
            });
            let own = designation_in_force(reports, carried, country);
            let bound = match policy.operations {
                Operations::Regional => Bound::Regional(country, &regional),
                Operations::Own => Bound::Own(country),
            };
            let (operation, _, _) = determine_for(
                policy,
                held,
                before.as_ref(),
                own.or_else(|| designation.clone()),
                bound,
                determined_at,
            );
            into_operation(country, operation)
        })
        .collect();
    whole
}

/// Adds an operation's reconciled figures into the regional ones (sorted by group), with
/// their origins; a regional figure names no single report or agency.
fn add_figures(regional: &mut Vec<ReconciledFigure>, figures: &[ReconciledFigure]) {
    for figure in figures {
        let at = match regional.binary_search_by_key(&figure.group, |r| r.group) {
            Ok(at) => at,
            Err(at) => {
                regional.insert(
                    at,
                    ReconciledFigure {
                        group: figure.group,
                        ..Default::default()
                    },
                );
                at
            }
        };
        let total = &mut regional[at];
        total.count = total.count.saturating_add(figure.count);
        for origin in &figure.origins {
            match total
                .origins
                .binary_search_by(|known| known.origin.cmp(&origin.origin))
            {
                Ok(known) => {
                    let held = &mut total.origins[known].count;
                    *held = held.saturating_add(origin.count);
                }
                Err(place) => total.origins.insert(
                    place,
                    OriginCount {
                        origin: origin.origin.clone(),
                        count: origin.count,
                    },
                ),
            }
        }
    }
}

/// An operation's previous determination, as the engine reads a previous determination.
fn as_determination(
    situation: &LeadershipDetermination,
    operation: &OperationDetermination,
) -> LeadershipDetermination {
    LeadershipDetermination {
        situation_id: situation.situation_id.clone(),
        country: operation.country.clone(),
        classification: operation.classification,
        arrangement: operation.arrangement,
        lead_agencies: operation.lead_agencies.clone(),
        functions: operation.functions.clone(),
        discrepancies: operation.discrepancies.clone(),
        ..Default::default()
    }
}

/// The operation part of a determination made on one country's reports.
fn into_operation(country: &str, determination: LeadershipDetermination) -> OperationDetermination {
    OperationDetermination {
        country: country.to_owned(),
        classification: determination.classification,
        arrangement: determination.arrangement,
        lead_agencies: determination.lead_agencies,
        functions: determination.functions,
        figures: determination.figures,
        protection_share: determination.protection_share,
        discrepancies: determination.discrepancies,
        rationale: determination.rationale,
        changed: determination.changed,
        previous_classification: determination.previous_classification,
        based_on: determination.based_on,
        designation: determination.designation,
    }
}

/// Whether two determinations' operations have the same outcomes, country by country.
pub(crate) fn same_operations(a: &LeadershipDetermination, b: &LeadershipDetermination) -> bool {
    a.operations.len() == b.operations.len()
        && a.operations.iter().zip(&b.operations).all(|(left, right)| {
            left.country == right.country
                && same_outcome(&as_determination(a, left), &as_determination(b, right))
        })
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use tandem_proto::v1::{Agency, Arrangement, Classification, PopulationGroup};
    use tandem_testkit::reports::Report;

    use super::*;

    const DEFAULT_V1: &str = include_str!("../../../../deploy/policy/leadership-v1.toml");

    /// The default policy with `[operations] classify` and anything else appended.
    fn policy(classify: &str, more: &str) -> Policy {
        let text = DEFAULT_V1.replace(
            "classify = \"regional\"",
            &format!("classify = \"{classify}\""),
        );
        Policy::from_toml(&format!("{text}\n{more}")).expect("valid policy")
    }

    /// A report from `agency` for `country`'s operation of situation R4V.
    fn report(
        agency: Agency,
        id: &str,
        country: &str,
        figures: &[(PopulationGroup, u64)],
    ) -> SituationReport {
        Report::new(agency, id, "R4V", 1)
            .country(country)
            .figures("2026-01-15", "joint count", figures)
            .build()
    }

    /// Colombia mostly migrants, Ecuador mostly refugees, Peru half and half; 15,000 each in
    /// the region. IOM's first report declares the situation regional.
    fn story() -> Vec<SituationReport> {
        use PopulationGroup::{Migrant, Refugee};
        let mut declaring = report(Agency::Iom, "iom-col", "COL", &[(Migrant, 9_000)]);
        declaring.regional = true;
        vec![
            declaring,
            report(Agency::Unhcr, "unhcr-col", "COL", &[(Refugee, 1_000)]),
            report(Agency::Iom, "iom-ecu", "ECU", &[(Migrant, 1_000)]),
            report(Agency::Unhcr, "unhcr-ecu", "ECU", &[(Refugee, 9_000)]),
            report(Agency::Iom, "iom-per", "PER", &[(Migrant, 5_000)]),
            report(Agency::Unhcr, "unhcr-per", "PER", &[(Refugee, 5_000)]),
        ]
    }

    fn classifications(determination: &LeadershipDetermination) -> Vec<(&str, Classification)> {
        determination
            .operations
            .iter()
            .map(|o| (o.country.as_str(), o.classification()))
            .collect()
    }

    #[test]
    fn the_whole_is_determined_on_the_regional_totals_and_binds_its_operations() {
        let determination =
            super::super::determine(&Policy::default_v1(), &story(), None, Timestamp::default());
        assert!(determination.regional);
        assert_eq!(determination.country, "COL", "the first report's country");
        assert_eq!(
            determination.classification(),
            Classification::MixedMovement
        );
        let totals: Vec<(i32, u64)> = determination
            .figures
            .iter()
            .map(|f| (f.group, f.count))
            .collect();
        assert_eq!(
            totals,
            [
                (PopulationGroup::Refugee as i32, 15_000),
                (PopulationGroup::Migrant as i32, 15_000)
            ]
        );
        assert_eq!(determination.based_on.len(), 6);
        use Classification::MixedMovement;
        assert_eq!(
            classifications(&determination),
            [
                ("COL", MixedMovement),
                ("ECU", MixedMovement),
                ("PER", MixedMovement)
            ]
        );
        let ecuador = &determination.operations[1];
        assert_eq!(ecuador.arrangement(), Arrangement::JointPlatform);
        assert!(
            (ecuador.protection_share - 0.9).abs() < 1e-9,
            "its own share"
        );
        assert_eq!(ecuador.based_on.len(), 2, "its own reports");
        assert_eq!(ecuador.rationale[0].rule_id, "operation_bound");
        assert_eq!(
            ecuador.rationale[0].clause,
            "FoE B.1 mixed movements: one arrangement across the flow"
        );
        assert!(
            ecuador.rationale[0].text.contains("protection share (0.90"),
            "{}",
            ecuador.rationale[0].text
        );
        assert!(determination.operations.iter().all(|o| o.changed));
    }

    #[test]
    fn under_own_classification_each_operation_follows_its_own_figures() {
        let own = policy("own", "");
        let first = super::super::determine(&own, &story(), None, Timestamp::default());
        assert_eq!(first.classification(), Classification::MixedMovement);
        use Classification::{MigrantSituation, MixedMovement, RefugeeSituation};
        assert_eq!(
            classifications(&first),
            [
                ("COL", MigrantSituation),
                ("ECU", RefugeeSituation),
                ("PER", MixedMovement)
            ]
        );
        assert_eq!(first.operations[1].lead_agencies, [Agency::Unhcr as i32]);
        assert_eq!(
            first.operations[1].rationale[0].rule_id,
            "refugee_situation"
        );

        // Peru's migrants grow ninefold: only Peru's operation changes, against its own previous
        // classification.
        let mut reports = story();
        reports[4] = report(
            Agency::Iom,
            "iom-per-2",
            "PER",
            &[(PopulationGroup::Migrant, 45_000)],
        );
        let second = super::super::determine(&own, &reports, Some(&first), Timestamp::default());
        let changed: Vec<(&str, bool, Classification)> = second
            .operations
            .iter()
            .map(|o| (o.country.as_str(), o.changed, o.previous_classification()))
            .collect();
        assert_eq!(
            changed,
            [
                ("COL", false, MigrantSituation),
                ("ECU", false, RefugeeSituation),
                ("PER", true, MixedMovement)
            ]
        );
        assert_eq!(second.operations[2].classification(), MigrantSituation);
        // A re-evaluation under the binding policy sees the operations' outcomes move.
        assert!(!same_outcome(
            &first,
            &super::super::determine(
                &Policy::default_v1(),
                &story(),
                Some(&first),
                Timestamp::default()
            )
        ));
    }

    #[test]
    fn an_override_naming_a_country_applies_to_that_operation_only() {
        let with_override = policy(
            "regional",
            r#"
[[override]]
situation = "R4V"
country = "PER"
reference = "Peru GTRM terms of reference"
since = 2020-01-01
[override.functions]
data_management = ["iom"]
"#,
        );
        let in_2026 = Timestamp {
            seconds: 1_767_225_600,
            nanos: 0,
        };
        let determination = super::super::determine(&with_override, &story(), None, in_2026);
        let data = |functions: &[tandem_proto::v1::FunctionAssignment]| {
            functions
                .iter()
                .find(|f| f.function == tandem_proto::v1::LeadershipFunction::DataManagement as i32)
                .map(|f| f.agencies.clone())
        };
        let joint = Some(vec![Agency::Iom as i32, Agency::Unhcr as i32]);
        assert_eq!(
            data(&determination.functions),
            joint,
            "the whole keeps the classification's"
        );
        assert_eq!(data(&determination.operations[0].functions), joint);
        assert_eq!(
            data(&determination.operations[2].functions),
            Some(vec![Agency::Iom as i32])
        );
        let rules: Vec<&str> = determination.operations[2]
            .rationale
            .iter()
            .map(|r| r.rule_id.as_str())
            .collect();
        assert_eq!(rules, ["override", "operation_bound"]);
    }

    #[test]
    fn a_designation_in_one_country_report_binds_the_whole_situation() {
        let mut reports = story();
        reports[3].designated_leads = vec![Agency::Iom as i32, Agency::Unhcr as i32];
        reports[3].designation_reference = "SG decision of 12 April 2018".into();
        let own = policy("own", "");
        let determination = super::super::determine(&own, &reports, None, Timestamp::default());
        assert_eq!(determination.arrangement(), Arrangement::Designated);
        assert!(
            determination
                .operations
                .iter()
                .all(|o| o.arrangement() == Arrangement::Designated),
            "{:?}",
            determination.operations
        );
        // Classified on their own figures still.
        assert_eq!(
            determination.operations[1].classification(),
            Classification::RefugeeSituation
        );
    }

    /// `report` designating `leads` for `country`'s operation (empty: the whole situation).
    fn designating(
        mut report: SituationReport,
        country: &str,
        leads: &[Agency],
        reference: &str,
    ) -> SituationReport {
        report.designated_leads = leads.iter().map(|lead| *lead as i32).collect();
        report.designation_reference = reference.into();
        report.designation_country = country.into();
        report
    }

    /// Each operation's country, arrangement, leads and the country of the designation binding
    /// it (`None`: no designation; `Some("")`: the whole situation's).
    fn designated(
        determination: &LeadershipDetermination,
    ) -> Vec<(&str, Arrangement, Vec<i32>, Option<&str>)> {
        determination
            .operations
            .iter()
            .map(|o| {
                (
                    o.country.as_str(),
                    o.arrangement(),
                    o.lead_agencies.clone(),
                    o.designation.as_ref().map(|d| d.country.as_str()),
                )
            })
            .collect()
    }

    const COLOMBIA: &str = "Request of the Government of Colombia, 2018";
    const SG: &str = "SG decision of 12 April 2018";

    /// Determines the reports one at a time, as leadership reflects them, each on the one before.
    fn reflect(policy: &Policy, reports: &[SituationReport]) -> Vec<LeadershipDetermination> {
        let mut determinations: Vec<LeadershipDetermination> = Vec::new();
        for seen in 1..=reports.len() {
            let next = super::super::determine(
                policy,
                &reports[..seen],
                determinations.last(),
                Timestamp::default(),
            );
            determinations.push(next);
        }
        determinations
    }

    #[test]
    fn a_designation_for_one_country_binds_that_operation_only() {
        use Arrangement::{Designated, JointPlatform};
        let mut reports = story();
        reports[1] = designating(reports[1].clone(), "COL", &[Agency::Unhcr], COLOMBIA);
        let determination =
            super::super::determine(&Policy::default_v1(), &reports, None, Timestamp::default());
        assert_eq!(
            determination.arrangement(),
            JointPlatform,
            "the whole is not"
        );
        assert_eq!(determination.designation, None);
        let joint = vec![Agency::Iom as i32, Agency::Unhcr as i32];
        assert_eq!(
            designated(&determination),
            [
                ("COL", Designated, vec![Agency::Unhcr as i32], Some("COL")),
                ("ECU", JointPlatform, joint.clone(), None),
                ("PER", JointPlatform, joint, None),
            ]
        );
        let colombia = &determination.operations[0];
        let designation = colombia.designation.as_ref().expect("designated");
        assert_eq!(
            (
                designation.reference.as_str(),
                designation.report_id.as_str()
            ),
            (COLOMBIA, "unhcr-col")
        );
        let entry = &colombia.rationale[0];
        assert_eq!(entry.rule_id, "designation");
        assert_eq!(entry.reference, COLOMBIA);
        assert!(entry.text.contains(COLOMBIA), "{}", entry.text);
        assert!(entry.texts["fr"].contains(COLOMBIA), "{:?}", entry.texts);
        // Still bound by the regional classification, after the designation entry.
        assert_eq!(colombia.rationale[1].rule_id, "operation_bound");
        assert_eq!(colombia.classification(), Classification::MixedMovement);
        assert!(
            determination.operations[1]
                .rationale
                .iter()
                .all(|entry| entry.rule_id != "designation")
        );
    }

    #[test]
    fn a_country_designation_takes_precedence_over_the_whole_situation_s_in_its_operation() {
        use Arrangement::Designated;
        let mut reports = story();
        reports[2] = designating(reports[2].clone(), "", &[Agency::Iom, Agency::Unhcr], SG);
        reports[5] = designating(reports[5].clone(), "COL", &[Agency::Unhcr], COLOMBIA);
        let joint = vec![Agency::Iom as i32, Agency::Unhcr as i32];
        // Read all at once (a replay without a previous determination) and one at a time.
        let at_once =
            super::super::determine(&Policy::default_v1(), &reports, None, Timestamp::default());
        let one_at_a_time = reflect(&Policy::default_v1(), &reports);
        for determination in [&at_once, one_at_a_time.last().expect("six")] {
            assert_eq!(determination.arrangement(), Designated);
            assert_eq!(
                determination
                    .designation
                    .as_ref()
                    .map(|d| d.reference.as_str()),
                Some(SG)
            );
            assert_eq!(
                designated(determination),
                [
                    ("COL", Designated, vec![Agency::Unhcr as i32], Some("COL")),
                    ("ECU", Designated, joint.clone(), Some("")),
                    ("PER", Designated, joint.clone(), Some("")),
                ]
            );
            assert_eq!(determination.operations[1].rationale[0].reference, SG);
            assert_eq!(determination.operations[0].rationale[0].reference, COLOMBIA);
        }
    }

    #[test]
    fn a_revocation_naming_a_country_ends_only_that_operation_s_designation() {
        use Arrangement::{Designated, JointPlatform};
        let mut reports = story();
        reports[0] = designating(reports[0].clone(), "", &[Agency::Iom], SG);
        reports[1] = designating(reports[1].clone(), "COL", &[Agency::Unhcr], COLOMBIA);
        reports[3] = designating(
            reports[3].clone(),
            "ECU",
            &[Agency::Unhcr],
            "Ecuador's request",
        );
        let mut revoking = report(Agency::Iom, "iom-per-2", "PER", &[]);
        revoking.revision = 2;
        revoking.revoke_designation = true;
        revoking.designation_country = "ECU".into();
        reports[4] = revoking;
        let steps = reflect(&Policy::default_v1(), &reports);
        let iom = vec![Agency::Iom as i32];
        let unhcr = vec![Agency::Unhcr as i32];

        let before = &steps[3];
        assert_eq!(
            designated(before),
            [
                ("COL", Designated, unhcr.clone(), Some("COL")),
                ("ECU", Designated, unhcr.clone(), Some("ECU")),
            ]
        );
        // PER's report revokes Ecuador's designation: Ecuador falls back to the whole
        // situation's, Colombia keeps its own through the reports that do not mention it.
        let after = &steps[4];
        assert_eq!(
            designated(after),
            [
                ("COL", Designated, unhcr.clone(), Some("COL")),
                ("ECU", Designated, iom.clone(), Some("")),
                ("PER", Designated, iom.clone(), Some("")),
            ]
        );
        assert!(after.operations[1].changed);
        assert_eq!(
            after.designation.as_ref().map(|d| d.leads.clone()),
            Some(iom.clone())
        );
        assert_eq!(designated(&steps[5])[..2], designated(after)[..2]);

        // Revoking the whole situation's designation leaves Colombia's own.
        let mut whole = report(Agency::Unhcr, "unhcr-per-2", "PER", &[]);
        whole.revision = 2;
        whole.revoke_designation = true;
        reports.push(whole);
        let last = super::super::determine(
            &Policy::default_v1(),
            &reports,
            steps.last(),
            Timestamp::default(),
        );
        assert_eq!(last.designation, None);
        assert_eq!(last.arrangement(), JointPlatform);
        let joint = vec![Agency::Iom as i32, Agency::Unhcr as i32];
        assert_eq!(
            designated(&last),
            [
                ("COL", Designated, unhcr, Some("COL")),
                ("ECU", JointPlatform, joint.clone(), None),
                ("PER", JointPlatform, joint, None),
            ]
        );
    }

    #[test]
    fn replaying_and_re_evaluating_country_designations_gives_the_same_bytes() {
        let mut reports = story();
        reports[1] = designating(reports[1].clone(), "COL", &[Agency::Unhcr], COLOMBIA);
        reports[3] = designating(reports[3].clone(), "", &[Agency::Iom, Agency::Unhcr], SG);
        let mut revoking = report(Agency::Iom, "iom-ecu-2", "ECU", &[]);
        revoking.revision = 2;
        revoking.revoke_designation = true;
        revoking.designation_country = "COL".into();
        reports.push(revoking);
        let first = reflect(&Policy::default_v1(), &reports);
        let replayed = reflect(&Policy::default_v1(), &reports);
        let bytes = |steps: &[LeadershipDetermination]| -> Vec<Vec<u8>> {
            steps.iter().map(|step| step.encode_to_vec()).collect()
        };
        assert_eq!(bytes(&first), bytes(&replayed));
        assert!(
            first[5].operations[0].designation.is_some(),
            "Colombia's, before the revocation"
        );
        assert_eq!(
            first[6].operations[0]
                .designation
                .as_ref()
                .map(|d| d.country.as_str()),
            Some(""),
            "the whole situation's, after it"
        );

        // Re-evaluated on the determination it made, nothing moves.
        let last = first.last().expect("seven");
        let again = super::super::determine(
            &Policy::default_v1(),
            &reports[..6],
            Some(&first[4]),
            Timestamp::default(),
        );
        assert_eq!(again.encode_to_vec(), first[5].encode_to_vec());
        let reevaluated = super::super::determine(
            &Policy::default_v1(),
            &reports,
            Some(last),
            Timestamp::default(),
        );
        assert!(same_outcome(last, &reevaluated));
        let designations = |d: &LeadershipDetermination| {
            d.operations
                .iter()
                .map(|o| o.designation.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(designations(&reevaluated), designations(last));
        assert_eq!(reevaluated.designation, last.designation);
    }

    #[test]
    fn a_single_country_situation_has_no_operations() {
        let mut reports = story();
        reports[0].regional = false;
        reports.truncate(2);
        let determination =
            super::super::determine(&Policy::default_v1(), &reports, None, Timestamp::default());
        assert!(!determination.regional);
        assert!(determination.operations.is_empty());
        // A partner cannot declare it regional either.
        reports[1].reporting_agency = Agency::Partner as i32;
        reports[1].regional = true;
        assert!(!is_regional(&reports, None));
    }

    #[test]
    fn sixty_four_operations_stay_well_under_the_event_limit() {
        use PopulationGroup::{Migrant, Refugee};
        let mut reports = Vec::new();
        for n in 0..MAX_OPERATIONS + 3 {
            let country = format!("C{n:02}");
            for agency in [Agency::Iom, Agency::Unhcr] {
                let mut one = report(
                    agency,
                    &format!("{country}-{agency:?}"),
                    &country,
                    &[(Migrant, 1_000), (Refugee, 900)],
                );
                one.regional = true;
                reports.push(one);
            }
        }
        let determination =
            super::super::determine(&Policy::default_v1(), &reports, None, Timestamp::default());
        assert_eq!(determination.operations.len(), MAX_OPERATIONS);
        let bytes = determination.encoded_len();
        println!("a determination with {MAX_OPERATIONS} operations: {bytes} bytes");
        assert!(bytes < 512 * 1024, "{bytes} bytes");
    }
}
