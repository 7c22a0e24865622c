//! docs/design.md's JSON mapping ("Event contract"): proto field names (snake_case) out,
//! snake_case or lowerCamelCase in, enum values as their full names, RFC 3339 timestamps;
//! and input the mapping cannot take is an error that says what is wrong.

use serde_json::{Value, json};
use tandem_proto::{
    Timestamp, json,
    v1::{
        Agency, Classification, Driver, LeadershipDetermination, Phase, PopulationFigure,
        PopulationGroup, Scope, SituationReport,
    },
};

/// 2026-01-15T12:30:45.5Z
const REPORTED_AT_SECONDS: i64 = 1_768_480_245;

/// A report with every field set.
fn full_report() -> SituationReport {
    SituationReport {
        report_id: "iom-col-2026-001".into(),
        situation_id: "COL-2026-01".into(),
        revision: 3,
        reporting_agency: Agency::Iom as i32,
        reporter_org: String::new(),
        reported_at: Some(Timestamp {
            seconds: REPORTED_AT_SECONDS,
            nanos: 500_000_000,
        }),
        country: "COL".into(),
        admin1_pcode: "CO54".into(),
        admin2_pcode: "CO54001".into(),
        location_name: "Cúcuta".into(),
        scope: Scope::CrossBorder as i32,
        driver: Driver::Mixed as i32,
        phase: Phase::Emergency as i32,
        on_the_move: true,
        population: vec![
            PopulationFigure {
                group: PopulationGroup::Migrant as i32,
                count: 1200,
                as_of: "2026-01-10".into(),
                source: "DTM round 12".into(),
                origin: "VEN".into(),
                ..Default::default()
            },
            PopulationFigure {
                group: PopulationGroup::AsylumSeeker as i32,
                count: 340,
                as_of: "2026-01-11".into(),
                source: "UNHCR registration".into(),
                ..Default::default()
            },
        ],
        designated_leads: vec![Agency::Iom as i32, Agency::Unhcr as i32],
        notes: "Arrivals up after the border reopened.".into(),
        designation_reference: "SG decision of 12 April 2018".into(),
        revoke_designation: false,
        ..Default::default()
    }
}

