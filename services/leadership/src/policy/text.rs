//! The rules of the policy, their rationale texts and the placeholders those texts may use.
//!
//! Each rule that fires adds one rationale entry: its id (the rule's key in the policy file), the
//! clause of the framework it rests on, and a text with the numbers filled in, in English and in
//! every other language the policy file writes it in. The texts live in the policy file so that
//! they can be reworded without a release; they are parsed once at load ([`Template`]) into
//! literal pieces and placeholders, so producing a text never parses or `format!`s.
//!
//! A placeholder is a name in braces (`{share}`); `{{` and `}}` stand for literal braces. Each
//! rule allows only the placeholders that mean something for it (a `{share}` in an IDP text would
//! print a meaningless 0.00), and loading refuses any other. Placeholders are filled in the
//! text's language: enum values in its words (`tandem_i18n::words`), numbers with its separators
//! (`0.80` and `1,234` in English, `0,80` and `1 234` in French and Spanish).

use std::fmt::Write as _;

use tandem_i18n::{Lang, words::word};
use tandem_proto::v1::{
    Classification, Discrepancy, Driver, DurableSolutionsCriterion, PopulationGroup,
    SolutionsSummary,
};

use super::fixed::{Ppm, Shown, write_count, write_ratio};
use super::names::Agencies;
use super::reconcile::Yield;

/// A rule of the policy; its rationale text and clause come from the policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Rule 1: the most recent report designates the leads.
    Designation,
    /// Rule 1, when the designation names only a partner organisation.
    DesignationPartnerOnly,
    /// Rule 2: no counted population at all.
    NoFigures,
    /// Rule 2: a cross-border situation without refugees or migrants counted.
    NoCrossBorderFigures,
    /// The most recent report gives no scope (intake refuses such reports; the engine still
    /// answers, with a joint assessment).
    UnknownScope,
    /// Rule 3: internal, solutions phase.
    IdpDurableSolutions,
    /// Rule 3: internal, otherwise: the cluster system with the Protection cluster to UNHCR.
    IdpCluster,
    /// Rule 3: CCCM cluster to IOM in a disaster.
    CccmDisaster,
    /// Rule 3: CCCM cluster to UNHCR for any other driver.
    CccmNotDisaster,
    /// Rule 4: the boundaries moved in favour of the previous classification.
    Hysteresis,
    /// Rule 4: share at or above the refugee threshold.
    RefugeeSituation,
    /// Rule 4: share at or below the migrant threshold.
    MigrantSituation,
    /// Rule 4: in between, people on the move together.
    MixedMovement,
    /// Rule 4: in between, not on the move together.
    RespectiveMandates,
    /// Joint data: IOM and UNHCR figures for a group differ beyond the tolerance.
    Discrepancy,
    /// The policy's `[[override]]` for the situation assigns the functions it names.
    Override,
    /// Cross-border, refugees and migrants whose status is not determined are the majority:
    /// a mixed movement, whatever the protection share.
    UndeterminedMajority,
    /// An authoritative figure yielded to the other agency's newer one.
    AuthorityYielded,
    /// In the solutions phase: progress against the IASC durable-solutions criteria.
    SolutionsProgress,
    /// A country operation of a regional situation follows the regional arrangement
    /// (`[operations] classify = "regional"`).
    OperationBound,
}

/// Number of rules; the size of the policy's rule table.
pub(crate) const RULE_COUNT: usize = 20;

impl Rule {
    /// Every rule, in the order of the policy file and of `Rule`'s discriminants.
    pub(crate) const ALL: [Rule; RULE_COUNT] = [
        Rule::Designation,
        Rule::DesignationPartnerOnly,
        Rule::NoFigures,
        Rule::NoCrossBorderFigures,
        Rule::UnknownScope,
        Rule::IdpDurableSolutions,
        Rule::IdpCluster,
        Rule::CccmDisaster,
        Rule::CccmNotDisaster,
        Rule::Hysteresis,
        Rule::RefugeeSituation,
        Rule::MigrantSituation,
        Rule::MixedMovement,
        Rule::RespectiveMandates,
        Rule::Discrepancy,
        Rule::Override,
        Rule::UndeterminedMajority,
        Rule::AuthorityYielded,
        Rule::SolutionsProgress,
        Rule::OperationBound,
    ];

