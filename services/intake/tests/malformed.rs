//! Malformed input: a corpus of broken messages, each with the specific rejection it must get,
//! fed through the decoder and validator and through a running intake; and generated reports
//! (proptest) that must never make validation panic or lose a reason.

mod common;

use std::time::SystemTime;

use common::*;
use proptest::prelude::*;
use prost::Message as _;
use tandem_intake::validate;
use tandem_proto::v1::{Agency, PopulationFigure, SituationReport};
use tandem_runtime::topology;
use tandem_testkit::NatsServer;

/// A protobuf field key: `(field number << 3) | wire type`.
fn key(field: u32, wire_type: u8) -> Vec<u8> {
    varint(u64::from(field) << 3 | u64::from(wire_type))
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}

/// A length-delimited field.
fn bytes_field(field: u32, content: &[u8]) -> Vec<u8> {
    let mut out = key(field, 2);
    out.extend(varint(content.len() as u64));
    out.extend_from_slice(content);
    out
}

/// An unknown field (number 99) nesting `depth` groups of further unknown fields.
fn nested_unknown(depth: usize) -> Vec<u8> {
    let mut inner = Vec::new();
    for _ in 0..depth {
        inner = bytes_field(99, &inner);
    }
    inner
}

/// A valid report of its own id, to break in one way.
fn valid_bytes(id: &str) -> Vec<u8> {
    report(id, &format!("S-{id}"), 1).encode_to_vec()
}

