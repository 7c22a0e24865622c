//! The rules of the SituationReport table in `docs/design.md`, as pure functions: bytes in, a
//! bounded rejection out. Nothing here does I/O, so each rule is tested at its boundary without a
//! server; the rules that need state (revision order, one country per situation) are in
//! [`crate::state`].
//!
//! Whatever a publisher sends, the answer stays small and the work stays bounded, because a
//! rejection is published for every stored message and a hostile one must not make it large:
//! - bytes over [`MAX_REPORT_BYTES`] are answered `TOO_LARGE` from the two ids alone, without
//!   decoding the rest ([`decode`]);
//! - repeated fields have limits of their own ([`MAX_POPULATION_FIGURES`],
//!   [`MAX_DESIGNATED_LEADS`], [`MAX_SOLUTIONS_PROGRESS`]), each broken limit one `TOO_MANY`
//!   reason;
//! - the per-area sums of the figures are checked in one sorted pass over them
//!   ([`check_area_sums`]), so a report of many areas costs `n log n`, not `n²`;
//! - [`Reasons`] keeps the first [`MAX_REASONS`] reasons and one `MORE_REASONS` summary; once it
//!   is full, the entries of repeated fields are no longer checked;
//! - values echoed in messages are cut at [`MAX_ECHO_BYTES`] and marked, every message at
//!   [`MAX_MESSAGE_BYTES`], and the ids of a [`rejection`] at their contract lengths;
//!
//! so that a rejection is always under [`MAX_REJECTION_BYTES`] encoded.

use std::{
    borrow::Cow,
    collections::{HashMap, hash_map::Entry},
    sync::LazyLock,
    time::SystemTime,
};

use prost::Message as _;
use regex::Regex;
use tandem_proto::{
    subjects, timestamp,
    v1::{
        Agency, Driver, DurableSolutionsCriterion, Phase, PopulationGroup, Reason, Scope,
        SituationRejected, SituationReport,
    },
};
use time::{Date, OffsetDateTime, macros::format_description};

/// The largest encoded report the contract allows.
pub const MAX_REPORT_BYTES: usize = 64 * 1024;
/// How far in the future `reported_at` may lie (clock skew between agency systems).
pub const MAX_FUTURE_SKEW_SECS: u64 = 5 * 60;
/// The largest count of one population group.
pub const MAX_COUNT: u64 = 100_000_000;
/// The most population figures a report may hold: a group once per origin and area, so that a
/// report can break a few groups down by first- and second-level area (Colombia has 33
/// departments and 1,122 municipalities). The encoded report still has to fit in
/// [`MAX_REPORT_BYTES`], about 60 bytes a figure at this many.
pub const MAX_POPULATION_FIGURES: usize = 1_000;
/// The most solutions-progress entries: one per criterion of the IASC framework.
pub const MAX_SOLUTIONS_PROGRESS: usize = 8;
/// The most designated leads a report may name: IOM, UNHCR and a partner.
pub const MAX_DESIGNATED_LEADS: usize = 3;
/// The longest `designation_reference`, in characters.
pub const MAX_DESIGNATION_REFERENCE: usize = 200;
/// The longest `report_id`, in bytes (the ids are ASCII).
pub const MAX_REPORT_ID: usize = 128;
/// The longest `situation_id`, in bytes.
pub const MAX_SITUATION_ID: usize = 64;
/// The longest partner name (`reporter_org`), in characters.
pub const MAX_REPORTER_ORG: usize = 64;
/// The most reasons a rejection lists; one `MORE_REASONS` reason after them counts the rest.
pub const MAX_REASONS: usize = 32;
/// The longest value of the report a reason's message repeats, in bytes; longer ones are cut on
/// a character boundary and marked as cut.
pub const MAX_ECHO_BYTES: usize = 128;
/// The longest message (and field name) of a reason, in bytes: a bound that holds whatever a rule
/// writes.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The largest encoded rejection. [`MAX_REASONS`] + 1 reasons of at most 2 ×
/// [`MAX_MESSAGE_BYTES`] each, and the ids, stay well under it.
pub const MAX_REJECTION_BYTES: usize = 64 * 1024;

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
    /// A population group appears twice for one origin and area.
    DuplicateGroup,
    /// A durable-solutions criterion appears twice.
    DuplicateCriterion,
    /// Per-area figures add up to more than the figure of the area (or country) they lie in.
    InconsistentTotal,
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
    /// A repeated field has more entries than its limit.
    TooMany,
    /// The rejection lists only the first reasons; this one counts the others.
    MoreReasons,
    /// A partner designated leads or revoked a designation: only IOM and UNHCR record them.
    DesignationNotAllowed,
    /// A partner declared a situation regional: only IOM and UNHCR do.
    RegionalNotAllowed,
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
            Code::DuplicateCriterion => "DUPLICATE_CRITERION",
            Code::InconsistentTotal => "INCONSISTENT_TOTAL",
            Code::StaleRevision => "STALE_REVISION",
            Code::Conflict => "CONFLICT",
            Code::PersonalData => "PERSONAL_DATA",
            Code::TooLarge => "TOO_LARGE",
            Code::Undecodable => "UNDECODABLE",
            Code::TooMany => "TOO_MANY",
            Code::MoreReasons => "MORE_REASONS",
            Code::DesignationNotAllowed => "DESIGNATION_NOT_ALLOWED",
            Code::RegionalNotAllowed => "REGIONAL_NOT_ALLOWED",
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

