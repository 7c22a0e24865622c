//! Determinations in words, for people, in their language: the CLI (`situation get`, `submit
//! --wait`, `watch`, `policy check`) says who leads and why with these. The texts are the
//! `## CLI` messages of `tandem-i18n`; enum values are in `tandem_i18n::words`; the rationale
//! lines are the policy's own texts in the reader's language.

use tandem_i18n::{
    FluentValue, Lang,
    words::{rationale_source, rationale_text, word},
};
use tandem_proto::v1::{Classification, FunctionAssignment, LeadershipDetermination};

use crate::policy::names::Agencies;

/// One line: where, what, who leads.
/// `COL-VEN-2026 (COL): mixed movement — IOM and UNHCR lead (joint platform)`.
/// A regional situation names its operations' countries: `R4V (regional: COL, ECU, PER): …`.
pub fn headline(determination: &LeadershipDetermination, lang: Lang) -> String {
    let place = if determination.regional {
        let countries: Vec<&str> = determination
            .operations
            .iter()
            .map(|o| o.country.as_str())
            .collect();
        lang.text_with(
            "cli-regional-place",
            &[("countries", countries.join(", ").into())],
        )
    } else {
        determination.country.clone()
    };
    lang.text_with(
        "cli-headline",
        &[
            ("situation", determination.situation_id.as_str().into()),
            ("country", place.into()),
            (
                "classification",
                word(lang, determination.classification()).into(),
            ),
            ("leads", agencies(&determination.lead_agencies, lang).into()),
            (
                "leaders",
                FluentValue::from(determination.lead_agencies.len()),
            ),
            (
                "arrangement",
                word(lang, determination.arrangement()).into(),
            ),
        ],
    )
}