    /// The rule's key in the policy file, which is also its `rule_id` in a rationale entry.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Rule::Designation => "designation",
            Rule::DesignationPartnerOnly => "designation_partner_only",
            Rule::NoFigures => "no_figures",
            Rule::NoCrossBorderFigures => "no_cross_border_figures",
            Rule::UnknownScope => "unknown_scope",
            Rule::IdpDurableSolutions => "idp_durable_solutions",
            Rule::IdpCluster => "idp_cluster",
            Rule::CccmDisaster => "cccm_disaster",
            Rule::CccmNotDisaster => "cccm_not_disaster",
            Rule::Hysteresis => "hysteresis",
            Rule::RefugeeSituation => "refugee_situation",
            Rule::MigrantSituation => "migrant_situation",
            Rule::MixedMovement => "mixed_movement",
            Rule::RespectiveMandates => "respective_mandates",
            Rule::Discrepancy => "discrepancy",
            Rule::Override => "override",
            Rule::UndeterminedMajority => "undetermined_majority",
            Rule::AuthorityYielded => "authority_yielded",
            Rule::SolutionsProgress => "solutions_progress",
            Rule::OperationBound => "operation_bound",
        }
    }

    /// The placeholders the rule's text may use.
    pub(crate) fn placeholders(self) -> &'static [Var] {
        use Var::*;
        const COUNTS: [Var; 4] = [Protection, Migrants, Displaced, Uncounted];
        const CROSS_BORDER: [Var; 5] = [
            Share,
            Protection,
            Migrants,
            RefugeeThreshold,
            MigrantThreshold,
        ];
        match self {
            Rule::Designation | Rule::DesignationPartnerOnly => &[Leads, ReportId, Reference],
            Rule::NoFigures | Rule::NoCrossBorderFigures => &COUNTS,
            Rule::UnknownScope => &[ReportId],
            Rule::IdpDurableSolutions => &[Displaced],
            Rule::IdpCluster | Rule::CccmDisaster | Rule::CccmNotDisaster => {
                &[Displaced, DriverName]
            }
            Rule::Hysteresis => &[Previous, Hysteresis, RefugeeThreshold, MigrantThreshold],
            Rule::RefugeeSituation
            | Rule::MigrantSituation
            | Rule::MixedMovement
            | Rule::RespectiveMandates => &CROSS_BORDER,
            Rule::Discrepancy => &[Group, IomCount, UnhcrCount, Difference, Tolerance],
            Rule::Override => &[Reference, Since],
            Rule::UndeterminedMajority => &[
                Undetermined,
                Counted,
                UndeterminedMajority,
                Protection,
                Migrants,
            ],
            Rule::AuthorityYielded => &[
                Group,
                Authority,
                AuthorityCount,
                AuthorityAsOf,
                Other,
                OtherCount,
                OtherAsOf,
                YieldAfterDays,
            ],
            Rule::SolutionsProgress => &[CriteriaReported, Weakest, WeakestShare, WeakestAsOf],
            Rule::OperationBound => &[Leads, Share, Protection, Migrants, Displaced],
        }
    }
}

