//! Determinations in words, for people: the CLI (`situation get`, `submit --wait`, `watch`)
//! says who leads and why, with the enum words of `tandem_proto::words`.

use tandem_proto::{
    v1::{Classification, FunctionAssignment, LeadershipDetermination},
    words::{arrangement, classification as classification_words, function},
};

use crate::policy::names::Agencies;

/// One line: where, what, who leads.
/// `COL-VEN-2026 (COL): mixed movement — IOM and UNHCR lead (joint platform)`.
/// A regional situation names its operations' countries: `R4V (regional: COL, ECU, PER): …`.
pub fn headline(determination: &LeadershipDetermination) -> String {
    let place = if determination.regional {
        let countries: Vec<&str> = determination
            .operations
            .iter()
            .map(|o| o.country.as_str())
            .collect();
        format!("regional: {}", countries.join(", "))
    } else {
        determination.country.clone()
    };
    format!(
        "{} ({place}): {} — {} {} ({})",
        determination.situation_id,
        classification_words(determination.classification()),
        agencies(&determination.lead_agencies),
        if determination.lead_agencies.len() > 1 {
            "lead"
        } else {
            "leads"
        },
        arrangement(determination.arrangement()),
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
            function(assignment.function()),
            holders(assignment)
        ));
    }
    for entry in &determination.rationale {
        text.push_str(&format!(
            "  why: {} [{}]\n",
            entry.text,
            tandem_proto::words::rationale_source(entry)
        ));
    }
    if determination.regional {
        text.push_str(&format!(
            "  regional situation: {} country operation(s)\n",
            determination.operations.len()
        ));
    }
    for operation in &determination.operations {
        text.push_str(&format!(
            "  operation {}: {} — {} {} ({}), protection share {:.2}{}\n",
            operation.country,
            classification_words(operation.classification()),
            agencies(&operation.lead_agencies),
            if operation.lead_agencies.len() > 1 {
                "lead"
            } else {
                "leads"
            },
            arrangement(operation.arrangement()),
            operation.protection_share,
            if operation.changed { ", changed" } else { "" }
        ));
        for entry in &operation.rationale {
            text.push_str(&format!(
                "    why: {} [{}]\n",
                entry.text,
                tandem_proto::words::rationale_source(entry)
            ));
        }
    }
    text
}

/// Who holds a function: its agencies, then the other actors a policy override names
/// (`UNHCR, Resident Coordinator`).
pub fn holders(assignment: &FunctionAssignment) -> String {
    let mut words: Vec<String> = Vec::new();
    if !assignment.agencies.is_empty() || assignment.actors.is_empty() {
        words.push(agencies(&assignment.agencies));
    }
    words.extend(assignment.actors.iter().cloned());
    words.join(", ")
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

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{Agency, LeadershipFunction};

    use super::*;

    #[test]
    fn a_function_held_under_an_override_names_its_actors() {
        let assignment = |agencies: Vec<i32>, actors: &[&str]| FunctionAssignment {
            function: LeadershipFunction::InclusiveCoordination as i32,
            agencies,
            actors: actors.iter().map(ToString::to_string).collect(),
        };
        let both = assignment(vec![Agency::Unhcr as i32], &["Resident Coordinator"]);
        assert_eq!(holders(&both), "UNHCR, Resident Coordinator");
        let actors_only = assignment(vec![], &["Resident Coordinator"]);
        assert_eq!(holders(&actors_only), "Resident Coordinator");
        assert_eq!(holders(&assignment(vec![], &[])), "no agency");
        let determination = LeadershipDetermination {
            functions: vec![both],
            ..Default::default()
        };
        assert!(summary(&determination).contains("UNHCR, Resident Coordinator"));
    }

    #[test]
    fn a_regional_summary_lists_each_operation() {
        use tandem_proto::v1::{Arrangement, OperationDetermination};
        let operation =
            |country: &str, classification: Classification, lead: Agency| OperationDetermination {
                country: country.into(),
                classification: classification as i32,
                arrangement: Arrangement::JointPlatform as i32,
                lead_agencies: vec![lead as i32],
                protection_share: 0.9,
                changed: true,
                ..Default::default()
            };
        let determination = LeadershipDetermination {
            situation_id: "R4V".into(),
            country: "COL".into(),
            regional: true,
            operations: vec![
                operation("COL", Classification::MigrantSituation, Agency::Iom),
                operation("ECU", Classification::RefugeeSituation, Agency::Unhcr),
            ],
            ..Default::default()
        };
        let text = summary(&determination);
        assert!(text.starts_with("R4V (regional: COL, ECU): "), "{text}");
        assert!(
            text.contains("regional situation: 2 country operation(s)"),
            "{text}"
        );
        assert!(
            text.contains("operation ECU: refugee situation — UNHCR leads (joint platform), protection share 0.90, changed"),
            "{text}"
        );
    }
}
