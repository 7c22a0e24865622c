//! Every rule of docs/design.md's SituationReport table, accepted and rejected at its boundary,
//! without a server: `validate` is pure.

use std::time::{Duration, SystemTime};

use prost::Message as _;
use tandem_intake::validate::{
    self, MAX_DESIGNATED_LEADS, MAX_ECHO_BYTES, MAX_POPULATION_FIGURES, MAX_REASONS,
    MAX_REJECTION_BYTES, MAX_REPORT_BYTES,
};
use tandem_proto::{
    timestamp,
    v1::{Agency, Driver, Phase, PopulationFigure, PopulationGroup, Scope, SituationReport},
};

fn now() -> SystemTime {
    // 2026-03-01T12:00:00Z: fixed, so dates in the tests mean the same every day.
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_366_400)
}

fn valid() -> SituationReport {
    SituationReport {
        report_id: "dtm-col-2026-02".into(),
        situation_id: "COL-VEN-2026".into(),
        revision: 1,
        reporting_agency: Agency::Iom as i32,
        reporter_org: String::new(),
        reported_at: Some(timestamp::from_system_time(
            now() - Duration::from_secs(3600),
        )),
        country: "COL".into(),
        admin1_pcode: "CO54".into(),
        admin2_pcode: "CO54001".into(),
        location_name: "Cúcuta".into(),
        scope: Scope::CrossBorder as i32,
        driver: Driver::Mixed as i32,
        phase: Phase::Protracted as i32,
        on_the_move: true,
        population: vec![
            figure(PopulationGroup::Refugee, 120_000),
            figure(PopulationGroup::Migrant, 80_000),
        ],
        designated_leads: vec![],
        notes: "Figures from DTM flow monitoring round 12.".into(),
        designation_reference: String::new(),
        revoke_designation: false,
        ..Default::default()
    }
}

fn figure(group: PopulationGroup, count: u64) -> PopulationFigure {
    PopulationFigure {
        group: group as i32,
        count,
        as_of: "2026-02-28".into(),
        source: "DTM round 12".into(),
        ..Default::default()
    }
}

/// The (field, code) pairs of the reasons for `report` published by IOM.
fn problems(report: &SituationReport) -> Vec<(String, String)> {
    problems_as(report, Agency::Iom, "")
}

fn problems_as(report: &SituationReport, agency: Agency, org: &str) -> Vec<(String, String)> {
    validate::validate(report, (agency, org), now())
        .into_vec()
        .into_iter()
        .map(|reason| {
            assert!(!reason.message.is_empty(), "every reason explains itself");
            (reason.field, reason.code)
        })
        .collect()
}

fn one(field: &str, code: &str) -> Vec<(String, String)> {
    vec![(field.to_string(), code.to_string())]
}

#[test]
fn a_complete_report_is_valid() {
    assert_eq!(problems(&valid()), vec![]);
}

#[test]
fn identifiers_have_a_length_and_an_alphabet() {
    let mut report = valid();
    report.report_id = "a".repeat(128);
    report.situation_id = "S.1:x-y_z".repeat(7) + "S";
    assert_eq!(report.situation_id.len(), 64);
    assert_eq!(problems(&report), vec![]);

    report.report_id = "a".repeat(129);
    assert_eq!(problems(&report), one("report_id", "INVALID_FORMAT"));
    report.report_id = "has space".into();
    assert_eq!(problems(&report), one("report_id", "INVALID_FORMAT"));
    report.report_id = String::new();
    assert_eq!(problems(&report), one("report_id", "REQUIRED"));

    let mut report = valid();
    report.situation_id = "s".repeat(65);
    assert_eq!(problems(&report), one("situation_id", "INVALID_FORMAT"));
    report.situation_id = "a/b".into();
    assert_eq!(problems(&report), one("situation_id", "INVALID_FORMAT"));
}

#[test]
fn revision_starts_at_one() {
    let mut report = valid();
    report.revision = 0;
    assert_eq!(problems(&report), one("revision", "REQUIRED"));
    report.revision = u32::MAX;
    assert_eq!(problems(&report), vec![]);
}

