//! tandem's user-facing texts in English, French and Spanish, and times in the reader's zone
//! (docs/design.md, "Languages and time").
//!
//! Every text a person reads — pages, e-mails, notification summaries, the CLI's rendering of a
//! determination — is a Fluent message in `locales/<lang>/tandem.ftl`, one file per language,
//! compiled into the binary. The test at the bottom of this file holds the three files to the
//! same messages, attributes and placeholders, so a message added in one language and not the
//! others fails the build's tests rather than showing English to a reader in Bogotá.
//!
//! - [`words`]: the contract's enum values in words, and a rationale entry's text and source in
//!   the reader's language (the texts themselves come from the policy file, in `texts`).
//! - [`local_time`], [`local_time_rfc3339`], [`local_clock`], [`known_time_zone`]: times in the
//!   reader's zone.

pub mod words;

use std::borrow::Cow;
use std::collections::HashMap;

pub use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{Loader, static_loader};
use unic_langid::{LanguageIdentifier, langid};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Unicode isolation marks around placeholders would show as stray characters in
        // e-mails, CSV and terminals; tandem's placeholders are codes, names and numbers.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language tandem speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// English, the fallback for any other language.
    #[default]
    En,
    /// French.
    Fr,
    /// Spanish.
    Es,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::Es];

    /// The ISO 639-1 code, as in `<html lang>` and `?lang=`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Es => "es",
        }
    }

    /// The language of a BCP 47 tag (`fr`, `fr-CA`, `es-419`), if tandem speaks it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|lang| lang.code() == primary)
    }

    /// The language to serve: `requested` (a `?lang=` switch or a directory entry's `lang`)
    /// when tandem speaks it, else the best of an `Accept-Language` header by its weights, else
    /// English.
    pub fn negotiate(requested: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = requested.and_then(Lang::from_tag) {
            return lang;
        }
        let Some(header) = accept_language else {
            return Lang::En;
        };
        let wanted = fluent_langneg::accepted_languages::parse(header);
        let available: Vec<LanguageIdentifier> = Lang::ALL.iter().map(|lang| lang.id()).collect();
        let default = langid!("en");
        fluent_langneg::negotiate_languages(
            &wanted,
            &available,
            Some(&default),
            fluent_langneg::NegotiationStrategy::Lookup,
        )
        .first()
        .and_then(|id| Lang::from_tag(id.language.as_str()))
        .unwrap_or_default()
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::En => langid!("en"),
            Lang::Fr => langid!("fr"),
            Lang::Es => langid!("es"),
        }
    }

    /// Message `id` in this language (English when missing here; the id itself when missing
    /// everywhere, which the locale test prevents for every id in the files).
    pub fn text(self, id: &str) -> String {
        LOCALES
            .try_lookup(&self.id(), id)
            .unwrap_or_else(|| id.to_owned())
    }

    /// Message `id` with its placeholders filled from `args`.
    pub fn text_with(self, id: &str, args: &[(&'static str, FluentValue<'_>)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), value.clone()))
            .collect();
        LOCALES
            .try_lookup_with_args(&self.id(), id, &args)
            .unwrap_or_else(|| id.to_owned())
    }
}

/// Whether `tz` names a zone of the IANA database (`America/Bogota`, `UTC`).
pub fn known_time_zone(tz: &str) -> bool {
    jiff::tz::TimeZone::get(tz).is_ok()
}

/// `unix_seconds` as local time in zone `tz` with its offset and name:
/// `2026-12-04 17:36 UTC-05:00 (America/Bogota)`. An unknown zone or a time out of range is
/// shown in UTC rather than refused: a reader is better served by a correct time in the wrong
/// zone than by none.
pub fn local_time(unix_seconds: i64, tz: &str) -> String {
    let Ok(instant) = jiff::Timestamp::from_second(unix_seconds) else {
        return unix_seconds.to_string();
    };
    let (zone, name) = zone(tz);
    let local = instant.to_zoned(zone);
    format!("{} ({name})", local.strftime("%Y-%m-%d %H:%M UTC%:z"))
}

/// An RFC 3339 time as records keep it (`2026-11-18T11:36:40Z`) as [`local_time`] in zone
/// `tz`; the text unchanged when it is no such time, so a reader still sees what was recorded.
pub fn local_time_rfc3339(at: &str, tz: &str) -> String {
    match at.parse::<jiff::Timestamp>() {
        Ok(instant) => local_time(instant.as_second(), tz),
        Err(_) => at.to_owned(),
    }
}

/// `unix_seconds` as the time of day in zone `tz` (`06:36:40`), for lines that follow each other
/// live, such as `tandem watch`'s; UTC for an unknown zone, as in [`local_time`].
pub fn local_clock(unix_seconds: i64, tz: &str) -> String {
    match jiff::Timestamp::from_second(unix_seconds) {
        Ok(instant) => instant
            .to_zoned(zone(tz).0)
            .strftime("%H:%M:%S")
            .to_string(),
        Err(_) => unix_seconds.to_string(),
    }
}

