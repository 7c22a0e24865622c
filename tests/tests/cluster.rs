//! Intake and leadership on a 3-node JetStream cluster with R3 streams, one node killed while
//! reports stream in and restarted later: every report has exactly one outcome, every accepted
//! report exactly one determination step, nothing lost, nothing duplicated.
//!
//! The publisher behaves as agency systems are told to: a publish that fails while the cluster
//! elects new leaders is retried with the same `Nats-Msg-Id`, which the stream's duplicate
//! window turns into exactly one stored report.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, Instant},
};

use async_nats::{HeaderMap, jetstream};
use prost::Message as _;
use tandem_intake::IntakeConfig;
use tandem_leadership::LeadershipConfig;
use tandem_proto::v1::{
    Agency, LeadershipDetermination, PopulationGroup, SituationAccepted, SituationRejected,
    SituationReport,
};
use tandem_runtime::{Shutdown, config::CommonConfig, topology};
use tandem_testkit::{
    cluster::NatsCluster, init_test_log, reports::Report, stream_messages, wait_until_consumed,
};

/// Reports published in the test.
const REPORTS: usize = 320;
/// Situations they are spread over (so each situation gets several revisions).
const SITUATIONS: usize = 20;
/// Every this many reports one is invalid (its own situation, revision 0) and must be rejected.
const INVALID_EVERY: usize = 16;
/// Reports in flight at once, so that some are unacknowledged when the node dies.
const IN_FLIGHT: usize = 16;

/// Settings for a cluster: R3 everything, and a redelivery budget that outlasts a leader
/// election (`max_deliver` × `ack_wait` ≫ the seconds an election takes), so no report is
/// dead-lettered only because a node was lost.
fn common(nats_url: String) -> CommonConfig {
    let mut common = CommonConfig::default();
    common.nats.url = nats_url;
    common.storage.replicas = 3;
    common.consumer.max_deliver = 60;
    common.consumer.ack_wait_secs = 5;
    common.consumer.retry_base_ms = 100;
    common
}

fn report(index: usize) -> SituationReport {
    let invalid = index % INVALID_EVERY == INVALID_EVERY - 1;
    let (situation, revision) = if invalid {
        (format!("BAD-{index}"), 0)
    } else {
        (
            format!("CL-{}", index % SITUATIONS),
            u32::try_from(index / SITUATIONS + 1).expect("small"),
        )
    };
    Report::new(
        Agency::Iom,
        &format!("cluster-{index}"),
        &situation,
        revision,
    )
    .figures(
        "2026-01-15",
        "DTM",
        &[
            (PopulationGroup::Migrant, 1_000 + index as u64),
            (PopulationGroup::Refugee, 500),
        ],
    )
    .build()
}

/// Publishes `report` as IOM and returns its stream sequence, retrying a failed publish with
/// the same `Nats-Msg-Id` until the stream acknowledges it.
async fn submit(js: &jetstream::Context, report: &SituationReport) -> (u64, usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let payload: bytes::Bytes = report.encode_to_vec().into();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("iom:{}", report.report_id).as_str());
        let result = async {
            js.publish_with_headers(topology::intake_subject("iom"), headers, payload.clone())
                .await?
                .await
                .map_err(anyhow::Error::from)
        }
        .await;
        match result {
            Ok(ack) => return (ack.sequence, attempts),
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "report {} not stored within 90 s: {error:#}",
                    report.report_id
                );
                // A backoff between attempts, not a wait for a condition: the next attempt
                // is what observes whether the cluster has recovered.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Submits `reports`, `IN_FLIGHT` at a time; returns (report id, sequence, attempts) each.
