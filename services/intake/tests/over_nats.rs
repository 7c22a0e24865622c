//! Intake against a real nats-server: outcomes, deduplication, state rules, bad bytes, dead
//! letters, crashes and several instances.

mod common;

use std::{collections::HashMap, process::Stdio, time::Duration};

use common::*;
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::v1::{Agency, DeadLetter};
use tandem_runtime::topology;
use tandem_testkit::{
    NatsServer, consumer_info, init_test_log, stream_messages, wait_until_consumed,
};

#[tokio::test]
async fn an_accepted_report_is_announced_once_with_its_envelope() {
    init_test_log();
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    let report = report("iom-col-1", "COL-2026-01", 1);
    let first = submit(&js, "iom", &report).await;
    let second = submit(&js, "iom", &report).await;
    assert!(!first.duplicate);
    assert!(second.duplicate, "the same Nats-Msg-Id is stored once");
    // The same report id under another message id (a resubmission after the duplicate window):
    // nothing new to announce.
    submit_bytes(
        &js,
        "iom",
        "iom:iom-col-1:again",
        report.encode_to_vec(),
        None,
    )
    .await;

    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let Outcome::Accepted(accepted, headers) = &outcomes[0] else {
        panic!("expected acceptance, got {outcomes:?}");
    };
    assert_eq!(accepted.report.as_ref(), Some(&report));
    assert!(accepted.accepted_at.is_some());
    let header = |name: &str| headers.get(name).map(|v| v.to_string());
    assert_eq!(header("ce-specversion").as_deref(), Some("1.0"));
    assert_eq!(
        header("ce-type").as_deref(),
        Some("org.tandem.situation.accepted.v1")
    );
    assert_eq!(header("ce-source").as_deref(), Some("/tandem/intake"));
    assert_eq!(header("ce-subject").as_deref(), Some("COL-2026-01"));
    assert_eq!(
        header("ce-datacontenttype").as_deref(),
        Some("application/protobuf")
    );
    assert_eq!(
        header("Nats-Msg-Id").as_deref(),
        Some(topology::intake_outcome_id(&first.stream, first.sequence).as_str())
    );
    assert_eq!(header("ce-id"), header("Nats-Msg-Id"));
    assert!(header("ce-time").is_some_and(|t| t.ends_with('Z')));
    intake.stop().await;
}

#[tokio::test]
async fn a_report_with_several_problems_is_rejected_with_every_reason() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    let mut bad = report("iom-bad-1", "COL-2026-02", 0);
    bad.country = "XYZ".into();
    bad.notes = "ask juan@example.org".into();
    bad.population.push(bad.population[0].clone());
    submit(&js, "iom", &bad).await;

    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 1);
    let Outcome::Rejected(rejected, headers) = &outcomes[0] else {
        panic!("expected a rejection");
    };
    assert_eq!(rejected.report_id, "iom-bad-1");
    assert_eq!(rejected.situation_id, "COL-2026-02");
    assert_eq!(rejected.reporting_agency, Agency::Iom as i32);
    assert_eq!(
        outcomes[0].reasons(),
        vec![
            ("revision".to_string(), "REQUIRED".to_string()),
            ("country".to_string(), "UNKNOWN_CODE".to_string()),
            // The single fields first, then the repeated ones.
            ("notes".to_string(), "PERSONAL_DATA".to_string()),
            (
                "population[1].group".to_string(),
                "DUPLICATE_GROUP".to_string()
            ),
        ]
    );
    assert_eq!(
        headers.get("ce-type").map(|v| v.as_str()),
        Some("org.tandem.situation.rejected.v1")
    );
    let rejections = stream_messages(&js, topology::REJECTIONS_STREAM).await;
    assert_eq!(
        rejections[0].subject.as_str(),
        "tandem.situation.rejected.iom"
    );
    intake.stop().await;
}

