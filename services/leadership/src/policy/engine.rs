//! The rules of docs/design.md's "Leadership policy v1", applied to a reconciled situation:
//! [`determine`] and [`same_outcome`].
//!
//! The rule table and the choices made where docs/design.md is silent are in the documentation of
//! the parent module, [`super`], where readers of the public API see them.

use tandem_i18n::Lang;
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Arrangement, Classification, Designation, Driver, FunctionAssignment, LeadershipDetermination,
    LeadershipFunction, Phase, PolicyParameter, PopulationGroup, RationaleEntry, Scope,
    SituationReport,
};

use super::Policy;
use super::fixed::write_digits;
use super::load::{AS_WRITTEN, Counted, FUNCTION_SLOTS, LOWERED, Override, RAISED};
use super::names::{Agencies, GROUPS};
use super::operations;
use super::reconcile::{Facts as SituationFacts, Totals, overwrite, reconcile_into, reuse};
use super::text::{Facts, Rule};

/// Number of population groups, the most figures a determination can hold.
const GROUP_COUNT: usize = GROUPS.len();

/// The five leadership functions of the Framework of Engagement, which apply to every situation.
const FOE_FUNCTIONS: [LeadershipFunction; 5] = [
    LeadershipFunction::StrategicPlanning,
    LeadershipFunction::EngagementWithStates,
    LeadershipFunction::DataManagement,
    LeadershipFunction::ResourceMobilization,
    LeadershipFunction::InclusiveCoordination,
];

/// Which agencies hold each function; an empty set means the function does not apply.
type Functions = [Agencies; FUNCTION_SLOTS];

/// The five FoE functions, all held by `agencies`.
fn foe_functions(agencies: Agencies) -> Functions {
    let mut functions = [Agencies::NONE; FUNCTION_SLOTS];
    for function in FOE_FUNCTIONS {
        functions[function as usize] = agencies;
    }
    functions
}

/// What rules 2–4 decided, before a designation overrides the leads.
#[derive(Clone)]
pub(crate) struct Decision {
    classification: Classification,
    arrangement: Arrangement,
    leads: Agencies,
    functions: Functions,
    /// The rules that fired, in order (at most two: hysteresis + class, or cluster + CCCM).
    fired: [Option<Rule>; 2],
    /// Which refugee and migrant thresholds are in force (moved by hysteresis), as indices into
    /// `Policy::refugee_at` and `Policy::migrant_at`.
    thresholds: (usize, usize),
}

impl Decision {
    /// A decision where IOM and UNHCR hold every FoE function together.
    fn joint(classification: Classification, arrangement: Arrangement, rule: Rule) -> Decision {
        Decision {
            classification,
            arrangement,
            leads: Agencies::JOINT,
            functions: foe_functions(Agencies::JOINT),
            fired: [Some(rule), None],
            thresholds: (AS_WRITTEN, AS_WRITTEN),
        }
    }
}

/// Reconciles the latest report of each organisation and applies the policy.
///
/// `reports` are the latest accepted report of each reporting organisation on one situation, in
/// the order intake accepted them (oldest first: the last is the most recent); `previous` is the situation's current determination, if any (it gives the
/// sequence, the hysteresis and `changed`). Pure and total: any input, however malformed, gives a
/// determination with at least one lead and one rationale entry, and the same input gives the
/// same output.
///
/// A regional situation (docs/design.md, "Regional situations") is determined as a whole and
/// per country operation by [`super::operations`].
pub fn determine(
    policy: &Policy,
    reports: &[SituationReport],
    previous: Option<&LeadershipDetermination>,
    determined_at: Timestamp,
) -> LeadershipDetermination {
    if operations::is_regional(reports, previous) {
        return operations::determine(policy, reports, previous, determined_at);
    }
    let carried = previous.map(|previous| previous.designation.as_ref());
    let designation = designation_in_force(reports, carried, WHOLE);
    determine_for(
        policy,
        reports,
        previous,
        designation,
        Bound::No,
        determined_at,
    )
    .0
}