/// A placeholder in a rationale text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    /// `{share}`: the protection share, P / (P + M).
    Share,
    /// `{protection}`: P, UNHCR's mandate population counted.
    Protection,
    /// `{migrants}`: M.
    Migrants,
    /// `{displaced}`: D, IDPs and returned IDPs.
    Displaced,
    /// `{uncounted}`: people reported in groups the policy does not count (host communities).
    Uncounted,
    /// `{refugee_threshold}`: the refugee threshold in force (moved by hysteresis).
    RefugeeThreshold,
    /// `{migrant_threshold}`: the migrant threshold in force (moved by hysteresis).
    MigrantThreshold,
    /// `{hysteresis}`: how far the boundaries move.
    Hysteresis,
    /// `{previous}`: the previous classification, in words.
    Previous,
    /// `{leads}`: the lead agencies, in words.
    Leads,
    /// `{report_id}`: the most recent report (for the designation rules, the report that
    /// recorded the designation).
    ReportId,
    /// `{reference}`: the decision a designation records, or an override's reference.
    Reference,
    /// `{since}`: the date an override applies from.
    Since,
    /// `{driver}`: the driver of displacement, in words.
    DriverName,
    /// `{group}`: the population group of a discrepancy, in words.
    Group,
    /// `{iom_count}`: IOM's figure for the group.
    IomCount,
    /// `{unhcr_count}`: UNHCR's figure for the group.
    UnhcrCount,
    /// `{difference}`: the difference as a percentage of the larger figure.
    Difference,
    /// `{tolerance}`: the discrepancy tolerance as a percentage.
    Tolerance,
    /// `{undetermined}`: the refugees and migrants whose status is not determined.
    Undetermined,
    /// `{counted}`: everyone counted across borders: P + M + the undetermined.
    Counted,
    /// `{undetermined_majority}`: the policy's `thresholds.undetermined_majority`.
    UndeterminedMajority,
    /// `{authority}`: the authoritative agency whose figure yielded.
    Authority,
    /// `{authority_count}`: its figure.
    AuthorityCount,
    /// `{authority_as_of}`: its figure's date.
    AuthorityAsOf,
    /// `{other}`: the agency whose newer figure counts instead.
    Other,
    /// `{other_count}`: that figure.
    OtherCount,
    /// `{other_as_of}`: that figure's date.
    OtherAsOf,
    /// `{yield_after_days}`: the policy's `authority.yield_after_days`.
    YieldAfterDays,
    /// `{criteria_reported}`: how many IASC criteria some report covers.
    CriteriaReported,
    /// `{weakest}`: the criterion with the lowest share, in words.
    Weakest,
    /// `{weakest_share}`: its share, with two places.
    WeakestShare,
    /// `{weakest_as_of}`: the date of its share.
    WeakestAsOf,
}

impl Var {
    const ALL: [Var; 33] = [
        Var::Share,
        Var::Protection,
        Var::Migrants,
        Var::Displaced,
        Var::Uncounted,
        Var::RefugeeThreshold,
        Var::MigrantThreshold,
        Var::Hysteresis,
        Var::Previous,
        Var::Leads,
        Var::ReportId,
        Var::Reference,
        Var::Since,
        Var::DriverName,
        Var::Group,
        Var::IomCount,
        Var::UnhcrCount,
        Var::Difference,
        Var::Tolerance,
        Var::Undetermined,
        Var::Counted,
        Var::UndeterminedMajority,
        Var::Authority,
        Var::AuthorityCount,
        Var::AuthorityAsOf,
        Var::Other,
        Var::OtherCount,
        Var::OtherAsOf,
        Var::YieldAfterDays,
        Var::CriteriaReported,
        Var::Weakest,
        Var::WeakestShare,
        Var::WeakestAsOf,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Var::Share => "share",
            Var::Protection => "protection",
            Var::Migrants => "migrants",
            Var::Displaced => "displaced",
            Var::Uncounted => "uncounted",
            Var::RefugeeThreshold => "refugee_threshold",
            Var::MigrantThreshold => "migrant_threshold",
            Var::Hysteresis => "hysteresis",
            Var::Previous => "previous",
            Var::Leads => "leads",
            Var::ReportId => "report_id",
            Var::Reference => "reference",
            Var::Since => "since",
            Var::DriverName => "driver",
            Var::Group => "group",
            Var::IomCount => "iom_count",
            Var::UnhcrCount => "unhcr_count",
            Var::Difference => "difference",
            Var::Tolerance => "tolerance",
            Var::Undetermined => "undetermined",
            Var::Counted => "counted",
            Var::UndeterminedMajority => "undetermined_majority",
            Var::Authority => "authority",
            Var::AuthorityCount => "authority_count",
            Var::AuthorityAsOf => "authority_as_of",
            Var::Other => "other",
            Var::OtherCount => "other_count",
            Var::OtherAsOf => "other_as_of",
            Var::YieldAfterDays => "yield_after_days",
            Var::CriteriaReported => "criteria_reported",
            Var::Weakest => "weakest",
            Var::WeakestShare => "weakest_share",
            Var::WeakestAsOf => "weakest_as_of",
        }
    }
}

