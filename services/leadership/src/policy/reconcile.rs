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
//! - An authoritative figure **yields** to the other agency's (IOM's or UNHCR's) figure of the
//!   group when its `as_of` is more than the policy's `authority.yield_after_days` before the
//!   other's: measured between the two dates, never against the clock, so that the same reports
//!   give the same determination on any day. Each yield is reported ([`Yield`]) and written in
//!   the rationale.
//! - In the **solutions phase**, each IASC criterion's progress is the share with the most
//!   recent `as_of` among IOM's and UNHCR's reports, or partners' where neither gives it; on the
//!   same date, the most recently accepted report's.
//!
//! Within one report, a group's figure is the sum over its origins of each origin's figure:
//! the figure for the whole country where the report gives one, otherwise the sum of its
//! first-level areas (each its own figure, else the sum of its second-level areas). Intake
//! refuses a group given twice for one origin and area, and areas that add up to more than the
//! figure they break down; here the first of a repeated place counts. The figure's date and
//! source are those of the oldest figure it is made of: a sum is as old as its oldest part.

use tandem_proto::v1::{
    CriterionProgress, Discrepancy, Driver, DurableSolutionsCriterion, OriginCount, Phase,
    PopulationFigure, PopulationGroup, ReconciledFigure, ReportRef, Scope, SituationReport,
    SolutionsSummary,
};

use super::Policy;
use super::fixed::Ppm;
use super::load::{Counted, Fact, days_from_civil};
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
    /// The reconciled figure of refugees and migrants whose status is not determined, whatever
    /// set the policy counts them in.
    pub undetermined: u128,
    /// The groups whose authoritative figure yielded to the other agency's newer one, by group.
    pub yielded: Vec<Yield>,
    /// In the solutions phase, progress against the IASC criteria when some report gives it.
    pub solutions: Option<SolutionsSummary>,
}