/// Whether a determination is of a country operation, and bound by the regional arrangement.
#[derive(Clone, Copy)]
pub(crate) enum Bound<'a> {
    /// A situation as a whole (regional or not).
    No,
    /// The operation in this country, classified on its own figures.
    Own(&'a str),
    /// The operation in this country, taking the regional decision (before any designation).
    Regional(&'a str, &'a Decision),
}

/// [`determine`] on `reports` alone, with `designation` in force; also returns P, M, D and the
/// uncounted, and the decision of rules 2–4 (for the operations a regional decision binds).
pub(crate) fn determine_for(
    policy: &Policy,
    reports: &[SituationReport],
    previous: Option<&LeadershipDetermination>,
    designation: Option<Designation>,
    bound: Bound<'_>,
    determined_at: Timestamp,
) -> (LeadershipDetermination, Counts, Decision) {
    // Size every list once, so that filling it never reallocates: with ~35 heap blocks in a
    // determination, growth reallocations would cost more than the rules themselves.
    let figures: usize = reports.iter().map(|report| report.population.len()).sum();
    let situation_id = reports
        .first()
        .map_or(0, |report| report.situation_id.len());
    let mut determination = LeadershipDetermination {
        determination_id: String::with_capacity(situation_id + 21),
        lead_agencies: Vec::with_capacity(3),
        functions: Vec::with_capacity(FUNCTION_SLOTS - 1),
        figures: Vec::with_capacity(figures.min(GROUP_COUNT)),
        rationale: Vec::with_capacity(4),
        based_on: Vec::with_capacity(reports.len()),
        ..Default::default()
    };
    let totals = reconcile_into(
        policy,
        reports,
        &mut determination.figures,
        &mut determination.discrepancies,
        &mut determination.based_on,
    );
    let (counts, decision) = fill(
        policy,
        totals,
        previous,
        designation,
        bound,
        determined_at,
        &mut determination,
    );
    (determination, counts, decision)
}

