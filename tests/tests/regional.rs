//! Regional situations (docs/design.md, "Regional situations") on a real stack: the R4V-like
//! story of one displacement counted in Colombia, Ecuador and Peru.
//!
//! - one regional determination on the regional totals and three country operations, bound
//!   by the regional arrangement under the shipped policy, each classified on its own figures
//!   under a policy with `[operations] classify = "own"`; `tandem situation get --json` shows
//!   them under `"operations"`;
//! - IOM's country coordinator for Ecuador hears of Ecuador's operation, IOM's regional
//!   coordinator of the situation as a whole;
//! - a situation never declared regional refuses a report for another country with the
//!   reason, and a partner cannot declare a situation regional;
//! - a UNHCR report designating the leads of Colombia's operation (`designation_country`)
//!   binds that operation only, on the bus and in `situation get --json`; intake refuses a
//!   designation naming a country the situation does not have, from a partner, or on a
//!   situation that is not regional.

use tandem_proto::v1::{
    Agency, Arrangement, Classification, LeadershipDetermination, NotificationKind,
    PopulationGroup::{Migrant, Refugee},
};
use tandem_testkit::{
    DEADLINE, TestStack, clients::Outcome, eventually, reports::Report, services::binary,
};

const SITUATION: &str = "R4V-TEST";

const DIRECTORY: &str = r#"
- {id: iom-col-cc, name: A, agency: AGENCY_IOM, role: COUNTRY_COORDINATOR, countries: [COL], channels: [{nats: {}}]}
- {id: iom-ecu-cc, name: B, agency: AGENCY_IOM, role: COUNTRY_COORDINATOR, countries: [ECU], channels: [{nats: {}}]}
- {id: iom-per-cc, name: C, agency: AGENCY_IOM, role: COUNTRY_COORDINATOR, countries: [PER], channels: [{nats: {}}]}
- {id: iom-andes-rc, name: D, agency: AGENCY_IOM, role: REGIONAL_COORDINATOR, countries: [COL, ECU, PER], channels: [{nats: {}}]}
"#;

/// Colombia mostly migrants, Ecuador mostly refugees, Peru half and half: 15,000 of each in
/// the region, a mixed movement as a whole. IOM's first report declares the situation
/// regional; revisions increase per agency across the countries.
fn story() -> Vec<(&'static str, tandem_proto::v1::SituationReport)> {
    let report = |agency, revision, country: &str, group, count| {
        Report::new(
            agency,
            &format!("{country}-{agency:?}"),
            SITUATION,
            revision,
        )
        .country(country)
        .figures("2026-01-15", "joint count", &[(group, count)])
    };
    vec![
        (
            "iom",
            report(Agency::Iom, 1, "COL", Migrant, 9_000)
                .regional()
                .build(),
        ),
        (
            "unhcr",
            report(Agency::Unhcr, 1, "COL", Refugee, 1_000).build(),
        ),
        ("iom", report(Agency::Iom, 2, "ECU", Migrant, 1_000).build()),
        (
            "unhcr",
            report(Agency::Unhcr, 2, "ECU", Refugee, 9_000).build(),
        ),
        ("iom", report(Agency::Iom, 3, "PER", Migrant, 5_000).build()),
        (
            "unhcr",
            report(Agency::Unhcr, 3, "PER", Refugee, 5_000).build(),
        ),
    ]
}

/// Submits the story and returns the determination reflecting all six reports.
async fn tell_the_story(stack: &TestStack) -> LeadershipDetermination {
    for (org, report) in story() {
        let outcome = stack.submit(org, &report).await;
        assert!(
            matches!(outcome, Outcome::Accepted(..)),
            "{} refused: {:?}",
            report.report_id,
            outcome.reasons()
        );
    }
    eventually("all six reports determined", DEADLINE, || async {
        let determination = stack.record(SITUATION).await?.determination?;
        (determination.based_on.len() == 6).then_some(determination)
    })
    .await
}