/// An authoritative figure that yielded to the other agency's newer figure of the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Yield {
    /// The group.
    pub group: PopulationGroup,
    /// The authoritative agency, whose figure yielded.
    pub(crate) authority: Agencies,
    /// Its figure and date.
    pub authority_count: u64,
    /// `YYYY-MM-DD`.
    pub authority_as_of: String,
    /// The other agency, whose figure counts.
    pub(crate) other: Agencies,
    /// Its figure and date.
    pub other_count: u64,
    /// `YYYY-MM-DD`.
    pub other_as_of: String,
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
        undetermined: totals.undetermined,
        yielded: totals.yielded,
        solutions: totals.solutions,
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
    pub(crate) undetermined: u128,
    pub(crate) yielded: Vec<Yield>,
    pub(crate) solutions: Option<SolutionsSummary>,
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
    // Per group: the most recent figure from anyone, from IOM and from UNHCR.
    #[derive(Clone, Copy, Default)]
    struct Slot<'a> {
        any: Option<Pick<'a>>,
        iom: Option<Pick<'a>>,
        unhcr: Option<Pick<'a>>,
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
        for (slot, figure) in slots.iter_mut().zip(group_figures(report)) {
            let Some((count, dated)) = figure else {
                continue;
            };
            let pick = Pick {
                report: index,
                count,
                dated,
            };
            slot.any = Some(pick);
            if agency == Agencies::IOM {
                slot.iom = Some(pick);
            }
            if agency == Agencies::UNHCR {
                slot.unhcr = Some(pick);
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
        undetermined: 0,
        yielded: Vec::new(),
        solutions: None,
    };
    let mut used = 0;
    discrepancies.clear();
    for group in GROUPS {
        let slot = slots[group as usize];
        let authority = policy.authority[group as usize];
        let (own, other, other_agency) = if authority == Agencies::IOM {
            (slot.iom, slot.unhcr, Agencies::UNHCR)
        } else if authority == Agencies::UNHCR {
            (slot.unhcr, slot.iom, Agencies::IOM)
        } else {
            (None, None, Agencies::NONE)
        };
        let mut chosen = own.or(slot.any);
        if let (Some(own), Some(other)) = (own, other)
            && yields(own.dated, other.dated, policy.yield_after_days)
        {
            chosen = Some(other);
            totals.yielded.push(Yield {
                group,
                authority,
                authority_count: own.count,
                authority_as_of: own.dated.as_of.clone(),
                other: other_agency,
                other_count: other.count,
                other_as_of: other.dated.as_of.clone(),
            });
        }
        if let Some(pick) = chosen {
            let report = &reports[pick.report];
            let figure = reuse(figures, used);
            used += 1;
            figure.group = group as i32;
            figure.count = pick.count;
            figure.source_agency = report.reporting_agency;
            overwrite(&mut figure.report_id, &report.report_id);
            overwrite(&mut figure.as_of, &pick.dated.as_of);
            overwrite(&mut figure.source, &pick.dated.source);
            write_origins(report, group, &mut figure.origins);
            let sum = match policy.counted[group as usize] {
                Some(Counted::Protection) => &mut totals.protection,
                Some(Counted::Migrant) => &mut totals.migrants,
                Some(Counted::Displaced) => &mut totals.displaced,
                None => &mut totals.uncounted,
            };
            // At most ten u64 summands: cannot overflow a u128.
            *sum += u128::from(pick.count);
            if group == PopulationGroup::Undetermined {
                totals.undetermined = u128::from(pick.count);
            }
        }
        if let (Some(iom), Some(unhcr)) = (slot.iom, slot.unhcr)
            && differs(iom.count, unhcr.count, policy.tolerance)
        {
            let (iom, unhcr) = (iom.count, unhcr.count);
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
    if totals.facts.phase() == Phase::Solutions {
        totals.solutions = solutions(reports);
    }

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

/// A report's figure of one group, as reconciliation weighs it.
#[derive(Clone, Copy)]
struct Pick<'a> {
    /// Index of the report in the reports reconciled.
    report: usize,
    /// The group's figure: the sum over its origins.
    count: u64,
    /// The oldest figure it is made of, whose date and source it carries.
    dated: &'a PopulationFigure,
}

/// A report's figure of one group from one origin (empty: not broken down by origin).
struct OriginFigure<'a> {
    group: PopulationGroup,
    origin: &'a str,
    /// The figure for the whole country, else the sum of the areas.
    count: u64,
    /// The oldest figure counted.
    dated: &'a PopulationFigure,
}

/// A report's figure of each group, indexed by group: the sum over its origins, and the oldest
/// figure counted. Figures of unknown groups are left out.
fn group_figures(report: &SituationReport) -> [Option<(u64, &PopulationFigure)>; GROUP_SLOTS] {
    let mut out = [None; GROUP_SLOTS];
    if is_plain(report) {
        for figure in &report.population {
            if let Some(group) = group_from_i32(figure.group) {
                add_to(&mut out[group as usize], figure.count, figure);
            }
        }
    } else {
        for origin in origin_figures(&report.population) {
            add_to(&mut out[origin.group as usize], origin.count, origin.dated);
        }
    }
    out
}

/// Adds a figure to a group's sum, keeping the oldest figure counted.
fn add_to<'a>(
    slot: &mut Option<(u64, &'a PopulationFigure)>,
    count: u64,
    dated: &'a PopulationFigure,
) {
    *slot = Some(match *slot {
        None => (count, dated),
        // At most 1,000 figures of at most 10⁸ from intake; saturating whatever comes.
        Some((sum, known)) => (
            sum.saturating_add(count),
            oldest([known, dated].into_iter()),
        ),
    });
}

/// Whether a report gives no per-area figure and each group once per origin, as nearly every
/// report does: its figures then add up as they come, without the sorting of
/// [`origin_figures`]. Only checked for reports of up to 16 figures (pairwise, so cheap).
fn is_plain(report: &SituationReport) -> bool {
    let figures = &report.population;
    figures.len() <= 16
        && figures.iter().enumerate().all(|(index, figure)| {
            figure.admin1_pcode.is_empty()
                && figure.admin2_pcode.is_empty()
                && figures[..index]
                    .iter()
                    .all(|earlier| earlier.group != figure.group || earlier.origin != figure.origin)
        })
}

/// Replaces `out` with the report's figures of `group` per country of origin, sorted by origin
/// (people given without an origin are in the group's figure only).
fn write_origins(report: &SituationReport, group: PopulationGroup, out: &mut Vec<OriginCount>) {
    out.clear();
    let origin = |origin: &str, count: u64| OriginCount {
        origin: origin.to_owned(),
        count,
    };
    if is_plain(report) {
        out.extend(
            report
                .population
                .iter()
                .filter(|figure| figure.group == group as i32 && !figure.origin.is_empty())
                .map(|figure| origin(&figure.origin, figure.count)),
        );
        out.sort_unstable_by(|a, b| a.origin.cmp(&b.origin));
    } else {
        out.extend(
            origin_figures(&report.population)
                .iter()
                .filter(|figure| figure.group == group && !figure.origin.is_empty())
                .map(|figure| origin(figure.origin, figure.count)),
        );
    }
}

/// Figures per (group, origin), sorted so: the whole-country figure where the report gives
/// one, else the sum of its first-level areas, each its own figure or else the
/// sum of its second-level areas. Figures of unknown groups are left out.
fn origin_figures(figures: &[PopulationFigure]) -> Vec<OriginFigure<'_>> {
    let mut figures: Vec<(PopulationGroup, &PopulationFigure)> = figures
        .iter()
        .filter_map(|figure| Some((group_from_i32(figure.group)?, figure)))
        .collect();
    // Stable: of a repeated place, the first in the report comes first and counts.
    figures.sort_by(|(a_group, a), (b_group, b)| {
        (a_group, &a.origin, &a.admin1_pcode, &a.admin2_pcode).cmp(&(
            b_group,
            &b.origin,
            &b.admin1_pcode,
            &b.admin2_pcode,
        ))
    });
    let mut out = Vec::new();
    for run in
        figures.chunk_by(|(a_group, a), (b_group, b)| a_group == b_group && a.origin == b.origin)
    {
        let (group, first) = run[0];
        // The whole-country figure sorts first (its first-level P-code is empty).
        let (count, dated) = if first.admin1_pcode.is_empty() {
            (first.count, first)
        } else {
            let areas = run.chunk_by(|(_, a), (_, b)| a.admin1_pcode == b.admin1_pcode);
            // The area's own figure sorts first (its second-level P-code is empty).
            let counted = areas
                .flat_map(|area| match area[0].1.admin2_pcode.is_empty() {
                    true => &area[..1],
                    false => area,
                })
                .map(|(_, figure)| *figure);
            let count = counted
                .clone()
                .fold(0u64, |sum, figure| sum.saturating_add(figure.count));
            (count, oldest(counted))
        };
        out.push(OriginFigure {
            group,
            origin: &first.origin,
            count,
            dated,
        });
    }
    out
}