/// Bytes that are not judged field by field: what the rejection can still name, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    /// The report's `report_id` when it could be read, else empty (see [`rejection`] for its
    /// length).
    pub report_id: String,
    /// The report's `situation_id` when it could be read, else empty.
    pub situation_id: String,
    /// `TOO_LARGE` or `UNDECODABLE`.
    pub reason: Reason,
}

/// The ids of a report and nothing else. Its other fields are skipped, not decoded, so reading
/// the ids of oversized bytes allocates no more than the two ids themselves, which come from the
/// bytes in hand.
#[derive(Clone, PartialEq, prost::Message)]
struct Ids {
    #[prost(bytes = "vec", tag = "1")]
    report_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    situation_id: Vec<u8>,
}

/// Decodes a report. Bytes over [`MAX_REPORT_BYTES`] are refused as `TOO_LARGE` before the
/// report is decoded: only its ids are read, so the rejection can name it.
pub fn decode(bytes: &[u8]) -> Result<SituationReport, Refused> {
    if bytes.len() > MAX_REPORT_BYTES {
        // What is read before any broken field is kept: the ids usually come first.
        let mut ids = Ids::default();
        let _ = ids.merge(bytes);
        return Err(Refused {
            report_id: String::from_utf8_lossy(&ids.report_id).into_owned(),
            situation_id: String::from_utf8_lossy(&ids.situation_id).into_owned(),
            reason: reason(
                "",
                Code::TooLarge,
                format!(
                    "the encoded report is {} bytes; at most {MAX_REPORT_BYTES} are allowed",
                    bytes.len()
                ),
            ),
        });
    }
    SituationReport::decode(bytes).map_err(|error| Refused {
        report_id: String::new(),
        situation_id: String::new(),
        reason: reason(
            "",
            Code::Undecodable,
            format!("the bytes are not a tandem.v1.SituationReport in protobuf encoding: {error}"),
        ),
    })
}

/// The reasons to reject a report, bounded: the first [`MAX_REASONS`] are kept, later ones are
/// only counted, and [`Reasons::into_vec`] ends the list with one `MORE_REASONS` reason saying
/// how many more there were.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reasons {
    listed: Vec<Reason>,
    /// Reasons found after the list was full.
    more: usize,
    /// Entries of repeated fields left unchecked because the list was full.
    unchecked: usize,
}

impl Reasons {
    /// Adds a reason, cutting its field and message to [`MAX_MESSAGE_BYTES`]; counts it only
    /// when the list is full.
    pub fn push(&mut self, mut reason: Reason) {
        if self.is_full() {
            self.more += 1;
            return;
        }
        for text in [&mut reason.field, &mut reason.message] {
            if let Cow::Owned(cut) = cut(text, MAX_MESSAGE_BYTES) {
                *text = cut;
            }
        }
        self.listed.push(reason);
    }