/// The work of [`determine`], on reconciled `totals` whose lists are already in `out`.
pub(crate) fn fill(
    policy: &Policy,
    totals: Totals<'_>,
    previous: Option<&LeadershipDetermination>,
    designation: Option<Designation>,
    bound: Bound<'_>,
    determined_at: Timestamp,
    out: &mut LeadershipDetermination,
) -> (Counts, Decision) {
    let Totals {
        latest,
        facts: situation,
        protection,
        migrants,
        displaced,
        uncounted,
        undetermined,
        yielded,
        solutions,
    } = totals;
    for discrepancy in &mut out.discrepancies {
        discrepancy.new = previous.is_none_or(|previous| {
            !previous
                .discrepancies
                .iter()
                .any(|known| known.group == discrepancy.group)
        });
    }
    let previous_classification = previous.map_or(Classification::Unspecified, |previous| {
        previous.classification()
    });
    // The undetermined-majority rule weighs the undetermined only where the policy counts them
    // in neither P nor M; a policy counting them in either has said how they count.
    let undetermined_apart = !matches!(
        policy.counted[PopulationGroup::Undetermined as usize],
        Some(Counted::Protection | Counted::Migrant)
    );
    let counts = Counts {
        protection,
        migrants,
        displaced,
        uncounted,
        undetermined: if undetermined_apart { undetermined } else { 0 },
    };
    let (mut decision, operation) = match bound {
        Bound::No => (
            decide(policy, &situation, counts, previous_classification),
            None,
        ),
        Bound::Own(country) => (
            decide(policy, &situation, counts, previous_classification),
            Some(country),
        ),
        Bound::Regional(country, regional) => (
            Decision {
                fired: [Some(Rule::OperationBound), None],
                ..regional.clone()
            },
            Some(country),
        ),
    };
    let decided = decision.clone();

    // Rule 1: a designation keeps the classification but hands every function to the
    // designated agencies.
    let designated = designation.as_ref().map_or(Agencies::NONE, |designation| {
        Agencies::from_values(&designation.leads).unwrap_or(Agencies::NONE)
    });
    let mut designation_rules = [None, None];
    if !designated.is_empty() {
        decision.arrangement = Arrangement::Designated;
        decision.leads = designated;
        for holders in &mut decision.functions {
            if !holders.is_empty() {
                *holders = designated;
            }
        }
        designation_rules[0] = Some(Rule::Designation);
        if designated == Agencies::PARTNER {
            designation_rules[1] = Some(Rule::DesignationPartnerOnly);
        }
    }

    // An override of the situation assigns the functions it names, over the classification and
    // any designation; the leads are then the agencies holding any function.
    let situation_id = latest
        .map(|report| report.situation_id.as_str())
        .or(previous.map(|previous| previous.situation_id.as_str()))
        .unwrap_or("");
    let overridden = policy.override_for(situation_id, operation, determined_at.seconds);
    if let Some(applied) = overridden {
        for (slot, assigned) in applied.functions.iter().enumerate() {
            if let Some((agencies, _)) = assigned {
                decision.functions[slot] = *agencies;
            }
        }
        let holders = decision
            .functions
            .iter()
            .fold(Agencies::NONE, |set, holders| set.with(*holders));
        if !holders.is_empty() {
            decision.leads = holders;
        }
    }

    let facts = Facts {
        protection,
        migrants,
        displaced,
        uncounted,
        refugee_threshold: &policy.refugee_at[decision.thresholds.0],
        migrant_threshold: &policy.migrant_at[decision.thresholds.1],
        hysteresis: &policy.hysteresis_shown,
        tolerance: &policy.tolerance_shown,
        previous: previous_classification,
        leads: decision.leads,
        report_id: latest.map_or("", |report| report.report_id.as_str()),
        driver: situation.driver(),
        reference: designation
            .as_ref()
            .map_or("", |designation| designation.reference.as_str()),
        since: "",
        discrepancy: None,
        undetermined,
        counted: protection + migrants + undetermined,
        undetermined_majority: &policy.undetermined_majority,
        yield_after_days: &policy.yield_after_days_text,
        yielded: None,
        solutions: solutions.as_ref(),
    };
    let designation_facts = Facts {
        report_id: designation
            .as_ref()
            .map_or("", |designation| designation.report_id.as_str()),
        ..facts
    };
    let mut entries = 0;
    for rule in designation_rules.into_iter().flatten() {
        let entry = reuse(&mut out.rationale, entries);
        write_entry(policy, rule, &designation_facts, entry);
        entries += 1;
    }
    if let Some(applied) = overridden {
        let override_facts = Facts {
            reference: &applied.reference,
            since: &applied.since,
            ..facts
        };
        let entry = reuse(&mut out.rationale, entries);
        write_entry(policy, Rule::Override, &override_facts, entry);
        entries += 1;
    }
    for rule in decision.fired.into_iter().flatten() {
        write_entry(policy, rule, &facts, reuse(&mut out.rationale, entries));
        entries += 1;
    }
    if solutions.is_some() {
        let entry = reuse(&mut out.rationale, entries);
        write_entry(policy, Rule::SolutionsProgress, &facts, entry);
        entries += 1;
    }
    for yielded in &yielded {
        let facts = Facts {
            yielded: Some(yielded),
            ..facts
        };
        let entry = reuse(&mut out.rationale, entries);
        write_entry(policy, Rule::AuthorityYielded, &facts, entry);
        entries += 1;
    }
    for discrepancy in &out.discrepancies {
        let facts = Facts {
            discrepancy: Some(discrepancy),
            ..facts
        };
        write_entry(
            policy,
            Rule::Discrepancy,
            &facts,
            reuse(&mut out.rationale, entries),
        );
        entries += 1;
    }
    out.rationale.truncate(entries);

    // Country from the most recent report (the situation id too, above); with no reports,
    // keep the previous.
    let country = latest
        .map(|report| report.country.as_str())
        .or(previous.map(|previous| previous.country.as_str()))
        .unwrap_or("");
    overwrite(&mut out.situation_id, situation_id);
    overwrite(&mut out.country, country);
    out.sequence = previous.map_or(1, |previous| previous.sequence.saturating_add(1));
    out.determination_id.clear();
    out.determination_id.push_str(situation_id);
    out.determination_id.push('/');
    write_digits(&mut out.determination_id, u128::from(out.sequence));

    out.classification = decision.classification as i32;
    out.arrangement = decision.arrangement as i32;
    decision.leads.write_into(&mut out.lead_agencies);
    write_assignments(&decision.functions, overridden, &mut out.functions);
    let total = protection + migrants;
    out.protection_share = if total == 0 {
        0.0
    } else {
        protection as f64 / total as f64
    };
    overwrite(&mut out.policy_version, policy.version());
    out.changed = previous.is_none_or(|previous| {
        previous.classification != decision.classification as i32
            || previous.arrangement != decision.arrangement as i32
            || Agencies::from_values(&previous.lead_agencies) != Some(decision.leads)
    });
    out.previous_classification = previous_classification as i32;
    out.determined_at = Some(determined_at);
    out.designation = designation.filter(|_| !designated.is_empty());
    out.solutions = solutions;
    (counts, decided)
}