/// The figure with the earliest `as_of` (dates compare as text in `YYYY-MM-DD`), the first of
/// equals. `figures` is never empty.
fn oldest<'a>(figures: impl Iterator<Item = &'a PopulationFigure>) -> &'a PopulationFigure {
    figures
        .reduce(|oldest, figure| {
            if figure.as_of < oldest.as_of {
                figure
            } else {
                oldest
            }
        })
        .expect("a run of figures is never empty")
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date; `None` for anything else (intake refuses it).
fn day_number(date: &str) -> Option<i64> {
    let bytes = date.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes.get(range)?.iter().try_fold(0u16, |value, byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u16::from(byte - b'0'))
        })
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let shaped = bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-';
    let month = u8::try_from(month)
        .ok()
        .filter(|month| (1..=12).contains(month))?;
    let day = u8::try_from(day)
        .ok()
        .filter(|day| (1..=31).contains(day))?;
    shaped.then(|| days_from_civil(i64::from(year), month, day))
}

/// Whether an authoritative figure dated `own` yields to the other agency's figure dated
/// `other`: both dates known, and `own` more than `after_days` (above 0) days before `other`.
fn yields(own: &PopulationFigure, other: &PopulationFigure, after_days: u32) -> bool {
    // Dates in `YYYY-MM-DD` order as text: an authoritative figure as recent as the other's,
    // the usual case, is settled without reading the dates.
    if after_days == 0 || own.as_of >= other.as_of {
        return false;
    }
    match (day_number(&own.as_of), day_number(&other.as_of)) {
        (Some(own), Some(other)) => other - own > i64::from(after_days),
        _ => false,
    }
}

/// Progress against the IASC criteria across `reports`: per criterion, the share with the most
/// recent `as_of` among IOM's and UNHCR's, else among partners' (on the same date, the most
/// recently accepted report's); `None` when no report gives any. Entries intake would refuse (unknown criterion, share outside [0, 1]) are
/// left out.
fn solutions(reports: &[SituationReport]) -> Option<SolutionsSummary> {
    const CRITERIA: usize = 9;
    // Per criterion: (from IOM or UNHCR, date), the report and the entry.
    type Best<'r> = Option<((bool, Option<i64>), &'r SituationReport, usize)>;
    let mut best: [Best<'_>; CRITERIA] = [None; CRITERIA];
    for report in reports {
        let agency = matches!(
            Agencies::of(report.reporting_agency),
            Agencies::IOM | Agencies::UNHCR
        );
        for (index, progress) in report.solutions_progress.iter().enumerate() {
            let criterion = match DurableSolutionsCriterion::try_from(progress.criterion) {
                Ok(DurableSolutionsCriterion::Unspecified) | Err(_) => continue,
                Ok(criterion) => criterion as usize,
            };
            if !(0.0..=1.0).contains(&progress.share) {
                continue;
            }
            // An agency's share beats a partner's whatever the dates (a partner cannot
            // displace IOM's or UNHCR's survey by dating its own later); then the later date;
            // reports come oldest first, so a later one wins a tie.
            let rank = (agency, day_number(&progress.as_of));
            if best[criterion].is_none_or(|(known, ..)| rank >= known) {
                best[criterion] = Some((rank, report, index));
            }
        }
    }
    let mut summary = SolutionsSummary::default();
    for (_, report, index) in best.iter().flatten() {
        let progress = &report.solutions_progress[*index];
        summary.criteria.push(CriterionProgress {
            criterion: progress.criterion,
            share: progress.share,
            as_of: progress.as_of.clone(),
            source: progress.source.clone(),
            source_agency: report.reporting_agency,
            report_id: report.report_id.clone(),
        });
        summary.criteria_reported += 1;
    }
    // The lowest share; of equal shares, the first criterion.
    let weakest = summary.criteria.iter().reduce(|weakest, progress| {
        if progress.share < weakest.share {
            progress
        } else {
            weakest
        }
    })?;
    summary.weakest = weakest.criterion;
    Some(summary)
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
