//! The leadership service against a real nats-server: determinations in KV and on the stream,
//! idempotence under redelivery, several instances, and re-evaluation after a policy change.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime},
};

use async_nats::jetstream;
use prost::Message as _;
use tandem_leadership::{
    LeadershipConfig, REEVALUATE_SUBJECT, ReevaluateReply, situations::record_key,
};
use tandem_proto::v1::{
    Agency, Classification, Driver, LeadershipDetermination, LeadershipRecord, Phase,
    PopulationFigure, PopulationGroup, Scope, SituationReport,
};
use tandem_runtime::{Shutdown, topology};
use tandem_testkit::{
    NatsServer, init_test_log, reports::Report, stream_messages, wait_until_consumed,
};

struct Leadership {
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Leadership {
    fn start(server: &NatsServer, policy_file: Option<std::path::PathBuf>) -> Self {
        Self::start_with(LeadershipConfig {
            policy_file,
            ..Self::config(server)
        })
    }

    /// Test settings: quick redelivery and a short wait for a missing predecessor.
    fn config(server: &NatsServer) -> LeadershipConfig {
        let mut config = LeadershipConfig::default();
        config.common.nats.url = server.url();
        config.common.consumer.ack_wait_secs = 5;
        config.common.consumer.retry_base_ms = 20;
        config.gap_wait_ms = 2_000;
        config
    }

    fn start_with(config: LeadershipConfig) -> Self {
        let shutdown = Shutdown::new();
        let task = tokio::spawn(tandem_leadership::run(config, shutdown.clone()));
        Self { shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.task
            .await
            .expect("task")
            .expect("leadership ran cleanly");
    }
}

async fn ensure_streams(js: &jetstream::Context) {
    let storage = Default::default();
    for stream in [
        topology::events_stream(&storage),
        topology::dlq_stream(&storage),
    ] {
        topology::ensure_stream(js, stream).await.expect("stream");
    }
}

fn report(
    agency: Agency,
    situation: &str,
    revision: u32,
    refugees: u64,
    migrants: u64,
) -> SituationReport {
    let seconds = 1_770_000_000 + u64::from(revision) * 60 + agency as u64;
    let id = format!("{}-{situation}-{revision}", agency.as_str_name());
    Report::new(agency, &id, situation, revision)
        .reported_at(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
        .situation(Scope::CrossBorder, Driver::Unspecified, Phase::Unspecified)
        .figures(
            "",
            "",
            &[
                (PopulationGroup::Refugee, refugees),
                (PopulationGroup::Migrant, migrants),
            ],
        )
        .build()
}

/// Publishes an accepted report as intake would, numbered `number` within its situation.
async fn accept(js: &jetstream::Context, report: &SituationReport, number: u64, msg_id: &str) {
    tandem_testkit::reports::announce_accepted(js, report, msg_id, number).await;
}

async fn settled(js: &jetstream::Context) {
    wait_until_consumed(
        js,
        topology::EVENTS_STREAM,
        tandem_proto::roster::LEADERSHIP.durables[0],
        Duration::from_secs(60),
    )
    .await;
}

/// Determinations on the stream, in order.
async fn determinations(js: &jetstream::Context) -> Vec<(String, LeadershipDetermination)> {
    stream_messages(js, topology::EVENTS_STREAM)
        .await
        .into_iter()
        .filter(|m| m.subject.starts_with("tandem.leadership.determined."))
        .map(|m| {
            let id = m
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            (
                id,
                LeadershipDetermination::decode(m.payload).expect("determination decodes"),
            )
        })
        .collect()
}

async fn record(js: &jetstream::Context, situation: &str) -> LeadershipRecord {
    let bucket = js
        .get_key_value(topology::LEADERSHIP_BUCKET)
        .await
        .expect("bucket");
    let bytes = bucket
        .get(record_key(situation))
        .await
        .expect("get")
        .expect("record exists");
    LeadershipRecord::decode(bytes).expect("record decodes")
}

#[tokio::test]
async fn an_accepted_report_becomes_a_determination_in_kv_and_on_the_stream() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let leadership = Leadership::start(&server, None);

    accept(
        &js,
        &report(Agency::Iom, "COL-1", 1, 300_000, 910_000),
        1,
        "a1",
    )
    .await;
    accept(
        &js,
        &report(Agency::Unhcr, "COL-1", 1, 2_315_000, 0),
        2,
        "a2",
    )
    .await;
    settled(&js).await;

    let published = determinations(&js).await;
    assert_eq!(published.len(), 2);
    assert_eq!(published[0].0, "determination:COL-1/1");
    assert_eq!(published[1].0, "determination:COL-1/2");
    let (first, second) = (&published[0].1, &published[1].1);
    assert_eq!((first.sequence, second.sequence), (1, 2));
    assert_eq!(first.classification(), Classification::MixedMovement);
    assert!(first.changed, "the first determination is a change");
    assert_eq!(
        second.based_on.len(),
        2,
        "both agencies' reports are reconciled"
    );
    assert_eq!(
        second.lead_agencies,
        vec![Agency::Iom as i32, Agency::Unhcr as i32]
    );
    assert!(!second.discrepancies.is_empty() || second.figures.len() == 2);
    assert_eq!(second.policy_version, "v1");

    let stored = record(&js, "COL-1").await;
    assert_eq!(
        stored.determination.as_ref(),
        Some(second),
        "KV holds the latest determination"
    );
    assert!(stored.published);
    assert_eq!(stored.accepted_through, 2);
    let messages = stream_messages(&js, topology::EVENTS_STREAM).await;
    let last = messages.last().expect("a message");
    assert_eq!(last.subject.as_str(), "tandem.leadership.determined.COL");
    assert_eq!(
        last.headers.get("ce-type").map(|v| v.as_str()),
        Some("org.tandem.leadership.determined.v1")
    );
    assert_eq!(
        last.headers.get("ce-subject").map(|v| v.as_str()),
        Some("COL-1")
    );
    leadership.stop().await;
}

#[tokio::test]
async fn a_redelivered_report_does_not_bump_the_sequence() {
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let leadership = Leadership::start(&server, None);

    let iom = report(Agency::Iom, "LBY-1", 1, 10, 990);
    accept(&js, &iom, 1, "first").await;
    // The same acceptance again under another id, as a replay or a redelivery after the
    // duplicate window would bring it.
    accept(&js, &iom, 1, "again").await;
    settled(&js).await;

    let published = determinations(&js).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(
        record(&js, "LBY-1").await.determination.map(|d| d.sequence),
        Some(1)
    );
    leadership.stop().await;
}

#[tokio::test]
async fn acceptances_announced_out_of_their_numbering_do_not_wait_for_each_other() {
    init_test_log();
    // Two intake instances can announce a situation's acceptance 2 before its acceptance 1
    // (each announces after its own write). One leadership instance holding both must take 1
    // first rather than queue it behind 2, which waits for 1: a wait as long as the gap wait
    // (a minute here, longer than this test waits for the consumer) would fail the test.
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let leadership = Leadership::start_with(LeadershipConfig {
        gap_wait_ms: 60_000,
        ..Leadership::config(&server)
    });
    let first = report(Agency::Iom, "SDN-4", 1, 100, 900);
    let second = report(Agency::Unhcr, "SDN-4", 1, 800, 200);
    accept(&js, &second, 2, "acceptance-2").await;
    accept(&js, &first, 1, "acceptance-1").await;
    wait_until_consumed(
        &js,
        topology::EVENTS_STREAM,
        tandem_proto::roster::LEADERSHIP.durables[0],
        Duration::from_secs(20),
    )
    .await;

    let steps: Vec<(u64, Vec<String>)> = determinations(&js)
        .await
        .into_iter()
        .map(|(_, d)| {
            let based_on = d.based_on.iter().map(|b| b.report_id.clone()).collect();
            (d.sequence, based_on)
        })
        .collect();
    assert_eq!(
        steps,
        [
            (1, vec![first.report_id.clone()]),
            (2, vec![first.report_id.clone(), second.report_id.clone()]),
        ],
        "acceptance 1, then 2 on top of it"
    );
    leadership.stop().await;
}

/// 12 situations × (IOM, UNHCR) × 4 revisions, numbered per situation as intake numbers them,
/// with shares that cross the thresholds so hysteresis matters.
fn interleaved_reports() -> Vec<(SituationReport, u64)> {
    let mut numbers: BTreeMap<String, u64> = BTreeMap::new();
    let mut events = Vec::new();
    for revision in 1..=4u32 {
        for situation in 0..12 {
            for agency in [Agency::Iom, Agency::Unhcr] {
                let id = format!("S-{situation}");
                let refugees = 100 * u64::from(revision) * (situation + 1)
                    + if agency == Agency::Unhcr { 500 } else { 0 };
                let migrants = 2_000 - 150 * u64::from(revision) * (situation % 4);
                let number = numbers.entry(id.clone()).or_default();
                *number += 1;
                events.push((report(agency, &id, revision, refugees, migrants), *number));
            }
        }
    }
    events
}

/// Each situation's current determination, without the time it was made.
async fn final_state(js: &jetstream::Context) -> BTreeMap<String, LeadershipDetermination> {
    let mut state = BTreeMap::new();
    for situation in 0..12 {
        let id = format!("S-{situation}");
        let mut determination = record(js, &id).await.determination.expect("determined");
        determination.determined_at = None;
        state.insert(id, determination);
    }
    state
}

#[tokio::test]
async fn two_instances_on_interleaved_revisions_end_where_one_does() {
    init_test_log();
    let events = interleaved_reports();

    let alone = NatsServer::start();
    let js = alone.jetstream().await;
    ensure_streams(&js).await;
    let one = Leadership::start(&alone, None);
    for (i, (report, number)) in events.iter().enumerate() {
        accept(&js, report, *number, &format!("e{i}")).await;
    }
    settled(&js).await;
    let expected = final_state(&js).await;
    let expected_steps = determinations(&js).await.len();
    one.stop().await;
    assert_eq!(expected_steps, events.len(), "one step per accepted report");

    let shared = NatsServer::start();
    let js = shared.jetstream().await;
    ensure_streams(&js).await;
    let first = Leadership::start(&shared, None);
    let second = Leadership::start(&shared, None);
    for (i, (report, number)) in events.iter().enumerate() {
        accept(&js, report, *number, &format!("e{i}")).await;
    }
    settled(&js).await;
    assert_eq!(final_state(&js).await, expected);
    let steps = determinations(&js).await;
    assert_eq!(steps.len(), expected_steps, "no step lost or doubled");
    // Every situation's steps are on the stream once each and in order.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for (_, determination) in &steps {
        let previous = last
            .insert(determination.situation_id.clone(), determination.sequence)
            .unwrap_or(0);
        assert_eq!(determination.sequence, previous + 1);
    }
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_new_policy_re_determines_only_the_situations_it_changes() {
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let v1 = Leadership::start(&server, None);
    // Share 0.70: mixed under v1, refugee under a policy with a 0.65 refugee threshold.
    accept(&js, &report(Agency::Unhcr, "MIX", 1, 700, 300), 1, "m").await;
    // Share 0.05: migrant under both.
    accept(&js, &report(Agency::Iom, "MIG", 1, 50, 950), 1, "g").await;
    settled(&js).await;
    v1.stop().await;

    let policy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/policy/leadership-v1.toml"
    ))
    .expect("policy v1");
    let v2 = policy
        .replacen("version = \"v1\"", "version = \"v2-test\"", 1)
        .replacen("refugee = 0.80", "refugee = 0.65", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v2.toml");
    std::fs::write(&path, v2).expect("write policy");
    let leadership = Leadership::start(&server, Some(path));

    let client = server.client().await;
    let refused = request_when_served(&client, "v1").await;
    let refused: ReevaluateReply = serde_json::from_slice(&refused.payload)
        .unwrap_or_else(|e| panic!("{e}: {:?}", refused.payload));
    assert_eq!(
        refused.situations, 0,
        "an instance on another policy does nothing"
    );
    assert_eq!(refused.failed.len(), 1);

    let answer = request_when_served(&client, "v2-test").await;
    let reply: ReevaluateReply = serde_json::from_slice(&answer.payload).expect("reply");
    assert_eq!(reply.policy_version, "v2-test");
    assert_eq!(reply.situations, 2);
    assert_eq!(reply.changed, vec!["MIX".to_string()]);
    let mix = record(&js, "MIX").await.determination.expect("determined");
    assert_eq!(
        (
            mix.sequence,
            mix.classification(),
            mix.policy_version.as_str()
        ),
        (2, Classification::RefugeeSituation, "v2-test")
    );
    assert_eq!(
        record(&js, "MIG").await.determination.map(|d| d.sequence),
        Some(1)
    );
    assert_eq!(
        determinations(&js).await.len(),
        3,
        "one new determination, for the changed situation"
    );
    leadership.stop().await;
}

/// Asks for a re-evaluation, once the freshly started service answers on the subject.
async fn request_when_served(
    client: &async_nats::Client,
    expected_version: &str,
) -> async_nats::Message {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match client
            .request(REEVALUATE_SUBJECT, expected_version.to_string().into())
            .await
        {
            Ok(answer) => return answer,
            Err(error) if error.kind() == async_nats::client::RequestErrorKind::NoResponders => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the leadership service never answered"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("request failed: {error}"),
        }
    }
}

