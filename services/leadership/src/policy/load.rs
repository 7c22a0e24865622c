//! Reading a policy file: [`Policy`], [`PolicyError`] and the checks that refuse a malformed or
//! inconsistent file.
//!
//! The file is walked by hand from a generic TOML table rather than deserialised with serde,
//! because serde stops at the first problem while a person fixing the file wants every problem
//! at once (unknown keys included, which is what `deny_unknown_fields` would have caught). The
//! layout, documented in `deploy/policy/leadership-v1.toml`:
//!
//! ```toml
//! version = "v1"
//! languages = ["en", "fr", "es"]  # optional; ["en"] when absent (a file from before languages)
//! [thresholds]   # refugee, migrant, hysteresis, discrepancy_tolerance, undetermined_majority:
//!                # decimals, ≤ 6 places
//! [populations]  # protection, migrant, displaced: lists of group names (the sets P, M, D)
//! [authority]    # group name = "iom" | "unhcr": whose figure wins for that group;
//!                # yield_after_days: when an older authoritative figure yields (0 = never)
//! [facts]        # scope, driver, phase, on_the_move = lists of "iom" | "unhcr" | "partner"
//! [rules.<id>]   # clause, text (English), text_fr, text_es: one table per rule, every rule
//!                # required, a text for every language listed, all with the same placeholders
//! [operations]   # optional: classify = "regional" (default) | "own"
//! [[override]]   # optional, per situation (or country operation): situation, country,
//!                # reference, since, [override.functions]
//! ```

use std::fmt;
use std::sync::OnceLock;

use tandem_i18n::Lang;
use toml::{Table, Value};

use super::fixed::{Ppm, Shown};
use super::names::{Agencies, GROUP_SLOTS, GROUPS, group_from_key, group_key, group_keys};
use super::text::{RULE_COUNT, Rule, Template, Var};

/// The default policy file, shipped in `deploy/policy/`.
const DEFAULT_V1: &str = include_str!("../../../../deploy/policy/leadership-v1.toml");

/// Index of a threshold as the file writes it, in [`Policy::refugee_at`] and [`Policy::migrant_at`].
pub(crate) const AS_WRITTEN: usize = 0;
/// Index of a threshold lowered by the hysteresis.
pub(crate) const LOWERED: usize = 1;
/// Index of a threshold raised by the hysteresis.
pub(crate) const RAISED: usize = 2;

/// One in a million: decimals in the policy file are held as millionths.
const ONE: u32 = 1_000_000;

/// The set a counted population group belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    /// P: UNHCR's mandate population.
    Protection,
    /// M: migrants.
    Migrant,
    /// D: internally displaced people.
    Displaced,
}

/// A rule's clause and parsed texts.
#[derive(Clone, Debug)]
pub(crate) struct RuleText {
    /// Where the rule comes from, e.g. "FoE B.1 mixed movements"; empty for a rule that rests
    /// on tandem's policy parameters alone.
    pub(crate) clause: String,
    /// The rationale text in English.
    pub(crate) template: Template,
    /// The text in each other language the policy lists, in the order of [`Lang::ALL`].
    pub(crate) translations: Vec<(Lang, Template)>,
}

/// A parsed and validated leadership policy (docs/design.md, "Leadership policy v1"): thresholds,
/// hysteresis, discrepancy tolerance, the population sets, the authority table and the rule
/// texts. Only [`Policy::from_toml`] and [`Policy::default_v1`] make one, so every `Policy` in
/// the program has passed every check.
#[derive(Clone, Debug)]
pub struct Policy {
    version: String,
    /// The languages the rule texts are written in (`languages`), English first.
    languages: Vec<Lang>,
    /// How far the boundaries move in favour of the previous cross-border classification.
    pub(crate) hysteresis: Ppm,
    /// Relative difference above which IOM and UNHCR figures are a discrepancy.
    pub(crate) tolerance: Ppm,
    /// The refugee threshold (protection share at or above which a cross-border situation is a
    /// refugee situation) as written, lowered and raised by the hysteresis (indices
    /// [`AS_WRITTEN`], [`LOWERED`], [`RAISED`]), with their printed forms.
    pub(crate) refugee_at: [Shown; 3],
    /// The migrant threshold (protection share at or below which a cross-border situation is a
    /// migrant situation) as written, lowered and raised by the hysteresis.
    pub(crate) migrant_at: [Shown; 3],
    /// The hysteresis, printed.
    pub(crate) hysteresis_shown: Shown,
    /// The tolerance, printed as a percentage.
    pub(crate) tolerance_shown: Shown,
    /// The tolerance as the file writes it (`0.25`), for a rationale entry's parameters.
    pub(crate) tolerance_text: Box<str>,
    /// The share of the people counted across borders (P, M and the undetermined) above which
    /// undetermined people make a cross-border situation a mixed movement; 1 = never.
    pub(crate) undetermined_majority: Shown,
    /// How many days older than the other agency's figure an authoritative figure may be before
    /// it yields to it; 0 = never.
    pub(crate) yield_after_days: u32,
    /// [`Policy::yield_after_days`] as written, for a rationale entry's text and parameters.
    pub(crate) yield_after_days_text: Box<str>,
    /// The set each group counts towards, indexed by `PopulationGroup` value; `None` = not
    /// counted (host communities in v1).
    pub(crate) counted: [Option<Counted>; GROUP_SLOTS],
    /// The authoritative agency of each group, indexed by `PopulationGroup` value; empty = the
    /// most recently reported figure wins.
    pub(crate) authority: [Agencies; GROUP_SLOTS],
    /// The organisations whose reports may set each situation fact, indexed by [`Fact`].
    pub(crate) facts: [Agencies; FACT_COUNT],
    /// Clause and text of each rule, indexed by `Rule` discriminant.
    pub(crate) rules: [RuleText; RULE_COUNT],
    /// The `[[override]]`s, at most one per situation and one per country operation.
    pub(crate) overrides: Vec<Override>,
    /// How the country operations of a regional situation are classified (`[operations]`).
    pub(crate) operations: Operations,
}

