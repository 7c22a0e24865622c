//! Disclosure control: the one rule that decides what of a situation's figures may be published.
//!
//! docs/design.md ("Data publication"), following UNHCR's practice: a count of 1 to 4 people is
//! published as `*` and left out of the total, so neither the cell nor the total (nor their
//! difference) reveals it; a total that leaves something out is marked. Zero is published:
//! "nobody" identifies nobody. Every output format (CSV, JSON, stored versions) renders the
//! [`Disclosed`] this module makes, never raw figures, so the rule cannot be bypassed by adding
//! a format.

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

    proptest! {
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