#[tokio::test]
async fn origins_add_up_and_undetermined_people_stay_out_of_the_share_over_nats() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let leadership = Leadership::start(&server, None);

    let mut unhcr = report(Agency::Unhcr, "COL-2", 1, 3_000_000, 0);
    unhcr.population[0].origin = "VEN".to_owned();
    unhcr.population[1] = unhcr.population[0].clone();
    unhcr.population[1].origin = "HTI".to_owned();
    unhcr.population[1].count = 700_000;
    unhcr.population.push(PopulationFigure {
        group: PopulationGroup::Undetermined as i32,
        // Fewer than the 4,000,000 refugees and migrants: not the majority that would make a
        // mixed movement.
        count: 3_900_000,
        ..unhcr.population[0].clone()
    });
    accept(&js, &report(Agency::Iom, "COL-2", 1, 0, 300_000), 1, "b1").await;
    accept(&js, &unhcr, 2, "b2").await;
    settled(&js).await;

    let published = determinations(&js).await;
    let (_, last) = published.last().expect("a determination");
    // P = 3,000,000 + 700,000 refugees from two origins, M = 300,000: a share of 0.925.
    assert_eq!(last.classification(), Classification::RefugeeSituation);
    assert!((last.protection_share - 0.925).abs() < 1e-9);
    let refugees = last
        .figures
        .iter()
        .find(|figure| figure.group == PopulationGroup::Refugee as i32)
        .expect("refugees reconciled");
    assert_eq!(refugees.count, 3_700_000);
    let origins: Vec<(&str, u64)> = refugees
        .origins
        .iter()
        .map(|origin| (origin.origin.as_str(), origin.count))
        .collect();
    assert_eq!(origins, [("HTI", 700_000), ("VEN", 3_000_000)]);
    let undetermined = last
        .figures
        .iter()
        .find(|figure| figure.group == PopulationGroup::Undetermined as i32)
        .expect("undetermined people are listed");
    assert_eq!(undetermined.count, 3_900_000);
    leadership.stop().await;
}
