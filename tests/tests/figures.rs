//! Figures that mean what they say, end to end: reports written as an agency system writes them
//! (JSON, as in docs/agency-systems.md, "Figures per area, by origin, of undetermined status"),
//! submitted to intake, and the determination the coordinators read. Per-area figures that
//! contradict their totals are refused with a reason; origins, undetermined status, an old
//! authoritative figure and durable-solutions progress reach the determination.

use tandem_proto::v1::{Agency, Classification, SituationReport};
use tandem_testkit::{DEADLINE, TestStack, clients::Outcome, eventually};

/// A report as JSON with today's `reported_at` (intake refuses one from the future or without).
fn report(json: &str) -> SituationReport {
    let mut report: SituationReport =
        tandem_proto::json::from_str(json).unwrap_or_else(|error| panic!("{error}: {json}"));
    report.reported_at = Some(tandem_proto::timestamp::now());
    report
}

/// The determination of `situation` once its `sequence`-th is on the record.
async fn determination(
    stack: &TestStack,
    situation: &str,
    sequence: u64,
) -> tandem_proto::v1::LeadershipDetermination {
    eventually(
        format!("determination {situation}/{sequence}"),
        DEADLINE,
        || async {
            stack
                .record(situation)
                .await
                .and_then(|record| record.determination)
                .filter(|determination| determination.sequence >= sequence)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_by_area_origin_status_age_and_solutions_reach_the_determination() {
    let stack = TestStack::builder().intake().leadership().start().await;

    // Departments that add up to more than the country: refused, naming group, area and numbers.
    let contradictory = report(
        r#"{"report_id": "dtm-col-areas-bad", "situation_id": "COL-R4V", "revision": 1,
        "reporting_agency": "AGENCY_IOM", "country": "COL", "scope": "SCOPE_CROSS_BORDER",
        "driver": "DRIVER_MIXED", "phase": "PHASE_PROTRACTED", "on_the_move": true,
        "population": [
          {"group": "POPULATION_GROUP_UNDETERMINED", "origin": "VEN", "count": 6000, "as_of": "2026-01-31", "source": "DTM round 14"},
          {"group": "POPULATION_GROUP_UNDETERMINED", "origin": "VEN", "admin1_pcode": "CO54", "count": 4000, "as_of": "2026-01-31", "source": "DTM round 14"},
          {"group": "POPULATION_GROUP_UNDETERMINED", "origin": "VEN", "admin1_pcode": "CO08", "count": 2500, "as_of": "2026-01-31", "source": "DTM round 14"}
        ]}"#,
    );
    let Outcome::Rejected(rejected, _) = stack.submit("iom", &contradictory).await else {
        panic!("areas over the country's figure were accepted");
    };
    assert_eq!(rejected.reasons.len(), 1, "{:?}", rejected.reasons);
    let reason = &rejected.reasons[0];
    assert_eq!(
        (reason.field.as_str(), reason.code.as_str()),
        ("population[0].count", "INCONSISTENT_TOTAL")
    );
    assert_eq!(
        reason.message,
        "POPULATION_GROUP_UNDETERMINED from \"VEN\": the areas add up to 6500, more than the figure of 6000 for the whole country"
    );
    assert!(stack.record("COL-R4V").await.is_none(), "never determined");

    // The same report with consistent areas and 1,000 from Haiti by area only; UNHCR's refugee
    // figure is more than a year older than IOM's.
    let iom = report(
        r#"{"report_id": "dtm-col-areas", "situation_id": "COL-R4V", "revision": 1,
        "reporting_agency": "AGENCY_IOM", "country": "COL", "scope": "SCOPE_CROSS_BORDER",
        "driver": "DRIVER_MIXED", "phase": "PHASE_PROTRACTED", "on_the_move": true,
        "population": [
          {"group": "POPULATION_GROUP_UNDETERMINED", "origin": "VEN", "count": 6000, "as_of": "2026-01-31", "source": "DTM round 14"},
          {"group": "POPULATION_GROUP_UNDETERMINED", "origin": "VEN", "admin1_pcode": "CO54", "count": 3500, "as_of": "2026-01-31", "source": "DTM round 14"},
          {"group": "POPULATION_GROUP_UNDETERMINED", "origin": "HTI", "admin1_pcode": "CO54", "admin2_pcode": "CO54001", "count": 600, "as_of": "2026-01-31", "source": "DTM round 14"},
          {"group": "POPULATION_GROUP_UNDETERMINED", "origin": "HTI", "admin1_pcode": "CO54", "admin2_pcode": "CO54874", "count": 400, "as_of": "2026-01-31", "source": "DTM round 14"},
          {"group": "POPULATION_GROUP_REFUGEE", "count": 3000, "as_of": "2026-01-31", "source": "DTM round 14"},
          {"group": "POPULATION_GROUP_MIGRANT", "count": 2000, "as_of": "2026-01-31", "source": "DTM round 14"}
        ]}"#,
    );
    let unhcr = report(
        r#"{"report_id": "unhcr-col-2024", "situation_id": "COL-R4V", "revision": 1,
        "reporting_agency": "AGENCY_UNHCR", "country": "COL", "scope": "SCOPE_CROSS_BORDER",
        "driver": "DRIVER_MIXED", "phase": "PHASE_PROTRACTED", "on_the_move": true,
        "population": [
          {"group": "POPULATION_GROUP_REFUGEE", "count": 2600, "as_of": "2024-12-31", "source": "UNHCR registration"}
        ]}"#,
    );
    for (org, report) in [("iom", &iom), ("unhcr", &unhcr)] {
        let outcome = stack.submit(org, report).await;
        assert!(matches!(outcome, Outcome::Accepted(..)), "{outcome:?}");
    }
    let determined = determination(&stack, "COL-R4V", 2).await;
    // 7,000 of undetermined status of 12,000 counted: a mixed movement, whatever the share.
    assert_eq!(determined.classification(), Classification::MixedMovement);
    let rules: Vec<&str> = determined
        .rationale
        .iter()
        .map(|entry| entry.rule_id.as_str())
        .collect();
    assert_eq!(rules, ["undetermined_majority", "authority_yielded"]);
    let undetermined = determined
        .figures
        .iter()
        .find(|figure| figure.group == tandem_proto::v1::PopulationGroup::Undetermined as i32)
        .expect("the undetermined figure");
    assert_eq!(undetermined.count, 7_000);
    let origins: Vec<(&str, u64)> = undetermined
        .origins
        .iter()
        .map(|origin| (origin.origin.as_str(), origin.count))
        .collect();
    assert_eq!(origins, [("HTI", 1_000), ("VEN", 6_000)]);
    // UNHCR's 2024 figure yielded to IOM's, with the dates in the rationale.
    let refugees = &determined.figures[0];
    assert_eq!(
        (
            refugees.count,
            refugees.source_agency,
            refugees.as_of.as_str()
        ),
        (3_000, Agency::Iom as i32, "2026-01-31")
    );
    assert!(
        determined.rationale[1].text.contains("as of 2024-12-31")
            && determined.rationale[1].text.contains("as of 2026-01-31"),
        "{}",
        determined.rationale[1].text
    );

    // An internal situation in the solutions phase, with progress per IASC criterion.
    let solutions = report(
        r#"{"report_id": "dtm-ds-2026", "situation_id": "IRQ-DS", "revision": 1,
        "reporting_agency": "AGENCY_IOM", "country": "IRQ", "scope": "SCOPE_INTERNAL",
        "driver": "DRIVER_CONFLICT", "phase": "PHASE_SOLUTIONS",
        "population": [
          {"group": "POPULATION_GROUP_RETURNED_IDP", "count": 40000, "as_of": "2026-01-31", "source": "DTM"}
        ],
        "solutions_progress": [
          {"criterion": "DURABLE_SOLUTIONS_CRITERION_DOCUMENTATION", "share": 0.31, "as_of": "2026-01-31", "source": "DTM durable solutions survey 2026"},
          {"criterion": "DURABLE_SOLUTIONS_CRITERION_SAFETY_AND_SECURITY", "share": 0.8, "as_of": "2026-01-31", "source": "DTM durable solutions survey 2026"},
          {"criterion": "DURABLE_SOLUTIONS_CRITERION_LIVELIHOODS", "share": 0.45, "as_of": "2026-01-31", "source": "DTM durable solutions survey 2026"}
        ]}"#,
    );
    let outcome = stack.submit("iom", &solutions).await;
    assert!(matches!(outcome, Outcome::Accepted(..)), "{outcome:?}");
    let determined = determination(&stack, "IRQ-DS", 1).await;
    assert_eq!(
        determined.classification(),
        Classification::IdpDurableSolutions
    );
    let summary = determined.solutions.expect("progress summarised");
    assert_eq!(summary.criteria_reported, 3);
    assert_eq!(
        summary.weakest(),
        tandem_proto::v1::DurableSolutionsCriterion::Documentation
    );
    assert_eq!(
        determined.rationale.last().map(|entry| entry.text.as_str()),
        Some(
            "3 of 8 IASC durable solutions criteria reported; weakest: documentation 0.31 (as of 2026-01-31)."
        )
    );
}
