//! The policy, as this test reads docs/design.md ("Leadership policy v1", "Several reports on
//! one situation"): written here, not taken from the leadership service, so that a wrong rule in
//! the product and a wrong expectation here would have to be the same mistake.

use super::*;
use tandem_i18n::{Lang, words::word};

/// What the rules give for one determination step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    pub(crate) classification: Classification,
    pub(crate) arrangement: Arrangement,
    /// The lead agencies, as a set of enum values.
    pub(crate) leads: BTreeSet<i32>,
}

/// One step of a situation as this test expects it.
#[derive(Clone, Debug)]
pub(crate) struct Modelled {
    pub(crate) decided: Decided,
    /// Classification, arrangement or leads differ from the previous step (true for the first).
    pub(crate) changed: bool,
    /// The groups where IOM's and UNHCR's figures differ by more than 25% of the larger.
    pub(crate) discrepancies: BTreeSet<i32>,
    /// The country the reports give.
    pub(crate) country: String,
    /// The leads of the designation in force, if any: recorded by an IOM or UNHCR report,
    /// kept through later reports until an IOM or UNHCR report revokes it.
    pub(crate) designation: Option<BTreeSet<i32>>,
    /// Whether an IOM or UNHCR report gave the situation's facts (scope, driver, phase, on the
    /// move); without one there is no scope yet.
    pub(crate) facts_known: bool,
}

/// UNHCR's mandate population (P), migrants (M) and the internally displaced (D).
pub(crate) const PROTECTION_GROUPS: [PopulationGroup; 5] = [
    PopulationGroup::Refugee,
    PopulationGroup::AsylumSeeker,
    PopulationGroup::OtherInNeedOfProtection,
    PopulationGroup::Stateless,
    PopulationGroup::ReturnedRefugee,
];
pub(crate) const DISPLACED_GROUPS: [PopulationGroup; 2] =
    [PopulationGroup::Idp, PopulationGroup::ReturnedIdp];