/// A reason as (field, code): the whole message's field is empty.
type Reason = (String, &'static str);

fn whole(code: &'static str) -> Vec<Reason> {
    vec![(String::new(), code)]
}

/// (name, bytes, every reason the rejection must carry, in order: no more, no fewer; empty
/// when the message must be accepted). The expected reasons are docs/design.md's table read for
/// each message, not what the validator happens to say.
fn corpus() -> Vec<(&'static str, Vec<u8>, Vec<Reason>)> {
    let valid = valid_bytes("corpus-truncated");
    let required = [
        "report_id",
        "situation_id",
        "revision",
        "reporting_agency",
        "reported_at",
        "country",
        "scope",
        "driver",
        "phase",
    ];
    // 32 reasons are listed, then one MORE_REASONS.
    let leads_reasons = std::iter::once(("designated_leads".to_string(), "TOO_MANY"))
        .chain((0..31).map(|i| (format!("designated_leads[{i}]"), "UNKNOWN_CODE")))
        .chain(whole("MORE_REASONS"))
        .collect();
    // Nine groups, then every figure repeats one: the first 31 repeats are listed.
    let figures_reasons = std::iter::once(("population".to_string(), "TOO_MANY"))
        .chain(
            (9..9 + validate::MAX_REASONS - 1)
                .map(|i| (format!("population[{i}].group"), "DUPLICATE_GROUP")),
        )
        .chain(whole("MORE_REASONS"))
        .collect();
    let mut cases = vec![
        (
            "empty message",
            Vec::new(),
            required.map(|f| (f.to_string(), "REQUIRED")).to_vec(),
        ),
        (
            "truncated inside a field",
            valid[..valid.len() - 3].to_vec(),
            whole("UNDECODABLE"),
        ),
        ("truncated varint", vec![0x18, 0xff], whole("UNDECODABLE")),
        (
            "length beyond the end",
            vec![0x0a, 0x7f, b'a'],
            whole("UNDECODABLE"),
        ),
        (
            "wrong wire type for a string",
            [key(1, 0), varint(5)].concat(),
            whole("UNDECODABLE"),
        ),
        (
            "wrong wire type for a number",
            bytes_field(3, b"seven"),
            whole("UNDECODABLE"),
        ),
        (
            "invalid UTF-8 in report_id",
            bytes_field(1, &[0xc3, 0x28, 0xff]),
            whole("UNDECODABLE"),
        ),
        (
            "invalid UTF-8 in notes",
            [
                valid_bytes("corpus-utf8"),
                bytes_field(17, &[0xed, 0xa0, 0x80]),
            ]
            .concat(),
            whole("UNDECODABLE"),
        ),
        // Unknown fields are skipped, not parsed (prost does not recurse into them), so even
        // deep nesting costs nothing; they are ignored, as protobuf asks, so that agency systems
        // on a newer contract keep working. The report is judged on its known fields.
        (
            "deeply nested unknown fields",
            [valid_bytes("corpus-nested"), nested_unknown(200)].concat(),
            vec![],
        ),
        (
            "huge notes",
            [
                valid_bytes("corpus-huge"),
                bytes_field(17, "n".repeat(70_000).as_bytes()),
            ]
            .concat(),
            whole("TOO_LARGE"),
        ),
        (
            "huge population list",
            {
                let mut report = report("corpus-big", "S-CORPUS", 1);
                report.population = (0..5_000)
                    .map(|i| PopulationFigure {
                        group: 1 + i % 9,
                        count: 1,
                        as_of: "2026-01-01".into(),
                        source: String::new(),
                        ..Default::default()
                    })
                    .collect();
                report.encode_to_vec()
            },
            whole("TOO_LARGE"),
        ),
        (
            "too many population figures",
            {
                let mut report = report("corpus-groups", "S-CORPUS", 1);
                report.population = (0..=validate::MAX_POPULATION_FIGURES)
                    .map(|i| PopulationFigure {
                        group: 1 + i32::try_from(i % 9).expect("below 9"),
                        count: 1,
                        as_of: "2026-01-01".into(),
                        source: String::new(),
                        ..Default::default()
                    })
                    .collect();
                report.encode_to_vec()
            },
            figures_reasons,
        ),
        (
            "60 KB of invalid designated leads",
            {
                let mut report = report("corpus-leads", "S-CORPUS", 1);
                report.designated_leads = vec![99; 60_000];
                report.designation_reference = "SG decision of 12 April 2018".into();
                report.encode_to_vec()
            },
            leads_reasons,
        ),
        (
            "garbage",
            b"\x00\x01\x02GET / HTTP/1.1\r\n".to_vec(),
            whole("UNDECODABLE"),
        ),
    ];
    // Every enum field, out of range.
    for (name, field) in [
        ("reporting_agency", 4u32),
        ("scope", 11),
        ("driver", 12),
        ("phase", 13),
    ] {
        let mut bytes = valid_bytes(&format!("corpus-{name}"));
        bytes.extend(key(field, 0));
        bytes.extend(varint(1_000));
        cases.push((
            Box::leak(format!("{name} out of range").into_boxed_str()),
            bytes,
            vec![(name.to_string(), "UNKNOWN_CODE")],
        ));
    }
    let mut out_of_range_group = report("corpus-g", "S-CORPUS", 1);
    out_of_range_group.population[0].group = 4_000;
    out_of_range_group.designated_leads = vec![-3];
    out_of_range_group.designation_reference = "SG decision of 12 April 2018".into();
    cases.push((
        "group and designated lead out of range",
        out_of_range_group.encode_to_vec(),
        vec![
            ("population[0].group".to_string(), "UNKNOWN_CODE"),
            ("designated_leads[0]".to_string(), "UNKNOWN_CODE"),
        ],
    ));
    cases
}

/// Exactly the expected reasons: a missing one, an extra one or another order fails.
fn assert_reasons(name: &str, found: Vec<(String, String)>, expected: &[Reason]) {
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(field, code)| (field.clone(), (*code).to_string()))
        .collect();
    assert_eq!(found, expected, "{name}");
}

#[test]
fn every_malformed_input_gets_its_specific_rejection() {
    for (name, bytes, expected) in corpus() {
        let reasons = match validate::decode(&bytes) {
            Ok(report) => {
                validate::validate(&report, (Agency::Iom, ""), SystemTime::now()).into_vec()
            }
            Err(refused) => vec![refused.reason],
        };
        let found = reasons.into_iter().map(|r| (r.field, r.code)).collect();
        assert_reasons(name, found, &expected);
    }
}

#[tokio::test]
async fn a_running_intake_rejects_the_whole_corpus_and_keeps_going() {
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);
    let corpus = corpus();
    let mut sequences = Vec::new();
    for (i, (_, bytes, _)) in corpus.iter().enumerate() {
        let ack = submit_bytes(&js, "iom", &format!("iom:corpus-{i}"), bytes.clone(), None).await;
        sequences.push(ack.sequence);
    }
    submit(&js, "iom", &report("after-corpus", "S-AFTER", 1)).await;
    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), corpus.len() + 1, "one outcome per message");
    // Outcomes of different situations may come in any order: match them by stored message.
    let outcome_of = |sequence: u64| {
        let id = topology::intake_outcome_id(topology::INTAKE_IOM_STREAM, sequence);
        outcomes
            .iter()
            .find(|o| o.headers().get("Nats-Msg-Id").map(|v| v.as_str()) == Some(id.as_str()))
            .expect("an outcome for every stored message")
    };
    for ((name, _, expected), sequence) in corpus.iter().zip(&sequences) {
        let outcome = outcome_of(*sequence);
        assert_eq!(
            matches!(outcome, Outcome::Accepted(..)),
            expected.is_empty(),
            "{name}: {outcome:?}"
        );
        assert_reasons(name, outcome.reasons(), expected);
    }
    let after = outcomes.iter().find(|o| o.report_id() == "after-corpus");
    assert!(
        matches!(after, Some(Outcome::Accepted(..))),
        "intake still works"
    );
    assert!(!intake.task.is_finished(), "intake did not stop");
    intake.stop().await;
}