/// Everything a rationale text can mention, gathered once per determination.
pub(crate) struct Facts<'a> {
    /// P.
    pub(crate) protection: u128,
    /// M.
    pub(crate) migrants: u128,
    /// D.
    pub(crate) displaced: u128,
    /// People in groups outside P, M and D.
    pub(crate) uncounted: u128,
    /// The refugee threshold in force.
    pub(crate) refugee_threshold: &'a Shown,
    /// The migrant threshold in force.
    pub(crate) migrant_threshold: &'a Shown,
    /// The policy's hysteresis.
    pub(crate) hysteresis: &'a Shown,
    /// The policy's discrepancy tolerance, as a percentage.
    pub(crate) tolerance: &'a Shown,
    /// The previous determination's classification.
    pub(crate) previous: Classification,
    /// The lead agencies (the designated ones for the designation rules).
    pub(crate) leads: Agencies,
    /// The most recent report's id.
    pub(crate) report_id: &'a str,
    /// The most recent report's driver.
    pub(crate) driver: Driver,
    /// The reference of the designation in force, or of the override for the override's entry.
    pub(crate) reference: &'a str,
    /// The start date of the override in force, `YYYY-MM-DD` (empty without one).
    pub(crate) since: &'a str,
    /// The discrepancy a `discrepancy` text is about.
    pub(crate) discrepancy: Option<&'a Discrepancy>,
    /// The refugees and migrants whose status is not determined.
    pub(crate) undetermined: u128,
    /// Everyone counted across borders (see [`Var::Counted`]).
    pub(crate) counted: u128,
    /// The policy's `thresholds.undetermined_majority`.
    pub(crate) undetermined_majority: &'a Shown,
    /// The policy's `authority.yield_after_days`, as written.
    pub(crate) yield_after_days: &'a str,
    /// The yielded figure an `authority_yielded` text is about.
    pub(crate) yielded: Option<&'a Yield>,
    /// The progress a `solutions_progress` text is about.
    pub(crate) solutions: Option<&'a SolutionsSummary>,
}

/// A rationale text, parsed: literal pieces and placeholders.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    parts: Vec<Part>,
    /// Bytes of literal text, to size the output once.
    literal_len: usize,
}

#[derive(Clone, Debug)]
enum Part {
    Text(Box<str>),
    Var(Var),
}