#[tokio::test]
async fn designations_come_from_iom_or_unhcr_with_a_reference() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    let mut unreferenced = report("iom-designates-1", "BGD-1", 1);
    unreferenced.designated_leads = vec![Agency::Iom as i32];
    submit(&js, "iom", &unreferenced).await;
    let mut partner = tandem_testkit::reports::valid_report(Agency::Partner, "nrc-1", "BGD-1", 1);
    partner.reporter_org = "nrc".into();
    partner.designated_leads = vec![Agency::Partner as i32];
    submit_bytes(
        &js,
        "partner.nrc",
        "partner.nrc:nrc-1",
        partner.encode_to_vec(),
        None,
    )
    .await;
    let mut referenced = report("iom-designates-2", "BGD-1", 2);
    referenced.designated_leads = vec![Agency::Iom as i32, Agency::Unhcr as i32];
    referenced.designation_reference = "SG decision of 12 April 2018".into();
    submit(&js, "iom", &referenced).await;

    let outcomes = outcomes(&js).await;
    let by_id: HashMap<&str, &Outcome> = outcomes.iter().map(|o| (o.report_id(), o)).collect();
    assert_eq!(
        by_id["iom-designates-1"].reasons(),
        vec![("designation_reference".to_string(), "REQUIRED".to_string())]
    );
    assert_eq!(
        by_id["nrc-1"].reasons(),
        vec![
            (
                "designated_leads".to_string(),
                "DESIGNATION_NOT_ALLOWED".to_string()
            ),
            ("designation_reference".to_string(), "REQUIRED".to_string()),
        ]
    );
    assert!(matches!(by_id["iom-designates-2"], Outcome::Accepted(..)));
    intake.stop().await;
}

#[tokio::test]
async fn stale_revisions_and_a_second_country_are_rejected() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    submit(&js, "iom", &report("r2", "S-1", 2)).await;
    submit(&js, "iom", &report("r1", "S-1", 1)).await;
    let mut elsewhere = report("r3", "S-1", 3);
    elsewhere.country = "PER".into();
    submit(&js, "iom", &elsewhere).await;
    submit(&js, "iom", &report("r4", "S-1", 4)).await;

    let outcomes = outcomes(&js).await;
    let summary: Vec<(&str, Vec<(String, String)>)> = outcomes
        .iter()
        .map(|o| (o.report_id(), o.reasons()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("r2", vec![]),
            ("r1", vec![("revision".into(), "STALE_REVISION".into())]),
            ("r3", vec![("country".into(), "CONFLICT".into())]),
            ("r4", vec![]),
        ]
    );
    intake.stop().await;
}

#[tokio::test]
async fn garbage_and_oversized_bytes_are_rejected_and_intake_goes_on() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);

    submit_bytes(
        &js,
        "unhcr",
        "unhcr:garbage",
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01".to_vec(),
        None,
    )
    .await;
    let mut huge = report("big-1", "S-9", 1);
    huge.reporting_agency = Agency::Unhcr as i32;
    huge.notes = "x".repeat(70 * 1024);
    submit_bytes(&js, "unhcr", "unhcr:big-1", huge.encode_to_vec(), None).await;
    let mut fine = report("fine-1", "S-9", 1);
    fine.reporting_agency = Agency::Unhcr as i32;
    submit_bytes(&js, "unhcr", "unhcr:fine-1", fine.encode_to_vec(), None).await;

    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 3);
    assert_eq!(
        outcomes[0].reasons(),
        vec![(String::new(), "UNDECODABLE".to_string())]
    );
    let Outcome::Rejected(garbage, _) = &outcomes[0] else {
        unreachable!()
    };
    assert_eq!(
        garbage.reporting_agency,
        Agency::Unhcr as i32,
        "the rejection goes back to the publisher"
    );
    assert!(
        outcomes[1]
            .reasons()
            .contains(&(String::new(), "TOO_LARGE".to_string()))
    );
    assert_eq!(outcomes[1].report_id(), "big-1");
    assert!(matches!(outcomes[2], Outcome::Accepted(..)));
    intake.stop().await;
}