fn arbitrary_report() -> impl Strategy<Value = SituationReport> {
    (
        (
            ".{0,140}",
            "[A-Za-z0-9._:-]{0,70}",
            any::<u32>(),
            -2i32..6,
            ".{0,70}",
        ),
        ("[A-Za-z]{0,4}", "[A-Z0-9]{0,24}", "[A-Z0-9]{0,24}"),
        (-1i32..5, -1i32..6, -1i32..5),
        proptest::collection::vec((-1i32..11, any::<u64>(), "[0-9-]{0,12}", ".{0,10}"), 0..20),
        proptest::collection::vec(-1i32..5, 0..40),
        ".{0,2100}",
        any::<Option<(i64, i32)>>(),
    )
        .prop_map(
            |(
                (report_id, situation_id, revision, agency, org),
                (country, admin1, admin2),
                (scope, driver, phase),
                figures,
                leads,
                notes,
                at,
            )| {
                SituationReport {
                    report_id,
                    situation_id,
                    revision,
                    reporting_agency: agency,
                    reporter_org: org,
                    reported_at: at
                        .map(|(seconds, nanos)| tandem_proto::Timestamp { seconds, nanos }),
                    country,
                    admin1_pcode: admin1,
                    admin2_pcode: admin2,
                    location_name: String::new(),
                    scope,
                    driver,
                    phase,
                    on_the_move: false,
                    population: figures
                        .into_iter()
                        .map(|(group, count, as_of, source)| PopulationFigure {
                            group,
                            count,
                            as_of,
                            source,
                            ..Default::default()
                        })
                        .collect(),
                    designated_leads: leads,
                    notes,
                    designation_reference: String::new(),
                    revoke_designation: false,
                    ..Default::default()
                }
            },
        )
}

/// A way to break one field: the field's proto name, what to do to the report, and the one
/// reason docs/design.md's report table gives for it.
type Break = (&'static str, fn(&mut SituationReport), &'static str);