impl Template {
    /// Parses `text` for `rule`; the error lists every problem found in it.
    pub(crate) fn parse(rule: Rule, text: &str) -> Result<Template, Vec<String>> {
        let mut parts = Vec::new();
        let mut problems = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, next)| *next) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, next)| *next) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[at + 1..];
                    let name = rest.find('}').map(|end| &rest[..end]).filter(|name| {
                        !name.is_empty()
                            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    });
                    let Some(name) = name else {
                        problems.push(format!(
                            "`{{` at byte {at} does not open a placeholder such as {{share}} (write `{{{{` for a literal brace)"
                        ));
                        continue;
                    };
                    match Var::ALL.into_iter().find(|var| var.name() == name) {
                        Some(var) if rule.placeholders().contains(&var) => {
                            if !literal.is_empty() {
                                parts.push(Part::Text(std::mem::take(&mut literal).into()));
                            }
                            parts.push(Part::Var(var));
                        }
                        Some(_) => problems.push(format!(
                            "placeholder {{{name}}} means nothing for this rule; it may use {}",
                            placeholder_list(rule)
                        )),
                        None => problems.push(format!(
                            "unknown placeholder {{{name}}}; this rule may use {}",
                            placeholder_list(rule)
                        )),
                    }
                    // Skip the name (ASCII, so bytes are chars) and its closing brace.
                    for _ in 0..=name.len() {
                        chars.next();
                    }
                }
                '}' => problems.push(format!(
                    "`}}` at byte {at} closes no placeholder (write `}}}}` for a literal brace)"
                )),
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal.into()));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let literal_len = parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.len(),
                Part::Var(_) => 0,
            })
            .sum();
        Ok(Template { parts, literal_len })
    }

    /// The placeholders the text uses, each once, in the order of [`Var`].
    pub(crate) fn placeholders(&self) -> Vec<Var> {
        Var::ALL
            .into_iter()
            .filter(|var| {
                self.parts
                    .iter()
                    .any(|part| matches!(part, Part::Var(used) if used == var))
            })
            .collect()
    }

    /// Appends the text, with every placeholder filled in from `facts` in `lang`, to `out`.
    pub(crate) fn render_into(&self, out: &mut String, rule: Rule, facts: &Facts<'_>, lang: Lang) {
        // Numbers are short; 24 bytes per placeholder avoids a regrowth in practice.
        out.reserve(self.literal_len + 24 * self.parts.len());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(var) => write_var(out, *var, rule, facts, lang),
            }
        }
    }
}

/// `{a}, {b}` for a rule's allowed placeholders, or "none".
fn placeholder_list(rule: Rule) -> String {
    let names: Vec<String> = rule
        .placeholders()
        .iter()
        .map(|var| format!("{{{}}}", var.name()))
        .collect();
    if names.is_empty() {
        "no placeholders".to_owned()
    } else {
        names.join(", ")
    }
}

/// Writes a number the way `lang` writes it: `write` writes it the English way (`1,234.5`);
/// French and Spanish group thousands with a narrow no-break space and mark decimals with a
/// comma (`1 234,5`), as the French and Spanish academies and the UN's editorial manuals do.
fn number(out: &mut String, lang: Lang, write: impl FnOnce(&mut String)) {
    if lang == Lang::En {
        write(out);
        return;
    }
    let mut english = String::with_capacity(24);
    write(&mut english);
    out.extend(english.chars().map(|c| match c {
        ',' => '\u{202F}',
        '.' => ',',
        c => c,
    }));
}