#[test]
fn the_reporting_agency_is_required_known_and_the_publisher() {
    let mut report = valid();
    report.reporting_agency = Agency::Unspecified as i32;
    assert_eq!(problems(&report), one("reporting_agency", "REQUIRED"));
    report.reporting_agency = 42;
    assert_eq!(problems(&report), one("reporting_agency", "UNKNOWN_CODE"));
    report.reporting_agency = Agency::Unhcr as i32;
    assert_eq!(
        problems(&report),
        one("reporting_agency", "CONFLICT"),
        "IOM cannot report as UNHCR"
    );
}

#[test]
fn partners_name_themselves() {
    let mut report = valid();
    report.reporting_agency = Agency::Partner as i32;
    assert_eq!(
        problems_as(&report, Agency::Partner, "nrc"),
        one("reporter_org", "REQUIRED")
    );
    report.reporter_org = "nrc".into();
    assert_eq!(problems_as(&report, Agency::Partner, "nrc"), vec![]);
    assert_eq!(
        problems_as(&report, Agency::Partner, "drc"),
        one("reporting_agency", "CONFLICT"),
        "a partner reports only on its own subject"
    );
    report.reporter_org = "N.R.C".into();
    assert_eq!(
        problems_as(&report, Agency::Partner, "nrc"),
        one("reporter_org", "INVALID_FORMAT")
    );
}

#[test]
fn reported_at_is_required_and_at_most_five_minutes_ahead() {
    let mut report = valid();
    report.reported_at = Some(timestamp::from_system_time(
        now() + Duration::from_secs(300),
    ));
    assert_eq!(problems(&report), vec![]);
    report.reported_at = Some(timestamp::from_system_time(
        now() + Duration::from_secs(301),
    ));
    assert_eq!(problems(&report), one("reported_at", "OUT_OF_RANGE"));
    report.reported_at = None;
    assert_eq!(problems(&report), one("reported_at", "REQUIRED"));
}

#[test]
fn country_is_an_assigned_alpha3_code() {
    let mut report = valid();
    report.admin1_pcode.clear();
    report.admin2_pcode.clear();
    for (country, expected) in [
        ("SSD", vec![]),
        ("", one("country", "REQUIRED")),
        ("col", one("country", "INVALID_FORMAT")),
        ("CO", one("country", "INVALID_FORMAT")),
        ("XKX", one("country", "UNKNOWN_CODE")),
        ("ZZZ", one("country", "UNKNOWN_CODE")),
    ] {
        report.country = country.into();
        assert_eq!(problems(&report), expected, "country {country:?}");
    }
}

#[test]
fn pcodes_nest_under_the_country() {
    let mut report = valid();
    report.admin1_pcode = "COL54".into();
    report.admin2_pcode = "COL54001".into();
    assert_eq!(problems(&report), vec![], "the ISO3 prefix is accepted too");

    report.admin1_pcode = "VE14".into();
    report.admin2_pcode = "VE1401".into();
    assert_eq!(problems(&report), one("admin1_pcode", "INVALID_FORMAT"));

    let mut report = valid();
    report.admin2_pcode = "CO11001".into();
    assert_eq!(problems(&report), one("admin2_pcode", "INVALID_FORMAT"));
    report.admin1_pcode.clear();
    assert_eq!(problems(&report), one("admin1_pcode", "REQUIRED"));
    report.admin2_pcode.clear();
    assert_eq!(problems(&report), vec![], "both are optional");
}

#[test]
fn location_name_is_at_most_200_characters() {
    let mut report = valid();
    report.location_name = "é".repeat(200);
    assert_eq!(problems(&report), vec![]);
    report.location_name = "é".repeat(201);
    assert_eq!(problems(&report), one("location_name", "OUT_OF_RANGE"));
}

#[test]
fn scope_driver_and_phase_are_required_and_known() {
    let mut report = valid();
    report.scope = 0;
    report.driver = 9;
    report.phase = 0;
    assert_eq!(
        problems(&report),
        vec![
            ("scope".into(), "REQUIRED".into()),
            ("driver".into(), "UNKNOWN_CODE".into()),
            ("phase".into(), "REQUIRED".into()),
        ]
    );
}