async fn submit_all(
    js: &jetstream::Context,
    reports: Vec<SituationReport>,
) -> Vec<(String, u64, usize)> {
    use futures::StreamExt as _;
    futures::stream::iter(reports)
        .map(|report| async move {
            let (sequence, attempts) = submit(js, &report).await;
            (report.report_id, sequence, attempts)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await
}

struct Service {
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Service {
    /// Fails the test at once when the service stopped on its own (its error is in the log).
    fn assert_running(&self, name: &str) {
        assert!(!self.task.is_finished(), "{name} stopped unexpectedly");
    }

    async fn stop(self, name: &str) {
        self.shutdown.trigger();
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(joined) => joined
                .expect("service task")
                .unwrap_or_else(|error| panic!("{name} failed: {error:#}")),
            Err(_) => panic!("{name} did not stop within 30 s"),
        }
    }
}

/// Waits until `consumer` has handled everything, riding out API errors while the cluster
/// settles after the restart.
async fn settled(js: &jetstream::Context, stream: &str, consumer: &str) {
    wait_until_consumed(js, stream, consumer, Duration::from_secs(180)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_lost_and_restarted_mid_stream_loses_and_duplicates_nothing() {
    init_test_log();
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3);
    cluster.wait_for_jetstream(Duration::from_secs(60)).await;
    let js = jetstream::new(cluster.client().await);
    // The streams exist before anyone publishes (the services create them too; creation is
    // idempotent). Meta-leader changes right after start can fail a first attempt.
    let storage = common(String::new()).storage;
    for stream in topology::intake_streams(&storage).into_iter().chain([
        topology::events_stream(&storage),
        topology::rejections_stream(&storage),
        topology::dlq_stream(&storage),
    ]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(error) = topology::ensure_stream(&js, stream.clone()).await {
            assert!(
                Instant::now() < deadline,
                "cannot create {}: {error:#}",
                stream.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let info = js
            .get_stream(&stream.name)
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .clone();
        assert_eq!(info.config.num_replicas, 3, "{} is R3", stream.name);
    }

    // The node killed is the leader of TANDEM_INTAKE_IOM (the reports are IOM's): publishes in flight then fail and the
    // stream must elect a new leader.
    let leader = js
        .get_stream(topology::INTAKE_IOM_STREAM)
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .cluster
        .clone()
        .and_then(|c| c.leader)
        .expect("TANDEM_INTAKE_IOM has a leader");
    let victim = (0..cluster.size())
        .find(|i| cluster.name(*i) == leader)
        .expect("the leader is a node");
    // The services are given the victim's URL only, so their connection is the one lost and
    // they must fail over to the peers the server announced (INFO `connect_urls`); in
    // production NATS_URL lists every node, comma-separated.
    let nats_url = cluster.url(victim);
    let intake = {
        let shutdown = Shutdown::new();
        let config = IntakeConfig {
            common: common(nats_url.clone()),
        };
        Service {
            task: tokio::spawn(tandem_intake::run(config, shutdown.clone())),
            shutdown,
        }
    };
    let leadership = {
        let shutdown = Shutdown::new();
        let config = LeadershipConfig {
            common: common(nats_url.clone()),
            gap_wait_ms: 1_000,
            ..Default::default()
        };
        Service {
            task: tokio::spawn(tandem_leadership::run(config, shutdown.clone())),
            shutdown,
        }
    };

    // The services are up (registered, so their streams, buckets and consumers exist) before
    // the node is lost: what is tested is losing a node under load, not a failed start.
    let client = cluster.client().await;
    for service in ["tandem-intake", "tandem-leadership"] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while client
            .request(format!("$SRV.PING.{service}"), "".into())
            .await
            .is_err()
        {
            intake.assert_running("intake");
            leadership.assert_running("leadership");
            assert!(Instant::now() < deadline, "{service} did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let kill_at = REPORTS / 3;
    let restart_at = 2 * REPORTS / 3;
    let mut sequences: HashMap<String, u64> = HashMap::new();
    let mut retried = 0;
    let mut outage = Duration::ZERO;
    for (from, to) in [(0, kill_at), (kill_at, restart_at), (restart_at, REPORTS)] {
        if from == kill_at {
            // Kill while the first reports of this part are in flight.
            let reports: Vec<SituationReport> = (from..to).map(report).collect();
            let killer = async {
                tokio::task::yield_now().await;
                cluster.kill(victim);
            };
            let (results, ()) = tokio::join!(submit_all(&js, reports), killer);
            let mut retried_here = 0;
            for (report_id, sequence, attempts) in results {
                retried_here += attempts - 1;
                sequences.insert(report_id, sequence);
            }
            // The kill hit publishes in flight: some were not acknowledged by the dying
            // leader and had to be sent again.
            assert!(retried_here > 0, "the node died with no publish in flight");
            retried += retried_here;
            continue;
        }
        if from == restart_at {
            // Everything published so far is handled on the two remaining nodes before the
            // victim comes back: the services failed over and kept working.
            settled(&js, topology::INTAKE_IOM_STREAM, "tandem-intake-iom").await;
            settled(&js, topology::EVENTS_STREAM, "tandem-leadership").await;
            intake.assert_running("intake");
            leadership.assert_running("leadership");
            outage = started.elapsed();
            cluster.restart(victim);
        }
        let reports: Vec<SituationReport> = (from..to).map(report).collect();
        for (report_id, sequence, attempts) in submit_all(&js, reports).await {
            retried += attempts - 1;
            sequences.insert(report_id, sequence);
        }
    }
    let published_in = started.elapsed();

    // Nothing lost, nothing stored twice: one stored report per report, on distinct sequences.
    let stored = stream_messages(&js, topology::INTAKE_IOM_STREAM).await;
    assert_eq!(stored.len(), REPORTS, "each report stored exactly once");
    let distinct: HashSet<u64> = sequences.values().copied().collect();
    assert_eq!(distinct.len(), REPORTS);

    settled(&js, topology::INTAKE_IOM_STREAM, "tandem-intake-iom").await;
    settled(&js, topology::EVENTS_STREAM, "tandem-leadership").await;
    intake.assert_running("intake");
    leadership.assert_running("leadership");

    let mut events = stream_messages(&js, topology::EVENTS_STREAM).await;
    events.extend(stream_messages(&js, topology::REJECTIONS_STREAM).await);
    let mut outcomes: HashMap<String, Vec<&'static str>> = HashMap::new();
    // Acceptance order is intake's numbering (`situation_sequence`), not stream order: an
    // acceptance whose announcement was lost with the node is announced later, under its number.
    let mut accepted_per_situation: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    let mut determinations: Vec<(String, LeadershipDetermination)> = Vec::new();
    // Valid reports rejected as stale: (report index, its situation and revision).
    let mut stale: Vec<(usize, String, u32)> = Vec::new();
    let mut event_ids = HashSet::new();
    for message in &events {
        let id = message
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.to_string())
            .unwrap_or_default();
        assert!(event_ids.insert(id.clone()), "event id {id} stored twice");
        let subject = message.subject.as_str();
        if subject.starts_with("tandem.situation.accepted.") {
            let event = SituationAccepted::decode(message.payload.clone()).expect("decodes");
            let report = event.report.expect("report");
            assert_eq!(
                id,
                topology::intake_outcome_id(
                    topology::INTAKE_IOM_STREAM,
                    sequences[&report.report_id]
                )
            );
            outcomes
                .entry(report.report_id.clone())
                .or_default()
                .push("accepted");
            accepted_per_situation
                .entry(report.situation_id.clone())
                .or_default()
                .push((event.situation_sequence, report.report_id));
        } else if subject.starts_with("tandem.situation.rejected.") {
            let event = SituationRejected::decode(message.payload.clone()).expect("decodes");
            assert_eq!(
                id,
                topology::intake_outcome_id(
                    topology::INTAKE_IOM_STREAM,
                    sequences[&event.report_id]
                )
            );
            let index: usize = event
                .report_id
                .trim_start_matches("cluster-")
                .parse()
                .expect("our report id");
            let codes: Vec<&str> = event.reasons.iter().map(|r| r.code.as_str()).collect();
            if index % INVALID_EVERY == INVALID_EVERY - 1 {
                assert_eq!(codes, ["REQUIRED"], "{event:?}");
            } else {
                // Judged below against the acceptances: stale only behind a newer one.
                assert_eq!(codes, ["STALE_REVISION"], "{event:?}");
                let planned = report(index);
                stale.push((index, planned.situation_id, planned.revision));
            }
            outcomes
                .entry(event.report_id.clone())
                .or_default()
                .push("rejected");
        } else if subject.starts_with("tandem.leadership.determined.") {
            let determination =
                LeadershipDetermination::decode(message.payload.clone()).expect("decodes");
            determinations.push((id, determination));
        }
    }
    assert_eq!(outcomes.len(), REPORTS, "every report has an outcome");
    for (report_id, list) in &outcomes {
        assert_eq!(list.len(), 1, "{report_id} has outcomes {list:?}");
    }
    let accepted: usize = accepted_per_situation.values().map(Vec::len).sum();
    let invalid = REPORTS / INVALID_EVERY;
    // Every valid report is accepted, unless a newer revision of its situation was accepted
    // (its delivery failed during the node loss and came back after the newer one): a
    // rejection without that newer acceptance would be a report lost.
    let newest: HashMap<&str, u32> = accepted_per_situation
        .iter()
        .map(|(situation, numbered)| {
            let revision = numbered
                .iter()
                .map(|(_, report_id)| {
                    let index: usize = report_id
                        .trim_start_matches("cluster-")
                        .parse()
                        .expect("our report id");
                    report(index).revision
                })
                .max()
                .unwrap_or(0);
            (situation.as_str(), revision)
        })
        .collect();
    for (index, situation, revision) in &stale {
        let newest = newest.get(situation.as_str()).copied().unwrap_or(0);
        assert!(
            newest > *revision,
            "cluster-{index} (revision {revision} of {situation}) was rejected as stale, but the \
             newest accepted revision of {situation} is {newest}"
        );
    }
    assert_eq!(
        accepted + stale.len(),
        REPORTS - invalid,
        "every valid report is accepted or overtaken by a newer accepted revision"
    );

    // One determination step per accepted report: per situation, sequences 1..=n with n the
    // accepted reports, each resting on (naming) exactly one of them as its new report.
    let mut per_situation: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for (id, determination) in &determinations {
        assert_eq!(
            id,
            &format!(
                "determination:{}/{}",
                determination.situation_id, determination.sequence
            )
        );
        let based_on: Vec<&str> = determination
            .based_on
            .iter()
            .map(|b| b.report_id.as_str())
            .collect();
        assert_eq!(
            based_on.len(),
            1,
            "one reporting organisation: {based_on:?}"
        );
        per_situation
            .entry(determination.situation_id.clone())
            .or_default()
            .push((determination.sequence, based_on[0].to_string()));
    }
    assert_eq!(
        per_situation.keys().collect::<Vec<_>>(),
        accepted_per_situation.keys().collect::<Vec<_>>()
    );
    for (situation, steps) in &per_situation {
        let accepted = &accepted_per_situation[situation];
        let sequences: Vec<u64> = steps.iter().map(|(s, _)| *s).collect();
        let expected: Vec<u64> = (1..=accepted.len() as u64).collect();
        assert_eq!(
            sequences, expected,
            "{situation}: one step per accepted report"
        );
        let reflected: Vec<&String> = steps.iter().map(|(_, r)| r).collect();
        let mut numbered: Vec<&(u64, String)> = accepted.iter().collect();
        numbered.sort();
        let numbers: Vec<u64> = numbered.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            numbers, expected,
            "{situation}: every acceptance numbered once"
        );
        let accepted: Vec<&String> = numbered.iter().map(|(_, r)| r).collect();
        assert_eq!(
            reflected, accepted,
            "{situation}: reflected in acceptance order"
        );
    }

    // The restarted node is a full member again: it answers JetStream requests and holds the
    // streams (its replicas caught up).
    cluster.wait_for_jetstream(Duration::from_secs(60)).await;
    let node_js = jetstream::new(
        async_nats::connect(cluster.url(victim))
            .await
            .expect("restarted node"),
    );
    let mut intake_stream = node_js
        .get_stream(topology::INTAKE_IOM_STREAM)
        .await
        .expect("stream seen from the restarted node");
    let info = intake_stream.info().await.expect("info");
    assert_eq!(info.state.messages, REPORTS as u64);

    intake.stop("intake").await;
    leadership.stop("leadership").await;
    eprintln!(
        "cluster: {REPORTS} reports ({invalid} invalid), {accepted} accepted, {} overtaken (stale), {} determinations \
         over {} situations; {retried} publish retries; node {} (TANDEM_INTAKE_IOM's leader) killed, restarted at {outage:?}; \
         published in {published_in:?}, all settled in {:?}",
        stale.len(),
        determinations.len(),
        per_situation.len(),
        cluster.name(victim),
        started.elapsed()
    );
}