/// Writes one placeholder's value in `lang`.
fn write_var(out: &mut String, var: Var, rule: Rule, facts: &Facts<'_>, lang: Lang) {
    match var {
        Var::Share => {
            // Print the share precisely enough to sit on the right side of the thresholds this
            // rule's text compares it with.
            let both = [facts.migrant_threshold.value, facts.refugee_threshold.value];
            let against: &[Ppm] = match rule {
                Rule::RefugeeSituation => &both[1..],
                Rule::MigrantSituation => &both[..1],
                _ => &both,
            };
            let total = facts.protection + facts.migrants;
            number(out, lang, |out| {
                write_ratio(out, facts.protection, total, 0, 2, against);
            });
        }
        Var::Protection => number(out, lang, |out| write_count(out, facts.protection)),
        Var::Migrants => number(out, lang, |out| write_count(out, facts.migrants)),
        Var::Displaced => number(out, lang, |out| write_count(out, facts.displaced)),
        Var::Uncounted => number(out, lang, |out| write_count(out, facts.uncounted)),
        Var::RefugeeThreshold => number(out, lang, |out| {
            out.push_str(&facts.refugee_threshold.text);
        }),
        Var::MigrantThreshold => number(out, lang, |out| {
            out.push_str(&facts.migrant_threshold.text);
        }),
        Var::Hysteresis => number(out, lang, |out| out.push_str(&facts.hysteresis.text)),
        Var::Previous => out.push_str(&word(lang, facts.previous)),
        Var::Leads => facts.leads.write_words(out, lang),
        Var::ReportId => out.push_str(facts.report_id),
        Var::Reference => out.push_str(facts.reference),
        Var::Since => out.push_str(facts.since),
        Var::DriverName => out.push_str(&word(lang, facts.driver)),
        Var::Group => {
            // The group of the discrepancy, or of the yielded figure.
            let group = facts
                .discrepancy
                .map(|d| d.group)
                .or(facts.yielded.map(|y| y.group as i32))
                .and_then(|group| PopulationGroup::try_from(group).ok())
                .unwrap_or(PopulationGroup::Unspecified);
            out.push_str(&word(lang, group));
        }
        Var::IomCount => number(out, lang, |out| {
            write_count(out, facts.discrepancy.map_or(0, |d| d.iom_count).into());
        }),
        Var::UnhcrCount => number(out, lang, |out| {
            write_count(out, facts.discrepancy.map_or(0, |d| d.unhcr_count).into());
        }),
        Var::Difference => {
            let (iom, unhcr) = facts
                .discrepancy
                .map_or((0, 0), |d| (d.iom_count, d.unhcr_count));
            let larger = u128::from(iom.max(unhcr));
            let difference = u128::from(iom.abs_diff(unhcr));
            number(out, lang, |out| {
                write_ratio(out, difference, larger, 2, 0, &[facts.tolerance.value]);
            });
        }
        Var::Tolerance => number(out, lang, |out| out.push_str(&facts.tolerance.text)),
        Var::Undetermined => number(out, lang, |out| write_count(out, facts.undetermined)),
        Var::Counted => number(out, lang, |out| write_count(out, facts.counted)),
        Var::UndeterminedMajority => number(out, lang, |out| {
            out.push_str(&facts.undetermined_majority.text);
        }),
        Var::YieldAfterDays => number(out, lang, |out| out.push_str(facts.yield_after_days)),
        Var::Authority | Var::Other => {
            let agency = facts.yielded.map_or(Agencies::NONE, |yielded| match var {
                Var::Authority => yielded.authority,
                _ => yielded.other,
            });
            agency.write_words(out, lang);
        }
        Var::AuthorityCount => number(out, lang, |out| {
            write_count(out, facts.yielded.map_or(0, |y| y.authority_count).into());
        }),
        Var::OtherCount => number(out, lang, |out| {
            write_count(out, facts.yielded.map_or(0, |y| y.other_count).into());
        }),
        Var::AuthorityAsOf => out.push_str(facts.yielded.map_or("", |y| &y.authority_as_of)),
        Var::OtherAsOf => out.push_str(facts.yielded.map_or("", |y| &y.other_as_of)),
        Var::CriteriaReported => number(out, lang, |out| {
            write_count(
                out,
                facts.solutions.map_or(0, |s| s.criteria_reported).into(),
            );
        }),
        Var::Weakest | Var::WeakestShare | Var::WeakestAsOf => {
            let weakest = facts.solutions.and_then(|summary| {
                summary
                    .criteria
                    .iter()
                    .find(|progress| progress.criterion == summary.weakest)
            });
            match (var, weakest) {
                (Var::Weakest, _) => out.push_str(&word(
                    lang,
                    facts
                        .solutions
                        .map_or(DurableSolutionsCriterion::Unspecified, |s| s.weakest()),
                )),
                (Var::WeakestShare, Some(weakest)) => number(out, lang, |out| {
                    // Shares are reporters' figures in [0, 1], shown, never compared here.
                    let _ = write!(out, "{:.2}", weakest.share);
                }),
                (Var::WeakestAsOf, Some(weakest)) => out.push_str(&weakest.as_of),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUGEE: Ppm = Ppm(800_000);
    const MIGRANT: Ppm = Ppm(200_000);

    fn facts(thresholds: &[Shown; 4]) -> Facts<'_> {
        Facts {
            protection: 830,
            migrants: 170,
            displaced: 0,
            uncounted: 0,
            refugee_threshold: &thresholds[0],
            migrant_threshold: &thresholds[1],
            hysteresis: &thresholds[2],
            tolerance: &thresholds[3],
            previous: Classification::Unspecified,
            leads: Agencies::UNHCR,
            report_id: "r-1",
            driver: Driver::Conflict,
            reference: "",
            since: "",
            discrepancy: None,
            undetermined: 0,
            counted: 1000,
            undetermined_majority: &thresholds[0],
            yield_after_days: "365",
            yielded: None,
            solutions: None,
        }
    }

    #[test]
    fn placeholders_are_filled_and_braces_escaped() {
        let template = Template::parse(
            Rule::RefugeeSituation,
            "Share {share} ≥ {refugee_threshold} ({protection} of {{P+M}}).",
        )
        .expect("valid template");
        let thresholds = [
            Shown::decimal(REFUGEE),
            Shown::decimal(MIGRANT),
            Shown::decimal(Ppm(50_000)),
            Shown::percent(Ppm(250_000)),
        ];
        let mut text = String::new();
        template.render_into(
            &mut text,
            Rule::RefugeeSituation,
            &facts(&thresholds),
            Lang::En,
        );
        assert_eq!(text, "Share 0.83 ≥ 0.80 (830 of {P+M}).");
    }

    #[test]
    fn placeholders_are_filled_in_the_texts_language() {
        let template = Template::parse(
            Rule::Discrepancy,
            "{iom_count} / {unhcr_count} {group}: {difference} > {tolerance}",
        )
        .expect("valid template");
        let thresholds = [
            Shown::decimal(REFUGEE),
            Shown::decimal(MIGRANT),
            Shown::decimal(Ppm(50_000)),
            Shown::percent(Ppm(250_000)),
        ];
        let discrepancy = Discrepancy {
            group: PopulationGroup::AsylumSeeker as i32,
            iom_count: 12_000,
            unhcr_count: 1_500,
            ..Default::default()
        };
        let facts = Facts {
            discrepancy: Some(&discrepancy),
            ..facts(&thresholds)
        };
        let render = |lang| {
            let mut text = String::new();
            template.render_into(&mut text, Rule::Discrepancy, &facts, lang);
            text
        };
        assert_eq!(render(Lang::En), "12,000 / 1,500 asylum seekers: 88 > 25");
        assert_eq!(
            render(Lang::Fr),
            "12\u{202F}000 / 1\u{202F}500 demandeurs d’asile: 88 > 25"
        );
        assert_eq!(
            render(Lang::Es),
            "12\u{202F}000 / 1\u{202F}500 solicitantes de asilo: 88 > 25"
        );
    }

    #[test]
    fn every_problem_in_a_text_is_listed() {
        let problems = Template::parse(
            Rule::IdpCluster,
            "{share} and {nonsense} and { and } and {driver}",
        )
        .expect_err("three problems");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("{share} means nothing for this rule"));
        assert!(problems[1].contains("unknown placeholder {nonsense}"));
        assert!(problems[2].contains("does not open a placeholder"));
        assert!(problems[3].contains("closes no placeholder"));
    }

    #[test]
    fn rule_ids_are_unique_and_discriminants_index_the_table() {
        for (index, rule) in Rule::ALL.into_iter().enumerate() {
            // The policy's rule table is indexed by discriminant.
            assert_eq!(rule as usize, index);
            let same_id = Rule::ALL.iter().filter(|other| other.id() == rule.id());
            assert_eq!(same_id.count(), 1, "{} is not unique", rule.id());
        }
        assert_eq!(Rule::ALL.len(), RULE_COUNT);
    }
}