/// The `designation_country` of a designation of the situation as a whole.
pub(crate) const WHOLE: &str = "";

/// Whether a report records a designation (a known agency designated) or revokes one for
/// `country` (a country operation, or [`WHOLE`]), and may: only IOM and UNHCR record
/// designations (intake refuses them from partners).
fn records_designation(report: &SituationReport, country: &str) -> bool {
    let by_agency = matches!(
        Agencies::of(report.reporting_agency),
        Agencies::IOM | Agencies::UNHCR
    );
    let designates = report
        .designated_leads
        .iter()
        .any(|lead| !Agencies::of(*lead).is_empty());
    by_agency && (designates || report.revoke_designation) && report.designation_country == country
}

/// The designation a report records, or `None` for a revocation.
fn designation_of(report: &SituationReport) -> Option<Designation> {
    let leads = report
        .designated_leads
        .iter()
        .fold(Agencies::NONE, |set, lead| set.with(Agencies::of(*lead)));
    if leads.is_empty() {
        return None;
    }
    let mut designation = Designation {
        reference: report.designation_reference.clone(),
        report_id: report.report_id.clone(),
        recorded_by: report.reporting_agency,
        country: report.designation_country.clone(),
        ..Default::default()
    };
    leads.write_into(&mut designation.leads);
    Some(designation)
}

/// The designation in force for `country` (a country operation's own, or [`WHOLE`]): the
/// newest report's, when it records or revokes one for `country`; otherwise the one the
/// previous determination held for `country` (`carried`, `None` without a previous
/// determination), which lasts until revoked (a later report that does not mention it leaves
/// it alone). With no previous determination, the newest report recording or revoking one for
/// `country` among `reports` decides.
pub(crate) fn designation_in_force(
    reports: &[SituationReport],
    carried: Option<Option<&Designation>>,
    country: &str,
) -> Option<Designation> {
    match (reports.last(), carried) {
        (Some(latest), _) if records_designation(latest, country) => designation_of(latest),
        (_, Some(carried)) => carried.cloned(),
        (_, None) => reports
            .iter()
            .rev()
            .find(|report| records_designation(report, country))
            .and_then(designation_of),
    }
}

/// P, M, D, the people in uncounted groups and the undetermined, after reconciliation.
#[derive(Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) protection: u128,
    pub(crate) migrants: u128,
    pub(crate) displaced: u128,
    pub(crate) uncounted: u128,
    /// Refugees and migrants whose status is not determined, when the policy counts them in
    /// neither P nor M (else 0: they are in P or M already).
    pub(crate) undetermined: u128,
}