/// `[operations] classify`: what decides a country operation's classification and arrangement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Operations {
    /// `"regional"`: the regional arrangement binds every operation (one flow, one arrangement
    /// across borders).
    #[default]
    Regional,
    /// `"own"`: each operation is classified on its own figures.
    Own,
}

/// The key of `[authority]` that is not a group: when an older authoritative figure yields.
const YIELD_AFTER_DAYS: &str = "yield_after_days";

/// The largest `authority.yield_after_days`: a century, beyond any figure's useful life.
const MAX_YIELD_DAYS: u32 = 36_500;

/// Slots in a function table, indexed by `LeadershipFunction` value (0 unused).
pub(crate) const FUNCTION_SLOTS: usize = 8;

/// An `[[override]]`: the functions of one situation assigned by name.
#[derive(Clone, Debug)]
pub(crate) struct Override {
    /// The situation it applies to.
    pub(crate) situation: String,
    /// The country operation of a regional situation it applies to (ISO3); empty for the
    /// situation as a whole.
    pub(crate) country: String,
    /// The decision or agreement it records.
    pub(crate) reference: String,
    /// The first day it applies, as written (`YYYY-MM-DD`).
    pub(crate) since: String,
    /// That day's first second, Unix time (UTC).
    pub(crate) since_seconds: i64,
    /// Per function slot: the agencies and other named actors holding it; `None` = the
    /// classification decides.
    pub(crate) functions: OverriddenFunctions,
}

/// An override's function table: per slot, the agencies and other named actors, if assigned.
pub(crate) type OverriddenFunctions = [Option<(Agencies, Vec<String>)>; FUNCTION_SLOTS];

/// A fact about a situation that one report states for the whole situation, unlike figures,
/// which are reconciled per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fact {
    /// Internal or cross-border.
    Scope,
    /// Conflict, disaster, …
    Driver,
    /// Emergency, protracted, solutions.
    Phase,
    /// People travelling together on the same routes (the mixed-movement test).
    OnTheMove,
}

/// Number of facts; the size of the policy's fact-authority table.
pub(crate) const FACT_COUNT: usize = 4;

impl Fact {
    /// Every fact, in the order of [`Policy::facts`].
    pub(crate) const ALL: [Fact; FACT_COUNT] =
        [Fact::Scope, Fact::Driver, Fact::Phase, Fact::OnTheMove];

    /// The fact's key in the policy file's `[facts]` section.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Fact::Scope => "scope",
            Fact::Driver => "driver",
            Fact::Phase => "phase",
            Fact::OnTheMove => "on_the_move",
        }
    }
}

impl Policy {
    /// Parses and validates a policy file. A file that is not TOML gives
    /// [`PolicyError::Syntax`]; otherwise every problem found (unknown or missing keys, values
    /// out of range, thresholds that contradict each other, groups without an authoritative
    /// agency, rule texts with unknown placeholders…) is listed in one [`PolicyError::Invalid`].
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let table: Table = text
            .parse()
            .map_err(|error: toml::de::Error| PolicyError::Syntax {
                message: error.to_string().trim_end().to_owned(),
            })?;
        let mut check = Check::default();
        let policy = check.policy(&table);
        match policy {
            Some(policy) if check.problems.is_empty() => Ok(policy),
            _ => Err(PolicyError::Invalid {
                problems: check.problems,
            }),
        }
    }

    /// The default policy v1, `deploy/policy/leadership-v1.toml`, built into the binary. Its
    /// tests load it, so it cannot fail at run time; it is parsed once per process.
    pub fn default_v1() -> Policy {
        static DEFAULT: OnceLock<Policy> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                Policy::from_toml(DEFAULT_V1)
                    .expect("deploy/policy/leadership-v1.toml is valid (tested)")
            })
            .clone()
    }

    /// The policy's version, recorded in every determination as `policy_version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The languages tandem speaks that the policy's rule texts are not written in (a file
    /// from before `languages`): readers of those languages get the English rationale. The
    /// leadership service and `tandem policy check` warn about them.
    pub fn untranslated(&self) -> Vec<Lang> {
        Lang::ALL
            .into_iter()
            .filter(|lang| !self.languages.contains(lang))
            .collect()
    }

    /// The clause and text of `rule`.
    pub(crate) fn rule(&self, rule: Rule) -> &RuleText {
        &self.rules[rule as usize]
    }

    /// The situations the policy's `[[override]]`s name, each with the override's reference.
    pub fn overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.overrides
            .iter()
            .map(|o| (o.situation.as_str(), o.reference.as_str()))
    }

    /// The override of `situation_id` in force at `seconds` (Unix time), if any: for a country
    /// operation (`operation` is its country) the one naming that country, else the
    /// situation's; for the situation as a whole only the situation's.
    pub(crate) fn override_for(
        &self,
        situation_id: &str,
        operation: Option<&str>,
        seconds: i64,
    ) -> Option<&Override> {
        let in_force = |country: &str| {
            self.overrides.iter().find(|o| {
                o.situation == situation_id && o.country == country && seconds >= o.since_seconds
            })
        };
        operation.and_then(&in_force).or_else(|| in_force(""))
    }
}