fn rendered(report: &SituationReport) -> Value {
    let text = json::to_string(report);
    assert!(!text.contains('\n'), "one line of JSON: {text}");
    serde_json::from_str(&text).expect("to_string renders valid JSON")
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn output_uses_proto_field_names_and_full_enum_names() {
    let value = rendered(&full_report());
    assert_eq!(
        keys(&value),
        vec![
            "admin1_pcode",
            "admin2_pcode",
            "country",
            "designated_leads",
            "designation_reference",
            "driver",
            "location_name",
            "notes",
            "on_the_move",
            "phase",
            "population",
            "report_id",
            "reported_at",
            "reporting_agency",
            "revision",
            "scope",
            "situation_id",
        ],
        "snake_case proto names, no lowerCamelCase; reporter_org is empty so left out: {value}"
    );
    assert_eq!(
        keys(&value["population"][0]),
        ["as_of", "count", "group", "origin", "source"]
    );
    assert_eq!(value["population"][0]["origin"], "VEN");

    assert_eq!(value["reporting_agency"], "AGENCY_IOM");
    assert_eq!(value["scope"], "SCOPE_CROSS_BORDER");
    assert_eq!(value["driver"], "DRIVER_MIXED");
    assert_eq!(value["phase"], "PHASE_EMERGENCY");
    assert_eq!(
        value["designated_leads"],
        json!(["AGENCY_IOM", "AGENCY_UNHCR"])
    );
    assert_eq!(value["population"][0]["group"], "POPULATION_GROUP_MIGRANT");
    assert_eq!(
        value["population"][1]["group"],
        "POPULATION_GROUP_ASYLUM_SEEKER"
    );
    assert_eq!(value["revision"], 3);
    assert_eq!(value["on_the_move"], true);
    assert_eq!(value["location_name"], "Cúcuta");
    // The proto3 JSON mapping writes 64-bit integers as strings (JavaScript loses precision
    // above 2^53); input accepts both, see `input_accepts_both_field_name_styles_…`.
    assert_eq!(value["population"][0]["count"], "1200");
}

#[test]
fn the_reporting_agency_is_written_by_its_full_name() {
    for (agency, name) in [
        (Agency::Iom, "AGENCY_IOM"),
        (Agency::Unhcr, "AGENCY_UNHCR"),
        (Agency::Partner, "AGENCY_PARTNER"),
    ] {
        let report = SituationReport {
            reporting_agency: agency as i32,
            ..full_report()
        };
        assert_eq!(rendered(&report)["reporting_agency"], name);
    }
    let determination = LeadershipDetermination {
        classification: Classification::MixedMovement as i32,
        lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
        protection_share: 0.5,
        ..Default::default()
    };
    let value: Value = serde_json::from_str(&json::to_string(&determination)).expect("JSON");
    assert_eq!(value["classification"], "CLASSIFICATION_MIXED_MOVEMENT");
    assert_eq!(
        value["lead_agencies"],
        json!(["AGENCY_IOM", "AGENCY_UNHCR"])
    );
    assert_eq!(value["protection_share"], 0.5);
}

#[test]
fn timestamps_are_rfc3339_of_the_same_instant() {
    let value = rendered(&full_report());
    let text = value["reported_at"]
        .as_str()
        .expect("a timestamp is a string");
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|error| panic!("{text:?} is not RFC 3339: {error}"));
    assert_eq!(parsed.unix_timestamp(), REPORTED_AT_SECONDS, "{text}");
    assert_eq!(parsed.nanosecond(), 500_000_000, "{text}");
    assert_eq!(parsed.offset(), time::UtcOffset::UTC, "{text}");
    assert!(text.starts_with("2026-01-15T12:30:45.5"), "{text}");

    // Input: `Z` and numeric offsets, as RFC 3339 allows.
    for (input, seconds) in [
        ("2026-01-15T12:30:45Z", REPORTED_AT_SECONDS),
        ("2026-01-15T07:30:45-05:00", REPORTED_AT_SECONDS),
        ("2026-01-15T12:30:45.5+00:00", REPORTED_AT_SECONDS),
    ] {
        let report: SituationReport =
            json::from_str(&format!(r#"{{"reported_at": "{input}"}}"#)).expect(input);
        assert_eq!(
            report.reported_at.map(|t| t.seconds),
            Some(seconds),
            "{input}"
        );
    }
}

#[test]
fn input_accepts_both_field_name_styles_and_enums_by_name() {
    let snake = r#"{
        "report_id": "unhcr-ven-7",
        "situation_id": "VEN-2026-03",
        "revision": 2,
        "reporting_agency": "AGENCY_PARTNER",
        "reporter_org": "nrc",
        "reported_at": "2026-01-15T12:30:45Z",
        "country": "VEN",
        "admin1_pcode": "VE01",
        "admin2_pcode": "VE0101",
        "location_name": "Caracas",
        "scope": "SCOPE_INTERNAL",
        "driver": "DRIVER_DISASTER",
        "phase": "PHASE_SOLUTIONS",
        "on_the_move": true,
        "population": [{"group": "POPULATION_GROUP_IDP", "count": 52000, "as_of": "2026-01-12", "source": "DTM", "origin": "VEN"}],
        "designated_leads": ["AGENCY_UNHCR"],
        "designation_reference": "SG decision",
        "notes": "Returns started."
    }"#;
    let camel = r#"{
        "reportId": "unhcr-ven-7",
        "situationId": "VEN-2026-03",
        "revision": 2,
        "reportingAgency": "AGENCY_PARTNER",
        "reporterOrg": "nrc",
        "reportedAt": "2026-01-15T12:30:45Z",
        "country": "VEN",
        "admin1Pcode": "VE01",
        "admin2Pcode": "VE0101",
        "locationName": "Caracas",
        "scope": "SCOPE_INTERNAL",
        "driver": "DRIVER_DISASTER",
        "phase": "PHASE_SOLUTIONS",
        "onTheMove": true,
        "population": [{"group": "POPULATION_GROUP_IDP", "count": "52000", "asOf": "2026-01-12", "source": "DTM", "origin": "VEN"}],
        "designatedLeads": ["AGENCY_UNHCR"],
        "designationReference": "SG decision",
        "notes": "Returns started."
    }"#;
    let from_snake: SituationReport = json::from_str(snake).expect("snake_case parses");
    let from_camel: SituationReport = json::from_str(camel).expect("lowerCamelCase parses");
    let expected = SituationReport {
        report_id: "unhcr-ven-7".into(),
        situation_id: "VEN-2026-03".into(),
        revision: 2,
        reporting_agency: Agency::Partner as i32,
        reporter_org: "nrc".into(),
        reported_at: Some(Timestamp {
            seconds: REPORTED_AT_SECONDS,
            nanos: 0,
        }),
        country: "VEN".into(),
        admin1_pcode: "VE01".into(),
        admin2_pcode: "VE0101".into(),
        location_name: "Caracas".into(),
        scope: Scope::Internal as i32,
        driver: Driver::Disaster as i32,
        phase: Phase::Solutions as i32,
        on_the_move: true,
        population: vec![PopulationFigure {
            group: PopulationGroup::Idp as i32,
            count: 52_000,
            as_of: "2026-01-12".into(),
            source: "DTM".into(),
            origin: "VEN".into(),
            ..Default::default()
        }],
        designated_leads: vec![Agency::Unhcr as i32],
        notes: "Returns started.".into(),
        designation_reference: "SG decision".into(),
        revoke_designation: false,
        ..Default::default()
    };
    assert_eq!(from_snake, expected);
    assert_eq!(from_camel, expected);

    // Both styles may be mixed in one document; absent fields take their defaults.
    let mixed: SituationReport =
        json::from_str(r#"{"report_id": "a", "situationId": "b", "scope": "SCOPE_CROSS_BORDER"}"#)
            .expect("mixed styles parse");
    assert_eq!(mixed.report_id, "a");
    assert_eq!(mixed.situation_id, "b");
    assert_eq!(mixed.scope, Scope::CrossBorder as i32);
    assert_eq!(mixed.revision, 0);
    assert_eq!(mixed.reporting_agency, Agency::Unspecified as i32);
    assert_eq!(mixed.reported_at, None);
}

#[test]
fn json_message_json_round_trip_is_stable() {
    let first = json::to_string(&full_report());
    let parsed: SituationReport = json::from_str(&first).expect("own output parses");
    assert_eq!(parsed, full_report(), "no information lost");
    let second = json::to_string(&parsed);
    assert_eq!(second, first, "rendering is deterministic");

    // From lowerCamelCase input the rendering is the canonical snake_case one.
    let camel = first
        .replace("\"report_id\"", "\"reportId\"")
        .replace("\"situation_id\"", "\"situationId\"")
        .replace("\"reported_at\"", "\"reportedAt\"")
        .replace("\"on_the_move\"", "\"onTheMove\"")
        .replace("\"designated_leads\"", "\"designatedLeads\"")
        .replace("\"as_of\"", "\"asOf\"");
    assert_ne!(camel, first);
    let from_camel: SituationReport = json::from_str(&camel).expect("camel parses");
    assert_eq!(json::to_string(&from_camel), first);

    // And the empty message is `{}` both ways.
    assert_eq!(json::to_string(&SituationReport::default()), "{}");
    assert_eq!(
        json::from_str::<SituationReport>("{}").expect("{} parses"),
        SituationReport::default()
    );
}

/// The error text of parsing `input` as a report.
fn parse_error(input: &str) -> String {
    match json::from_str::<SituationReport>(input) {
        Ok(report) => panic!("{input} parsed as {report:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn bad_input_is_an_error_naming_the_problem() {
    // An unknown enum name: the value and the valid names are in the message.
    let error = parse_error(r#"{"reporting_agency": "AGENCY_WFP"}"#);
    assert!(
        error.contains("unknown variant `AGENCY_WFP`")
            && error.contains("AGENCY_IOM")
            && error.contains("AGENCY_UNHCR")
            && error.contains("AGENCY_PARTNER"),
        "{error}"
    );
    // Enum names are case-sensitive, as in the proto3 mapping.
    let error = parse_error(r#"{"scope": "scope_cross_border"}"#);
    assert!(
        error.contains("unknown variant `scope_cross_border`"),
        "{error}"
    );
    // Inside a repeated message too.
    let error = parse_error(r#"{"population": [{"group": "POPULATION_GROUP_TOURIST"}]}"#);
    assert!(
        error.contains("unknown variant `POPULATION_GROUP_TOURIST`")
            && error.contains("POPULATION_GROUP_MIGRANT"),
        "{error}"
    );

    // Wrong types: what was found and what was expected.
    let error = parse_error(r#"{"on_the_move": "yes"}"#);
    assert!(
        error.contains("invalid type: string \"yes\", expected a boolean"),
        "{error}"
    );
    let error = parse_error(r#"{"report_id": 17}"#);
    assert!(
        error.contains("invalid type: integer `17`, expected a string"),
        "{error}"
    );
    let error = parse_error(r#"{"population": {"group": "POPULATION_GROUP_IDP"}}"#);
    assert!(
        error.contains("invalid type: map, expected a sequence"),
        "{error}"
    );
    let error = parse_error(r#"{"reported_at": 5}"#);
    assert!(
        error.contains("invalid type: integer `5`, expected a date string"),
        "{error}"
    );

    // Numbers and timestamps that do not parse are refused, but pbjson's messages name
    // neither the field nor the value ("invalid digit found in string", "data did not match
    // any variant of untagged enum Content", "premature end of input"): only serde_json's
    // position, just after the bad value, tells the user where to look.
    for (input, position) in [
        (r#"{"revision": "three"}"#, "line 1 column 21"),
        (r#"{"revision": -1}"#, "line 1 column 16"),
        (r#"{"revision": 1.5}"#, "line 1 column 17"),
        (r#"{"revision": 5000000000}"#, "line 1 column 24"),
        (r#"{"population": [{"count": -3}]}"#, "line 1 column 29"),
        (r#"{"reported_at": "15/01/2026"}"#, "line 1 column 28"),
    ] {
        let error = parse_error(input);
        assert!(error.ends_with(position), "{input}: {error}");
    }

    // A misspelt field is refused (rather than silently dropped), naming it.
    let error = parse_error(r#"{"report_id": "a", "situaton_id": "b"}"#);
    assert!(
        error.contains("unknown field `situaton_id`") && error.contains("situation_id"),
        "{error}"
    );
    // serde_json adds where in the text the problem is.
    assert!(error.contains("line 1 column"), "{error}");
}

#[test]
fn enum_numbers_are_accepted_on_input_as_proto3_json_allows() {
    let report: SituationReport =
        json::from_str(r#"{"reporting_agency": 2, "designated_leads": [1, 2]}"#).expect("numbers");
    assert_eq!(report.reporting_agency, Agency::Unhcr as i32);
    assert_eq!(
        report.designated_leads,
        vec![Agency::Iom as i32, Agency::Unhcr as i32]
    );
    // An undefined number is refused, not stored as an unknown value.
    let error = parse_error(r#"{"reporting_agency": 42}"#);
    assert!(error.contains("42"), "{error}");
}
