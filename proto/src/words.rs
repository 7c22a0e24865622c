//! The population groups a report can carry. Their words, and every other enum value's, in
//! each language, are `tandem_i18n::words`.

use crate::v1::PopulationGroup;

/// The population groups a report can carry, in enum order.
pub const POPULATION_GROUPS: [PopulationGroup; 10] = [
    PopulationGroup::Refugee,
    PopulationGroup::AsylumSeeker,
    PopulationGroup::OtherInNeedOfProtection,
    PopulationGroup::Stateless,
    PopulationGroup::Migrant,
    PopulationGroup::Idp,
    PopulationGroup::ReturnedRefugee,
    PopulationGroup::ReturnedIdp,
    PopulationGroup::HostCommunity,
    PopulationGroup::Undetermined,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_but_the_unspecified_one_can_be_reported_once() {
        let mut values: Vec<i32> = POPULATION_GROUPS.iter().map(|g| *g as i32).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values, (1..=10).collect::<Vec<_>>());
        assert!(
            PopulationGroup::try_from(11).is_err(),
            "a group is missing here"
        );
    }
}