/// The headline, who holds each function, and the rationale, one line each.
pub fn summary(determination: &LeadershipDetermination, lang: Lang) -> String {
    let mut text = headline(determination, lang);
    text.push('\n');
    if determination.classification() != Classification::Unspecified {
        let (id, previous) = match (
            determination.changed,
            determination.previous_classification(),
        ) {
            (false, _) => ("cli-determination-unchanged", String::new()),
            (true, Classification::Unspecified) => ("cli-determination-first", String::new()),
            (true, previous) => ("cli-determination-changed", word(lang, previous)),
        };
        let line = lang.text_with(
            id,
            &[
                ("sequence", determination.sequence.into()),
                ("policy", determination.policy_version.as_str().into()),
                ("previous", previous.into()),
            ],
        );
        text.push_str(&format!("  {line}\n"));
    }
    let functions: Vec<(String, String)> = determination
        .functions
        .iter()
        .map(|assignment| (word(lang, assignment.function()), holders(assignment, lang)))
        .collect();
    let width = functions
        .iter()
        .map(|(function, _)| function.chars().count())
        .max()
        .unwrap_or(0);
    for (function, holders) in functions {
        text.push_str(&format!("  {function:<width$}  {holders}\n"));
    }
    for entry in &determination.rationale {
        let line = lang.text_with(
            "cli-why",
            &[
                ("text", rationale_text(lang, entry).into()),
                ("source", rationale_source(lang, entry).into()),
            ],
        );
        text.push_str(&format!("  {line}\n"));
    }
    if determination.regional {
        let line = lang.text_with(
            "cli-regional-operations",
            &[("count", determination.operations.len().into())],
        );
        text.push_str(&format!("  {line}\n"));
    }
    for operation in &determination.operations {
        let share = format!("{:.2}", operation.protection_share);
        let line = lang.text_with(
            "cli-operation",
            &[
                ("country", operation.country.as_str().into()),
                (
                    "classification",
                    word(lang, operation.classification()).into(),
                ),
                ("leads", agencies(&operation.lead_agencies, lang).into()),
                ("leaders", FluentValue::from(operation.lead_agencies.len())),
                ("arrangement", word(lang, operation.arrangement()).into()),
                (
                    "share",
                    match lang {
                        Lang::En => share,
                        _ => share.replace('.', ","),
                    }
                    .into(),
                ),
                (
                    "changed",
                    if operation.changed { "yes" } else { "no" }.into(),
                ),
            ],
        );
        text.push_str(&format!("  {line}\n"));
        for entry in &operation.rationale {
            let line = lang.text_with(
                "cli-why",
                &[
                    ("text", rationale_text(lang, entry).into()),
                    ("source", rationale_source(lang, entry).into()),
                ],
            );
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}

/// Who holds a function: its agencies, then the other actors a policy override names
/// (`UNHCR, Resident Coordinator`).
pub fn holders(assignment: &FunctionAssignment, lang: Lang) -> String {
    let mut words: Vec<String> = Vec::new();
    if !assignment.agencies.is_empty() || assignment.actors.is_empty() {
        words.push(agencies(&assignment.agencies, lang));
    }
    words.extend(assignment.actors.iter().cloned());
    words.join(", ")
}

/// `IOM`, `UNHCR`, `IOM and UNHCR`, `OIM et HCR`, …
pub fn agencies(values: &[i32], lang: Lang) -> String {
    let mut words = String::new();
    // A value that is no known agency names nobody.
    Agencies::from_values(values)
        .unwrap_or(Agencies::NONE)
        .write_words(&mut words, lang);
    words
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{Agency, LeadershipFunction, RationaleEntry};

    use super::*;

    #[test]
    fn a_function_held_under_an_override_names_its_actors() {
        let assignment = |agencies: Vec<i32>, actors: &[&str]| FunctionAssignment {
            function: LeadershipFunction::InclusiveCoordination as i32,
            agencies,
            actors: actors.iter().map(ToString::to_string).collect(),
        };
        let both = assignment(vec![Agency::Unhcr as i32], &["Resident Coordinator"]);
        assert_eq!(holders(&both, Lang::En), "UNHCR, Resident Coordinator");
        let actors_only = assignment(vec![], &["Resident Coordinator"]);
        assert_eq!(holders(&actors_only, Lang::En), "Resident Coordinator");
        assert_eq!(holders(&assignment(vec![], &[]), Lang::En), "no agency");
        let determination = LeadershipDetermination {
            functions: vec![both],
            ..Default::default()
        };
        assert!(summary(&determination, Lang::En).contains("UNHCR, Resident Coordinator"));
    }

    /// Every `## CLI` message in English, with its placeholders as they appear in the file.
    fn english_cli_messages() -> Vec<String> {
        let file = include_str!("../../i18n/locales/en/tandem.ftl");
        let section = file
            .split("\n## CLI")
            .nth(1)
            .expect("the English file has a ## CLI section");
        let section = section.split("\n## ").next().unwrap_or(section);
        section
            .lines()
            .filter_map(|line| line.split_once(" = ").map(|(_, text)| text.to_owned()))
            .collect()
    }

    #[test]
    fn a_determination_reads_in_the_readers_language_with_no_english_left() {
        let determination = LeadershipDetermination {
            situation_id: "COL-VEN-2026".into(),
            country: "COL".into(),
            classification: Classification::MixedMovement as i32,
            arrangement: tandem_proto::v1::Arrangement::JointPlatform as i32,
            lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
            changed: true,
            previous_classification: Classification::RefugeeSituation as i32,
            sequence: 2,
            policy_version: "v1".into(),
            functions: vec![FunctionAssignment {
                function: LeadershipFunction::DataManagement as i32,
                agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
                actors: vec![],
            }],
            rationale: vec![RationaleEntry {
                rule_id: "mixed_movement".into(),
                clause: "FoE B.1 mixed movements".into(),
                text: "Mixed movement.".into(),
                texts: [("es".to_owned(), "Movimiento mixto.".to_owned())].into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let spanish = summary(&determination, Lang::Es);
        assert!(
            spanish.starts_with(
                "COL-VEN-2026 (COL): movimiento mixto — OIM y ACNUR dirigen (plataforma conjunta)\n"
            ),
            "{spanish}"
        );
        assert!(
            spanish.contains("cambió (antes: situación de refugiados)"),
            "{spanish}"
        );
        assert!(
            spanish.contains("gestión de datos  OIM y ACNUR"),
            "{spanish}"
        );
        assert!(
            spanish.contains("por qué: Movimiento mixto. [FoE B.1 mixed movements]"),
            "{spanish}"
        );
        // French has no text in the entry: the English text, in a French frame.
        let french = summary(&determination, Lang::Fr);
        assert!(french.contains("pourquoi : Mixed movement."), "{french}");
        assert!(
            french.contains("mouvement mixte — OIM et HCR dirigent"),
            "{french}"
        );
        // No English sentence of the CLI section leaks into either (a fragment before the
        // first placeholder is enough to recognise one).
        for english in english_cli_messages() {
            let fragment = english.split('{').next().unwrap_or_default().trim();
            if fragment.len() < 4 {
                continue;
            }
            for (lang, text) in [("es", &spanish), ("fr", &french)] {
                assert!(
                    !text.contains(fragment),
                    "{lang} output has {fragment:?}: {text}"
                );
            }
        }
        assert!(summary(&determination, Lang::En).contains("changed (was refugee situation)"));
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
        let text = summary(&determination, Lang::En);
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
