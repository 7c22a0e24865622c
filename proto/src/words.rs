//! The contract's enum values in words, for people: the CLI, notification texts and rationale
//! texts all name a classification, an arrangement, a function, a population group or a
//! driver the same way, in British spelling. Also the population groups a report can carry.

use crate::v1::{
    Agency, Arrangement, Classification, DeterminationStatus, Driver, LeadershipFunction,
    PopulationGroup, RationaleEntry,
};

/// What a rationale entry rests on, in words: its clause, else the reference of its designation
/// or override, else the policy parameters it used (`thresholds.hysteresis 0.05, policy v1`).
pub fn rationale_source(entry: &RationaleEntry) -> String {
    if !entry.clause.is_empty() {
        return entry.clause.clone();
    }
    if !entry.reference.is_empty() {
        return entry.reference.clone();
    }
    let mut words: Vec<String> = entry
        .parameters
        .iter()
        .map(|parameter| format!("{} {}", parameter.name, parameter.value))
        .collect();
    if let Some(parameter) = entry.parameters.first() {
        words.push(format!("policy {}", parameter.policy_version));
    }
    words.join(", ")
}

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

/// IOM or UNHCR as people name them (`IOM`, `UNHCR`); `None` for a partner, which is named by
/// its organisation or not at all depending on who reads, and for an unspecified agency.
pub fn agency(agency: Agency) -> Option<&'static str> {
    match agency {
        Agency::Iom => Some("IOM"),
        Agency::Unhcr => Some("UNHCR"),
        Agency::Partner | Agency::Unspecified => None,
    }
}

/// A population group, in words (`asylum seekers`).
pub fn group(group: PopulationGroup) -> &'static str {
    match group {
        PopulationGroup::Refugee => "refugees",
        PopulationGroup::AsylumSeeker => "asylum seekers",
        PopulationGroup::OtherInNeedOfProtection => {
            "other people in need of international protection"
        }
        PopulationGroup::Stateless => "stateless people",
        PopulationGroup::Migrant => "migrants",
        PopulationGroup::Idp => "IDPs",
        PopulationGroup::ReturnedRefugee => "returned refugees",
        PopulationGroup::ReturnedIdp => "returned IDPs",
        PopulationGroup::HostCommunity => "host community members",
        PopulationGroup::Undetermined => "refugees and migrants whose status is not determined",
        PopulationGroup::Unspecified => "people of an unspecified group",
    }
}

/// A driver of displacement, in words.
pub fn driver(driver: Driver) -> &'static str {
    match driver {
        Driver::Conflict => "conflict",
        Driver::Disaster => "disaster",
        Driver::Economic => "economic",
        Driver::Mixed => "mixed",
        Driver::Unspecified => "unspecified",
    }
}

/// A classification, in words (`mixed movement`).
pub fn classification(classification: Classification) -> &'static str {
    match classification {
        Classification::RefugeeSituation => "refugee situation",
        Classification::MigrantSituation => "migrant situation",
        Classification::MixedMovement => "mixed movement",
        Classification::RespectiveMandates => "situation under the respective mandates",
        Classification::IdpSituation => "IDP situation",
        Classification::IdpDurableSolutions => "IDP durable solutions situation",
        Classification::PendingJointAssessment => "situation pending joint assessment",
        Classification::Unspecified => "unclassified situation",
    }
}

/// A determination's status, in words (`agreed by IOM and UNHCR`).
pub fn status(status: DeterminationStatus) -> &'static str {
    match status {
        DeterminationStatus::Provisional => "provisional",
        DeterminationStatus::Agreed => "agreed by IOM and UNHCR",
        DeterminationStatus::Contested => "contested",
        DeterminationStatus::Unspecified => "not reviewed",
    }
}

/// A coordination arrangement, in words (`IASC cluster system`).
pub fn arrangement(arrangement: Arrangement) -> &'static str {
    match arrangement {
        Arrangement::RefugeeCoordinationModel => "refugee coordination model",
        Arrangement::IomLedResponse => "IOM-led response",
        Arrangement::JointPlatform => "joint platform",
        Arrangement::RespectiveMandates => "respective mandates",
        Arrangement::ClusterSystem => "IASC cluster system",
        Arrangement::JointSolutionsSupport => "joint durable solutions support",
        Arrangement::JointAssessment => "joint assessment",
        Arrangement::Designated => "designated leadership",
        Arrangement::Unspecified => "no arrangement",
    }
}

/// A leadership function, in words (`resource mobilisation`).
pub fn function(function: LeadershipFunction) -> &'static str {
    match function {
        LeadershipFunction::StrategicPlanning => "strategic planning",
        LeadershipFunction::EngagementWithStates => "engagement with States",
        LeadershipFunction::DataManagement => "data management",
        LeadershipFunction::ResourceMobilization => "resource mobilisation",
        LeadershipFunction::InclusiveCoordination => "inclusive coordination",
        LeadershipFunction::ProtectionCluster => "Protection cluster",
        LeadershipFunction::CccmCluster => "CCCM cluster",
        LeadershipFunction::Unspecified => "unspecified function",
    }
}

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