/// The step the rules give for `held` (the latest accepted revision of each organisation, in
/// the order intake accepted them, so the last is the report this step reflects), after the
/// step `previous`.
pub(crate) fn model_step(held: &[&SituationReport], previous: Option<&Modelled>) -> Modelled {
    use Arrangement as A;
    use Classification as C;
    let figures = reconciled_figures(held.iter().copied());
    let sum = |groups: &[PopulationGroup]| -> u128 {
        groups
            .iter()
            .map(|g| u128::from(figures.get(g).copied().unwrap_or(0)))
            .sum()
    };
    let p = sum(&PROTECTION_GROUPS);
    let m = sum(&[PopulationGroup::Migrant]);
    let d = sum(&DISPLACED_GROUPS);
    // Recency is acceptance order. Scope, driver, phase and `on_the_move` come from the most
    // recently accepted IOM or UNHCR report ([facts]); partners give figures only, so a
    // situation only a partner reported has no scope yet.
    let newest = held.last().copied().cloned().unwrap_or_default();
    let by_agency =
        |r: &SituationReport| matches!(r.reporting_agency(), Agency::Iom | Agency::Unhcr);
    let facts = held.iter().rev().copied().find(|r| by_agency(r));
    let scope = facts.map_or(Scope::Unspecified, |r| r.scope());
    let set = |agencies: &[Agency]| agencies.iter().map(|a| *a as i32).collect::<BTreeSet<_>>();
    let joint = set(&[Agency::Iom, Agency::Unhcr]);
    let previous_classification = previous.map(|p| p.decided.classification);
    let mut decided = if p + m + d == 0
        || scope == Scope::Unspecified
        || (scope == Scope::CrossBorder && p + m == 0)
    {
        Decided {
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: joint.clone(),
        }
    } else if scope == Scope::Internal {
        if facts.is_some_and(|r| r.phase() == Phase::Solutions) {
            Decided {
                classification: C::IdpDurableSolutions,
                arrangement: A::JointSolutionsSupport,
                leads: joint.clone(),
            }
        } else {
            // Protection cluster → UNHCR, CCCM → IOM for a disaster, else UNHCR.
            let cccm = if facts.is_some_and(|r| r.driver() == Driver::Disaster) {
                Agency::Iom
            } else {
                Agency::Unhcr
            };
            Decided {
                classification: C::IdpSituation,
                arrangement: A::ClusterSystem,
                leads: set(&[Agency::Unhcr, cccm]),
            }
        }
    } else {
        // Thresholds in percent, moved 5 points in favour of the previous classification.
        let (refugee_at, migrant_at) = match previous_classification {
            Some(C::RefugeeSituation) => (75, 20),
            Some(C::MigrantSituation) => (80, 25),
            Some(C::MixedMovement | C::RespectiveMandates) => (85, 15),
            _ => (80, 20),
        };
        if 100 * p >= refugee_at * (p + m) {
            Decided {
                classification: C::RefugeeSituation,
                arrangement: A::RefugeeCoordinationModel,
                leads: set(&[Agency::Unhcr]),
            }
        } else if 100 * p <= migrant_at * (p + m) {
            Decided {
                classification: C::MigrantSituation,
                arrangement: A::IomLedResponse,
                leads: set(&[Agency::Iom]),
            }
        } else if facts.is_some_and(|r| r.on_the_move) {
            Decided {
                classification: C::MixedMovement,
                arrangement: A::JointPlatform,
                leads: joint.clone(),
            }
        } else {
            Decided {
                classification: C::RespectiveMandates,
                arrangement: A::RespectiveMandates,
                leads: joint.clone(),
            }
        }
    };
    // Rule 1: a designation recorded by IOM or UNHCR stays in force through later reports
    // until IOM or UNHCR revokes it; while in force, the designated hold the lead.
    let designated: BTreeSet<i32> = newest
        .designated_leads
        .iter()
        .copied()
        .filter(|a| {
            [Agency::Iom, Agency::Unhcr, Agency::Partner]
                .map(|k| k as i32)
                .contains(a)
        })
        .collect();
    let designation = if !by_agency(&newest) {
        previous.and_then(|p| p.designation.clone())
    } else if newest.revoke_designation {
        None
    } else if !designated.is_empty() && !newest.designation_reference.is_empty() {
        Some(designated)
    } else {
        previous.and_then(|p| p.designation.clone())
    };
    if let Some(leads) = &designation {
        decided.arrangement = A::Designated;
        decided.leads = leads.clone();
    }
    // IOM's and UNHCR's own figures (the first of a repeated group), compared exactly.
    let own = |agency: Agency| -> BTreeMap<i32, u64> {
        let mut own = BTreeMap::new();
        for report in held.iter().filter(|r| r.reporting_agency() == agency) {
            for figure in &report.population {
                own.entry(figure.group).or_insert(figure.count);
            }
        }
        own
    };
    let (iom, unhcr) = (own(Agency::Iom), own(Agency::Unhcr));
    let discrepancies = iom
        .iter()
        .filter_map(|(group, a)| {
            let b = unhcr.get(group)?;
            (100 * u128::from(a.abs_diff(*b)) > 25 * u128::from(*a.max(b))).then_some(*group)
        })
        .collect();
    Modelled {
        changed: previous.is_none_or(|p| p.decided != decided),
        decided,
        discrepancies,
        country: newest.country,
        designation,
        facts_known: facts.is_some(),
    }
}

/// The dataset's population columns (docs/analysts.md): group, JSON name, and whether the
/// group counts in `total`.
pub(crate) const COLUMNS: [(PopulationGroup, &str, bool); 10] = [
    (PopulationGroup::Refugee, "refugees", true),
    (PopulationGroup::AsylumSeeker, "asylum_seekers", true),
    (
        PopulationGroup::OtherInNeedOfProtection,
        "others_in_need_of_protection",
        true,
    ),
    (PopulationGroup::Stateless, "stateless", true),
    (PopulationGroup::Migrant, "migrants", true),
    (PopulationGroup::Idp, "idps", true),
    (PopulationGroup::ReturnedRefugee, "returned_refugees", true),
    (PopulationGroup::ReturnedIdp, "returned_idps", true),
    (PopulationGroup::HostCommunity, "host_community", false),
    (PopulationGroup::Undetermined, "refugees_and_migrants", true),
];