    /// Whether no reason was found: the report is valid.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.more == 0 && self.unchecked == 0
    }

    /// Whether [`MAX_REASONS`] are listed: further ones are only counted.
    pub fn is_full(&self) -> bool {
        self.listed.len() >= MAX_REASONS
    }

    /// The reasons listed so far.
    pub fn listed(&self) -> &[Reason] {
        &self.listed
    }

    /// Whether a listed reason is about `field`.
    pub fn names(&self, field: &str) -> bool {
        self.listed.iter().any(|reason| reason.field == field)
    }

    /// The reasons as a rejection carries them: the listed ones, then, if any were left out,
    /// one `MORE_REASONS` reason saying how many.
    pub fn into_vec(mut self) -> Vec<Reason> {
        if self.more > 0 || self.unchecked > 0 {
            let unchecked = match self.unchecked {
                0 => String::new(),
                n => format!(" and {n} entries of repeated fields were not checked"),
            };
            self.listed.push(reason(
                "",
                Code::MoreReasons,
                format!(
                    "only the first {MAX_REASONS} reasons are listed; {} more were found{unchecked}",
                    self.more
                ),
            ));
        }
        self.listed
    }

    /// Checks the entries of a repeated field one by one until the list is full; the entries
    /// left are counted, not checked, so hostile lists cost no more than the listed reasons.
    fn each<'e, T>(&mut self, entries: &'e [T], mut check: impl FnMut(&mut Self, usize, &'e T)) {
        for (index, entry) in entries.iter().enumerate() {
            if self.is_full() {
                self.unchecked += entries.len() - index;
                return;
            }
            check(self, index, entry);
        }
    }
}

impl From<Reason> for Reasons {
    fn from(reason: Reason) -> Self {
        let mut reasons = Reasons::default();
        reasons.push(reason);
        reasons
    }
}

