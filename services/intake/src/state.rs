//! The rules that need what intake already accepted: revision order per organisation and
//! situation, and one country per situation unless IOM or UNHCR declared it regional. Pure: the handler loads the situation's record,
//! asks [`decide`], and writes the new record with compare-and-set.

use tandem_proto::v1::{AcceptedRevision, IntakeSituation, Reason, SituationReport};

use crate::validate::{Code, reason};

/// How many of a situation's latest acceptances are remembered by stream sequence.
const RECENT: usize = 32;

/// The most countries a regional situation may span: its determination carries one operation
/// per country and must stay under the event size limit (docs/design.md, "Regional situations").
pub const MAX_COUNTRIES: usize = 64;

/// What to do with a report, given the situation's record.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Store this record, then announce the report accepted.
    Accept(IntakeSituation),
    /// This very message was accepted before (redelivered after a crash), as the situation's
    /// report number `.0`: announce it again; the stream drops the copy if the first
    /// announcement got through.
    AlreadyAccepted(u64),
    /// A new message with the report id of the organisation's accepted report: a repeated
    /// submission, with nothing new to announce.
    Duplicate,
    /// Reject with these reasons (the stateful ones; the caller adds the others).
    Reject(Vec<Reason>),
}

/// Decides on `report` from `organisation` (its subject token), stored at `stream_sequence` of
/// the organisation's intake stream.
/// `valid` says whether the stateless rules passed.
pub fn decide(
    current: Option<&IntakeSituation>,
    report: &SituationReport,
    organisation: &str,
    stream_sequence: u64,
    valid: bool,
) -> Decision {
    if let Some(recorded) = current.and_then(|situation| {
        situation
            .recent
            .iter()
            // Each organisation's reports are in one stream: its sequence names the message.
            .find(|accepted| {
                accepted.stream_sequence == stream_sequence && accepted.organisation == organisation
            })
    }) {
        return Decision::AlreadyAccepted(recorded.situation_sequence);
    }
    let previous = current.and_then(|situation| {
        situation
            .accepted
            .iter()
            .find(|accepted| accepted.organisation == organisation)
    });
    if let Some(previous) = previous
        && previous.report_id == report.report_id
    {
        return if previous.stream_sequence == stream_sequence {
            Decision::AlreadyAccepted(previous.situation_sequence)
        } else {
            Decision::Duplicate
        };
    }
    let mut reasons = Vec::new();
    // Only IOM and UNHCR declare a situation regional (validation refuses it from a partner).
    let declares_regional = report.regional && matches!(organisation, "iom" | "unhcr");
    if let Some(reason) = current.and_then(|situation| {
        country_conflict(situation, report, declares_regional || situation.regional)
    }) {
        reasons.push(reason);
    }
    if let Some(reason) = designation_conflict(current, report, declares_regional) {
        reasons.push(reason);
    }
    if let Some(previous) = previous
        && report.revision != 0
        && report.revision <= previous.revision
    {
        reasons.push(reason(
            "revision",
            Code::StaleRevision,
            format!(
                "revision {} is not newer than revision {} already accepted from {organisation} (report {})",
                report.revision, previous.revision, previous.report_id
            ),
        ));
    }
    if !reasons.is_empty() || !valid {
        return Decision::Reject(reasons);
    }
    let mut next = current.cloned().unwrap_or_else(|| IntakeSituation {
        country: report.country.clone(),
        ..Default::default()
    });
    next.accepted_count += 1;
    next.regional |= declares_regional;
    for country in [next.country.clone(), report.country.clone()] {
        if let Err(at) = next.countries.binary_search(&country) {
            next.countries.insert(at, country);
        }
    }
    let accepted = AcceptedRevision {
        organisation: organisation.to_string(),
        revision: report.revision,
        report_id: report.report_id.clone(),
        stream_sequence,
        situation_sequence: next.accepted_count,
    };
    next.recent.push(accepted.clone());
    if next.recent.len() > RECENT {
        next.recent.remove(0);
    }
    match next
        .accepted
        .iter_mut()
        .find(|a| a.organisation == organisation)
    {
        Some(slot) => *slot = accepted,
        None => next.accepted.push(accepted),
    }
    Decision::Accept(next)
}

