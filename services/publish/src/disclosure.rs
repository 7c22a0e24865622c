//! Disclosure control: the one rule that decides what of a situation's figures may be published.
//!
//! docs/design.md ("Disclosure control"), following UNHCR's practice: a count of 1 to 4 people
//! is published as `*` and left out of the total, so neither the cell nor the total (nor their
//! difference) reveals it; a total that leaves something out is marked. Zero is published:
//! "nobody" identifies nobody. Every output format (CSV, JSON, stored versions) renders the
//! [`Disclosed`] this module makes, never raw figures, so the rule cannot be bypassed by adding
//! a format.
//!
//! The tables publish breakdowns beside the totals they break down (a regional figure beside
//! its countries', a country's beside its origins' and areas'), so hiding small cells is not
//! enough: one hidden cell of a breakdown whose total and other cells are published is their
//! difference. [`suppress`] adds complementary suppression, the standard remedy (as in
//! τ-ARGUS's hypercube method and the statistical offices' guidance it follows): every breakdown
//! ends with no hidden cell or at least two, the second chosen as the smallest published part.

use std::ops::RangeInclusive;

use tandem_proto::v1::PopulationGroup;

/// Counts published as `*` and left out of totals.
pub const SUPPRESSED_COUNTS: RangeInclusive<u64> = 1..=4;

/// What is published in place of a suppressed count.
pub const SUPPRESSED_MARK: &str = "*";

/// The population groups, in the order of the dataset's columns: the contract's order.
pub use tandem_proto::words::POPULATION_GROUPS as GROUPS;

/// Whether a group's count belongs in the total. Host communities are not a displaced or
/// mobile population (the policy does not count them either), so the total leaves them out.
pub fn counts_in_total(group: PopulationGroup) -> bool {
    group != PopulationGroup::HostCommunity
}

/// One published population cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// No figure for the group: published empty (CSV) or `null` (JSON).
    Missing,
    /// A count that may be published as it is.
    Count(u64),
    /// A count of 1–4: published as [`SUPPRESSED_MARK`].
    Suppressed,
}

/// A situation's figures as they may be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disclosed {
    /// One cell per group, in [`GROUPS`] order.
    pub cells: [Cell; GROUPS.len()],
    /// The sum of the published counts of the groups that count in the total.
    pub total: u64,
    /// Whether a suppressed count was left out of `total`.
    pub total_suppressed: bool,
}

/// Applies the disclosure rule to `figures` (group, count). A group listed twice keeps its
/// first figure (a reconciled determination lists each group once); unknown groups are dropped.
pub fn disclose(figures: impl IntoIterator<Item = (PopulationGroup, u64)>) -> Disclosed {
    let mut cells = [Cell::Missing; GROUPS.len()];
    for (group, count) in figures {
        let Some(index) = GROUPS.iter().position(|g| *g == group) else {
            continue;
        };
        if cells[index] != Cell::Missing {
            continue;
        }
        cells[index] = if SUPPRESSED_COUNTS.contains(&count) {
            Cell::Suppressed
        } else {
            Cell::Count(count)
        };
    }
    Disclosed::from_cells(cells)
}

/// A set of cells a reader knows to add up: `total` is the sum of `parts` (or at least it: a
/// country's origins or areas may leave people unattributed). Indices into the counts given to
/// [`suppress`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breakdown {
    /// The cell whose count the parts add up to.
    pub total: usize,
    /// The cells that break it down.
    pub parts: Vec<usize>,
}

