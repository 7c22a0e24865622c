//! Reconciliation: several organisations' reports on one situation become one set of figures
//! and facts (docs/design.md, "Several reports on one situation").
//!
//! Reports come in the order intake accepted them, oldest first: that order, never the
//! reporter's own `reported_at` (a clock up to five minutes ahead is accepted), decides which
//! report is the most recent.
//!
//! - Each **fact** (scope, driver, phase, `on_the_move`) comes from the most recently accepted
//!   report of an organisation the policy's `[facts]` table allows to set it (IOM and UNHCR in
//!   v1); with none, the fact is unknown. The situation id and country come from the most
//!   recently accepted report of anyone.
//! - For each population group, the figure of the group's **authoritative agency** (the policy's
//!   authority table: UNHCR for the P groups, IOM for migrants and IDPs in v1) wins when that
//!   agency reported one; otherwise the most recently accepted figure wins.
//! - Where IOM and UNHCR both report a group and differ by more than the policy's tolerance of
//!   the larger figure, the group is a **discrepancy** (framework area 3, joint data).
//!
//! Within one report, the figures of a group are summed over their origins: a group's figure
//! is keyed by (organisation, group), its origins are a breakdown of it. Intake refuses a group
//! given twice for one origin.

use tandem_proto::v1::{
    Discrepancy, Driver, Phase, ReconciledFigure, ReportRef, Scope, SituationReport,
};

use super::Policy;
use super::fixed::Ppm;
use super::load::{Counted, Fact};
use super::names::{Agencies, GROUP_SLOTS, GROUPS, group_from_i32};

/// The reconciled state of one situation: what the policy rules read.
#[derive(Clone, Debug, PartialEq)]
pub struct Reconciled<'a> {
    /// The most recently accepted report; `None` when there were no reports.
    pub latest: Option<&'a SituationReport>,
    /// The facts, each from the most recent report allowed to set it.
    pub facts: Facts<'a>,
    /// One figure per population group reported (host communities included, though they do not
    /// count towards P, M or D), sorted by group.
    pub figures: Vec<ReconciledFigure>,
    /// Groups where IOM's and UNHCR's figures differ beyond the tolerance, sorted by group.
    pub discrepancies: Vec<Discrepancy>,
    /// One reference per report, sorted by agency, partner name, report id and revision.
    pub based_on: Vec<ReportRef>,
    /// P: the reconciled figures of the protection groups, summed.
    pub protection: u128,
    /// M: the reconciled figures of the migrant groups, summed.
    pub migrants: u128,
    /// D: the reconciled figures of the internally displaced groups, summed.
    pub displaced: u128,
    /// People reported in groups outside P, M and D (host communities in v1).
    pub uncounted: u128,
}

impl Reconciled<'_> {
    /// P / (P + M), or 0 when P + M = 0. For display only: the rules compare exactly.
    pub fn protection_share(&self) -> f64 {
        let total = self.protection + self.migrants;
        if total == 0 {
            0.0
        } else {
            self.protection as f64 / total as f64
        }
    }
}

/// The situation's facts, each with the report it comes from (`None`: no report allowed to set
/// it said anything, so the fact is unspecified).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Facts<'a> {
    /// The report giving the scope.
    pub scope: Option<&'a SituationReport>,
    /// The report giving the driver.
    pub driver: Option<&'a SituationReport>,
    /// The report giving the phase.
    pub phase: Option<&'a SituationReport>,
    /// The report saying whether people are on the move together.
    pub on_the_move: Option<&'a SituationReport>,
}