fn classifications(determination: &LeadershipDetermination) -> Vec<(&str, Classification)> {
    determination
        .operations
        .iter()
        .map(|o| (o.country.as_str(), o.classification()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_situation_with_reports_from_col_ecu_and_per_gets_one_regional_determination_and_three_operations_bound_by_default_and_separately_classified_under_a_policy_that_says_so()
 {
    use Classification::{MigrantSituation, MixedMovement, RefugeeSituation};

    // The shipped policy: the regional arrangement binds the operations.
    let stack = TestStack::builder().intake().leadership().start().await;
    let determination = tell_the_story(&stack).await;
    assert!(determination.regional);
    assert_eq!(
        determination.country, "COL",
        "the country of the first report"
    );
    assert_eq!(
        determination.classification(),
        MixedMovement,
        "on the regional totals"
    );
    assert_eq!(determination.arrangement(), Arrangement::JointPlatform);
    assert_eq!(
        classifications(&determination),
        [
            ("COL", MixedMovement),
            ("ECU", MixedMovement),
            ("PER", MixedMovement)
        ]
    );
    for operation in &determination.operations {
        assert_eq!(
            operation.rationale[0].rule_id, "operation_bound",
            "{operation:?}"
        );
        assert_eq!(operation.based_on.len(), 2, "its own two reports");
    }
    // Each operation still shows its own figures.
    let shares: Vec<String> = determination
        .operations
        .iter()
        .map(|o| format!("{:.2}", o.protection_share))
        .collect();
    assert_eq!(shares, ["0.10", "0.90", "0.50"]);
    // One determination per report, all on Colombia's subject.
    let published: Vec<LeadershipDetermination> = stack
        .determinations()
        .await
        .into_iter()
        .filter(|d| d.situation_id == SITUATION)
        .collect();
    assert_eq!(published.len(), 6);
    assert!(published.iter().all(|d| d.country == "COL" && d.regional));

    // What a script reads from the CLI: the whole's fields, and "operations".
    let json = situation_json(&stack, SITUATION);
    assert_eq!(json["classification"], "CLASSIFICATION_MIXED_MOVEMENT");
    let operations = json["operations"].as_array().expect("an operations array");
    let countries: Vec<&str> = operations
        .iter()
        .filter_map(|o| o["country"].as_str())
        .collect();
    assert_eq!(countries, ["COL", "ECU", "PER"]);
    assert!(
        operations
            .iter()
            .all(|o| o["classification"] == "CLASSIFICATION_MIXED_MOVEMENT"
                && o["arrangement"] == "ARRANGEMENT_JOINT_PLATFORM"
                && o["lead_agencies"]
                    .as_array()
                    .is_some_and(|leads| leads.len() == 2)),
        "{json}"
    );
    drop(stack);

    // A policy that classifies operations on their own figures.
    let dir = tempfile::tempdir().expect("a directory for the policy");
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/policy/leadership-v1.toml"
    ))
    .expect("the shipped policy");
    let own = shipped.replacen("classify = \"regional\"", "classify = \"own\"", 1);
    assert_ne!(
        own, shipped,
        "the shipped policy no longer has the line this test edits"
    );
    let path = dir.path().join("own.toml");
    std::fs::write(&path, own).expect("write the policy");
    let stack = TestStack::builder()
        .intake()
        .leadership()
        .env("TANDEM_POLICY_FILE", &path.display().to_string())
        .start()
        .await;
    let determination = tell_the_story(&stack).await;
    assert_eq!(
        determination.classification(),
        MixedMovement,
        "the whole is the same"
    );
    assert_eq!(
        classifications(&determination),
        [
            ("COL", MigrantSituation),
            ("ECU", RefugeeSituation),
            ("PER", MixedMovement)
        ]
    );
    let leads: Vec<Vec<i32>> = determination
        .operations
        .iter()
        .map(|o| o.lead_agencies.clone())
        .collect();
    assert_eq!(
        leads,
        [
            vec![Agency::Iom as i32],
            vec![Agency::Unhcr as i32],
            vec![Agency::Iom as i32, Agency::Unhcr as i32]
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn country_coordinators_hear_of_their_operation_and_regional_coordinators_of_the_situation() {
    let stack = TestStack::builder()
        .intake()
        .leadership()
        .notify_iom()
        .directory(DIRECTORY)
        .start()
        .await;
    tell_the_story(&stack).await;
    // Under the binding policy the situation is a migrant situation until Ecuador's refugees
    // are counted, then a mixed movement: the whole changes twice (told to the regional
    // coordinator), Colombia's and Ecuador's operations twice (appearing, then bound to the
    // mixed movement), Peru's once.
    let told = eventually("every coordinator told", DEADLINE, || async {
        let told = stack.notifications().await;
        (told.len() >= 7).then_some(told)
    })
    .await;
    let to = |id: &str| -> Vec<&tandem_proto::v1::Notification> {
        told.iter()
            .filter(|(subject, _)| subject == &format!("tandem.notify.out.iom.{id}"))
            .map(|(_, n)| n)
            .collect()
    };
    let seen = |told: &[&tandem_proto::v1::Notification]| -> Vec<(String, String, Classification)> {
        told.iter()
            .map(|n| {
                (
                    n.operation_country.clone(),
                    n.country.clone(),
                    n.classification(),
                )
            })
            .collect()
    };
    use Classification::{MigrantSituation, MixedMovement};
    let ecuador = to("iom-ecu-cc");
    assert_eq!(
        seen(&ecuador),
        [
            ("ECU".into(), "ECU".into(), MigrantSituation),
            ("ECU".into(), "ECU".into(), MixedMovement)
        ]
    );
    assert!(
        ecuador
            .iter()
            .all(|n| n.kind() == NotificationKind::DeterminationChanged)
    );
    assert!(
        ecuador[1].summary.starts_with(
            "The ECU operation of regional situation R4V-TEST is now classified as mixed movement"
        ),
        "{}",
        ecuador[1].summary
    );
    assert_eq!(ecuador[1].rationale[0].rule_id, "operation_bound");
    assert_eq!(
        seen(&to("iom-andes-rc")),
        [
            (String::new(), "COL".into(), MigrantSituation),
            (String::new(), "COL".into(), MixedMovement)
        ],
        "the situation as a whole"
    );
    assert_eq!(seen(&to("iom-col-cc")).len(), 2);
    assert!(
        seen(&to("iom-col-cc"))
            .iter()
            .all(|(operation, ..)| operation == "COL")
    );
    assert_eq!(
        seen(&to("iom-per-cc")),
        [("PER".into(), "PER".into(), MixedMovement)]
    );
    assert_eq!(told.len(), 7, "nobody told twice of one change: {told:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_country_situation_refuses_another_country_and_a_partner_cannot_declare_it_regional()
 {
    let stack = TestStack::builder().intake().start().await;
    let colombia = Report::new(Agency::Iom, "col-1", "COL-ONLY", 1).build();
    assert!(matches!(
        stack.submit("iom", &colombia).await,
        Outcome::Accepted(..)
    ));

    let ecuador = Report::new(Agency::Iom, "ecu-1", "COL-ONLY", 2)
        .country("ECU")
        .build();
    let Outcome::Rejected(rejected, _) = stack.submit("iom", &ecuador).await else {
        panic!("a report for Ecuador on Colombia's situation must be refused");
    };
    assert_eq!(rejected.reasons.len(), 1, "{rejected:?}");
    let reason = &rejected.reasons[0];
    assert_eq!(
        (reason.field.as_str(), reason.code.as_str()),
        ("country", "CONFLICT")
    );
    assert!(
        reason
            .message
            .contains("situation COL-ONLY lies in COL, and it is not regional")
            && reason.message.contains("regional = true"),
        "{}",
        reason.message
    );

    let partner = Report::new(Agency::Partner, "nrc-1", "COL-ONLY", 1)
        .country("ECU")
        .regional()
        .build();
    let outcome = stack.submit("partner.nrc", &partner).await;
    let reasons = outcome.reasons();
    assert!(
        reasons.contains(&("regional".into(), "REGIONAL_NOT_ALLOWED".into())),
        "{reasons:?}"
    );

    // A single-country situation has no country operation a designation could name.
    let mut revoking = Report::new(Agency::Iom, "col-2", "COL-ONLY", 2).build();
    revoking.revoke_designation = true;
    revoking.designation_country = "COL".into();
    let Outcome::Rejected(rejected, _) = stack.submit("iom", &revoking).await else {
        panic!("a designation_country on a single-country situation must be refused");
    };
    assert_eq!(
        (
            rejected.reasons[0].field.as_str(),
            rejected.reasons[0].code.as_str()
        ),
        ("designation_country", "CONFLICT")
    );
    assert!(
        rejected.reasons[0]
            .message
            .contains("COL-ONLY is not regional"),
        "{}",
        rejected.reasons[0].message
    );

    // IOM declares it regional with its Ecuador report: accepted from then on.
    let declaring = Report::new(Agency::Iom, "ecu-2", "COL-ONLY", 3)
        .country("ECU")
        .regional()
        .build();
    assert!(matches!(
        stack.submit("iom", &declaring).await,
        Outcome::Accepted(..)
    ));
    let peru = Report::new(Agency::Unhcr, "per-1", "COL-ONLY", 1)
        .country("PER")
        .build();
    assert!(matches!(
        stack.submit("unhcr", &peru).await,
        Outcome::Accepted(..)
    ));
}

/// `tandem situation get ID --json` on the stack, parsed.
fn situation_json(stack: &TestStack, situation: &str) -> serde_json::Value {
    let output = std::process::Command::new(binary("tandem"))
        .args([
            "situation",
            "get",
            situation,
            "--json",
            "--nats-url",
            &stack.server.url(),
        ])
        .output()
        .expect("tandem runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("situation get --json prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unhcr_report_designating_the_leads_of_colombia_s_operation_binds_that_operation_only() {
    const REQUEST: &str = "Request of the Government of Colombia, 2018";
    let stack = TestStack::builder().intake().leadership().start().await;
    tell_the_story(&stack).await;

    let designating = |report_id: &str, revision: u32, country: &str| {
        let mut report = Report::new(Agency::Unhcr, report_id, SITUATION, revision)
            .country("COL")
            .figures("2026-02-15", "joint count", &[(Refugee, 1_000)])
            .build();
        report.designated_leads = vec![Agency::Iom as i32, Agency::Unhcr as i32];
        report.designation_reference = REQUEST.into();
        report.designation_country = country.into();
        report
    };
    // Brazil has no operation in the situation, and the report is for Colombia.
    let Outcome::Rejected(rejected, _) = stack
        .submit("unhcr", &designating("col-bra", 4, "BRA"))
        .await
    else {
        panic!("a designation for a country the situation does not have must be refused");
    };
    let reasons: Vec<(&str, &str)> = rejected
        .reasons
        .iter()
        .map(|r| (r.field.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(reasons, [("designation_country", "CONFLICT")]);
    assert!(
        rejected.reasons[0].message.contains("\"BRA\"")
            && rejected.reasons[0]
                .message
                .contains("operations in COL, ECU, PER"),
        "{}",
        rejected.reasons[0].message
    );
    let mut partner = designating("nrc-col", 1, "COL");
    partner.reporting_agency = Agency::Partner as i32;
    partner.reporter_org = "nrc".into();
    let reasons = stack.submit("partner.nrc", &partner).await.reasons();
    assert!(
        reasons.contains(&(
            "designation_country".into(),
            "DESIGNATION_NOT_ALLOWED".into()
        )),
        "{reasons:?}"
    );

    let outcome = stack
        .submit("unhcr", &designating("col-designates", 4, "COL"))
        .await;
    assert!(
        matches!(outcome, Outcome::Accepted(..)),
        "{:?}",
        outcome.reasons()
    );
    // The determination on the bus: Colombia's operation designated, the rest as they were.
    let published = eventually("Colombia's designation published", DEADLINE, || async {
        let published = stack
            .determinations()
            .await
            .into_iter()
            .rfind(|d| d.situation_id == SITUATION)?;
        published.operations[0]
            .designation
            .is_some()
            .then_some(published)
    })
    .await;
    assert_eq!(
        published.sequence, 7,
        "one determination per accepted report"
    );
    assert_eq!(
        published.arrangement(),
        Arrangement::JointPlatform,
        "the whole is not designated"
    );
    assert_eq!(published.designation, None);
    let arrangements: Vec<(&str, Arrangement, bool)> = published
        .operations
        .iter()
        .map(|o| (o.country.as_str(), o.arrangement(), o.changed))
        .collect();
    assert_eq!(
        arrangements,
        [
            ("COL", Arrangement::Designated, true),
            ("ECU", Arrangement::JointPlatform, false),
            ("PER", Arrangement::JointPlatform, false)
        ]
    );
    let colombia = &published.operations[0];
    assert_eq!(colombia.rationale[0].rule_id, "designation");
    assert_eq!(colombia.rationale[0].reference, REQUEST);
    assert!(
        colombia.rationale[0].text.contains("col-designates"),
        "{}",
        colombia.rationale[0].text
    );

    // What a script reads.
    let json = situation_json(&stack, SITUATION);
    assert_eq!(json["arrangement"], "ARRANGEMENT_JOINT_PLATFORM");
    assert!(json.get("designation").is_none(), "{json}");
    let operations = json["operations"].as_array().expect("operations");
    assert_eq!(operations[0]["arrangement"], "ARRANGEMENT_DESIGNATED");
    assert_eq!(
        operations[0]["designation"],
        serde_json::json!({
            "leads": ["AGENCY_IOM", "AGENCY_UNHCR"],
            "reference": REQUEST,
            "report_id": "col-designates",
            "recorded_by": "AGENCY_UNHCR",
            "country": "COL",
        })
    );
    assert!(
        operations[1..]
            .iter()
            .all(|o| o.get("designation").is_none()
                && o["arrangement"] == "ARRANGEMENT_JOINT_PLATFORM"),
        "{json}"
    );
}
