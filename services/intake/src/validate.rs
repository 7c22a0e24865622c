//! The rules of docs/design.md's SituationReport table, as pure functions: bytes in, every reason
//! out. Nothing here does I/O, so each rule is tested at its boundary without a server; the
//! rules that need state (revision order, one country per situation) are in [`crate::state`].

use std::{sync::LazyLock, time::SystemTime};

use prost::Message as _;
use regex::Regex;
use tandem_proto::{
    subjects, timestamp,
    v1::{Agency, Driver, Phase, PopulationGroup, Reason, Scope, SituationReport},
};
use time::{Date, OffsetDateTime, macros::format_description};

/// The largest encoded report the contract allows.
pub const MAX_REPORT_BYTES: usize = 64 * 1024;
/// How far in the future `reported_at` may lie (clock skew between agency systems).
pub const MAX_FUTURE_SKEW_SECS: u64 = 5 * 60;
/// The largest count of one population group.
pub const MAX_COUNT: u64 = 100_000_000;

/// A reason code of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// A required field is missing.
    Required,
    /// A field is present but malformed.
    InvalidFormat,
    /// A value is outside its allowed range.
    OutOfRange,
    /// An enum value or country code that does not exist.
    UnknownCode,
    /// A population group appears twice.
    DuplicateGroup,
    /// The revision is not newer than the last accepted one.
    StaleRevision,
    /// The report contradicts what is already known (another country, another agency).
    Conflict,
    /// Free text holds an e-mail address or a phone number.
    PersonalData,
    /// The encoded report is over 64 KiB.
    TooLarge,
    /// The bytes are not a SituationReport.
    Undecodable,
}

impl Code {
    /// The code as it appears in rejections.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Required => "REQUIRED",
            Code::InvalidFormat => "INVALID_FORMAT",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::UnknownCode => "UNKNOWN_CODE",
            Code::DuplicateGroup => "DUPLICATE_GROUP",
            Code::StaleRevision => "STALE_REVISION",
            Code::Conflict => "CONFLICT",
            Code::PersonalData => "PERSONAL_DATA",
            Code::TooLarge => "TOO_LARGE",
            Code::Undecodable => "UNDECODABLE",
        }
    }
}

/// A rejection reason.
pub fn reason(field: impl Into<String>, code: Code, message: impl Into<String>) -> Reason {
    Reason {
        field: field.into(),
        code: code.as_str().into(),
        message: message.into(),
    }
}

/// Decodes a report. Oversized bytes are still decoded when possible, so the rejection can name
/// the report; the second value is the reason the bytes themselves are unacceptable.
pub fn decode(bytes: &[u8]) -> (Option<SituationReport>, Option<Reason>) {
    let decoded = SituationReport::decode(bytes);
    if bytes.len() > MAX_REPORT_BYTES {
        let too_large = reason(
            "",
            Code::TooLarge,
            format!(
                "the encoded report is {} bytes; at most {MAX_REPORT_BYTES} are allowed",
                bytes.len()
            ),
        );
        return (decoded.ok(), Some(too_large));
    }
    match decoded {
        Ok(report) => (Some(report), None),
        Err(error) => (
            None,
            Some(reason(
                "",
                Code::Undecodable,
                format!(
                    "the bytes are not a tandem.v1.SituationReport in protobuf encoding: {error}"
                ),
            )),
        ),
    }
}

/// Every rule that can be checked without state. `organisation` is who published it, from the
/// intake subject: (agency, partner name).
pub fn validate(
    report: &SituationReport,
    organisation: (Agency, &str),
    now: SystemTime,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    check_identifier(&mut reasons, "report_id", &report.report_id, 128);
    check_identifier(&mut reasons, "situation_id", &report.situation_id, 64);
    if report.revision == 0 {
        reasons.push(reason(
            "revision",
            Code::Required,
            "revision is required and starts at 1",
        ));
    }
    check_agency(&mut reasons, report, organisation);
    check_reported_at(&mut reasons, report, now);
    let country = check_country(&mut reasons, &report.country);
    check_pcodes(&mut reasons, report, country);
    check_text(&mut reasons, "location_name", &report.location_name, 200);
    check_enum::<Scope>(&mut reasons, "scope", report.scope);
    check_enum::<Driver>(&mut reasons, "driver", report.driver);
    check_enum::<Phase>(&mut reasons, "phase", report.phase);
    check_population(&mut reasons, report, now);
    for (index, lead) in report.designated_leads.iter().enumerate() {
        check_enum::<Agency>(&mut reasons, &format!("designated_leads[{index}]"), *lead);
    }
    check_text(&mut reasons, "notes", &report.notes, 2000);
    reasons
}