/// Which of `counts` must be hidden, given the `breakdowns` published beside them.
///
/// First every count of 1–4 ([`SUPPRESSED_COUNTS`]). Then, until nothing changes, each
/// breakdown with exactly one hidden cell hides one more: its smallest published part that is
/// not zero (hiding a zero would tell little: the reader knows the hidden cells' sum), else
/// its smallest published part, else its total. A cell hidden so may be the total or a part of
/// another breakdown, which the next round checks. Every round hides a cell, so this ends
/// within `counts.len()` rounds. Indices out of range are ignored.
pub fn suppress(counts: &[u64], breakdowns: &[Breakdown]) -> Vec<bool> {
    let mut hidden: Vec<bool> = counts
        .iter()
        .map(|c| SUPPRESSED_COUNTS.contains(c))
        .collect();
    let valid = |i: &usize| *i < counts.len();
    loop {
        let mut changed = false;
        for breakdown in breakdowns {
            if !valid(&breakdown.total) {
                continue;
            }
            let parts = breakdown.parts.iter().copied().filter(valid);
            let hidden_cells =
                parts.clone().filter(|&i| hidden[i]).count() + usize::from(hidden[breakdown.total]);
            if hidden_cells != 1 {
                continue;
            }
            let published = parts.filter(|&i| !hidden[i] && i != breakdown.total);
            let second = published
                .clone()
                .filter(|&i| counts[i] > 0)
                .min_by_key(|&i| (counts[i], i))
                .or_else(|| published.min_by_key(|&i| (counts[i], i)))
                .unwrap_or(breakdown.total);
            if !hidden[second] {
                hidden[second] = true;
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
}

/// The published cell of `count`, given whether [`suppress`] hid it (`None`: no figure).
pub fn cell(count: Option<u64>, hidden: bool) -> Cell {
    match count {
        None => Cell::Missing,
        Some(_) if hidden => Cell::Suppressed,
        Some(count) => Cell::Count(count),
    }
}

impl Disclosed {
    /// A row of cells already disclosed (one per group, in [`GROUPS`] order) with its total:
    /// the published counts of the groups that count in it, marked when one is hidden.
    pub fn from_cells(cells: [Cell; GROUPS.len()]) -> Self {
        let mut total = 0u64;
        let mut total_suppressed = false;
        for (group, cell) in GROUPS.iter().zip(cells) {
            if !counts_in_total(*group) {
                continue;
            }
            match cell {
                Cell::Count(count) => total = total.saturating_add(count),
                Cell::Suppressed => total_suppressed = true,
                Cell::Missing => {}
            }
        }
        Disclosed {
            cells,
            total,
            total_suppressed,
        }
    }
}

impl Cell {
    /// The cell as CSV text: the count, `*`, or empty.
    pub fn to_csv(self) -> String {
        match self {
            Cell::Missing => String::new(),
            Cell::Count(count) => count.to_string(),
            Cell::Suppressed => SUPPRESSED_MARK.into(),
        }
    }

    /// The cell as JSON: a number, `"*"`, or `null`.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Cell::Missing => serde_json::Value::Null,
            Cell::Count(count) => count.into(),
            Cell::Suppressed => SUPPRESSED_MARK.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cell(disclosed: &Disclosed, group: PopulationGroup) -> Cell {
        let index = GROUPS.iter().position(|g| *g == group).unwrap_or(0);
        disclosed.cells[index]
    }

    #[test]
    fn one_and_four_are_suppressed_five_is_published() {
        let disclosed = disclose([
            (PopulationGroup::Refugee, 1),
            (PopulationGroup::AsylumSeeker, 4),
            (PopulationGroup::Migrant, 5),
        ]);
        assert_eq!(cell(&disclosed, PopulationGroup::Refugee), Cell::Suppressed);
        assert_eq!(
            cell(&disclosed, PopulationGroup::AsylumSeeker),
            Cell::Suppressed
        );
        assert_eq!(cell(&disclosed, PopulationGroup::Migrant), Cell::Count(5));
        assert_eq!(
            disclosed.total, 5,
            "suppressed counts stay out of the total"
        );
        assert!(disclosed.total_suppressed);
    }

    #[test]
    fn zero_and_large_counts_are_published_and_the_total_is_unmarked() {
        let disclosed = disclose([
            (PopulationGroup::Idp, 0),
            (PopulationGroup::ReturnedIdp, 1_000_000),
        ]);
        assert_eq!(cell(&disclosed, PopulationGroup::Idp), Cell::Count(0));
        assert_eq!(cell(&disclosed, PopulationGroup::Refugee), Cell::Missing);
        assert_eq!(disclosed.total, 1_000_000);
        assert!(!disclosed.total_suppressed);
    }

    #[test]
    fn host_communities_are_disclosed_but_not_totalled() {
        let disclosed = disclose([
            (PopulationGroup::HostCommunity, 3),
            (PopulationGroup::Migrant, 10),
            (PopulationGroup::HostCommunity, 500),
        ]);
        assert_eq!(
            cell(&disclosed, PopulationGroup::HostCommunity),
            Cell::Suppressed,
            "the first figure of a group is kept"
        );
        assert_eq!(disclosed.total, 10);
        assert!(
            !disclosed.total_suppressed,
            "the total never included host communities, so nothing was left out of it"
        );
    }

    #[test]
    fn unknown_groups_are_dropped() {
        let disclosed = disclose([(PopulationGroup::Unspecified, 7)]);
        assert!(disclosed.cells.iter().all(|c| *c == Cell::Missing));
        assert_eq!(disclosed.total, 0);
    }

    #[test]
    fn cells_render_the_same_rule_in_csv_and_json() {
        assert_eq!(Cell::Suppressed.to_csv(), "*");
        assert_eq!(Cell::Suppressed.to_json(), serde_json::json!("*"));
        assert_eq!(Cell::Count(5).to_csv(), "5");
        assert_eq!(Cell::Count(5).to_json(), serde_json::json!(5));
        assert_eq!(Cell::Missing.to_csv(), "");
        assert_eq!(Cell::Missing.to_json(), serde_json::Value::Null);
    }

    fn breakdown(total: usize, parts: &[usize]) -> Breakdown {
        Breakdown {
            total,
            parts: parts.to_vec(),
        }
    }

    #[test]
    fn one_hidden_part_takes_the_smallest_other_part_with_it() {
        // Total 1103 = 3 + 100 + 1000: 3 alone hidden would be 1103 - 100 - 1000.
        let hidden = suppress(&[1103, 3, 1000, 100], &[breakdown(0, &[1, 2, 3])]);
        assert_eq!(hidden, [false, true, false, true]);
    }

    #[test]
    fn zeros_are_passed_over_and_a_lone_part_hides_its_total() {
        let hidden = suppress(&[503, 3, 0, 500], &[breakdown(0, &[1, 2, 3])]);
        assert_eq!(hidden, [false, true, false, true]);
        let hidden = suppress(&[3, 3, 0], &[breakdown(0, &[1, 2])]);
        assert_eq!(hidden, [true, true, false], "two hidden already");
        let hidden = suppress(&[9, 3], &[breakdown(0, &[1])]);
        assert_eq!(hidden, [true, true], "the only part: the total goes");
    }

    #[test]
    fn hiding_cascades_through_breakdowns_that_share_cells() {
        // Region 2000 = COL 1003 + PER 997; COL 1003 = area A 3 + area B 1000. Hiding A takes
        // B; nothing in the region is hidden, so COL and PER stay.
        let counts = [2000, 1003, 997, 3, 1000];
        let breakdowns = [breakdown(0, &[1, 2]), breakdown(1, &[3, 4])];
        assert_eq!(
            suppress(&counts, &breakdowns),
            [false, false, false, true, true]
        );
        // COL has a single area of 3: COL goes, then PER with it at the region's level.
        let counts = [1000, 3, 997, 3];
        let breakdowns = [breakdown(0, &[1, 2]), breakdown(1, &[3])];
        assert_eq!(suppress(&counts, &breakdowns), [false, true, true, true]);
    }

    /// Breakdowns over `n` cells: a tree of random shape, each cell's parent a lower index.
    fn tree(n: usize) -> impl Strategy<Value = (Vec<u64>, Vec<Breakdown>)> {
        (
            proptest::collection::vec(prop_oneof![0u64..8, 0u64..2000], n),
            proptest::collection::vec(any::<proptest::sample::Index>(), n),
        )
            .prop_map(move |(counts, parents)| {
                let mut breakdowns: Vec<Breakdown> = Vec::new();
                for (child, parent) in parents.iter().enumerate().skip(1) {
                    let parent = parent.index(child);
                    match breakdowns.iter_mut().find(|b| b.total == parent) {
                        Some(b) => b.parts.push(child),
                        None => breakdowns.push(breakdown(parent, &[child])),
                    }
                }
                (counts, breakdowns)
            })
    }

    proptest! {
        #[test]
        fn no_breakdown_is_left_with_a_single_hidden_cell((counts, breakdowns) in tree(24)) {
            let hidden = suppress(&counts, &breakdowns);
            for (count, hidden) in counts.iter().zip(&hidden) {
                if SUPPRESSED_COUNTS.contains(count) {
                    prop_assert!(*hidden);
                }
            }
            for b in &breakdowns {
                let cells = b.parts.iter().chain([&b.total]).filter(|i| hidden[**i]).count();
                prop_assert!(cells != 1, "{:?} {:?} {:?}", b, counts, hidden);
            }
        }

        #[test]
        fn no_small_count_is_ever_published_and_totals_add_up(
            counts in proptest::collection::vec(0u64..20, GROUPS.len())
        ) {
            let figures: Vec<_> = GROUPS.iter().copied().zip(counts.iter().copied()).collect();
            let disclosed = disclose(figures.clone());
            let mut expected_total = 0;
            let mut expected_mark = false;
            for ((group, count), cell) in figures.iter().zip(disclosed.cells) {
                if SUPPRESSED_COUNTS.contains(count) {
                    prop_assert_eq!(cell, Cell::Suppressed);
                    expected_mark |= counts_in_total(*group);
                } else {
                    prop_assert_eq!(cell, Cell::Count(*count));
                    if counts_in_total(*group) {
                        expected_total += count;
                    }
                }
            }
            prop_assert_eq!(disclosed.total, expected_total);
            prop_assert_eq!(disclosed.total_suppressed, expected_mark);
            prop_assert!(!SUPPRESSED_COUNTS.contains(&disclosed.total));
        }
    }
}