#[tokio::test]
async fn a_message_intake_cannot_process_goes_to_the_dead_letter_stream() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let intake = start_intake(&server);
    submit(&js, "iom", &report("ok-1", "S-OK", 1)).await;
    outcomes(&js).await;

    // A record no version of intake wrote: handling can never succeed.
    let bucket = js
        .get_key_value(topology::INTAKE_BUCKET)
        .await
        .expect("bucket");
    bucket
        .put("situation.S-BROKEN", "not a record".into())
        .await
        .expect("put");
    let poison = report("poison-1", "S-BROKEN", 1);
    let ack = submit(&js, "iom", &poison).await;

    wait_until_consumed(
        &js,
        topology::INTAKE_IOM_STREAM,
        tandem_proto::roster::INTAKE.durables[0],
        Duration::from_secs(30),
    )
    .await;
    let letters = stream_messages(&js, topology::DLQ_STREAM).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].subject.as_str(), "tandem.dlq.intake");
    let letter = DeadLetter::decode(letters[0].payload.clone()).expect("dead letter");
    assert_eq!(letter.service, "intake");
    assert_eq!(letter.subject, "tandem.intake.iom.report");
    assert_eq!(letter.stream, topology::INTAKE_IOM_STREAM);
    assert_eq!(letter.stream_sequence, ack.sequence);
    assert!(
        letter.error.contains("S-BROKEN") && letter.error.contains("corrupt"),
        "{}",
        letter.error
    );
    assert_eq!(
        letter.payload,
        poison.encode_to_vec(),
        "the original bytes, for replay"
    );
    assert!(letter.deliveries >= 1);
    let outcomes = outcomes(&js).await;
    assert_eq!(outcomes.len(), 1, "no outcome for the poison message");
    intake.stop().await;
}

/// Starts `tandem-intake` as its own process, as production runs it.
fn spawn_intake_process(server: &NatsServer) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_tandem-intake"))
        .env("NATS_URL", server.url())
        .env("TANDEM_CONSUMER__ACK_WAIT_SECS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tandem-intake")
}

/// Checks that every one of `reports` (all IOM's) got exactly one outcome: accepted, or
/// rejected as stale because a newer revision of its situation was accepted. (A report in
/// flight when an instance dies is redelivered after `ack_wait`; by then another instance may
/// have accepted a newer revision, which supersedes it.)
fn assert_one_outcome_each(outcomes: &[Outcome], reports: &[tandem_proto::v1::SituationReport]) {
    let revisions: HashMap<&str, u32> = reports
        .iter()
        .map(|r| (r.report_id.as_str(), r.revision))
        .collect();
    let mut per_report: HashMap<&str, usize> = HashMap::new();
    // Per situation, the acceptances numbered 1..n with revisions rising along the numbers
    // (several instances may announce them in another order: the numbers carry the order).
    let mut accepted: HashMap<String, Vec<(u64, u32)>> = HashMap::new();
    for outcome in outcomes {
        if let Outcome::Accepted(event, _) = outcome {
            let report = event.report.as_ref().expect("report");
            accepted
                .entry(report.situation_id.clone())
                .or_default()
                .push((event.situation_sequence, report.revision));
        }
    }
    for (situation, numbers) in &mut accepted {
        numbers.sort_unstable();
        let sequence: Vec<u64> = numbers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            sequence,
            (1..=numbers.len() as u64).collect::<Vec<_>>(),
            "{situation}: every number once"
        );
        assert!(
            numbers.windows(2).all(|w| w[0].1 < w[1].1),
            "{situation}: revisions rise with the numbers"
        );
    }
    for outcome in outcomes {
        if let Outcome::Rejected(event, _) = outcome {
            assert_eq!(
                outcome.reasons(),
                vec![("revision".to_string(), "STALE_REVISION".to_string())]
            );
            let revision = revisions[event.report_id.as_str()];
            let newest = accepted
                .get(&event.situation_id)
                .and_then(|numbers| numbers.iter().map(|(_, r)| *r).max())
                .unwrap_or(0);
            assert!(
                newest > revision,
                "{} (revision {revision}) was rejected as stale, but the newest accepted revision \
                 of {} is {newest}",
                event.report_id,
                event.situation_id
            );
        }
        *per_report.entry(outcome.report_id()).or_default() += 1;
    }
    assert_eq!(
        per_report.len(),
        reports.len(),
        "every report has an outcome"
    );
    assert!(
        per_report.values().all(|n| *n == 1),
        "no report has two outcomes"
    );
}