/// Why `report` cannot be for its country in `situation`, if it cannot: a single-country
/// situation takes reports for its own country only; a regional one (`regional`: declared, or
/// declared by this report) any country, up to [`MAX_COUNTRIES`].
fn country_conflict(
    situation: &IntakeSituation,
    report: &SituationReport,
    regional: bool,
) -> Option<Reason> {
    if report.country.is_empty() || report.country == situation.country {
        return None;
    }
    if !regional {
        return Some(reason(
            "country",
            Code::Conflict,
            format!(
                "situation {} lies in {}, and it is not regional: a report for {} needs its own situation_id, or IOM or UNHCR declares the situation regional (regional = true) so that it spans countries",
                report.situation_id, situation.country, report.country
            ),
        ));
    }
    let known = situation.countries.binary_search(&report.country).is_ok();
    // Records written before `countries` existed hold none; the situation's country counts.
    let held = situation.countries.len().max(1);
    (!known && held >= MAX_COUNTRIES).then(|| {
        reason(
            "country",
            Code::TooMany,
            format!(
                "regional situation {} already has operations in {MAX_COUNTRIES} countries, the most it may have; {} would be one more",
                report.situation_id, report.country
            ),
        )
    })
}

/// Why `report`'s `designation_country` cannot name a country operation of its situation
/// (`current`, `None` before its first report), if it cannot: only a regional situation
/// (declared, or declared by this report) has country operations, and the country must be one
/// the situation has or the one this report is for.
fn designation_conflict(
    current: Option<&IntakeSituation>,
    report: &SituationReport,
    declares_regional: bool,
) -> Option<Reason> {
    let named = report.designation_country.as_str();
    // Validation refuses a value that is not three letters, and no message repeats it here.
    if named.len() != 3 {
        return None;
    }
    if !declares_regional && !current.is_some_and(|situation| situation.regional) {
        return Some(reason(
            "designation_country",
            Code::Conflict,
            format!(
                "designation_country {named:?} names a country operation, and situation {} is not regional, so it has none: leave designation_country empty to designate the leads of the situation",
                report.situation_id
            ),
        ));
    }
    let countries: Vec<&str> = current.map_or(Vec::new(), |situation| {
        let mut countries: Vec<&str> = situation.countries.iter().map(String::as_str).collect();
        // Records written before `countries` existed hold none; the situation's country counts.
        if countries.is_empty() {
            countries.push(&situation.country);
        }
        countries
    });
    (named != report.country && !countries.contains(&named)).then(|| {
        reason(
            "designation_country",
            Code::Conflict,
            format!(
                "designation_country {named:?} is not a country operation of regional situation {} (operations in {}): name this report's country ({}) or a country the situation has",
                report.situation_id,
                if countries.is_empty() { "none yet".to_owned() } else { countries.join(", ") },
                report.country
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, revision: u32, country: &str) -> SituationReport {
        SituationReport {
            report_id: id.into(),
            situation_id: "S1".into(),
            revision,
            country: country.into(),
            ..Default::default()
        }
    }

    fn accepted(
        current: Option<&IntakeSituation>,
        report: &SituationReport,
        org: &str,
        seq: u64,
    ) -> IntakeSituation {
        match decide(current, report, org, seq, true) {
            Decision::Accept(next) => next,
            other => panic!("expected acceptance, got {other:?}"),
        }
    }

    #[test]
    fn first_report_binds_the_country() {
        let state = accepted(None, &report("r1", 1, "COL"), "iom", 1);
        assert_eq!(state.country, "COL");
        let Decision::Reject(reasons) =
            decide(Some(&state), &report("r2", 2, "VEN"), "iom", 2, true)
        else {
            panic!("a second country must be refused");
        };
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].code, "CONFLICT");
    }

    #[test]
    fn revisions_increase_per_organisation() {
        let state = accepted(None, &report("r2", 2, "COL"), "iom", 1);
        for revision in [1, 2] {
            let Decision::Reject(reasons) =
                decide(Some(&state), &report("rx", revision, "COL"), "iom", 2, true)
            else {
                panic!("revision {revision} is stale");
            };
            assert_eq!(reasons[0].code, "STALE_REVISION");
        }
        // Another organisation keeps its own count.
        let state = accepted(Some(&state), &report("u1", 1, "COL"), "unhcr", 3);
        let state = accepted(Some(&state), &report("r3", 3, "COL"), "iom", 4);
        assert_eq!(state.accepted.len(), 2);
        assert_eq!(
            state.accepted_count, 3,
            "every acceptance is numbered, across organisations"
        );
        assert_eq!(state.accepted[0].situation_sequence, 3);
        assert_eq!(state.accepted[1].situation_sequence, 2);
    }

    #[test]
    fn an_acceptance_superseded_before_it_was_announced_is_still_recognised() {
        let state = accepted(None, &report("r1", 1, "COL"), "iom", 7);
        let state = accepted(Some(&state), &report("r2", 2, "COL"), "iom", 8);
        // Message 7 comes back (its instance died before announcing it): it keeps number 1
        // rather than turning into a stale rejection that would leave number 1 unannounced.
        assert_eq!(
            decide(Some(&state), &report("r1", 1, "COL"), "iom", 7, true),
            Decision::AlreadyAccepted(1)
        );
    }

    #[test]
    fn redelivery_and_resubmission_are_told_apart() {
        let state = accepted(None, &report("r1", 1, "COL"), "iom", 7);
        assert_eq!(
            decide(Some(&state), &report("r1", 1, "COL"), "iom", 7, true),
            Decision::AlreadyAccepted(1)
        );
        assert_eq!(
            decide(Some(&state), &report("r1", 1, "COL"), "iom", 9, true),
            Decision::Duplicate
        );
    }

    #[test]
    fn stateful_reasons_are_reported_even_when_other_rules_failed() {
        let state = accepted(None, &report("r2", 2, "COL"), "iom", 1);
        let Decision::Reject(reasons) =
            decide(Some(&state), &report("r3", 1, "PER"), "iom", 2, false)
        else {
            panic!("must be rejected");
        };
        let codes: Vec<_> = reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["CONFLICT", "STALE_REVISION"]);
    }

    #[test]
    fn reports_of_two_organisations_at_the_same_sequence_are_two_messages() {
        // IOM's and UNHCR's reports are in streams of their own, whose sequences overlap.
        let after_iom = accepted(None, &report("iom-1", 1, "COL"), "iom", 7);
        let next = accepted(Some(&after_iom), &report("unhcr-1", 1, "COL"), "unhcr", 7);
        assert_eq!(next.accepted_count, 2);
    }

    #[test]
    fn a_regional_situation_takes_reports_from_any_country_up_to_the_limit() {
        let mut declaring = report("r1", 1, "COL");
        declaring.regional = true;
        let state = accepted(None, &declaring, "iom", 1);
        assert!(state.regional);
        // A later report need not repeat the declaration, from any organisation.
        let state = accepted(Some(&state), &report("u1", 1, "ECU"), "unhcr", 2);
        let state = accepted(Some(&state), &report("r2", 2, "PER"), "iom", 3);
        assert_eq!(state.countries, ["COL", "ECU", "PER"]);
        assert!(state.regional, "once regional, always regional");

        let mut full = state.clone();
        full.countries = (0..MAX_COUNTRIES).map(|n| format!("C{n:02}")).collect();
        let Decision::Reject(reasons) =
            decide(Some(&full), &report("r3", 3, "BRA"), "iom", 4, true)
        else {
            panic!("a 65th country must be refused");
        };
        assert_eq!(reasons[0].code, "TOO_MANY");
        assert!(
            matches!(
                decide(Some(&full), &report("r3", 3, "C07"), "iom", 4, true),
                Decision::Accept(_)
            ),
            "a country already held is no new operation"
        );
    }

    /// `report` revoking the designation of `country`'s operation.
    fn revoking(mut report: SituationReport, country: &str) -> SituationReport {
        report.revoke_designation = true;
        report.designation_country = country.into();
        report
    }

    /// The one reason `report` from IOM is refused for, given the situation's record.
    fn refused(current: Option<&IntakeSituation>, report: &SituationReport) -> Reason {
        match decide(current, report, "iom", 9, true) {
            Decision::Reject(reasons) if reasons.len() == 1 => reasons[0].clone(),
            other => panic!("expected one reason, got {other:?}"),
        }
    }

    #[test]
    fn a_designation_names_a_country_operation_of_a_regional_situation_only() {
        // Not regional: no country operations to name, not even its own country.
        let single = accepted(None, &report("r1", 1, "COL"), "iom", 1);
        let reason = refused(Some(&single), &revoking(report("r2", 2, "COL"), "COL"));
        assert_eq!(
            (reason.field.as_str(), reason.code.as_str()),
            ("designation_country", "CONFLICT")
        );
        assert!(
            reason.message.contains("\"COL\"") && reason.message.contains("S1 is not regional"),
            "{}",
            reason.message
        );
        assert_eq!(
            refused(None, &revoking(report("r1", 1, "COL"), "COL")).code,
            "CONFLICT",
            "nor on a first report that does not declare the situation regional"
        );

        // The report declaring the situation regional may name its own country.
        let mut declaring = revoking(report("r1", 1, "COL"), "COL");
        declaring.regional = true;
        let regional = accepted(None, &declaring, "iom", 1);
        let regional = accepted(Some(&regional), &report("u1", 1, "ECU"), "unhcr", 2);
        // Any country the situation has, or the report's own, which becomes one.
        accepted(
            Some(&regional),
            &revoking(report("r2", 2, "COL"), "ECU"),
            "iom",
            3,
        );
        accepted(
            Some(&regional),
            &revoking(report("r2", 2, "PER"), "PER"),
            "iom",
            3,
        );
        let reason = refused(Some(&regional), &revoking(report("r2", 2, "COL"), "BRA"));
        assert_eq!(
            (reason.field.as_str(), reason.code.as_str()),
            ("designation_country", "CONFLICT")
        );
        assert!(
            reason.message.contains("\"BRA\"") && reason.message.contains("operations in COL, ECU"),
            "{}",
            reason.message
        );
    }

    #[test]
    fn a_single_country_situation_says_how_to_become_regional() {
        let state = accepted(None, &report("r1", 1, "COL"), "iom", 1);
        let Decision::Reject(reasons) = decide(
            Some(&state),
            &report("p1", 1, "ECU"),
            "partner.acme",
            2,
            true,
        ) else {
            panic!("another country must be refused");
        };
        assert_eq!(reasons[0].code, "CONFLICT");
        assert!(
            reasons[0].message.contains("lies in COL"),
            "{}",
            reasons[0].message
        );
        assert!(
            reasons[0].message.contains("regional = true"),
            "{}",
            reasons[0].message
        );
        // A partner's declaration declares nothing (validation refuses it with its own reason).
        let mut partner = report("p1", 1, "ECU");
        partner.regional = true;
        assert!(matches!(
            decide(Some(&state), &partner, "partner.acme", 2, false),
            Decision::Reject(reasons) if reasons[0].code == "CONFLICT"
        ));
        // IOM may declare it regional with a report for another country.
        let mut iom = report("r2", 2, "ECU");
        iom.regional = true;
        let state = accepted(Some(&state), &iom, "iom", 3);
        assert_eq!((state.country.as_str(), state.regional), ("COL", true));
    }
}