fn check_identifier(reasons: &mut Vec<Reason>, field: &str, value: &str, max: usize) {
    if value.is_empty() {
        reasons.push(reason(
            field,
            Code::Required,
            format!("{field} is required"),
        ));
    } else if value.len() > max
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
    {
        reasons.push(reason(
            field,
            Code::InvalidFormat,
            format!("{field} must be 1–{max} characters of A–Z, a–z, 0–9, '.', '_', ':' or '-'"),
        ));
    }
}

fn check_agency(
    reasons: &mut Vec<Reason>,
    report: &SituationReport,
    (subject_agency, subject_org): (Agency, &str),
) {
    let Some(agency) = check_enum::<Agency>(reasons, "reporting_agency", report.reporting_agency)
    else {
        return;
    };
    if agency == Agency::Partner {
        if report.reporter_org.is_empty() {
            reasons.push(reason(
                "reporter_org",
                Code::Required,
                "reporter_org is required when reporting_agency is AGENCY_PARTNER",
            ));
            return;
        }
        if !subjects::is_subject_token(&report.reporter_org) {
            reasons.push(reason(
                "reporter_org",
                Code::InvalidFormat,
                "reporter_org must be 1–64 characters of A–Z, a–z, 0–9, '_' or '-' (it names the partner's intake subject)",
            ));
            return;
        }
    } else if report.reporter_org.chars().count() > 64 {
        reasons.push(reason(
            "reporter_org",
            Code::OutOfRange,
            "reporter_org is at most 64 characters",
        ));
    }
    let partner_matches = agency != Agency::Partner || report.reporter_org == subject_org;
    if agency != subject_agency || !partner_matches {
        let published_as =
            subjects::organisation_token(subject_agency, subject_org).unwrap_or_default();
        reasons.push(reason(
            "reporting_agency",
            Code::Conflict,
            format!(
                "the report says it comes from {}{} but was published on tandem.intake.{published_as}.report; an organisation reports only on its own subject",
                agency.as_str_name(),
                if agency == Agency::Partner { format!(" ({})", report.reporter_org) } else { String::new() },
            ),
        ));
    }
}

fn check_reported_at(reasons: &mut Vec<Reason>, report: &SituationReport, now: SystemTime) {
    let Some(reported_at) = &report.reported_at else {
        reasons.push(reason(
            "reported_at",
            Code::Required,
            "reported_at is required",
        ));
        return;
    };
    let Some(reported_at) = timestamp::to_system_time(reported_at) else {
        reasons.push(reason(
            "reported_at",
            Code::InvalidFormat,
            "reported_at is not a valid time after 1970",
        ));
        return;
    };
    if let Ok(ahead) = reported_at.duration_since(now)
        && ahead.as_secs() > MAX_FUTURE_SKEW_SECS
    {
        reasons.push(reason(
            "reported_at",
            Code::OutOfRange,
            format!(
                "reported_at is {} s in the future; at most {MAX_FUTURE_SKEW_SECS} s is allowed",
                ahead.as_secs()
            ),
        ));
    }
}

/// Checks `country`, returning its ISO 3166-1 codes when valid.
fn check_country(reasons: &mut Vec<Reason>, country: &str) -> Option<rust_iso3166::CountryCode> {
    if country.is_empty() {
        reasons.push(reason(
            "country",
            Code::Required,
            "country is required (ISO 3166-1 alpha-3, e.g. COL)",
        ));
        return None;
    }
    if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        reasons.push(reason(
            "country",
            Code::InvalidFormat,
            format!("country {country:?} must be an ISO 3166-1 alpha-3 code: three capital letters, e.g. COL"),
        ));
        return None;
    }
    let code = rust_iso3166::from_alpha3(country);
    if code.is_none() {
        reasons.push(reason(
            "country",
            Code::UnknownCode,
            format!("{country} is not an assigned ISO 3166-1 alpha-3 code"),
        ));
    }
    code
}

