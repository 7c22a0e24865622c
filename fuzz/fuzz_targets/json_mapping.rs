//! Fuzz target `json_mapping`: arbitrary text through `tandem_proto::json::from_str` into a
//! `SituationReport` (the path of `tandem submit` and the demo). Nothing may panic; whatever
//! parses must come back equal through `to_string` → `from_str` and through protobuf encoding,
//! and must be judged by intake's validation without panicking.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tandem_intake::validate;
use tandem_proto::{Message as _, json, v1::SituationReport};

fuzz_target!(|text: &str| {
    let Ok(report) = json::from_str::<SituationReport>(text) else {
        return;
    };
    let rendered = json::to_string(&report);
    let back: SituationReport = json::from_str(&rendered)
        .unwrap_or_else(|e| panic!("rendered JSON {rendered:?} does not parse: {e}"));
    assert_eq!(
        back, report,
        "JSON round trip changed the report: {rendered}"
    );

    let bytes = report.encode_to_vec();
    match validate::decode(&bytes) {
        Ok(decoded) => assert_eq!(decoded, report, "protobuf round trip changed the report"),
        Err(refused) => assert!(
            bytes.len() > validate::MAX_REPORT_BYTES,
            "encoded report not decodable: {:?}",
            refused.reason
        ),
    }

    let now = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let agency = report.reporting_agency();
    let _ = validate::validate(&report, (agency, &report.reporter_org), now);
});