#[tokio::test]
async fn intake_killed_mid_stream_loses_no_report_and_duplicates_no_outcome() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let mut intake = spawn_intake_process(&server);

    const REPORTS: usize = 600;
    let reports: Vec<_> = (0..REPORTS)
        .map(|i| {
            report(
                &format!("k-{i}"),
                &format!("S-{}", i % 50),
                (i / 50 + 1) as u32,
            )
        })
        .collect();
    for report in &reports[..REPORTS / 2] {
        submit(&js, "iom", report).await;
    }
    // Kill it (SIGKILL) once it is part-way through the first half.
    let events = js
        .get_stream(topology::EVENTS_STREAM)
        .await
        .expect("events stream");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while events.get_info().await.expect("info").state.messages < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "intake produced no outcome"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    intake.kill().expect("kill");
    intake.wait().expect("reaped");
    // The kill hit work in progress: the server still counts deliveries to the dead process
    // that were never acknowledged (they come back after `ack_wait`).
    let consumer = consumer_info(&js, topology::INTAKE_IOM_STREAM, "tandem-intake-iom").await;
    assert!(
        consumer.num_ack_pending > 0,
        "the kill hit no work in flight: nothing unacknowledged"
    );
    for report in &reports[REPORTS / 2..] {
        submit(&js, "iom", report).await;
    }
    let mut restarted = spawn_intake_process(&server);
    let outcomes = outcomes(&js).await;
    assert_one_outcome_each(&outcomes, &reports);
    restarted.kill().expect("kill");
    let _ = restarted.wait();
}

#[tokio::test]
async fn two_instances_share_the_work_without_duplicate_outcomes() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let mut first = spawn_intake_process(&server);
    let mut second = spawn_intake_process(&server);
    let client = server.client().await;
    // Both registered with the service API before any work arrives.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if service_stats(&client).await.len() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both instances register"
        );
    }

    const REPORTS: usize = 1000;
    let reports: Vec<_> = (0..REPORTS)
        .map(|i| {
            report(
                &format!("t-{i}"),
                &format!("S-{}", i % 100),
                (i / 100 + 1) as u32,
            )
        })
        .collect();
    for report in &reports {
        submit(&js, "iom", report).await;
    }
    let outcomes = outcomes(&js).await;
    assert_one_outcome_each(&outcomes, &reports);
    let processed: Vec<u64> = service_stats(&client).await;
    assert_eq!(processed.len(), 2);
    assert_eq!(
        processed.iter().sum::<u64>(),
        REPORTS as u64,
        "{processed:?}"
    );
    assert!(
        processed.iter().all(|n| *n > 0),
        "both instances took work: {processed:?}"
    );
    for child in [&mut first, &mut second] {
        child.kill().expect("kill");
        let _ = child.wait();
    }
}

/// The `processed` counter of every running intake instance, from `$SRV.STATS`.
async fn service_stats(client: &async_nats::Client) -> Vec<u64> {
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish_with_reply("$SRV.STATS.tandem-intake", inbox, "".into())
        .await
        .expect("request");
    let mut processed = Vec::new();
    while let Ok(Some(reply)) =
        tokio::time::timeout(Duration::from_millis(500), replies.next()).await
    {
        if reply.status.is_some() {
            // "no responders" before any instance registered
            continue;
        }
        let stats: serde_json::Value = serde_json::from_slice(&reply.payload).expect("stats json");
        let value = stats["endpoints"][0]["data"]["processed"]
            .as_u64()
            .expect("processed counter");
        processed.push(value);
    }
    processed
}