/// The rejection of a report: its ids cut to their contract lengths ([`MAX_REPORT_ID`],
/// [`MAX_SITUATION_ID`], [`MAX_REPORTER_ORG`]), so that it stays under [`MAX_REJECTION_BYTES`]
/// whatever the report held. `organisation` is who published it: (agency, partner name).
pub fn rejection(
    report_id: &str,
    situation_id: &str,
    (agency, org): (Agency, &str),
    reasons: Reasons,
    rejected_at: SystemTime,
) -> SituationRejected {
    SituationRejected {
        report_id: cut(report_id, MAX_REPORT_ID).into_owned(),
        reporting_agency: agency as i32,
        reporter_org: cut(org, MAX_REPORTER_ORG).into_owned(),
        situation_id: cut(situation_id, MAX_SITUATION_ID).into_owned(),
        reasons: reasons.into_vec(),
        rejected_at: Some(timestamp::from_system_time(rejected_at)),
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    match text.len() <= max {
        true => Cow::Borrowed(text),
        false => Cow::Owned(text[..text.floor_char_boundary(max)].to_owned()),
    }
}

/// A value of the report as a reason's message repeats it: quoted, and cut at
/// [`MAX_ECHO_BYTES`] with a mark saying how long it was.
fn echo(value: &str) -> String {
    match cut(value, MAX_ECHO_BYTES) {
        Cow::Borrowed(whole) => format!("{whole:?}"),
        Cow::Owned(start) => format!("{start:?}… (cut; {} bytes in all)", value.len()),
    }
}

/// Every rule that can be checked without state. `organisation` is who published it, from the
/// intake subject: (agency, partner name). The single fields are checked first, so their reasons
/// are always listed; then the limits of the repeated fields, then their entries.
pub fn validate(
    report: &SituationReport,
    organisation: (Agency, &str),
    now: SystemTime,
) -> Reasons {
    let mut reasons = Reasons::default();
    check_identifier(&mut reasons, "report_id", &report.report_id, MAX_REPORT_ID);
    check_identifier(
        &mut reasons,
        "situation_id",
        &report.situation_id,
        MAX_SITUATION_ID,
    );
    if report.revision == 0 {
        reasons.push(reason(
            "revision",
            Code::Required,
            "revision is required and starts at 1",
        ));
    }
    check_agency(&mut reasons, report, organisation);
    check_reported_at(&mut reasons, report, now);
    let country = check_country(&mut reasons, "country", &report.country);
    check_pcodes(
        &mut reasons,
        &str::to_owned,
        (&report.admin1_pcode, &report.admin2_pcode),
        country,
    );
    check_text(&mut reasons, "location_name", &report.location_name, 200);
    check_enum::<Scope>(&mut reasons, "scope", report.scope);
    check_enum::<Driver>(&mut reasons, "driver", report.driver);
    check_enum::<Phase>(&mut reasons, "phase", report.phase);
    check_text(&mut reasons, "notes", &report.notes, 2000);
    check_designation(&mut reasons, report, organisation.0);
    check_regional(&mut reasons, report, organisation.0);
    check_count(
        &mut reasons,
        "population",
        report.population.len(),
        MAX_POPULATION_FIGURES,
        "each population group once per origin and area",
    );
    check_count(
        &mut reasons,
        "designated_leads",
        report.designated_leads.len(),
        MAX_DESIGNATED_LEADS,
        "name each designated agency once",
    );
    check_count(
        &mut reasons,
        "solutions_progress",
        report.solutions_progress.len(),
        MAX_SOLUTIONS_PROGRESS,
        "each IASC durable-solutions criterion once",
    );
    check_population(&mut reasons, report, country, now);
    check_solutions_progress(&mut reasons, report, now);
    reasons.each(&report.designated_leads, |reasons, index, lead| {
        check_enum::<Agency>(reasons, &format!("designated_leads[{index}]"), *lead);
    });
    reasons
}

/// `regional`: declared by IOM or UNHCR only, since it lets reports from every country into the
/// situation for good (docs/design.md, "Regional situations").
fn check_regional(reasons: &mut Reasons, report: &SituationReport, publisher: Agency) {
    if report.regional
        && (publisher == Agency::Partner || report.reporting_agency == Agency::Partner as i32)
    {
        reasons.push(reason(
            "regional",
            Code::RegionalNotAllowed,
            "regional is only accepted from IOM or UNHCR: a partner reports for one country, and the agencies declare a situation regional",
        ));
    }
}

/// A designation or its revocation: from IOM or UNHCR only, a designation with the reference of
/// the decision it records, a revocation never together with a designation, and the country
/// operation it is about (if any) an ISO3 code given only with one or the other (whether the
/// situation has that operation is for [`crate::state`]). `publisher` is the agency whose intake
/// subject the report came on (a report claiming another is refused anyway).
fn check_designation(reasons: &mut Reasons, report: &SituationReport, publisher: Agency) {
    check_text(
        reasons,
        "designation_reference",
        &report.designation_reference,
        MAX_DESIGNATION_REFERENCE,
    );
    let designates = !report.designated_leads.is_empty();
    if publisher == Agency::Partner || report.reporting_agency == Agency::Partner as i32 {
        for (field, says) in [
            ("designated_leads", designates),
            ("revoke_designation", report.revoke_designation),
            (
                "designation_country",
                !report.designation_country.is_empty(),
            ),
        ] {
            if says {
                reasons.push(reason(
                    field,
                    Code::DesignationNotAllowed,
                    format!("{field} is only accepted from IOM or UNHCR: a partner organisation reports figures and facts, and a designation is recorded by the agency it was addressed to"),
                ));
            }
        }
    }
    if designates && report.designation_reference.trim().is_empty() {
        reasons.push(reason(
            "designation_reference",
            Code::Required,
            "designation_reference is required with designated_leads: name the decision it records, e.g. \"SG decision of 12 April 2018\"",
        ));
    }
    if designates && report.revoke_designation {
        reasons.push(reason(
            "revoke_designation",
            Code::Conflict,
            "revoke_designation ends a designation and designated_leads records one: send one or the other",
        ));
    }
    if !designates && !report.revoke_designation && !report.designation_reference.is_empty() {
        reasons.push(reason(
            "designation_reference",
            Code::Conflict,
            "designation_reference is given but the report neither designates leads nor revokes a designation",
        ));
    }
    if !report.designation_country.is_empty() {
        if designates || report.revoke_designation {
            check_country(reasons, "designation_country", &report.designation_country);
        } else {
            reasons.push(reason(
                "designation_country",
                Code::Conflict,
                format!(
                    "designation_country {} names the country operation of a designation or a revocation, but the report neither designates leads nor revokes a designation",
                    echo(&report.designation_country)
                ),
            ));
        }
    }
}

/// The limit of a repeated field.
fn check_count(reasons: &mut Reasons, field: &str, count: usize, max: usize, why: &str) {
    if count > max {
        reasons.push(reason(
            field,
            Code::TooMany,
            format!("{field} has {count} entries; at most {max} are allowed ({why})"),
        ));
    }
}

fn check_identifier(reasons: &mut Reasons, field: &str, value: &str, max: usize) {
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
    reasons: &mut Reasons,
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

fn check_reported_at(reasons: &mut Reasons, report: &SituationReport, now: SystemTime) {
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
/// An ISO 3166-1 alpha-3 code in `field` (the report's country or a figure's origin).
fn check_country(
    reasons: &mut Reasons,
    field: &str,
    country: &str,
) -> Option<rust_iso3166::CountryCode> {
    if country.is_empty() {
        reasons.push(reason(
            field,
            Code::Required,
            format!("{field} is required (ISO 3166-1 alpha-3, e.g. COL)"),
        ));
        return None;
    }
    if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        reasons.push(reason(
            field,
            Code::InvalidFormat,
            format!(
                "{field} {} must be an ISO 3166-1 alpha-3 code: three capital letters, e.g. COL",
                echo(country)
            ),
        ));
        return None;
    }
    let code = rust_iso3166::from_alpha3(country);
    if code.is_none() {
        reasons.push(reason(
            field,
            Code::UnknownCode,
            format!("{country} is not an assigned ISO 3166-1 alpha-3 code"),
        ));
    }
    code
}

/// The P-codes of the report or of one figure (`field` names a field of either, only when a
/// reason needs it): each up to 20 capital letters and digits, the first-level one starting
/// with the country's ISO code, the second-level one extending the first-level one, which it
/// requires.
fn check_pcodes(
    reasons: &mut Reasons,
    field: &dyn Fn(&str) -> String,
    (admin1, admin2): (&str, &str),
    country: Option<rust_iso3166::CountryCode>,
) {
    for (name, value) in [("admin1_pcode", admin1), ("admin2_pcode", admin2)] {
        if !value.is_empty()
            && (value.len() > 20
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        {
            let field = field(name);
            reasons.push(reason(
                field.as_str(),
                Code::InvalidFormat,
                format!(
                    "{field} {} must be a P-code: up to 20 capital letters and digits",
                    echo(value)
                ),
            ));
        }
    }
    if !admin1.is_empty()
        && let Some(country) = country
        && !admin1.starts_with(country.alpha2)
        && !admin1.starts_with(country.alpha3)
    {
        let admin1_field = field("admin1_pcode");
        reasons.push(reason(
            admin1_field.as_str(),
            Code::InvalidFormat,
            format!(
                "{admin1_field} {} must start with the country's code {} or {}",
                echo(admin1),
                country.alpha2,
                country.alpha3
            ),
        ));
    }
    if !admin2.is_empty() {
        let (admin1_field, admin2_field) = (field("admin1_pcode"), field("admin2_pcode"));
        if admin1.is_empty() {
            reasons.push(reason(
                admin1_field.as_str(),
                Code::Required,
                format!("{admin1_field} is required when {admin2_field} is given"),
            ));
        } else if !admin2.starts_with(admin1) || admin2 == admin1 {
            reasons.push(reason(
                admin2_field.as_str(),
                Code::InvalidFormat,
                format!(
                    "{admin2_field} {} must extend {admin1_field} {}",
                    echo(admin2),
                    echo(admin1)
                ),
            ));
        }
    }
}

/// Where a figure counts: group, origin, first- and second-level area (empty: the whole country
/// or every origin). A report gives each place at most once.
type Place<'a> = (PopulationGroup, &'a str, &'a str, &'a str);

fn check_population(
    reasons: &mut Reasons,
    report: &SituationReport,
    country: Option<rust_iso3166::CountryCode>,
    now: SystemTime,
) {
    let latest_date = latest_date(now);
    // The figures whose place is known, first of each place only: what the sums are made of.
    let mut places: HashMap<Place<'_>, usize> = HashMap::with_capacity(report.population.len());
    reasons.each(&report.population, |reasons, index, figure| {
        let field = |name: &str| format!("population[{index}].{name}");
        if !figure.origin.is_empty() {
            check_country(reasons, &field("origin"), &figure.origin);
        }
        check_pcodes(
            reasons,
            &field,
            (&figure.admin1_pcode, &figure.admin2_pcode),
            country,
        );
        if let Some(group) = check_enum::<PopulationGroup>(reasons, &field("group"), figure.group) {
            let place = (
                group,
                figure.origin.as_str(),
                figure.admin1_pcode.as_str(),
                figure.admin2_pcode.as_str(),
            );
            if let Entry::Vacant(vacant) = places.entry(place) {
                vacant.insert(index);
            } else {
                reasons.push(reason(
                    field("group"),
                    Code::DuplicateGroup,
                    format!(
                        "{}{}{} appears more than once; report each group once per origin and area",
                        group.as_str_name(),
                        from_origin(&figure.origin),
                        in_area(&figure.admin1_pcode, &figure.admin2_pcode),
                    ),
                ));
            }
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
    });
    check_area_sums(reasons, report, places);
}

/// The latest date anywhere on Earth (UTC+14): a date of "today" in Kiribati is not future.
fn latest_date(now: SystemTime) -> Date {
    (OffsetDateTime::from(now) + time::Duration::hours(14)).date()
}

/// ` from VEN` for a figure with an origin, else nothing.
fn from_origin(origin: &str) -> String {
    match origin {
        "" => String::new(),
        origin => format!(" from {}", echo(origin)),
    }
}

/// ` in CO05001` for a per-area figure, ` in the whole country` otherwise.
fn in_area(admin1: &str, admin2: &str) -> String {
    match (admin1, admin2) {
        ("", _) => " in the whole country".to_owned(),
        (admin1, "") => format!(" in {}", echo(admin1)),
        (_, admin2) => format!(" in {}", echo(admin2)),
    }
}

/// Per-area figures must not add up to more than the figure they break down, where both are
/// given: a group's (and origin's) second-level figures within one first-level area against that
/// area's figure, and its first-level areas (each its own figure, else the sum of its
/// second-level figures) against the whole-country figure. `places` maps each place to the index
/// of its figure. Figures over [`MAX_COUNT`] are refused on their own and left out; the sums
/// (at most [`MAX_POPULATION_FIGURES`] · [`MAX_COUNT`]) cannot overflow.
fn check_area_sums(
    reasons: &mut Reasons,
    report: &SituationReport,
    places: HashMap<Place<'_>, usize>,
) {
    let mut sorted: Vec<(Place<'_>, usize)> = places
        .into_iter()
        // A second-level area without its first-level area is refused on its own: it lies in
        // no known area, so it takes no part in the sums.
        .filter(|((_, _, admin1, admin2), index)| {
            report.population[*index].count <= MAX_COUNT
                && (!admin1.is_empty() || admin2.is_empty())
        })
        .collect();
    // Sorted, each (group, origin) is a run: its whole-country figure first (empty admin1),
    // then each first-level area with its own figure first (empty admin2).
    sorted.sort_unstable();
    let count = |index: usize| report.population[index].count;
    for run in sorted.chunk_by(|a, b| (a.0.0, a.0.1) == (b.0.0, b.0.1)) {
        let ((group, origin, ..), _) = run[0];
        let (country, areas) = match run[0].0.2 {
            "" => (Some(run[0].1), &run[1..]),
            _ => (None, run),
        };
        let mut areas_total = 0;
        for area in areas.chunk_by(|a, b| a.0.2 == b.0.2) {
            let admin1 = area[0].0.2;
            let (own, admin2s) = match area[0].0.3 {
                "" => (Some(area[0].1), &area[1..]),
                _ => (None, area),
            };
            let admin2_total: u64 = admin2s.iter().map(|(_, index)| count(*index)).sum();
            if let Some(own) = own
                && !admin2s.is_empty()
                && admin2_total > count(own)
            {
                reasons.push(reason(
                    format!("population[{own}].count"),
                    Code::InconsistentTotal,
                    format!(
                        "{}{}: the second-level areas of {} add up to {admin2_total}, more than its own figure of {}",
                        group.as_str_name(),
                        from_origin(origin),
                        echo(admin1),
                        count(own)
                    ),
                ));
            }
            areas_total += own.map_or(admin2_total, count);
        }
        if let Some(country) = country
            && !areas.is_empty()
            && areas_total > count(country)
        {
            reasons.push(reason(
                format!("population[{country}].count"),
                Code::InconsistentTotal,
                format!(
                    "{}{}: the areas add up to {areas_total}, more than the figure of {} for the whole country",
                    group.as_str_name(),
                    from_origin(origin),
                    count(country)
                ),
            ));
        }
    }
}

/// Progress towards durable solutions: only in the solutions phase, each criterion once, a share
/// between 0 and 1, a date like a figure's, a source like a figure's.
fn check_solutions_progress(reasons: &mut Reasons, report: &SituationReport, now: SystemTime) {
    if !report.solutions_progress.is_empty() && report.phase != Phase::Solutions as i32 {
        reasons.push(reason(
            "solutions_progress",
            Code::Conflict,
            format!(
                "solutions_progress is only accepted on a report whose phase is PHASE_SOLUTIONS; this one's phase is {}",
                Phase::try_from(report.phase).map_or("not a known phase", |phase| phase.as_str_name())
            ),
        ));
    }
    let latest_date = latest_date(now);
    let mut seen = Vec::with_capacity(MAX_SOLUTIONS_PROGRESS);
    reasons.each(&report.solutions_progress, |reasons, index, progress| {
        let field = |name: &str| format!("solutions_progress[{index}].{name}");
        if let Some(criterion) = check_enum::<DurableSolutionsCriterion>(
            reasons,
            &field("criterion"),
            progress.criterion,
        ) {
            if seen.contains(&criterion) {
                reasons.push(reason(
                    field("criterion"),
                    Code::DuplicateCriterion,
                    format!(
                        "{} appears more than once; report each criterion once",
                        criterion.as_str_name()
                    ),
                ));
            } else {
                seen.push(criterion);
            }
        }
        if !(0.0..=1.0).contains(&progress.share) {
            reasons.push(reason(
                field("share"),
                Code::OutOfRange,
                format!(
                    "share {} must be a number between 0 and 1: the part of the displaced population meeting the criterion",
                    progress.share
                ),
            ));
        }
        check_as_of(reasons, &field("as_of"), &progress.as_of, latest_date);
        check_text(reasons, &field("source"), &progress.source, 200);
    });
}

fn check_as_of(reasons: &mut Reasons, field: &str, as_of: &str, latest_date: Date) {
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
            format!(
                "{field} {} is not a date in the form YYYY-MM-DD",
                echo(as_of)
            ),
        )),
    }
}

/// Length limit and personal-data check for free text.
fn check_text(reasons: &mut Reasons, field: &str, text: &str, max_chars: usize) {
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
fn check_enum<E>(reasons: &mut Reasons, field: &str, value: i32) -> Option<E>
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
