//! One report's journey through the whole stack, as each user sees it, on the test world every
//! end-to-end test starts from ([`TestStack`]): the agency system gets its outcome, the
//! leadership record and the determination name the situation, IOM's country coordinator is
//! told once, and the analyst finds the situation in the dataset and its history. A report
//! that breaks the rules gets its reasons and goes no further.

use tandem_proto::v1::{Agency, Classification};
use tandem_runtime::topology;
use tandem_testkit::{
    DEADLINE, TestStack, clients::Outcome, eventually, reports::Report, wait_until_consumed,
};

const DIRECTORY: &str = r#"[{"id": "cc", "name": "C", "agency": "iom", "role": "COUNTRY_COORDINATOR",
    "countries": ["COL"], "channels": [{"nats": {}}]}]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_accepted_determined_notified_once_and_published_and_a_bad_one_is_not() {
    let stack = TestStack::builder()
        .all()
        .directory(DIRECTORY)
        .env("TANDEM_PUBLISH_INTERVAL_MS", "100")
        .start()
        .await;

    let report = Report::new(Agency::Iom, "journey-1", "COL-JOURNEY", 1).build();
    let outcome = stack.submit("iom", &report).await;
    assert!(matches!(outcome, Outcome::Accepted(..)), "{outcome:?}");

    let record = eventually("the leadership record", DEADLINE, || {
        stack.record("COL-JOURNEY")
    })
    .await;
    let determination = record.determination.expect("the current determination");
    assert_eq!(
        determination.classification(),
        Classification::MigrantSituation,
        "1,200 migrants and no refugees"
    );
    assert_eq!(
        stack
            .determinations()
            .await
            .iter()
            .filter(|d| d.situation_id == "COL-JOURNEY")
            .count(),
        1
    );

    let (subject, notification) = eventually("the country coordinator told", DEADLINE, || async {
        stack.notifications().await.into_iter().next()
    })
    .await;
    assert_eq!(subject, "tandem.notify.out.iom.cc");
    assert_eq!(notification.situation_id, "COL-JOURNEY");

    let dataset = stack.dataset();
    eventually("the situation published", DEADLINE, || async {
        let situations = dataset.situations().await.map_err(|e| format!("{e:#}"))?;
        let listed = situations["situations"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|row| row["situation_id"] == "COL-JOURNEY"));
        if listed {
            Ok(())
        } else {
            Err(situations.to_string())
        }
    })
    .await;
    let history = dataset
        .history("COL-JOURNEY")
        .await
        .expect("the history answers")
        .expect("the situation has a history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].determination.determination_id,
        determination.determination_id
    );

    // Revision 0 breaks the rules: rejected with its reason, never determined.
    let bad = Report::new(Agency::Iom, "journey-bad", "COL-BAD", 0).build();
    let outcome = stack.submit("iom", &bad).await;
    assert!(
        outcome
            .reasons()
            .iter()
            .any(|(field, _)| field == "revision"),
        "{outcome:?}"
    );
    assert!(stack.record("COL-BAD").await.is_none());
    wait_until_consumed(
        &stack.js,
        topology::EVENTS_STREAM,
        "tandem-notify-iom",
        DEADLINE,
    )
    .await;
    assert_eq!(
        stack.notifications().await.len(),
        1,
        "told once, of the first report only"
    );
}