/// Rules 2–4 (and the scope fallback).
fn decide(
    policy: &Policy,
    situation: &SituationFacts<'_>,
    counts: Counts,
    previous: Classification,
) -> Decision {
    use Arrangement as A;
    use Classification as C;

    let Counts {
        protection,
        migrants,
        displaced,
        undetermined,
        ..
    } = counts;
    // Checked first: a cross-border situation of only undetermined people has no P or M.
    if situation.scope() == Scope::CrossBorder
        && undetermined > 0
        && policy
            .undetermined_majority
            .value
            .ratio_vs(undetermined, protection + migrants + undetermined)
            .is_gt()
    {
        return Decision::joint(
            C::MixedMovement,
            A::JointPlatform,
            Rule::UndeterminedMajority,
        );
    }
    if protection + migrants + displaced == 0 {
        return Decision::joint(
            C::PendingJointAssessment,
            A::JointAssessment,
            Rule::NoFigures,
        );
    }
    match situation.scope() {
        Scope::Internal if situation.phase() == Phase::Solutions => Decision::joint(
            C::IdpDurableSolutions,
            A::JointSolutionsSupport,
            Rule::IdpDurableSolutions,
        ),
        Scope::Internal => {
            let (cccm, cccm_rule) = if situation.driver() == Driver::Disaster {
                (Agencies::IOM, Rule::CccmDisaster)
            } else {
                (Agencies::UNHCR, Rule::CccmNotDisaster)
            };
            let leads = Agencies::UNHCR.with(cccm);
            let mut functions = foe_functions(leads);
            functions[LeadershipFunction::DataManagement as usize] = Agencies::JOINT;
            functions[LeadershipFunction::ProtectionCluster as usize] = Agencies::UNHCR;
            functions[LeadershipFunction::CccmCluster as usize] = cccm;
            Decision {
                classification: C::IdpSituation,
                arrangement: A::ClusterSystem,
                leads,
                functions,
                fired: [Some(Rule::IdpCluster), Some(cccm_rule)],
                thresholds: (AS_WRITTEN, AS_WRITTEN),
            }
        }
        Scope::CrossBorder if protection + migrants == 0 => Decision::joint(
            C::PendingJointAssessment,
            A::JointAssessment,
            Rule::NoCrossBorderFigures,
        ),
        Scope::CrossBorder => cross_border(policy, situation.on_the_move(), counts, previous),
        Scope::Unspecified => Decision::joint(
            C::PendingJointAssessment,
            A::JointAssessment,
            Rule::UnknownScope,
        ),
    }
}

/// Rule 4, with hysteresis. `P + M > 0` here.
fn cross_border(
    policy: &Policy,
    on_the_move: bool,
    counts: Counts,
    previous: Classification,
) -> Decision {
    use Arrangement as A;
    use Classification as C;

    // Move the boundaries in favour of the previous classification. Validation guarantees
    // migrant + h < refugee − h, refugee + h ≤ 1 and migrant − h ≥ 0, so they stay ordered.
    let thresholds = match previous {
        C::RefugeeSituation => (LOWERED, AS_WRITTEN),
        C::MigrantSituation => (AS_WRITTEN, RAISED),
        C::MixedMovement | C::RespectiveMandates => (RAISED, LOWERED),
        _ => (AS_WRITTEN, AS_WRITTEN),
    };
    let moved = thresholds != (AS_WRITTEN, AS_WRITTEN) && policy.hysteresis.0 > 0;
    let hysteresis = moved.then_some(Rule::Hysteresis);
    let refugee_threshold = policy.refugee_at[thresholds.0].value;
    let migrant_threshold = policy.migrant_at[thresholds.1].value;

    let total = counts.protection + counts.migrants;
    let (classification, arrangement, leads, holders, rule) =
        if refugee_threshold.ratio_vs(counts.protection, total).is_ge() {
            (
                C::RefugeeSituation,
                A::RefugeeCoordinationModel,
                Agencies::UNHCR,
                Agencies::UNHCR,
                Rule::RefugeeSituation,
            )
        } else if migrant_threshold.ratio_vs(counts.protection, total).is_le() {
            (
                C::MigrantSituation,
                A::IomLedResponse,
                Agencies::IOM,
                Agencies::IOM,
                Rule::MigrantSituation,
            )
        } else if on_the_move {
            (
                C::MixedMovement,
                A::JointPlatform,
                Agencies::JOINT,
                Agencies::JOINT,
                Rule::MixedMovement,
            )
        } else {
            (
                C::RespectiveMandates,
                A::RespectiveMandates,
                Agencies::JOINT,
                Agencies::JOINT,
                Rule::RespectiveMandates,
            )
        };
    Decision {
        classification,
        arrangement,
        leads,
        functions: foe_functions(holders),
        fired: match hysteresis {
            Some(hysteresis) => [Some(hysteresis), Some(rule)],
            None => [Some(rule), None],
        },
        thresholds,
    }
}