/// Reconciles the figures of one situation's latest revisions, given in the order intake
/// accepted them, as docs/design.md says: per group, the figure of its authoritative agency when
/// that agency reported one, else the most recently accepted (never by `reported_at`).
pub(crate) fn reconciled_figures<'a>(
    reports: impl Iterator<Item = &'a SituationReport> + Clone,
) -> BTreeMap<PopulationGroup, u64> {
    let authority = |group: PopulationGroup| match group {
        PopulationGroup::Refugee
        | PopulationGroup::AsylumSeeker
        | PopulationGroup::OtherInNeedOfProtection
        | PopulationGroup::Stateless
        | PopulationGroup::ReturnedRefugee => Some(Agency::Unhcr),
        PopulationGroup::Migrant | PopulationGroup::Idp | PopulationGroup::ReturnedIdp => {
            Some(Agency::Iom)
        }
        _ => None,
    };
    let mut figures = BTreeMap::new();
    for (group, _, _) in COLUMNS {
        let reporting = reports.clone().filter_map(|report| {
            report
                .population
                .iter()
                .find(|f| f.group == group as i32)
                .map(|f| (report, f.count))
        });
        let authoritative = reporting
            .clone()
            .filter(|(report, _)| Some(report.reporting_agency()) == authority(group))
            .last();
        if let Some((_, count)) = authoritative.or_else(|| reporting.last()) {
            figures.insert(group, count);
        }
    }
    figures
}

/// The row `GET /v1/situations` must show for `situation` (docs/design.md, "Data publication").
pub(crate) fn expected_row(
    situation: &str,
    reports: &BTreeMap<(i32, &str), &Acceptance>,
    determination: &LeadershipDetermination,
    model: &Modelled,
    figures: &BTreeMap<PopulationGroup, u64>,
) -> Value {
    // The most recently accepted report's P-codes (docs/design.md: recency is acceptance order).
    let latest = reports
        .values()
        .max_by_key(|a| a.event_sequence)
        .map(|a| &a.report);
    let name = |agency: i32| match Agency::try_from(agency).unwrap_or(Agency::Unspecified) {
        Agency::Iom => "IOM",
        Agency::Unhcr => "UNHCR",
        Agency::Partner => "PARTNER",
        Agency::Unspecified => "UNSPECIFIED",
    };
    let leads: BTreeSet<&str> = model.decided.leads.iter().map(|a| name(*a)).collect();
    let sources: BTreeSet<&str> = reports
        .values()
        .map(|a| name(a.report.reporting_agency))
        .collect();
    let last_reported = reports
        .values()
        .filter_map(|a| a.report.reported_at.map(|t| t.seconds))
        .max()
        .map(|seconds| civil(seconds).0)
        .unwrap_or_default();
    let mut row = json!({
        "situation_id": situation,
        "country": model.country,
        "admin1_pcode": latest.map(|r| r.admin1_pcode.clone()).unwrap_or_default(),
        "admin2_pcode": latest.map(|r| r.admin2_pcode.clone()).unwrap_or_default(),
        "classification": word(Lang::En, model.decided.classification),
        "arrangement": word(Lang::En, model.decided.arrangement),
        "classification_code": model.decided.classification.as_str_name(),
        "arrangement_code": model.decided.arrangement.as_str_name(),
        "lead_agencies": leads,
        "source_agencies": sources,
        "last_reported": last_reported,
        "policy_version": determination.policy_version,
        "as_of": determination.determined_at.map(|t| civil(t.seconds).1).unwrap_or_default(),
    });
    // Counts of 1–4 are published as `*` and left out of the total, which leaves out host
    // communities too; zero is published; a group nobody reported is null.
    let mut total = 0;
    let mut total_suppressed = false;
    for (group, column, in_total) in COLUMNS {
        let cell = figures.get(&group).copied();
        row[column] = match cell {
            None => Value::Null,
            Some(1..=4) => "*".into(),
            Some(count) => count.into(),
        };
        match cell {
            Some(1..=4) if in_total => total_suppressed = true,
            Some(count) if in_total => total += count,
            _ => {}
        }
    }
    row["total"] = total.into();
    row["total_suppressed"] = total_suppressed.into();
    row
}

/// A Unix time as (`YYYY-MM-DD`, RFC 3339 to the second in UTC).
pub(crate) fn civil(seconds: i64) -> (String, String) {
    let at = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or_else(|error| panic!("{seconds} s is no date: {error}"));
    let date = format!(
        "{:04}-{:02}-{:02}",
        at.year(),
        u8::from(at.month()),
        at.day()
    );
    let time = format!(
        "{date}T{:02}:{:02}:{:02}Z",
        at.hour(),
        at.minute(),
        at.second()
    );
    (date, time)
}