impl Facts<'_> {
    /// The scope, unspecified when no report may set it.
    pub fn scope(&self) -> Scope {
        self.scope
            .map_or(Scope::Unspecified, SituationReport::scope)
    }

    /// The driver, unspecified when no report may set it.
    pub fn driver(&self) -> Driver {
        self.driver
            .map_or(Driver::Unspecified, SituationReport::driver)
    }

    /// The phase, unspecified when no report may set it.
    pub fn phase(&self) -> Phase {
        self.phase
            .map_or(Phase::Unspecified, SituationReport::phase)
    }

    /// Whether people are on the move together; false when no report may say.
    pub fn on_the_move(&self) -> bool {
        self.on_the_move.is_some_and(|report| report.on_the_move)
    }
}

/// Reconciles the latest report of each organisation on one situation, given in the order
/// intake accepted them (oldest first). Pure: same reports, same result.
pub fn reconcile<'a>(policy: &Policy, reports: &'a [SituationReport]) -> Reconciled<'a> {
    let mut figures = Vec::new();
    let mut discrepancies = Vec::new();
    let mut based_on = Vec::new();
    let totals = reconcile_into(
        policy,
        reports,
        &mut figures,
        &mut discrepancies,
        &mut based_on,
    );
    Reconciled {
        latest: totals.latest,
        facts: totals.facts,
        figures,
        discrepancies,
        based_on,
        protection: totals.protection,
        migrants: totals.migrants,
        displaced: totals.displaced,
        uncounted: totals.uncounted,
    }
}

/// What [`reconcile_into`] returns besides the lists it fills.
pub(crate) struct Totals<'a> {
    pub(crate) latest: Option<&'a SituationReport>,
    pub(crate) facts: Facts<'a>,
    pub(crate) protection: u128,
    pub(crate) migrants: u128,
    pub(crate) displaced: u128,
    pub(crate) uncounted: u128,
}

