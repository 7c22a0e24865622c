//! The contract's enum values in words, in each language: `classification(Lang::Es,
//! Classification::MixedMovement)` is "movimiento mixto". Each value's message id is its proto
//! name in lower case with hyphens, so a value added to the contract needs only its three
//! messages, and the test below finds it missing until they exist. Also a rationale entry's text
//! and source in the reader's language ([`rationale_text`], [`rationale_source`]).

use tandem_proto::v1::{
    Agency, Arrangement, Classification, DeterminationStatus, Driver, DurableSolutionsCriterion,
    LeadershipFunction, NotificationKind, Phase, PopulationGroup, RationaleEntry, ReviewVerdict,
    Role, Scope,
};

use crate::Lang;

/// A contract enum whose values have words.
pub trait Worded: Copy {
    /// The value's name in the `.proto` file (`CLASSIFICATION_MIXED_MOVEMENT`).
    fn proto_name(self) -> &'static str;
}

macro_rules! worded {
    ($($enum:ty),* $(,)?) => {
        $(impl Worded for $enum {
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
        })*
    };
}

worded!(
    Agency,
    Arrangement,
    Classification,
    DeterminationStatus,
    Driver,
    DurableSolutionsCriterion,
    LeadershipFunction,
    NotificationKind,
    Phase,
    PopulationGroup,
    ReviewVerdict,
    Role,
    Scope,
);

/// `value` in words in `lang` (`refugee situation`, `situation de réfugiés`).
pub fn word(lang: Lang, value: impl Worded) -> String {
    lang.text(&message_id(value.proto_name()))
}

/// A rationale entry's text in `lang`: the policy's text in that language (`texts`), else the
/// English `text` (a policy file written before its translations).
pub fn rationale_text(lang: Lang, entry: &RationaleEntry) -> &str {
    entry.texts.get(lang.code()).unwrap_or(&entry.text)
}

/// What a rationale entry rests on, in words: its clause, else the reference of its designation
/// or override (both as the policy or the report wrote them: references, not translated), else
/// the policy parameters it used (`thresholds.hysteresis 0.05, policy v1`).
pub fn rationale_source(lang: Lang, entry: &RationaleEntry) -> String {
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
        words.push(lang.text_with(
            "rationale-policy-version",
            &[("version", parameter.policy_version.as_str().into())],
        ));
    }
    words.join(", ")
}

/// The message id of a proto enum value name.
fn message_id(proto_name: &str) -> String {
    proto_name.to_ascii_lowercase().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of `E` (the proto numbers 0 up to the first unknown one).
    fn values<E: Worded + TryFrom<i32>>() -> Vec<E> {
        (0..).map_while(|n| E::try_from(n).ok()).collect()
    }

    fn missing<E: Worded + TryFrom<i32>>(lang: Lang) -> Vec<&'static str> {
        values::<E>()
            .into_iter()
            .map(Worded::proto_name)
            .filter(|name| lang.text(&message_id(name)) == message_id(name))
            .collect()
    }

    #[test]
    fn every_value_of_every_worded_enum_has_words_in_every_language() {
        for lang in Lang::ALL {
            let mut gaps = Vec::new();
            gaps.extend(missing::<Agency>(lang));
            gaps.extend(missing::<Arrangement>(lang));
            gaps.extend(missing::<Classification>(lang));
            gaps.extend(missing::<DeterminationStatus>(lang));
            gaps.extend(missing::<Driver>(lang));
            gaps.extend(missing::<DurableSolutionsCriterion>(lang));
            gaps.extend(missing::<LeadershipFunction>(lang));
            gaps.extend(missing::<NotificationKind>(lang));
            gaps.extend(missing::<Phase>(lang));
            gaps.extend(missing::<PopulationGroup>(lang));
            gaps.extend(missing::<ReviewVerdict>(lang));
            gaps.extend(missing::<Role>(lang));
            gaps.extend(missing::<Scope>(lang));
            assert!(gaps.is_empty(), "{} has no words for {gaps:?}", lang.code());
        }
    }

    #[test]
    fn values_read_as_words_in_the_language_asked_for() {
        let mixed = Classification::MixedMovement;
        assert_eq!(word(Lang::En, mixed), "mixed movement");
        assert_eq!(word(Lang::Fr, mixed), "mouvement mixte");
        assert_eq!(word(Lang::Es, mixed), "movimiento mixto");
        assert_eq!(word(Lang::Es, Agency::Unhcr), "ACNUR");
    }

    #[test]
    fn a_rationale_reads_in_the_readers_language_or_else_in_english() {
        let entry = RationaleEntry {
            text: "Refugee situation.".into(),
            texts: [("fr".to_owned(), "Situation de réfugiés.".to_owned())].into(),
            parameters: vec![tandem_proto::v1::PolicyParameter {
                name: "thresholds.hysteresis".into(),
                value: "0.05".into(),
                policy_version: "v1".into(),
            }],
            ..Default::default()
        };
        assert_eq!(rationale_text(Lang::Fr, &entry), "Situation de réfugiés.");
        assert_eq!(rationale_text(Lang::Es, &entry), "Refugee situation.");
        assert_eq!(
            rationale_source(Lang::Es, &entry),
            "thresholds.hysteresis 0.05, política v1"
        );
    }
}