fn check_pcodes(
    reasons: &mut Vec<Reason>,
    report: &SituationReport,
    country: Option<rust_iso3166::CountryCode>,
) {
    let admin1 = &report.admin1_pcode;
    let admin2 = &report.admin2_pcode;
    for (field, value) in [("admin1_pcode", admin1), ("admin2_pcode", admin2)] {
        if !value.is_empty()
            && (value.len() > 20
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        {
            reasons.push(reason(
                field,
                Code::InvalidFormat,
                format!("{field} {value:?} must be a P-code: up to 20 capital letters and digits"),
            ));
        }
    }
    if !admin1.is_empty()
        && let Some(country) = country
        && !admin1.starts_with(country.alpha2)
        && !admin1.starts_with(country.alpha3)
    {
        reasons.push(reason(
            "admin1_pcode",
            Code::InvalidFormat,
            format!(
                "admin1_pcode {admin1} must start with the country's code {} or {}",
                country.alpha2, country.alpha3
            ),
        ));
    }
    if !admin2.is_empty() {
        if admin1.is_empty() {
            reasons.push(reason(
                "admin1_pcode",
                Code::Required,
                "admin1_pcode is required when admin2_pcode is given",
            ));
        } else if !admin2.starts_with(admin1.as_str()) || admin2 == admin1 {
            reasons.push(reason(
                "admin2_pcode",
                Code::InvalidFormat,
                format!("admin2_pcode {admin2} must extend admin1_pcode {admin1}"),
            ));
        }
    }
}

fn check_population(reasons: &mut Vec<Reason>, report: &SituationReport, now: SystemTime) {
    // The latest date anywhere on Earth (UTC+14): a count dated "today" in Kiribati is not future.
    let latest_date = (OffsetDateTime::from(now) + time::Duration::hours(14)).date();
    let mut seen = Vec::with_capacity(report.population.len());
    for (index, figure) in report.population.iter().enumerate() {
        let field = |name: &str| format!("population[{index}].{name}");
        if let Some(group) = check_enum::<PopulationGroup>(reasons, &field("group"), figure.group) {
            if seen.contains(&group) {
                reasons.push(reason(
                    field("group"),
                    Code::DuplicateGroup,
                    format!(
                        "{} appears more than once; report each group once",
                        group.as_str_name()
                    ),
                ));
            }
            seen.push(group);
        }
        if figure.count > MAX_COUNT {
            reasons.push(reason(
                field("count"),
                Code::OutOfRange,
                format!("count {} is over the limit of {MAX_COUNT}", figure.count),
            ));
        }
        check_as_of(reasons, &field("as_of"), &figure.as_of, latest_date);
        check_text(reasons, &field("source"), &figure.source, 200);
    }
}

fn check_as_of(reasons: &mut Vec<Reason>, field: &str, as_of: &str, latest_date: Date) {
    if as_of.is_empty() {
        reasons.push(reason(
            field,
            Code::Required,
            format!("{field} is required (YYYY-MM-DD)"),
        ));
        return;
    }
    match Date::parse(as_of, format_description!("[year]-[month]-[day]")) {
        Ok(date) if date > latest_date => reasons.push(reason(
            field,
            Code::OutOfRange,
            format!("{field} {as_of} is in the future"),
        )),
        Ok(_) => {}
        Err(_) => reasons.push(reason(
            field,
            Code::InvalidFormat,
            format!("{field} {as_of:?} is not a date in the form YYYY-MM-DD"),
        )),
    }
}

/// Length limit and personal-data check for free text.
fn check_text(reasons: &mut Vec<Reason>, field: &str, text: &str, max_chars: usize) {
    let chars = text.chars().count();
    if chars > max_chars {
        reasons.push(reason(
            field,
            Code::OutOfRange,
            format!("{field} is {chars} characters; at most {max_chars} are allowed"),
        ));
    }
    if let Some(kind) = personal_data(text) {
        reasons.push(reason(
            field,
            Code::PersonalData,
            format!("{field} holds {kind}; personal data must not be sent to tandem"),
        ));
    }
}

/// What kind of personal data `text` holds, if any: e-mail addresses and phone numbers.
pub fn personal_data(text: &str) -> Option<&'static str> {
    static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
            .expect("valid regex")
    });
    // International (+…, 00…) or national (0…) numbers, or an area code in brackets, with at
    // least 8 digits; dates, years and counts ("2026-01-15", "12,000") do not match.
    static PHONE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(\+|\b00|\b0|\(\d{2,5}\)\s?)\d([\s.\-/()]?\d){6,}").expect("valid regex")
    });
    if EMAIL.is_match(text) {
        Some("an e-mail address")
    } else if PHONE
        .find_iter(text)
        .any(|m| m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 8)
    {
        Some("a phone number")
    } else {
        None
    }
}

/// Checks that `value` is a known, specified value of enum `E`.
fn check_enum<E>(reasons: &mut Vec<Reason>, field: &str, value: i32) -> Option<E>
where
    E: TryFrom<i32> + Default + PartialEq + Copy,
{
    match E::try_from(value) {
        Ok(known) if known == E::default() => {
            reasons.push(reason(
                field,
                Code::Required,
                format!("{field} is required"),
            ));
            None
        }
        Ok(known) => Some(known),
        Err(_) => {
            reasons.push(reason(
                field,
                Code::UnknownCode,
                format!("{field} {value} is not a known value"),
            ));
            None
        }
    }
}