#[test]
fn population_figures_are_checked_one_by_one() {
    let mut report = valid();
    report.population[0].count = 100_000_000;
    assert_eq!(problems(&report), vec![]);
    report.population[0].count = 100_000_001;
    assert_eq!(
        problems(&report),
        one("population[0].count", "OUT_OF_RANGE")
    );

    let mut report = valid();
    report.population[1].group = PopulationGroup::Refugee as i32;
    assert_eq!(
        problems(&report),
        one("population[1].group", "DUPLICATE_GROUP")
    );
    report.population[1].group = 0;
    assert_eq!(problems(&report), one("population[1].group", "REQUIRED"));
    report.population[1].group = 77;
    assert_eq!(
        problems(&report),
        one("population[1].group", "UNKNOWN_CODE")
    );

    let mut report = valid();
    for (as_of, expected) in [
        ("2026-03-01", vec![]),
        // Already the 2nd somewhere on Earth at 12:00 UTC on the 1st.
        ("2026-03-02", vec![]),
        ("2026-03-03", one("population[0].as_of", "OUT_OF_RANGE")),
        ("2026-02-30", one("population[0].as_of", "INVALID_FORMAT")),
        ("01/03/2026", one("population[0].as_of", "INVALID_FORMAT")),
        ("", one("population[0].as_of", "REQUIRED")),
    ] {
        report.population[0].as_of = as_of.into();
        assert_eq!(problems(&report), expected, "as_of {as_of:?}");
    }
}

#[test]
fn designated_leads_must_be_agencies() {
    let mut report = valid();
    report.designation_reference = "SG decision of 12 April 2018".into();
    report.designated_leads = vec![Agency::Unhcr as i32, Agency::Iom as i32];
    assert_eq!(problems(&report), vec![]);
    report.designated_leads = vec![Agency::Unhcr as i32, 12];
    assert_eq!(
        problems(&report),
        one("designated_leads[1]", "UNKNOWN_CODE")
    );
}

#[test]
fn only_iom_and_unhcr_record_designations_and_each_names_its_decision() {
    let reference = "SG decision of 12 April 2018";
    let mut report = valid();
    report.designated_leads = vec![Agency::Iom as i32];
    assert_eq!(
        problems(&report),
        one("designation_reference", "REQUIRED"),
        "a designation without its reference"
    );
    report.designation_reference = reference.into();
    assert_eq!(problems(&report), vec![]);
    report.revoke_designation = true;
    assert_eq!(problems(&report), one("revoke_designation", "CONFLICT"));
    report.designated_leads.clear();
    assert_eq!(
        problems(&report),
        vec![],
        "a revocation may name its decision"
    );
    report.revoke_designation = false;
    assert_eq!(problems(&report), one("designation_reference", "CONFLICT"));
    report.designation_reference = "x".repeat(201);
    report.designated_leads = vec![Agency::Unhcr as i32];
    assert_eq!(
        problems(&report),
        one("designation_reference", "OUT_OF_RANGE")
    );

    // A partner's designation without a reference: every reason listed.
    let mut partner = valid();
    partner.reporting_agency = Agency::Partner as i32;
    partner.reporter_org = "nrc".into();
    partner.designated_leads = vec![Agency::Partner as i32];
    partner.revoke_designation = true;
    assert_eq!(
        problems_as(&partner, Agency::Partner, "nrc"),
        vec![
            ("designated_leads".into(), "DESIGNATION_NOT_ALLOWED".into()),
            (
                "revoke_designation".into(),
                "DESIGNATION_NOT_ALLOWED".into()
            ),
            ("designation_reference".into(), "REQUIRED".into()),
            ("revoke_designation".into(), "CONFLICT".into()),
        ]
    );
    partner.revoke_designation = false;
    partner.designation_reference = reference.into();
    assert_eq!(
        problems_as(&partner, Agency::Partner, "nrc"),
        one("designated_leads", "DESIGNATION_NOT_ALLOWED")
    );
    let message =
        &validate::validate(&partner, (Agency::Partner, "nrc"), now()).into_vec()[0].message;
    assert!(
        message.contains("only accepted from IOM or UNHCR"),
        "{message}"
    );
}