/// The fields that can be broken, each with its ways; each entry is a different field, so the
/// reasons of several breaks add up.
const BREAKS: [&[Break]; 14] = [
    &[
        ("report_id", |r| r.report_id.clear(), "REQUIRED"),
        (
            "report_id",
            |r| r.report_id = "has space".into(),
            "INVALID_FORMAT",
        ),
        (
            "report_id",
            |r| r.report_id = "r".repeat(129),
            "INVALID_FORMAT",
        ),
    ],
    &[
        ("situation_id", |r| r.situation_id.clear(), "REQUIRED"),
        (
            "situation_id",
            |r| r.situation_id = "S/1".into(),
            "INVALID_FORMAT",
        ),
        (
            "situation_id",
            |r| r.situation_id = "s".repeat(65),
            "INVALID_FORMAT",
        ),
    ],
    &[("revision", |r| r.revision = 0, "REQUIRED")],
    &[
        ("reporting_agency", |r| r.reporting_agency = 0, "REQUIRED"),
        (
            "reporting_agency",
            |r| r.reporting_agency = 42,
            "UNKNOWN_CODE",
        ),
        // The subject is IOM's.
        (
            "reporting_agency",
            |r| r.reporting_agency = Agency::Unhcr as i32,
            "CONFLICT",
        ),
    ],
    &[
        ("reported_at", |r| r.reported_at = None, "REQUIRED"),
        (
            "reported_at",
            |r| {
                r.reported_at = Some(tandem_proto::timestamp::from_system_time(
                    SystemTime::now() + std::time::Duration::from_secs(600),
                ));
            },
            "OUT_OF_RANGE",
        ),
    ],
    &[
        ("country", |r| r.country.clear(), "REQUIRED"),
        ("country", |r| r.country = "col".into(), "INVALID_FORMAT"),
        ("country", |r| r.country = "QQQ".into(), "UNKNOWN_CODE"),
    ],
    &[
        (
            "location_name",
            |r| r.location_name = "l".repeat(201),
            "OUT_OF_RANGE",
        ),
        (
            "location_name",
            |r| r.location_name = "ask jane.doe@example.org".into(),
            "PERSONAL_DATA",
        ),
    ],
    &[
        ("scope", |r| r.scope = 0, "REQUIRED"),
        ("scope", |r| r.scope = 77, "UNKNOWN_CODE"),
    ],
    &[
        ("driver", |r| r.driver = 0, "REQUIRED"),
        ("driver", |r| r.driver = 77, "UNKNOWN_CODE"),
    ],
    &[
        ("phase", |r| r.phase = 0, "REQUIRED"),
        ("phase", |r| r.phase = 77, "UNKNOWN_CODE"),
    ],
    &[
        ("notes", |r| r.notes = "n".repeat(2_001), "OUT_OF_RANGE"),
        (
            "notes",
            |r| r.notes = "call jane.doe@example.org".into(),
            "PERSONAL_DATA",
        ),
    ],
    &[(
        "population[0].count",
        |r| r.population[0].count = 100_000_001,
        "OUT_OF_RANGE",
    )],
    &[(
        "population[0].as_of",
        |r| r.population[0].as_of = "15/01/2026".into(),
        "INVALID_FORMAT",
    )],
    &[(
        "designated_leads[0]",
        |r| {
            r.designated_leads = vec![9];
            r.designation_reference = "SG decision of 12 April 2018".into();
        },
        "UNKNOWN_CODE",
    )],
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// A report is valid exactly when nothing in it is broken: a valid report with any set of
    /// its fields broken (each way judged here from docs/design.md's table, not by the
    /// validator) gets exactly one reason per broken field, and none when nothing is broken.
    #[test]
    fn each_broken_field_gets_its_reason_and_nothing_else(
        breaks in proptest::collection::vec((proptest::bool::weighted(0.15), any::<u8>()), BREAKS.len()),
    ) {
        let mut report = report("generated", "S-GENERATED", 1);
        let mut expected: Vec<(String, String)> = BREAKS
            .iter()
            .zip(&breaks)
            .filter(|(_, (broken, _))| *broken)
            .map(|(ways, (_, choice))| {
                let (field, apply, code) = ways[usize::from(*choice) % ways.len()];
                apply(&mut report);
                (field.to_string(), code.to_string())
            })
            .collect();
        let mut found: Vec<(String, String)> = validate::validate(&report, (Agency::Iom, ""), SystemTime::now())
            .into_vec()
            .into_iter()
            .map(|r| (r.field, r.code))
            .collect();
        expected.sort();
        found.sort();
        prop_assert_eq!(found, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// Any report, however wrong, is judged without panicking; every reason names a known code
    /// and explains itself, and the rejection stays under its bound.
    #[test]
    fn validation_is_total(report in arbitrary_report()) {
        let now = SystemTime::now();
        let reasons = validate::validate(&report, (Agency::Iom, ""), now);
        let rejection = validate::rejection(&report.report_id, &report.situation_id, (Agency::Iom, ""), reasons, now);
        prop_assert!(rejection.encoded_len() <= validate::MAX_REJECTION_BYTES);
        for reason in &rejection.reasons {
            prop_assert!(["REQUIRED", "INVALID_FORMAT", "OUT_OF_RANGE", "UNKNOWN_CODE", "DUPLICATE_GROUP", "CONFLICT", "PERSONAL_DATA", "TOO_MANY", "MORE_REASONS", "DESIGNATION_NOT_ALLOWED", "REGIONAL_NOT_ALLOWED"].contains(&reason.code.as_str()), "{:?}", reason);
            prop_assert!(!reason.message.is_empty());
        }
        // Encoding and decoding again gives the same judgement.
        if let Ok(decoded) = validate::decode(&report.encode_to_vec()) {
            prop_assert_eq!(validate::validate(&decoded, (Agency::Iom, ""), now).into_vec(), rejection.reasons);
        }
    }

    /// Arbitrary bytes are decoded or refused, never a panic.
    #[test]
    fn decoding_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(refused) = validate::decode(&bytes) {
            prop_assert_eq!(refused.reason.code, "UNDECODABLE");
        }
    }
}