/// Why a policy file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not TOML; the message gives the line and column.
    #[error("the policy file is not valid TOML: {message}")]
    Syntax {
        /// The TOML parser's message, with line, column and the offending line.
        message: String,
    },
    /// The text is TOML but breaks the policy's rules; every problem is listed.
    #[error("the policy file is refused, {} problem(s):{}", .problems.len(), ProblemList(.problems))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<PolicyProblem>,
    },
}

impl PolicyError {
    /// The problems listed (empty for a syntax error).
    pub fn problems(&self) -> &[PolicyProblem] {
        match self {
            PolicyError::Syntax { .. } => &[],
            PolicyError::Invalid { problems } => problems,
        }
    }
}

/// One problem in a policy file: the key at fault and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Dotted path of the key, e.g. `thresholds.refugee` (empty for the whole file).
    pub key: String,
    /// A sentence for the person who fixes the file.
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Renders problems one per line, for [`PolicyError`]'s message.
struct ProblemList<'a>(&'a [PolicyProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while walking the file.
#[derive(Default)]
struct Check {
    problems: Vec<PolicyProblem>,
}

/// Shows a decimal in a message the way the file writes it.
fn show(value: Ppm) -> String {
    let mut out = String::new();
    value.write(&mut out, 2);
    out
}

impl Check {
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(PolicyProblem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Walks the whole file; `None` when a part could not be read at all (its problems are
    /// recorded). Every section is checked even when an earlier one failed.
    fn policy(&mut self, table: &Table) -> Option<Policy> {
        self.unknown_keys(
            table,
            "",
            &[
                "version",
                "languages",
                "thresholds",
                "populations",
                "authority",
                "facts",
                "rules",
                "operations",
                "override",
            ],
        );
        let version = self.version(table);
        let languages = self.languages(table.get("languages"));
        let thresholds = self
            .section(table, "", "thresholds")
            .map(|section| self.thresholds(section));
        let counted = self
            .section(table, "", "populations")
            .map(|section| self.populations(section));
        let authority = self
            .section(table, "", "authority")
            .map(|section| self.authority(section, counted.as_ref()));
        let yield_after_days = self
            .section(table, "", "authority")
            .and_then(|section| self.yield_after_days(section));
        let overrides = self.overrides(table.get("override"));
        let operations = self.operations(table);
        let facts = self
            .section(table, "", "facts")
            .and_then(|section| self.facts(section));
        let rules = self
            .section(table, "", "rules")
            .and_then(|section| self.rules(section, &languages));
        let (refugee, migrant, hysteresis, tolerance, undetermined_majority) = thresholds??;
        // Validation keeps these in [0, 1], so nothing saturates.
        let moved = |threshold: Ppm| {
            [
                Shown::decimal(threshold),
                Shown::decimal(threshold.minus(hysteresis)),
                Shown::decimal(threshold.plus(hysteresis)),
            ]
        };
        Some(Policy {
            version: version?,
            languages,
            hysteresis,
            tolerance,
            refugee_at: moved(refugee),
            migrant_at: moved(migrant),
            hysteresis_shown: Shown::decimal(hysteresis),
            tolerance_shown: Shown::percent(tolerance),
            tolerance_text: Shown::decimal(tolerance).text,
            undetermined_majority: Shown::decimal(undetermined_majority),
            yield_after_days: yield_after_days?,
            yield_after_days_text: yield_after_days?.to_string().into(),
            counted: counted?,
            authority: authority?,
            facts: facts?,
            rules: rules?,
            overrides: overrides?,
            operations: operations?,
        })
    }

    /// `[operations]`, optional: `classify = "regional" | "own"`.
    fn operations(&mut self, table: &Table) -> Option<Operations> {
        if !table.contains_key("operations") {
            return Some(Operations::default());
        }
        let section = self.section(table, "", "operations")?;
        self.unknown_keys(section, "operations", &["classify"]);
        let Some(value) = section.get("classify") else {
            return Some(Operations::default());
        };
        match value.as_str() {
            Some("regional") => Some(Operations::Regional),
            Some("own") => Some(Operations::Own),
            _ => {
                self.problem(
                    "operations.classify",
                    format!("{value} is not a way to classify operations; expected \"regional\" (the regional arrangement binds them) or \"own\" (each on its own figures)"),
                );
                None
            }
        }
    }

    /// Records every key of `table` that is not in `known`.
    fn unknown_keys(&mut self, table: &Table, path: &str, known: &[&str]) {
        for key in table.keys() {
            if !known.contains(&key.as_str()) {
                self.problem(
                    join(path, key),
                    format!("unknown key; expected one of: {}", known.join(", ")),
                );
            }
        }
    }

    /// The sub-table `key` of `table`, recording a problem when it is missing or not a table.
    fn section<'t>(&mut self, table: &'t Table, path: &str, key: &str) -> Option<&'t Table> {
        match table.get(key) {
            Some(Value::Table(section)) => Some(section),
            Some(other) => {
                self.problem(
                    join(path, key),
                    format!("must be a table, not {}", other.type_str()),
                );
                None
            }
            None => {
                self.problem(join(path, key), "required section is missing");
                None
            }
        }
    }

    /// A required, non-empty string.
    fn string<'t>(&mut self, table: &'t Table, path: &str, key: &str) -> Option<&'t str> {
        match table.get(key) {
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text),
            Some(Value::String(_)) => {
                self.problem(join(path, key), "must not be empty");
                None
            }
            Some(other) => {
                self.problem(
                    join(path, key),
                    format!("must be a string, not {}", other.type_str()),
                );
                None
            }
            None => {
                self.problem(join(path, key), "required key is missing");
                None
            }
        }
    }

    fn version(&mut self, table: &Table) -> Option<String> {
        let version = self.string(table, "", "version")?;
        let valid = version.len() <= 64
            && version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Some(version.to_owned())
        } else {
            self.problem(
                "version",
                format!("`{version}` must be 1–64 of A–Z, a–z, 0–9, `.`, `_`, `-`"),
            );
            None
        }
    }

    /// The `languages` list: English and any of the other languages tandem speaks, each once.
    /// Absent (a file from before languages): English alone. What it could read even when
    /// there were problems, so that the rules are still checked.
    fn languages(&mut self, value: Option<&Value>) -> Vec<Lang> {
        let mut languages = vec![Lang::En];
        let Some(value) = value else {
            return languages;
        };
        let expected = Lang::ALL.map(Lang::code).join("\", \"");
        let Value::Array(codes) = value else {
            self.problem(
                "languages",
                format!(
                    "must be a list of language codes such as [\"{expected}\"], not {}",
                    value.type_str()
                ),
            );
            return languages;
        };
        let mut english = false;
        for code in codes {
            let lang = code
                .as_str()
                .and_then(|code| Lang::ALL.into_iter().find(|lang| lang.code() == code));
            match lang {
                Some(Lang::En) if !english => english = true,
                Some(lang) if !languages.contains(&lang) => languages.push(lang),
                Some(lang) => self.problem("languages", format!("lists \"{}\" twice", lang.code())),
                None => self.problem(
                    "languages",
                    format!("{code} is not a language tandem speaks; expected \"{expected}\""),
                ),
            }
        }
        if !english {
            self.problem(
                "languages",
                "must list \"en\": `text` is the English text every rule needs",
            );
        }
        languages.sort();
        languages
    }

    /// A required decimal with at most six places.
    fn decimal(&mut self, table: &Table, key: &str) -> Option<Ppm> {
        let path = join("thresholds", key);
        let value = match table.get(key) {
            Some(Value::Float(value)) => Ppm::from_decimal(*value),
            Some(Value::Integer(value)) => u32::try_from(*value)
                .ok()
                .filter(|value| *value <= 4000)
                .map(|value| Ppm(value * ONE)),
            Some(other) => {
                self.problem(
                    path,
                    format!("must be a decimal number, not {}", other.type_str()),
                );
                return None;
            }
            None => {
                self.problem(path, "required key is missing");
                return None;
            }
        };
        if value.is_none() {
            self.problem(
                path,
                "must be a decimal between 0 and 1 with at most six decimal places (compared exactly)",
            );
        }
        value
    }

    /// A decimal strictly between 0 and 1.
    fn fraction(&mut self, table: &Table, key: &str, meaning: &str) -> Option<Ppm> {
        let value = self.decimal(table, key)?;
        if value.0 == 0 || value.0 >= ONE {
            self.problem(
                join("thresholds", key),
                format!(
                    "is {}, but {meaning} must lie strictly between 0 and 1",
                    show(value)
                ),
            );
            return None;
        }
        Some(value)
    }

    /// Refugee and migrant thresholds, hysteresis and tolerance; the outer `None` when the
    /// section could not be used at all.
    fn thresholds(&mut self, table: &Table) -> Option<(Ppm, Ppm, Ppm, Ppm, Ppm)> {
        self.unknown_keys(
            table,
            "thresholds",
            &[
                "refugee",
                "migrant",
                "hysteresis",
                "discrepancy_tolerance",
                "undetermined_majority",
            ],
        );
        let refugee = self.fraction(table, "refugee", "a protection share");
        let migrant = self.fraction(table, "migrant", "a protection share");
        let hysteresis = self.decimal(table, "hysteresis").filter(|value| {
            let small = value.0 < ONE;
            if !small {
                self.problem(
                    "thresholds.hysteresis",
                    format!("is {}, but must be below 1", show(*value)),
                );
            }
            small
        });
        let tolerance = self.fraction(
            table,
            "discrepancy_tolerance",
            "a relative difference between two figures",
        );
        // A majority: below one half, a minority of undetermined people would decide.
        let undetermined_majority = self
            .decimal(table, "undetermined_majority")
            .filter(|value| {
                let majority = (ONE / 2..=ONE).contains(&value.0);
                if !majority {
                    self.problem(
                        "thresholds.undetermined_majority",
                        format!(
                            "is {}, but must lie between 0.5 and 1 (a majority of the people counted across borders; 1 turns the rule off)",
                            show(*value)
                        ),
                    );
                }
                majority
            });
        let (refugee, migrant) = (refugee?, migrant?);
        if refugee <= migrant {
            self.problem(
                "thresholds.refugee",
                format!(
                    "the refugee threshold ({}) must be above the migrant threshold ({})",
                    show(refugee),
                    show(migrant)
                ),
            );
            return None;
        }
        let hysteresis = hysteresis?;
        // The moved boundaries must keep a gap between them, and stay reachable.
        if migrant.plus(hysteresis) >= refugee.minus(hysteresis) {
            self.problem(
                "thresholds.hysteresis",
                format!(
                    "hysteresis {} is too large: the moved boundaries cross (migrant threshold + hysteresis = {} must stay below refugee threshold − hysteresis = {})",
                    show(hysteresis),
                    show(migrant.plus(hysteresis)),
                    show(refugee.minus(hysteresis)),
                ),
            );
        }
        if refugee.plus(hysteresis).0 > ONE {
            self.problem(
                "thresholds.hysteresis",
                format!(
                    "hysteresis {} is too large: refugee threshold + hysteresis = {} is above 1, so a situation previously mixed could never become a refugee situation",
                    show(hysteresis),
                    show(refugee.plus(hysteresis)),
                ),
            );
        }
        if migrant < hysteresis {
            self.problem(
                "thresholds.hysteresis",
                format!(
                    "hysteresis {} is too large: migrant threshold − hysteresis is below 0, so a situation previously mixed could never become a migrant situation",
                    show(hysteresis),
                ),
            );
        }
        Some((
            refugee,
            migrant,
            hysteresis,
            tolerance?,
            undetermined_majority?,
        ))
    }

    /// The sets P, M and D. What could be read is returned even when there were problems, so
    /// that the authority table can still be checked against it (the policy is refused anyway).
    fn populations(&mut self, table: &Table) -> [Option<Counted>; GROUP_SLOTS] {
        self.unknown_keys(
            table,
            "populations",
            &["protection", "migrant", "displaced"],
        );
        let mut counted = [None; GROUP_SLOTS];
        for (key, set) in [
            ("protection", Counted::Protection),
            ("migrant", Counted::Migrant),
            ("displaced", Counted::Displaced),
        ] {
            let path = join("populations", key);
            let names = match table.get(key) {
                Some(Value::Array(names)) => names,
                Some(other) => {
                    self.problem(
                        path,
                        format!("must be a list of group names, not {}", other.type_str()),
                    );
                    continue;
                }
                None => {
                    self.problem(path, "required key is missing");
                    continue;
                }
            };
            if names.is_empty() {
                self.problem(&path, "must name at least one population group");
            }
            for name in names {
                let group = name.as_str().and_then(group_from_key);
                let Some(group) = group else {
                    self.problem(
                        &path,
                        format!(
                            "{name} is not a population group; expected one of: {}",
                            group_keys()
                        ),
                    );
                    continue;
                };
                let slot = &mut counted[group as usize];
                if let Some(earlier) = slot {
                    let message = if *earlier == set {
                        format!("{} is listed twice", group_key(group))
                    } else {
                        format!(
                            "{} is already counted in another set; the sets P, M and D must not overlap",
                            group_key(group)
                        )
                    };
                    self.problem(&path, message);
                } else {
                    *slot = Some(set);
                }
            }
        }
        counted
    }

    /// The authority table; every counted group needs IOM or UNHCR. Like [`Check::populations`],
    /// returns what it could read even when there were problems.
    fn authority(
        &mut self,
        table: &Table,
        counted: Option<&[Option<Counted>; GROUP_SLOTS]>,
    ) -> [Agencies; GROUP_SLOTS] {
        let mut authority = [Agencies::NONE; GROUP_SLOTS];
        // Groups listed, even with a wrong agency: those are reported once, not also as missing.
        let mut listed = [false; GROUP_SLOTS];
        for (key, value) in table {
            if key == YIELD_AFTER_DAYS {
                continue;
            }
            let path = join("authority", key);
            let Some(group) = group_from_key(key) else {
                self.problem(
                    path,
                    format!(
                        "unknown population group; expected one of: {}, or {YIELD_AFTER_DAYS}",
                        group_keys()
                    ),
                );
                continue;
            };
            listed[group as usize] = true;
            authority[group as usize] = match value.as_str() {
                Some("iom") => Agencies::IOM,
                Some("unhcr") => Agencies::UNHCR,
                _ => {
                    self.problem(
                        path,
                        format!(
                            "is {value}, but the authoritative agency must be \"iom\" or \"unhcr\""
                        ),
                    );
                    continue;
                }
            };
        }
        // Only checkable when the populations section exists.
        if let Some(counted) = counted {
            let missing: Vec<String> = GROUPS
                .into_iter()
                .filter(|group| counted[*group as usize].is_some())
                .filter(|group| !listed[*group as usize])
                .map(group_key)
                .collect();
            if !missing.is_empty() {
                self.problem(
                    "authority",
                    format!(
                        "every counted group needs an authoritative agency (\"iom\" or \"unhcr\"); missing: {}",
                        missing.join(", ")
                    ),
                );
            }
        }
        authority
    }

    /// `authority.yield_after_days`: a whole number of days, 0 (never) to [`MAX_YIELD_DAYS`].
    fn yield_after_days(&mut self, table: &Table) -> Option<u32> {
        let path = join("authority", YIELD_AFTER_DAYS);
        let days = match table.get(YIELD_AFTER_DAYS) {
            Some(Value::Integer(days)) => u32::try_from(*days)
                .ok()
                .filter(|days| *days <= MAX_YIELD_DAYS),
            Some(other) => {
                self.problem(
                    path,
                    format!("must be a whole number of days, not {}", other.type_str()),
                );
                return None;
            }
            None => {
                self.problem(path, "required key is missing");
                return None;
            }
        };
        if days.is_none() {
            self.problem(
                path,
                format!("must be a whole number of days from 0 (an authoritative figure never yields) to {MAX_YIELD_DAYS}"),
            );
        }
        days
    }

    /// Which organisations may set each fact: a non-empty list of `iom`, `unhcr`, `partner`.
    fn facts(&mut self, table: &Table) -> Option<[Agencies; FACT_COUNT]> {
        let keys = Fact::ALL.map(Fact::key);
        self.unknown_keys(table, "facts", &keys);
        let mut facts = [Agencies::NONE; FACT_COUNT];
        let mut complete = true;
        for fact in Fact::ALL {
            let path = join("facts", fact.key());
            let names = match table.get(fact.key()) {
                Some(Value::Array(names)) if !names.is_empty() => names,
                Some(Value::Array(_)) => {
                    self.problem(
                        path,
                        "must name at least one organisation: \"iom\", \"unhcr\" or \"partner\"",
                    );
                    complete = false;
                    continue;
                }
                Some(other) => {
                    self.problem(
                        path,
                        format!("must be a list of organisations, not {}", other.type_str()),
                    );
                    complete = false;
                    continue;
                }
                None => {
                    self.problem(path, "required key is missing");
                    complete = false;
                    continue;
                }
            };
            for name in names {
                let organisation = match name.as_str() {
                    Some("iom") => Agencies::IOM,
                    Some("unhcr") => Agencies::UNHCR,
                    Some("partner") => Agencies::PARTNER,
                    _ => {
                        self.problem(
                            &path,
                            format!("{name} is not an organisation; expected \"iom\", \"unhcr\" or \"partner\""),
                        );
                        complete = false;
                        continue;
                    }
                };
                facts[fact as usize] = facts[fact as usize].with(organisation);
            }
        }
        complete.then_some(facts)
    }

    /// The `[[override]]`s; none when the key is absent.
    fn overrides(&mut self, value: Option<&Value>) -> Option<Vec<Override>> {
        let Some(value) = value else {
            return Some(Vec::new());
        };
        let Value::Array(items) = value else {
            self.problem(
                "override",
                format!(
                    "must be an array of tables, written [[override]], not {}",
                    value.type_str()
                ),
            );
            return None;
        };
        let mut overrides = Vec::with_capacity(items.len());
        let mut complete = true;
        for (index, item) in items.iter().enumerate() {
            let path = format!("override[{index}]");
            let Value::Table(table) = item else {
                self.problem(path, format!("must be a table, not {}", item.type_str()));
                complete = false;
                continue;
            };
            match self.one_override(table, &path) {
                Some(read) => {
                    if overrides.iter().any(|known: &Override| {
                        known.situation == read.situation && known.country == read.country
                    }) {
                        self.problem(
                            join(&path, "situation"),
                            if read.country.is_empty() {
                                format!(
                                    "{} has another override already; one per situation",
                                    read.situation
                                )
                            } else {
                                format!(
                                    "{} has another override for {} already; one per country operation",
                                    read.situation, read.country
                                )
                            },
                        );
                        complete = false;
                    }
                    overrides.push(read);
                }
                None => complete = false,
            }
        }
        complete.then_some(overrides)
    }

    fn one_override(&mut self, table: &Table, path: &str) -> Option<Override> {
        self.unknown_keys(
            table,
            path,
            &["situation", "country", "reference", "since", "functions"],
        );
        let situation = self.string(table, path, "situation").map(str::to_owned);
        let country = match table.get("country") {
            None => Some(String::new()),
            Some(Value::String(code))
                if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) =>
            {
                Some(code.clone())
            }
            Some(_) => {
                self.problem(
                    join(path, "country"),
                    "must be the ISO 3166-1 alpha-3 code of a country operation, e.g. \"PER\"",
                );
                None
            }
        };
        let reference = self.string(table, path, "reference").map(str::to_owned);
        let since = match table.get("since") {
            Some(Value::Datetime(datetime)) => {
                match (datetime.date, &datetime.time, &datetime.offset) {
                    (Some(date), None, None) => Some((
                        date.to_string(),
                        days_from_civil(i64::from(date.year), date.month, date.day) * 86_400,
                    )),
                    _ => None,
                }
            }
            _ => None,
        };
        if since.is_none() {
            self.problem(
                join(path, "since"),
                "must be a date without a time, e.g. since = 2018-04-12",
            );
        }
        let functions = self
            .section(table, path, "functions")
            .and_then(|section| self.override_functions(section, &join(path, "functions")));
        let (since, since_seconds) = since?;
        Some(Override {
            situation: situation?,
            country: country?,
            reference: reference?,
            since,
            since_seconds,
            functions: functions?,
        })
    }

    /// `function = ["iom", "Resident Coordinator", …]` for each function an override assigns.
    fn override_functions(&mut self, table: &Table, path: &str) -> Option<OverriddenFunctions> {
        let mut functions: OverriddenFunctions = Default::default();
        let mut complete = true;
        if table.is_empty() {
            self.problem(path, "must assign at least one function");
            return None;
        }
        for (key, value) in table {
            let key_path = join(path, key);
            let Some(slot) = function_slot(key) else {
                self.problem(
                    key_path,
                    format!(
                        "unknown leadership function; expected one of: {}",
                        FUNCTION_KEYS.join(", ")
                    ),
                );
                complete = false;
                continue;
            };
            let holders = match value {
                Value::Array(holders) if !holders.is_empty() => holders,
                _ => {
                    self.problem(
                        key_path,
                        "must be a non-empty list of holders: \"iom\", \"unhcr\" or a named actor such as \"Resident Coordinator\"",
                    );
                    complete = false;
                    continue;
                }
            };
            let mut agencies = Agencies::NONE;
            let mut actors = Vec::new();
            for holder in holders {
                match holder.as_str().map(str::trim) {
                    Some("iom") => agencies = agencies.with(Agencies::IOM),
                    Some("unhcr") => agencies = agencies.with(Agencies::UNHCR),
                    Some(name) if !name.is_empty() && name.len() <= 100 => {
                        actors.push(name.to_owned());
                    }
                    _ => {
                        self.problem(
                            &key_path,
                            format!("{holder} is not a holder: write \"iom\", \"unhcr\" or a name of 1–100 characters"),
                        );
                        complete = false;
                    }
                }
            }
            functions[slot] = Some((agencies, actors));
        }
        complete.then_some(functions)
    }

    /// Every rule's clause and texts, one per language in `languages`.
    fn rules(&mut self, table: &Table, languages: &[Lang]) -> Option<[RuleText; RULE_COUNT]> {
        let known: Vec<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
        self.unknown_keys(table, "rules", &known);
        let mut keys = vec!["clause"];
        keys.extend(Lang::ALL.map(text_key));
        let mut rules = Vec::with_capacity(RULE_COUNT);
        for rule in Rule::ALL {
            let path = join("rules", rule.id());
            let Some(section) = self.section(table, "rules", rule.id()) else {
                continue;
            };
            self.unknown_keys(section, &path, &keys);
            // A rule resting on tandem's parameters alone (hysteresis) names no clause.
            let clause = match section.get("clause") {
                None => Some(""),
                Some(_) => self.string(section, &path, "clause"),
            };
            let mut texts = Vec::with_capacity(languages.len());
            for lang in Lang::ALL {
                let key = text_key(lang);
                if !languages.contains(&lang) {
                    if section.contains_key(key) {
                        self.problem(
                            join(&path, key),
                            format!(
                                "`languages` does not list \"{}\": add it there or remove this text",
                                lang.code()
                            ),
                        );
                    }
                    continue;
                }
                if lang != Lang::En && !section.contains_key(key) {
                    self.problem(
                        join(&path, key),
                        format!(
                            "required key is missing: `languages` lists \"{}\", so every rule needs its text in that language",
                            lang.code()
                        ),
                    );
                    continue;
                }
                let Some(text) = self.string(section, &path, key) else {
                    continue;
                };
                match Template::parse(rule, text) {
                    Ok(template) => texts.push((lang, template)),
                    Err(problems) => {
                        for message in problems {
                            self.problem(join(&path, key), message);
                        }
                    }
                }
            }
            self.same_placeholders(&path, &texts);
            let complete = texts.len() == languages.len();
            let mut texts = texts.into_iter();
            match (clause, texts.next()) {
                (Some(clause), Some((Lang::En, template))) if complete => rules.push(RuleText {
                    clause: clause.to_owned(),
                    template,
                    translations: texts.collect(),
                }),
                _ => {}
            }
        }
        // Exactly RULE_COUNT entries when every rule was readable.
        rules.try_into().ok()
    }

    /// Records a problem for each translation of a rule that does not use the placeholders its
    /// English text uses (a number missing in one language, or another number in its place).
    fn same_placeholders(&mut self, path: &str, texts: &[(Lang, Template)]) {
        let Some((Lang::En, english)) = texts.first() else {
            return;
        };
        let wanted = english.placeholders();
        let names = |vars: &[Var]| {
            vars.iter()
                .map(|var| format!("{{{}}}", var.name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (lang, template) in &texts[1..] {
            let used = template.placeholders();
            let missing: Vec<Var> = wanted
                .iter()
                .filter(|v| !used.contains(v))
                .copied()
                .collect();
            let extra: Vec<Var> = used
                .iter()
                .filter(|v| !wanted.contains(v))
                .copied()
                .collect();
            if missing.is_empty() && extra.is_empty() {
                continue;
            }
            let mut message = String::from("must use the placeholders of the English text");
            if !missing.is_empty() {
                message.push_str(&format!("; it lacks {}", names(&missing)));
            }
            if !extra.is_empty() {
                message.push_str(&format!(
                    "; it uses {}, which the English text does not",
                    names(&extra)
                ));
            }
            self.problem(join(path, text_key(*lang)), message);
        }
    }
}

/// The key of a rule's text in `lang`: `text` for English, `text_<code>` for the others.
fn text_key(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "text",
        Lang::Fr => "text_fr",
        Lang::Es => "text_es",
    }
}

/// The policy-file names of the leadership functions, indexed by `LeadershipFunction` value − 1.
const FUNCTION_KEYS: [&str; FUNCTION_SLOTS - 1] = [
    "strategic_planning",
    "engagement_with_states",
    "data_management",
    "resource_mobilization",
    "inclusive_coordination",
    "protection_cluster",
    "cccm_cluster",
];

/// The function-table slot of a policy-file function name.
fn function_slot(key: &str) -> Option<usize> {
    FUNCTION_KEYS
        .iter()
        .position(|known| *known == key)
        .map(|index| index + 1)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `path.key`, or `key` at the top level.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_proto::v1::PopulationGroup;

    fn counted_in(policy: &Policy, group: PopulationGroup) -> Option<Counted> {
        policy.counted[group as usize]
    }

    #[test]
    fn the_shipped_policy_is_valid_and_says_what_design_md_says() {
        let policy = Policy::from_toml(DEFAULT_V1).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(policy.version(), "v1");
        assert_eq!(policy.refugee_at[AS_WRITTEN].value, Ppm(800_000));
        assert_eq!(policy.migrant_at[AS_WRITTEN].value, Ppm(200_000));
        assert_eq!(policy.hysteresis, Ppm(50_000));
        assert_eq!(policy.tolerance, Ppm(250_000));
        let shown = |at: &[Shown; 3]| at.iter().map(|s| s.text.to_string()).collect::<Vec<_>>();
        assert_eq!(shown(&policy.refugee_at), ["0.80", "0.75", "0.85"]);
        assert_eq!(shown(&policy.migrant_at), ["0.20", "0.15", "0.25"]);
        assert_eq!(&*policy.hysteresis_shown.text, "0.05");
        assert_eq!(&*policy.tolerance_shown.text, "25");
        assert_eq!(&*policy.undetermined_majority.text, "0.50");
        assert_eq!(policy.yield_after_days, 365);
        use PopulationGroup::*;
        for group in [
            Refugee,
            AsylumSeeker,
            OtherInNeedOfProtection,
            Stateless,
            ReturnedRefugee,
        ] {
            assert_eq!(counted_in(&policy, group), Some(Counted::Protection));
            assert_eq!(policy.authority[group as usize], Agencies::UNHCR);
        }
        assert_eq!(counted_in(&policy, Migrant), Some(Counted::Migrant));
        assert_eq!(policy.authority[Migrant as usize], Agencies::IOM);
        for group in [Idp, ReturnedIdp] {
            assert_eq!(counted_in(&policy, group), Some(Counted::Displaced));
            assert_eq!(policy.authority[group as usize], Agencies::IOM);
        }
        assert_eq!(counted_in(&policy, HostCommunity), None);
        assert_eq!(policy.facts, [Agencies::JOINT; FACT_COUNT]);
        assert_eq!(
            policy.rule(Rule::MixedMovement).clause,
            "FoE B.1 mixed movements"
        );
        assert_eq!(policy.rule(Rule::Discrepancy).clause, "FoE B.3 data");
        assert_eq!(Policy::default_v1().version(), "v1");
        assert_eq!(policy.untranslated(), []);
        for rule in policy.rules.iter() {
            let langs: Vec<Lang> = rule.translations.iter().map(|(lang, _)| *lang).collect();
            assert_eq!(langs, [Lang::Fr, Lang::Es]);
        }
    }

    /// The shipped file with `edit` applied to its text.
    fn shipped_with(edit: impl FnOnce(String) -> String) -> Result<Policy, PolicyError> {
        Policy::from_toml(&edit(DEFAULT_V1.to_owned()))
    }

    fn problems(result: Result<Policy, PolicyError>) -> Vec<String> {
        result
            .expect_err("refused")
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_missing_translation_and_another_placeholder_are_refused_together() {
        let refused = problems(shipped_with(|file| {
            let lines: Vec<&str> = file.lines().collect();
            let mut out = Vec::new();
            let mut rule = "";
            for line in lines {
                if line.starts_with("[rules.") {
                    rule = line;
                }
                // No French text for the CCCM disaster rule.
                if rule == "[rules.cccm_disaster]" && line.starts_with("text_fr") {
                    continue;
                }
                // Spanish refugee text naming the migrant threshold instead of the refugee one.
                if rule == "[rules.refugee_situation]" && line.starts_with("text_es") {
                    out.push(line.replace("{refugee_threshold}", "{migrant_threshold}"));
                    continue;
                }
                out.push(line.to_owned());
            }
            out.join("\n")
        }));
        assert_eq!(refused.len(), 2, "{refused:#?}");
        assert!(
            refused[0].starts_with("rules.cccm_disaster.text_fr: required key is missing"),
            "{refused:#?}"
        );
        assert_eq!(
            refused[1],
            "rules.refugee_situation.text_es: must use the placeholders of the English text; it lacks {refugee_threshold}; it uses {migrant_threshold}, which the English text does not"
        );
    }

    #[test]
    fn a_file_without_languages_is_english_only_and_refuses_translations() {
        let english_only = |file: String| {
            file.lines()
                .filter(|line| !line.starts_with("text_fr") && !line.starts_with("text_es"))
                .filter(|line| !line.starts_with("languages"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let policy = shipped_with(english_only).expect("an English-only file loads");
        assert_eq!(policy.untranslated(), [Lang::Fr, Lang::Es]);
        assert!(policy.rules.iter().all(|rule| rule.translations.is_empty()));

        let refused = problems(shipped_with(|file| {
            english_only(file).replacen(
                "[rules.override]\n",
                "[rules.override]\ntext_fr = \"Arrangement ({reference}, {since}).\"\n",
                1,
            )
        }));
        assert_eq!(
            refused,
            [
                "rules.override.text_fr: `languages` does not list \"fr\": add it there or remove this text"
            ]
        );

        let refused = problems(shipped_with(|file| {
            file.replacen(
                "languages = [\"en\", \"fr\", \"es\"]",
                "languages = [\"fr\", \"es\", \"es\", \"de\"]",
                1,
            )
        }));
        assert_eq!(
            refused,
            [
                "languages: lists \"es\" twice",
                "languages: \"de\" is not a language tandem speaks; expected \"en\", \"fr\", \"es\"",
                "languages: must list \"en\": `text` is the English text every rule needs",
            ]
        );
    }
}