/// Writes the rationale entry of a rule that fired over `entry`.
fn write_entry(policy: &Policy, rule: Rule, facts: &Facts<'_>, entry: &mut RationaleEntry) {
    let text = policy.rule(rule);
    overwrite(&mut entry.rule_id, rule.id());
    overwrite(&mut entry.clause, &text.clause);
    let reference = match rule {
        Rule::Designation | Rule::DesignationPartnerOnly | Rule::Override => facts.reference,
        _ => "",
    };
    overwrite(&mut entry.reference, reference);
    entry.text.clear();
    text.template
        .render_into(&mut entry.text, rule, facts, Lang::En);
    entry.texts.retain(|code, _| {
        text.translations
            .iter()
            .any(|(lang, _)| lang.code() == code)
    });
    for (lang, template) in &text.translations {
        // A reused entry keeps its strings: the key is allocated only the first time.
        if !entry.texts.contains_key(lang.code()) {
            entry.texts.insert(lang.code().to_owned(), String::new());
        }
        if let Some(translated) = entry.texts.get_mut(lang.code()) {
            translated.clear();
            template.render_into(translated, rule, facts, *lang);
        }
    }
    write_parameters(policy, rule, facts, &mut entry.parameters);
}

/// Writes the policy parameters a rule used, as the file writes them, over `out`: thresholds,
/// hysteresis and tolerance are tandem's choices, not clauses of the framework, so an entry
/// names them apart from its normative source.
fn write_parameters(
    policy: &Policy,
    rule: Rule,
    facts: &Facts<'_>,
    out: &mut Vec<PolicyParameter>,
) {
    let moved = facts.refugee_threshold.value != policy.refugee_at[AS_WRITTEN].value
        || facts.migrant_threshold.value != policy.migrant_at[AS_WRITTEN].value;
    let refugee = ("thresholds.refugee", &*policy.refugee_at[AS_WRITTEN].text);
    let migrant = ("thresholds.migrant", &*policy.migrant_at[AS_WRITTEN].text);
    let hysteresis = ("thresholds.hysteresis", &*policy.hysteresis_shown.text);
    let tolerance = ("thresholds.discrepancy_tolerance", &*policy.tolerance_text);
    let majority = (
        "thresholds.undetermined_majority",
        &*policy.undetermined_majority.text,
    );
    let yield_after = ("authority.yield_after_days", &*policy.yield_after_days_text);
    let used: &[(&str, &str)] = match rule {
        Rule::Hysteresis => &[refugee, migrant, hysteresis],
        Rule::RefugeeSituation if moved => &[refugee, hysteresis],
        Rule::RefugeeSituation => &[refugee],
        Rule::MigrantSituation if moved => &[migrant, hysteresis],
        Rule::MigrantSituation => &[migrant],
        Rule::MixedMovement | Rule::RespectiveMandates if moved => &[refugee, migrant, hysteresis],
        Rule::MixedMovement | Rule::RespectiveMandates => &[refugee, migrant],
        Rule::Discrepancy => &[tolerance],
        Rule::UndeterminedMajority => &[majority],
        Rule::AuthorityYielded => &[yield_after],
        _ => &[],
    };
    for (index, (name, value)) in used.iter().enumerate() {
        let parameter = reuse(out, index);
        overwrite(&mut parameter.name, name);
        overwrite(&mut parameter.value, value);
        overwrite(&mut parameter.policy_version, policy.version());
    }
    out.truncate(used.len());
}