/// The zone `tz` names, with its name; UTC when it names none.
fn zone(tz: &str) -> (jiff::tz::TimeZone, &str) {
    match jiff::tz::TimeZone::get(tz) {
        Ok(zone) => (zone, tz),
        Err(_) => (jiff::tz::TimeZone::UTC, "UTC"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use fluent_syntax::ast::{
        CallArguments, Entry, Expression, InlineExpression, Pattern, PatternElement,
    };

    use super::*;

    /// Each message or term, and each of its attributes, with the placeholders it uses.
    fn messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
        let path = format!(
            "{}/locales/{}/tandem.ftl",
            env!("CARGO_MANIFEST_DIR"),
            lang.code()
        );
        let source = std::fs::read_to_string(&path).expect("the locale file exists");
        let resource = fluent_syntax::parser::parse(source.as_str())
            .unwrap_or_else(|(_, errors)| panic!("{path} does not parse: {errors:?}"));
        let mut found = BTreeMap::new();
        for entry in resource.body {
            let (id, value, attributes) = match entry {
                Entry::Message(m) => (m.id.name.to_owned(), m.value, m.attributes),
                Entry::Term(t) => (format!("-{}", t.id.name), Some(t.value), t.attributes),
                _ => continue,
            };
            let mut names = BTreeSet::new();
            if let Some(pattern) = &value {
                placeholders(pattern, &mut names);
            }
            found.insert(id.clone(), names);
            for attribute in attributes {
                let mut names = BTreeSet::new();
                placeholders(&attribute.value, &mut names);
                found.insert(format!("{id}.{}", attribute.id.name), names);
            }
        }
        found
    }

    fn placeholders(pattern: &Pattern<&str>, names: &mut BTreeSet<String>) {
        for element in &pattern.elements {
            if let PatternElement::Placeable { expression } = element {
                in_expression(expression, names);
            }
        }
    }

    fn in_expression(expression: &Expression<&str>, names: &mut BTreeSet<String>) {
        match expression {
            Expression::Select { selector, variants } => {
                in_inline(selector, names);
                for variant in variants {
                    placeholders(&variant.value, names);
                }
            }
            Expression::Inline(inline) => in_inline(inline, names),
        }
    }

    fn in_inline(inline: &InlineExpression<&str>, names: &mut BTreeSet<String>) {
        match inline {
            InlineExpression::VariableReference { id } => {
                names.insert(id.name.to_owned());
            }
            InlineExpression::FunctionReference { arguments, .. } => in_arguments(arguments, names),
            InlineExpression::TermReference {
                arguments: Some(arguments),
                ..
            } => in_arguments(arguments, names),
            InlineExpression::Placeable { expression } => in_expression(expression, names),
            _ => {}
        }
    }

    fn in_arguments(arguments: &CallArguments<&str>, names: &mut BTreeSet<String>) {
        for inline in &arguments.positional {
            in_inline(inline, names);
        }
        for named in &arguments.named {
            in_inline(&named.value, names);
        }
    }

    #[test]
    fn every_message_exists_in_every_language_with_the_same_placeholders() {
        let english = messages(Lang::En);
        assert!(!english.is_empty());
        for lang in [Lang::Fr, Lang::Es] {
            let other = messages(lang);
            let missing: Vec<_> = english
                .keys()
                .filter(|id| !other.contains_key(*id))
                .collect();
            let extra: Vec<_> = other
                .keys()
                .filter(|id| !english.contains_key(*id))
                .collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
            assert!(
                extra.is_empty(),
                "{} has messages English lacks: {extra:?}",
                lang.code()
            );
            for (id, names) in &english {
                assert_eq!(
                    &other[id],
                    names,
                    "{} uses other placeholders in {id}",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn texts_come_in_the_language_asked_for_with_their_placeholders_filled() {
        assert_eq!(Lang::En.text("language-name"), "English");
        assert_eq!(Lang::Fr.text("language-name"), "Français");
        assert_eq!(Lang::Es.text("language-name"), "Español");
        let args = [("situation", FluentValue::from("col-2026-001"))];
        assert!(
            Lang::Fr
                .text_with("situation-title", &args)
                .contains("col-2026-001")
        );
    }

    #[test]
    fn a_reader_gets_the_language_they_asked_for_or_their_browsers_best() {
        assert_eq!(Lang::negotiate(Some("fr"), Some("es")), Lang::Fr);
        assert_eq!(
            Lang::negotiate(Some("de"), Some("es-CO,es;q=0.9")),
            Lang::Es
        );
        assert_eq!(
            Lang::negotiate(None, Some("de-DE,de;q=0.9,fr;q=0.8,en;q=0.5")),
            Lang::Fr
        );
        assert_eq!(Lang::negotiate(None, Some("pt-BR")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }

    #[test]
    fn times_are_shown_in_the_readers_zone_with_the_zone_named() {
        // 2026-11-18T11:36:40Z.
        let at = 1_795_001_800;
        assert_eq!(
            local_time(at, "America/Bogota"),
            "2026-11-18 06:36 UTC-05:00 (America/Bogota)"
        );
        assert_eq!(
            local_time(at, "Nowhere/Atlantis"),
            "2026-11-18 11:36 UTC+00:00 (UTC)"
        );
        assert_eq!(
            local_time_rfc3339("2026-11-18T11:36:40Z", "America/Bogota"),
            "2026-11-18 06:36 UTC-05:00 (America/Bogota)"
        );
        assert_eq!(
            local_time_rfc3339("2026-11-18T12:36:40+01:00", "UTC"),
            "2026-11-18 11:36 UTC+00:00 (UTC)"
        );
        assert_eq!(local_time_rfc3339("yesterday", "UTC"), "yesterday");
        assert_eq!(local_clock(at, "America/Bogota"), "06:36:40");
        assert_eq!(local_clock(at, ""), "11:36:40");
        assert!(known_time_zone("Africa/Dakar"));
        assert!(!known_time_zone("Nowhere/Atlantis"));
    }
}