#[test]
fn a_designation_country_is_an_iso3_code_given_with_a_designation_or_a_revocation() {
    let mut report = valid();
    report.designation_country = "ECU".into();
    let alone = validate::validate(&report, (Agency::Iom, ""), now()).into_vec();
    assert_eq!(
        (alone[0].field.as_str(), alone[0].code.as_str()),
        ("designation_country", "CONFLICT")
    );
    assert!(
        alone[0].message.contains("\"ECU\"")
            && alone[0]
                .message
                .contains("neither designates leads nor revokes"),
        "{}",
        alone[0].message
    );

    report.designated_leads = vec![Agency::Unhcr as i32, Agency::Iom as i32];
    report.designation_reference = "Request of the Government of Ecuador".into();
    assert_eq!(problems(&report), vec![]);
    report.designated_leads.clear();
    report.revoke_designation = true;
    assert_eq!(problems(&report), vec![], "a revocation for one operation");

    for (country, code) in [
        ("ecu", "INVALID_FORMAT"),
        ("EC", "INVALID_FORMAT"),
        ("XXX", "UNKNOWN_CODE"),
    ] {
        report.designation_country = country.into();
        let reasons = validate::validate(&report, (Agency::Iom, ""), now()).into_vec();
        assert_eq!(
            (
                reasons.len(),
                reasons[0].field.as_str(),
                reasons[0].code.as_str()
            ),
            (1, "designation_country", code),
            "{country}"
        );
        assert!(
            reasons[0].message.contains(country),
            "{}",
            reasons[0].message
        );
    }

    // A partner names no operation for a designation either.
    let mut partner = valid();
    partner.reporting_agency = Agency::Partner as i32;
    partner.reporter_org = "nrc".into();
    partner.revoke_designation = true;
    partner.designation_country = "COL".into();
    assert_eq!(
        problems_as(&partner, Agency::Partner, "nrc"),
        vec![
            (
                "revoke_designation".into(),
                "DESIGNATION_NOT_ALLOWED".into()
            ),
            (
                "designation_country".into(),
                "DESIGNATION_NOT_ALLOWED".into()
            ),
        ]
    );
}

#[test]
fn notes_are_short_and_hold_no_personal_data() {
    let mut report = valid();
    report.notes = "x".repeat(2000);
    assert_eq!(problems(&report), vec![]);
    report.notes = "x".repeat(2001);
    assert_eq!(problems(&report), one("notes", "OUT_OF_RANGE"));

    for text in [
        "Contact maria.lopez@example.org for the list",
        "Call +57 300 123 4567 for details",
        "Call 0300-123-4567",
        "Office (601) 555 0199",
    ] {
        report.notes = text.into();
        assert_eq!(problems(&report), one("notes", "PERSONAL_DATA"), "{text}");
    }
    for text in [
        "Round 12 on 2026-02-15: 12,000 arrivals, 120000 in transit since 2019.",
        "Population 100000000 (upper bound), ratio 0.83",
    ] {
        report.notes = text.into();
        assert_eq!(problems(&report), vec![], "{text}");
    }
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let report = SituationReport {
        report_id: "bad id".into(),
        country: "col".into(),
        notes: "mail me: a@b.co".into(),
        population: vec![
            figure(PopulationGroup::Idp, 5),
            figure(PopulationGroup::Idp, 6),
        ],
        ..Default::default()
    };
    let codes = problems(&report);
    for expected in [
        ("report_id", "INVALID_FORMAT"),
        ("situation_id", "REQUIRED"),
        ("revision", "REQUIRED"),
        ("reporting_agency", "REQUIRED"),
        ("reported_at", "REQUIRED"),
        ("country", "INVALID_FORMAT"),
        ("scope", "REQUIRED"),
        ("driver", "REQUIRED"),
        ("phase", "REQUIRED"),
        ("population[1].group", "DUPLICATE_GROUP"),
        ("notes", "PERSONAL_DATA"),
    ] {
        assert!(
            codes.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} missing from {codes:?}"
        );
    }
    assert_eq!(codes.len(), 11);
}

#[test]
fn bytes_that_are_not_a_report_are_undecodable() {
    let refused = validate::decode(b"\xff\xff\xff\xff not protobuf").expect_err("refused");
    assert_eq!(refused.reason.code, "UNDECODABLE");
    assert_eq!(refused.report_id, "");

    let mut truncated = valid().encode_to_vec();
    truncated.truncate(truncated.len() - 3);
    assert_eq!(
        validate::decode(&truncated).map_err(|r| r.reason.code),
        Err("UNDECODABLE".into())
    );
}