/// Writes the function assignments that apply over `out`, in enum order, each with its agencies
/// sorted and, under an override, the other actors it names.
fn write_assignments(
    functions: &Functions,
    overridden: Option<&Override>,
    out: &mut Vec<FunctionAssignment>,
) {
    let mut used = 0;
    for (slot, holders) in functions.iter().enumerate() {
        let actors = overridden
            .and_then(|applied| applied.functions[slot].as_ref())
            .map_or(&[][..], |(_, actors)| actors.as_slice());
        if holders.is_empty() && actors.is_empty() {
            continue;
        }
        let assignment = reuse(out, used);
        used += 1;
        #[expect(clippy::cast_possible_wrap, reason = "FUNCTION_SLOTS is 8")]
        let function = slot as i32;
        assignment.function = function;
        holders.write_into(&mut assignment.agencies);
        assignment.actors.clear();
        assignment.actors.extend(actors.iter().cloned());
    }
    out.truncate(used);
}

/// Whether two determinations have the same outcome: classification, arrangement, lead agencies
/// and function assignments, compared as sets (order and duplicates do not matter). Used by
/// `tandem policy apply` to emit determinations only where a new policy changes something.
/// Unknown enum values in either side are compared literally.
pub fn same_outcome(a: &LeadershipDetermination, b: &LeadershipDetermination) -> bool {
    let same_leads = match (
        Agencies::from_values(&a.lead_agencies),
        Agencies::from_values(&b.lead_agencies),
    ) {
        (Some(left), Some(right)) => left == right,
        _ => a.lead_agencies == b.lead_agencies,
    };
    let same_functions = match (function_table(a), function_table(b)) {
        (Some(left), Some(right)) => left == right,
        _ => a.functions == b.functions,
    };
    a.classification == b.classification
        && a.arrangement == b.arrangement
        && same_leads
        && same_functions
        && actors(a) == actors(b)
        && operations::same_operations(a, b)
}

/// The named actors (not agencies) holding each function, in a comparable form.
fn actors(determination: &LeadershipDetermination) -> std::collections::BTreeSet<(i32, &str)> {
    determination
        .functions
        .iter()
        .flat_map(|f| {
            f.actors
                .iter()
                .map(move |actor| (f.function, actor.as_str()))
        })
        .collect()
}

/// A determination's functions as a table, merging repeated functions; `None` when a function
/// or agency value is unknown.
fn function_table(determination: &LeadershipDetermination) -> Option<Functions> {
    let mut table = [Agencies::NONE; FUNCTION_SLOTS];
    for assignment in &determination.functions {
        let slot = usize::try_from(assignment.function)
            .ok()
            .filter(|slot| (1..FUNCTION_SLOTS).contains(slot))?;
        table[slot] = table[slot].with(Agencies::from_values(&assignment.agencies)?);
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_outcome_ignores_order_and_duplicates() {
        let mut a = LeadershipDetermination {
            classification: Classification::MixedMovement as i32,
            arrangement: Arrangement::JointPlatform as i32,
            lead_agencies: vec![1, 2],
            functions: vec![
                FunctionAssignment {
                    function: 1,
                    agencies: vec![1, 2],
                    ..Default::default()
                },
                FunctionAssignment {
                    function: 3,
                    agencies: vec![2, 1],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut b = a.clone();
        b.lead_agencies = vec![2, 1, 2];
        b.functions.reverse();
        b.sequence = 9;
        b.rationale.push(RationaleEntry::default());
        assert!(same_outcome(&a, &b));
        b.functions[0].agencies = vec![2];
        assert!(!same_outcome(&a, &b));
        a.functions[1].agencies = vec![2];
        assert!(same_outcome(&a, &b));
        // An override handing a function to a named actor is a change of who leads.
        b.functions[1].actors = vec!["Resident Coordinator".into()];
        assert!(!same_outcome(&a, &b));
        a.functions[0].actors = vec!["Resident Coordinator".into()];
        assert!(same_outcome(&a, &b));
        b.classification = Classification::RespectiveMandates as i32;
        assert!(!same_outcome(&a, &b));
    }
}