/// [`reconcile`], writing the lists into the given vectors (whatever they held is replaced), so
/// that [`super::determine`] fills the lists of the determination it sized up front.
pub(crate) fn reconcile_into<'a>(
    policy: &Policy,
    reports: &'a [SituationReport],
    figures: &mut Vec<ReconciledFigure>,
    discrepancies: &mut Vec<Discrepancy>,
    based_on: &mut Vec<ReportRef>,
) -> Totals<'a> {
    // Per group: the most recent figure from anyone, from IOM and from UNHCR, as
    // (report index, count). Fixed arrays: no allocation for the scan.
    #[derive(Clone, Copy, Default)]
    struct Slot {
        any: Option<(usize, u64)>,
        iom: Option<(usize, u64)>,
        unhcr: Option<(usize, u64)>,
    }
    // Later reports are more recent, so each slot simply keeps the last figure it sees.
    let mut slots = [Slot::default(); GROUP_SLOTS];
    let mut facts = Facts::default();
    for report in reports {
        let agency = Agencies::of(report.reporting_agency);
        for fact in Fact::ALL {
            if agency.is_empty() || !policy.facts[fact as usize].contains(agency) {
                continue;
            }
            let slot = match fact {
                Fact::Scope => &mut facts.scope,
                Fact::Driver => &mut facts.driver,
                Fact::Phase => &mut facts.phase,
                Fact::OnTheMove => &mut facts.on_the_move,
            };
            *slot = Some(report);
        }
    }

    for (index, report) in reports.iter().enumerate() {
        let agency = Agencies::of(report.reporting_agency);
        // A report's figures of one group, summed over their origins (intake refuses a group
        // given twice for one origin). At most 16 figures of at most 10⁸: no overflow.
        let mut counts = [None::<u64>; GROUP_SLOTS];
        for figure in &report.population {
            if let Some(group) = group_from_i32(figure.group) {
                let count = &mut counts[group as usize];
                *count = Some(count.unwrap_or(0).saturating_add(figure.count));
            }
        }
        for (slot, count) in slots.iter_mut().zip(counts) {
            let Some(count) = count else {
                continue;
            };
            let entry = Some((index, count));
            slot.any = entry;
            if agency == Agencies::IOM {
                slot.iom = entry;
            }
            if agency == Agencies::UNHCR {
                slot.unhcr = entry;
            }
        }
    }

    let mut totals = Totals {
        latest: reports.last(),
        facts,
        protection: 0,
        migrants: 0,
        displaced: 0,
        uncounted: 0,
    };
    let mut used = 0;
    discrepancies.clear();
    for group in GROUPS {
        let slot = slots[group as usize];
        let authority = policy.authority[group as usize];
        let chosen = if authority == Agencies::IOM {
            slot.iom.or(slot.any)
        } else if authority == Agencies::UNHCR {
            slot.unhcr.or(slot.any)
        } else {
            slot.any
        };
        if let Some((index, count)) = chosen {
            let report = &reports[index];
            let figure = reuse(figures, used);
            used += 1;
            figure.group = group as i32;
            figure.count = count;
            figure.source_agency = report.reporting_agency;
            overwrite(&mut figure.report_id, &report.report_id);
            let sum = match policy.counted[group as usize] {
                Some(Counted::Protection) => &mut totals.protection,
                Some(Counted::Migrant) => &mut totals.migrants,
                Some(Counted::Displaced) => &mut totals.displaced,
                None => &mut totals.uncounted,
            };
            // At most ten u64 summands: cannot overflow a u128.
            *sum += u128::from(count);
        }
        if let (Some((_, iom)), Some((_, unhcr))) = (slot.iom, slot.unhcr)
            && differs(iom, unhcr, policy.tolerance)
        {
            let larger = iom.max(unhcr);
            discrepancies.push(Discrepancy {
                group: group as i32,
                iom_count: iom,
                unhcr_count: unhcr,
                relative_difference: iom.abs_diff(unhcr) as f64 / larger as f64,
                // Set by the engine, which knows the previous determination.
                new: false,
            });
        }
    }
    figures.truncate(used);

    for (index, report) in reports.iter().enumerate() {
        let reference = reuse(based_on, index);
        reference.reporting_agency = report.reporting_agency;
        overwrite(&mut reference.reporter_org, &report.reporter_org);
        overwrite(&mut reference.report_id, &report.report_id);
        reference.revision = report.revision;
    }
    based_on.truncate(reports.len());
    // Equal references are identical, so an unstable sort is still deterministic.
    based_on.sort_unstable_by(|a, b| {
        a.reporting_agency
            .cmp(&b.reporting_agency)
            .then_with(|| a.reporter_org.cmp(&b.reporter_org))
            .then_with(|| a.report_id.cmp(&b.report_id))
            .then_with(|| a.revision.cmp(&b.revision))
    });
    totals
}

/// The element at `index` of `items`, appending defaults up to it: lets a caller overwrite an
/// earlier result in place, keeping the strings' buffers.
pub(crate) fn reuse<T: Default>(items: &mut Vec<T>, index: usize) -> &mut T {
    while items.len() <= index {
        items.push(T::default());
    }
    &mut items[index]
}

/// Replaces `target`'s text with `value`, keeping its buffer.
pub(crate) fn overwrite(target: &mut String, value: &str) {
    target.clear();
    target.push_str(value);
}

/// Whether two figures differ by more than `tolerance` of the larger, exactly:
/// `|a − b| / max(a, b) > t` as `|a − b| · 10⁶ > t · max(a, b)`. Two zeros never differ.
fn differs(a: u64, b: u64, tolerance: Ppm) -> bool {
    let larger = u128::from(a.max(b));
    larger > 0
        && tolerance
            .ratio_vs(u128::from(a.abs_diff(b)), larger)
            .is_gt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrepancy_threshold_is_exact() {
        let tolerance = Ppm(250_000);
        // 25% of the larger exactly is within tolerance; one more is not.
        assert!(!differs(1000, 750, tolerance));
        assert!(differs(1000, 749, tolerance));
        assert!(!differs(0, 0, tolerance));
        assert!(differs(0, 1, tolerance));
        assert!(!differs(u64::MAX, u64::MAX, tolerance));
    }
}