#[test]
fn reports_over_64_kib_are_too_large_but_still_named() {
    let mut report = valid();
    report.notes = "n".repeat(MAX_REPORT_BYTES);
    let refused = validate::decode(&report.encode_to_vec()).expect_err("refused");
    assert_eq!(refused.reason.code, "TOO_LARGE");
    assert_eq!(refused.report_id, "dtm-col-2026-02");
    assert_eq!(refused.situation_id, "COL-VEN-2026");

    report.notes = "n".repeat(MAX_REPORT_BYTES - 400);
    assert!(report.encode_to_vec().len() <= MAX_REPORT_BYTES);
    assert_eq!(validate::decode(&report.encode_to_vec()), Ok(report));
}

/// Over 64 KiB, the field rules do not run: bytes that break every rule and are not even a
/// report after their ids get one reason, TOO_LARGE.
#[test]
fn a_report_over_64_kib_is_answered_too_large_without_its_field_rules() {
    let mut report = SituationReport {
        report_id: "bad id".into(),
        situation_id: "S-1".into(),
        designated_leads: vec![-7; 300_000],
        ..Default::default()
    }
    .encode_to_vec();
    // A truncated field at the end: decoding the whole report would fail.
    report.extend([0x8a, 0x01, 0x7f]);
    let refused = validate::decode(&report).expect_err("refused");
    assert_eq!(refused.reason.code, "TOO_LARGE");
    assert_eq!(
        (refused.report_id.as_str(), refused.situation_id.as_str()),
        ("bad id", "S-1")
    );
}

#[test]
fn population_and_designated_leads_have_limits_of_their_own() {
    let groups = tandem_proto::words::POPULATION_GROUPS;
    let mut report = valid();
    report.designation_reference = "SG decision of 12 April 2018".into();
    report.population = groups.iter().map(|group| figure(*group, 10)).collect();
    report.designated_leads = vec![Agency::Iom as i32, Agency::Unhcr as i32];
    assert_eq!(problems(&report), vec![], "every group once is allowed");

    report.population = (0..=MAX_POPULATION_FIGURES)
        .map(|i| figure(groups[i % groups.len()], 10))
        .collect();
    let found = problems(&report);
    assert_eq!(found[0], ("population".into(), "TOO_MANY".into()));
    let (more, repeats) = found[1..].split_last().expect("reasons after TOO_MANY");
    assert!(repeats.iter().all(|(_, code)| code == "DUPLICATE_GROUP"));
    assert_eq!(
        more.1, "MORE_REASONS",
        "the repeats beyond the listed ones are counted"
    );

    let mut report = valid();
    report.designation_reference = "SG decision of 12 April 2018".into();
    report.designated_leads = vec![Agency::Iom as i32; MAX_DESIGNATED_LEADS];
    assert_eq!(problems(&report), vec![]);
    report.designated_leads.push(Agency::Unhcr as i32);
    assert_eq!(problems(&report), one("designated_leads", "TOO_MANY"));
    let message = &validate::validate(&report, (Agency::Iom, ""), now()).into_vec()[0].message;
    assert_eq!(
        message,
        &format!(
            "designated_leads has {} entries; at most {MAX_DESIGNATED_LEADS} are allowed (name each designated agency once)",
            MAX_DESIGNATED_LEADS + 1
        )
    );
}

