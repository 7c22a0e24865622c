//! Determinations in words, for people: the CLI (`situation get`, `submit --wait`, `watch`) and
//! notification texts all say who leads and why the same way.

use tandem_proto::v1::{Arrangement, Classification, LeadershipDetermination, LeadershipFunction};

use crate::policy::names::{Agencies, classification_words};

/// One line: where, what, who leads.
/// `COL-VEN-2026 (COL): mixed movement — IOM and UNHCR lead (joint platform)`.
pub fn headline(determination: &LeadershipDetermination) -> String {
    format!(
        "{} ({}): {} — {} {} ({})",
        determination.situation_id,
        determination.country,
        classification_words(determination.classification()),
        agencies(&determination.lead_agencies),
        if determination.lead_agencies.len() > 1 {
            "lead"
        } else {
            "leads"
        },
        arrangement_words(determination.arrangement()),
    )
}

/// The headline, who holds each function, and the rationale, one line each.
pub fn summary(determination: &LeadershipDetermination) -> String {
    let mut text = headline(determination);
    text.push('\n');
    if determination.classification() != Classification::Unspecified {
        let change = if determination.changed {
            match determination.previous_classification() {
                Classification::Unspecified => "first determination".to_string(),
                previous => format!("changed (was {})", classification_words(previous)),
            }
        } else {
            "unchanged".to_string()
        };
        text.push_str(&format!(
            "  determination {} under policy {}: {change}\n",
            determination.sequence, determination.policy_version
        ));
    }
    for assignment in &determination.functions {
        text.push_str(&format!(
            "  {:<26} {}\n",
            function_words(assignment.function()),
            agencies(&assignment.agencies)
        ));
    }
    for entry in &determination.rationale {
        text.push_str(&format!("  why: {} [{}]\n", entry.text, entry.clause));
    }
    text
}

/// `IOM`, `UNHCR`, `IOM and UNHCR`, …
pub fn agencies(values: &[i32]) -> String {
    match Agencies::from_values(values) {
        Some(set) if !set.is_empty() => {
            let mut words = String::new();
            set.write_words(&mut words);
            words
        }
        _ => "no agency".into(),
    }
}

/// The arrangement, in words.
pub fn arrangement_words(arrangement: Arrangement) -> &'static str {
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

/// A leadership function, in words.
pub fn function_words(function: LeadershipFunction) -> &'static str {
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
