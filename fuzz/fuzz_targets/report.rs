//! Fuzz target `report`: arbitrary bytes submitted on an intake subject go down intake's real
//! path (`validate::decode`, `validate::validate`, `state::decide`, `validate::rejection`, in
//! the order the handler calls them). Nothing may panic, every rejection must carry at least one
//! reason with a known code and a message and stay under its encoded bound; an accepted report
//! must survive the JSON mapping.
//!
//! The first input byte picks the publishing organisation (IOM, UNHCR, a fixed partner, or the
//! partner the report itself names); the rest is the message payload.

#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tandem_intake::{
    state::{self, Decision},
    validate,
};
use tandem_proto::{
    Message as _, json, subjects,
    v1::{Agency, SituationReport},
};

/// A fixed "now" (2026-05-28), so that every input is judged the same way on every run.
const NOW_SECS: u64 = 1_780_000_000;

/// Every code intake may put in a rejection.
const CODES: &[&str] = &[
    "REQUIRED",
    "INVALID_FORMAT",
    "OUT_OF_RANGE",
    "UNKNOWN_CODE",
    "DUPLICATE_GROUP",
    "DUPLICATE_CRITERION",
    "INCONSISTENT_TOTAL",
    "STALE_REVISION",
    "CONFLICT",
    "PERSONAL_DATA",
    "TOO_LARGE",
    "UNDECODABLE",
    "TOO_MANY",
    "MORE_REASONS",
    "DESIGNATION_NOT_ALLOWED",
    "REGIONAL_NOT_ALLOWED",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);

    let report = match validate::decode(payload) {
        Ok(report) => report,
        Err(refused) => {
            // Undecodable or too large: the handler rejects with that reason alone.
            let rejection = validate::rejection(
                &refused.report_id,
                &refused.situation_id,
                (Agency::Iom, ""),
                refused.reason.into(),
                now,
            );
            check_rejection(rejection, payload);
            return;
        }
    };

    let subject = match selector % 4 {
        0 => subjects::intake_subject("iom"),
        1 => subjects::intake_subject("unhcr"),
        2 => subjects::intake_subject("partner.nrc"),
        _ => subjects::intake_subject(&format!("partner.{}", report.reporter_org)),
    };
    // Subjects outside the intake filter never reach the handler.
    let Some((agency, org)) = subjects::organisation_of_intake_subject(&subject) else {
        return;
    };
    let organisation = subjects::organisation_token(agency, &org)
        .expect("an intake subject names an organisation");

    let mut reasons = validate::validate(&report, (agency, &org), now);
    let reject = |reasons| {
        let rejection = validate::rejection(
            &report.report_id,
            &report.situation_id,
            (agency, &org),
            reasons,
            now,
        );
        check_rejection(rejection, payload);
    };
    if reasons.names("situation_id") {
        reject(reasons);
        return;
    }

    // The first report of a situation: no record yet.
    let valid = reasons.is_empty();
    match state::decide(None, &report, &organisation, 1, valid) {
        Decision::Accept(record) => {
            assert!(valid, "an invalid report was accepted: {reasons:?}");
            check_accepted(&report, &record, &organisation, now);
        }
        Decision::Reject(stateful) => {
            assert!(!valid, "a valid first report was rejected: {stateful:?}");
            for reason in stateful {
                if !reasons.names(&reason.field) {
                    reasons.push(reason);
                }
            }
            reject(reasons);
        }
        other => panic!("a first report cannot be {other:?}"),
    }
});

/// A rejection must say why: at least one reason, each with a known code and a message, and
/// all of it within its bound.
fn check_rejection(rejection: tandem_proto::v1::SituationRejected, payload: &[u8]) {
    let reasons = &rejection.reasons;
    assert!(
        !reasons.is_empty(),
        "rejected without a reason ({} bytes)",
        payload.len()
    );
    assert!(reasons.len() <= validate::MAX_REASONS + 1, "{reasons:?}");
    assert!(
        rejection.encoded_len() <= validate::MAX_REJECTION_BYTES,
        "a rejection of {} bytes",
        rejection.encoded_len()
    );
    for reason in reasons {
        assert!(
            CODES.contains(&reason.code.as_str()),
            "unknown code: {reason:?}"
        );
        assert!(
            !reason.message.is_empty(),
            "reason without message: {reason:?}"
        );
    }
}

/// What holds for an accepted report and the record written for it.
fn check_accepted(
    report: &SituationReport,
    record: &tandem_proto::v1::IntakeSituation,
    organisation: &str,
    now: SystemTime,
) {
    assert_eq!(record.country, report.country);
    assert_eq!(record.accepted_count, 1);
    // Redelivery of the same message is recognised; a resubmission is a duplicate.
    assert_eq!(
        state::decide(Some(record), report, organisation, 1, true),
        Decision::AlreadyAccepted(1)
    );
    assert_eq!(
        state::decide(Some(record), report, organisation, 2, true),
        Decision::Duplicate
    );
    // Accepted reports are shown and exported as JSON: the mapping must keep them whole.
    let text = json::to_string(report);
    let back: SituationReport = json::from_str(&text)
        .unwrap_or_else(|e| panic!("accepted report's JSON {text:?} does not parse: {e}"));
    assert_eq!(&back, report, "JSON round trip changed the report: {text}");
    assert!(
        validate::validate(&back, organisation_of(organisation), now).is_empty(),
        "the report's JSON form no longer validates"
    );
}

/// (agency, partner name) of an organisation token, as the handler derives it.
fn organisation_of(token: &str) -> (tandem_proto::v1::Agency, &str) {
    use tandem_proto::v1::Agency;
    match token {
        "iom" => (Agency::Iom, ""),
        "unhcr" => (Agency::Unhcr, ""),
        _ => (
            Agency::Partner,
            token.strip_prefix("partner.").unwrap_or_default(),
        ),
    }
}