/// The report of the attack: 60 KB of invalid designated leads used to give a 1.78 MB
/// rejection, one reason per entry.
#[test]
fn a_report_of_60_kb_of_invalid_leads_gets_the_capped_reasons_and_a_count_of_the_rest() {
    let mut report = valid();
    report.report_id = "x".repeat(200);
    report.designation_reference = "SG decision of 12 April 2018".into();
    report.designated_leads = vec![99; 60_000];
    let bytes = report.encode_to_vec();
    assert!(bytes.len() > 60_000 && bytes.len() <= MAX_REPORT_BYTES);

    let report = validate::decode(&bytes).expect("decodes");
    let reasons = validate::validate(&report, (Agency::Iom, ""), now());
    let rejection = validate::rejection(
        &report.report_id,
        &report.situation_id,
        (Agency::Iom, ""),
        reasons,
        now(),
    );
    let fields: Vec<(&str, &str)> = rejection
        .reasons
        .iter()
        .map(|r| (r.field.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(fields.len(), MAX_REASONS + 1);
    assert_eq!(fields[0], ("report_id", "INVALID_FORMAT"));
    assert_eq!(fields[1], ("designated_leads", "TOO_MANY"));
    for (index, field) in fields[2..MAX_REASONS].iter().enumerate() {
        assert_eq!(
            *field,
            (
                format!("designated_leads[{index}]").as_str(),
                "UNKNOWN_CODE"
            )
        );
    }
    let more = &rejection.reasons[MAX_REASONS];
    assert_eq!(
        (more.field.as_str(), more.code.as_str()),
        ("", "MORE_REASONS")
    );
    assert_eq!(
        more.message,
        format!(
            "only the first {MAX_REASONS} reasons are listed; 0 more were found and {} entries of repeated fields were not checked",
            60_000 - (MAX_REASONS - 2)
        )
    );
    assert_eq!(
        rejection.report_id,
        "x".repeat(128),
        "cut to its contract length"
    );
    assert!(
        rejection.encoded_len() < 4096,
        "{}",
        rejection.encoded_len()
    );
}

/// Every value a message repeats is cut and marked; ids are cut to their contract lengths on a
/// character boundary; the worst report stays far under 64 KiB.
#[test]
fn echoed_values_and_ids_are_cut() {
    let long = "é".repeat(40_000);
    let mut report = valid();
    report.report_id = long.clone();
    report.situation_id = long.clone();
    report.country = long.clone();
    report.admin1_pcode = long.clone();
    report.admin2_pcode = long.clone();
    report.population = (0..MAX_POPULATION_FIGURES)
        .map(|_| PopulationFigure {
            group: 1,
            count: u64::MAX,
            as_of: long.clone(),
            source: long.clone(),
            ..Default::default()
        })
        .collect();
    let reasons = validate::validate(&report, (Agency::Iom, ""), now());
    let country = reasons
        .listed()
        .iter()
        .find(|r| r.field == "country")
        .expect("country is wrong");
    let echoed = format!("{:?}", "é".repeat(MAX_ECHO_BYTES / 2));
    assert_eq!(
        country.message,
        format!(
            "country {echoed}… (cut; 80000 bytes in all) must be an ISO 3166-1 alpha-3 code: three capital letters, e.g. COL"
        )
    );
    let rejection = validate::rejection(
        &report.report_id,
        &report.situation_id,
        (Agency::Partner, &"p".repeat(5_000)),
        reasons,
        now(),
    );
    assert_eq!(rejection.report_id, "é".repeat(64), "128 bytes");
    assert_eq!(rejection.situation_id, "é".repeat(32), "64 bytes");
    assert_eq!(rejection.reporter_org, "p".repeat(64));
    assert_eq!(rejection.reasons.len(), MAX_REASONS + 1);
    assert_eq!(rejection.reasons[MAX_REASONS].code, "MORE_REASONS");
    for reason in &rejection.reasons {
        assert!(
            reason.message.len() <= 2 * MAX_ECHO_BYTES + 200,
            "{reason:?}"
        );
    }
    let size = rejection.encoded_len();
    assert!(size < MAX_REJECTION_BYTES / 4, "{size} bytes");
}

#[test]
fn a_figure_may_name_its_country_of_origin_once_per_group() {
    let mut report = valid();
    report.population[0].origin = "VEN".into();
    report.population.push(PopulationFigure {
        origin: "HTI".into(),
        ..figure(PopulationGroup::Refugee, 3_000)
    });
    assert_eq!(problems(&report), vec![]);

    for (origin, code) in [
        ("XXX", "UNKNOWN_CODE"),
        ("ven", "INVALID_FORMAT"),
        ("VENE", "INVALID_FORMAT"),
    ] {
        let mut bad = report.clone();
        bad.population[2].origin = origin.into();
        assert_eq!(
            problems(&bad),
            one("population[2].origin", code),
            "{origin}"
        );
    }

    // The same group from the same origin twice, or twice without an origin, is a duplicate.
    let mut twice = report.clone();
    twice.population[2].origin = "VEN".into();
    assert_eq!(
        problems(&twice),
        one("population[2].group", "DUPLICATE_GROUP")
    );
    let mut twice = valid();
    twice.population.push(figure(PopulationGroup::Migrant, 5));
    assert_eq!(
        problems(&twice),
        one("population[2].group", "DUPLICATE_GROUP")
    );
}
