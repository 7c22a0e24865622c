//! Chaos: tandem loses nothing and duplicates nothing while its processes crash
//! (docs/reliability.md).
//!
//! The four service binaries run as their own processes, several instances each on the same
//! durable consumers: 2× intake, 2× leadership, 2× notify for IOM, 2× notify for UNHCR, 2×
//! publish (each serving HTTP on its own port). While 10,000 reports are published on a
//! thousand situations, a schedule drawn from a seeded RNG SIGKILLs random instances (one,
//! or every instance of one service at once) and starts them again, and the nats-server itself
//! is killed and restarted twice on the same port and store. Then the schedule stops, every
//! consumer is waited for until it has handled everything, and the streams are read back to
//! check the invariants:
//!
//! 1. **One outcome per report**: every stored report (the intake streams) has exactly one
//!    `SituationAccepted` in `TANDEM_EVENTS` or `SituationRejected` in `TANDEM_REJECTIONS` (matched through intake's
//!    outcome id `intake-outcome:<intake stream>:<sequence>` and the report id); deliberately invalid and
//!    undecodable reports are rejected with their reason; a valid or deliberately stale report
//!    is accepted or rejected as `STALE_REVISION` only when a revision at least as new from its
//!    organisation was accepted (two intake instances may take one situation's reports in
//!    either order).
//! 2. **One determination step per accepted revision**: per situation, intake numbers its
//!    acceptances 1..n without gap or repeat, revisions per organisation only grow, and
//!    leadership's determinations are sequence 1..n, each exactly once, determination k resting
//!    (`based_on`) on exactly the latest accepted revision of each organisation among
//!    acceptances 1..k, and giving the classification, arrangement, lead agencies, `changed`
//!    flag, discrepancy groups and designation in force that this test's own reading of
//!    docs/design.md's policy ("Leadership policy v1": thresholds, hysteresis, designations
//!    kept until IOM or UNHCR revokes them; "Several reports on one situation": recency by
//!    acceptance order, scope, driver, phase and on-the-move from IOM and UNHCR only) gives
//!    for those revisions — not the leadership service's policy engine.
//! 3. **Each notification delivered once per recipient and channel**: the directory (NATS
//!    channel only) is imported before the services start; from the determinations the test
//!    computes, with its own reading of docs/design.md's rules, who must be told what (a step
//!    the test's policy reading calls changed → each agency's country coordinators, else
//!    regional, else HQ; discrepancy groups absent from the situation's previous step → each
//!    agency's data focal points, same fall-back) and compares with the notifications on `tandem.notify.out.>`
//!    (`TANDEM_NOTIFY`) and the `DELIVERED` statuses: none missing, none twice, none unexpected.
//! 4. **The published dataset is the one the reports give**: each publish instance's
//!    `GET /v1/situations` equals the rows computed here from the latest accepted revisions:
//!    figures reconciled independently (authoritative agency's figure, else the most recently
//!    accepted),
//!    disclosed by the test's own reading of the rule (1–4 published as `*` and left out of
//!    the total, host communities never in it), classification, arrangement and leads as the
//!    test's policy reading gives them.
//! 5. **Nothing in flight**: every durable consumer ends with `num_pending` and
//!    `num_ack_pending` 0, and `TANDEM_DLQ` is empty (nothing in this test is meant for it: bad
//!    reports are rejections, not dead letters).
//!
//! A service process that exits without being killed is a violation too (it is started again
//! so the run goes on), and so is a run whose kills hit no work in flight: right after every
//! instance of a service is killed, its durable consumers must show deliveries unacknowledged
//! (only the dead can have held them) after at least one such kill (from half the window on,
//! until one such kill has hit work in flight, the schedule kills every leadership instance at
//! once at a moment leadership holds unacknowledged deliveries). A summary (counts, kills, restarts, lost, duplicated) is always printed
//! on stderr; every violation is listed before the test fails.
//!
//! Settings (environment):
//! - `TANDEM_CHAOS_REPORTS` (default 10,000): reports to publish.
//! - `TANDEM_CHAOS_SECS` (default 20): how long reports are sent and processes killed.
//! - `TANDEM_CHAOS_SEED`: the seed of the reports and of the kill schedule (printed at start);
//!   timing still varies from run to run.
//! - `TANDEM_CHAOS_SERVER_RESTARTS` (default 2): nats-server kills and restarts in the window.
//! - `TANDEM_CHAOS_CLUSTER` (default 0): 1 runs on a 3-node cluster with every stream and bucket
//!   replicated three times, as production should, and each server kill takes one node.
//! - `TANDEM_CHAOS_DRAIN_SECS` (default 60): how long the pipeline may take to finish after the
//!   chaos before the test fails.
//! - `TANDEM_CONSUMER__ACK_WAIT_SECS`, `TANDEM_CONSUMER__MAX_DELIVER`,
//!   `TANDEM_CONSUMER__RETRY_BASE_MS`, `TANDEM_GAP_WAIT_MS`: passed to the services instead of
//!   the test's settings (see `CONSUMER_ENV`), to run the chaos under other redelivery settings.
//!
//! A longer run: `TANDEM_CHAOS_REPORTS=100000 TANDEM_CHAOS_SECS=600 cargo nextest run -p
//! tandem-testkit --test chaos --no-capture` (the service binaries must be built: `cargo build
//! --bins`). `TEST_LOG=info` echoes every service's log.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use async_nats::{
    HeaderMap,
    jetstream::{
        self,
        consumer::{DeliverPolicy, pull},
        message::PublishMessage,
    },
};
use bytes::Bytes;
use futures::StreamExt as _;
use prost::Message as _;
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use serde_json::{Value, json};
use tandem_proto::{
    timestamp,
    v1::{
        Agency, Arrangement, Classification, Driver, LeadershipDetermination, Notification,
        NotificationKind, NotificationState, NotificationStatus, Phase, PopulationFigure,
        PopulationGroup, Scope, SituationAccepted, SituationRejected, SituationReport,
    },
};
use tandem_runtime::{envelope, topology};
use tandem_testkit::{
    NatsServer,
    cluster::NatsCluster,
    services::{ServiceCommand, ServiceProcess},
};

mod bus;
mod invariants;
mod model;
mod plan;

use bus::*;
use invariants::*;
use model::*;
use plan::*;

struct Settings {
    reports: usize,
    window: Duration,
    seed: u64,
    drain: Duration,
    /// nats-server kills and restarts, spread evenly over the window.
    server_restarts: u32,
    /// Run on a 3-node cluster with every stream and bucket replicated three times.
    cluster: bool,
}

impl Settings {
    fn from_env() -> Self {
        let number = |name: &str, default: u64| -> u64 {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
                Err(_) => default,
            }
        };
        Self {
            reports: number("TANDEM_CHAOS_REPORTS", 10_000).max(1) as usize,
            window: Duration::from_secs(number("TANDEM_CHAOS_SECS", 20).max(1)),
            seed: number("TANDEM_CHAOS_SEED", rand::random::<u32>().into()),
            drain: Duration::from_secs(number("TANDEM_CHAOS_DRAIN_SECS", 60).max(1)),
            server_restarts: number("TANDEM_CHAOS_SERVER_RESTARTS", 2) as u32,
            cluster: number("TANDEM_CHAOS_CLUSTER", 0) != 0,
        }
    }
}

/// The consumer settings every service gets, through its environment (the test's own
/// environment overrides each, e.g. to try production's).
///
/// - `ack_wait` 2 s instead of 10: a killed instance's in-flight messages come back only after
///   it, and a leadership step waiting for its predecessor is retried at most this far apart,
///   so it bounds how long a kill holds up a situation.
/// - `max_deliver` 100 instead of 5: a kill costs a message a delivery, and a leadership step
///   waiting for its predecessor costs one per retry, with kills every second or so here. With
///   the retry delay capped at `ack_wait`, 100 deliveries take minutes, longer than the whole
///   default run, so no message reaches the DLQ merely for having been in a killed process,
///   and leadership never goes past a gap on a last delivery (the late predecessor would then
///   be reflected in no step, which invariant 2 would report).
/// - retry base 100 ms: a step waiting for its predecessor looks again sooner.
const CONSUMER_ENV: [(&str, &str); 3] = [
    ("TANDEM_CONSUMER__ACK_WAIT_SECS", "2"),
    ("TANDEM_CONSUMER__MAX_DELIVER", "100"),
    ("TANDEM_CONSUMER__RETRY_BASE_MS", "100"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_duplicated_while_processes_crash() {
    tandem_testkit::init_test_log();
    let settings = Settings::from_env();
    let began = Instant::now();
    eprintln!(
        "chaos: seed {} (TANDEM_CHAOS_SEED={} reproduces the reports and the schedule), {} reports over {:?}",
        settings.seed, settings.seed, settings.reports, settings.window
    );
    let mut report_rng = StdRng::seed_from_u64(settings.seed);
    let mut chaos_rng = StdRng::seed_from_u64(settings.seed.wrapping_add(1));
    let reports = Arc::new(plan_reports(settings.reports, &mut report_rng));

    let mut bus = Bus::start(settings.cluster).await;
    let js = bus.jetstream().await;
    let storage = tandem_runtime::config::StorageConfig {
        replicas: bus.replicas(),
        ..Default::default()
    };
    for stream in topology::intake_streams(&storage).into_iter().chain([
        topology::events_stream(&storage),
        topology::rejections_stream(&storage),
        topology::notify_stream(&storage),
        topology::acks_stream("iom", &storage),
        topology::acks_stream("unhcr", &storage),
        topology::dlq_stream(&storage),
    ]) {
        topology::ensure_stream(&js, stream).await.expect("stream");
    }
    // Asked once the streams exist: a cluster client may connect only on its first request.
    let nats = bus.describe(&js.client().server_info().version);
    let entries = tandem_notify::directory::parse(DIRECTORY).expect("valid directory");
    tandem_notify::directory::Directory::open(&js, &storage)
        .await
        .expect("directory bucket")
        .import(&entries)
        .await
        .expect("directory import");

    let mut instances = start_services(&bus);
    let publisher = tokio::spawn(publish_reports(
        js.clone(),
        reports.clone(),
        settings.window,
    ));
    let mut chaos = run_chaos(
        &js,
        &mut bus,
        &mut instances,
        &mut chaos_rng,
        settings.window,
        settings.server_restarts,
    )
    .await;
    let republished = publisher.await.expect("publisher");
    let chaos_ended = began.elapsed();
    chaos.supervise(&mut instances);
    // A pipeline that does not finish is a violation; the invariants below then say why.
    let unfinished = drain(&js, &mut instances, &mut chaos, settings.drain)
        .await
        .err();
    let drained = began.elapsed();

    // Read everything back.
    let mut intake = Vec::new();
    for (stream, _, _) in topology::INTAKE_STREAMS {
        intake.extend(read_stream(&js, stream).await);
    }
    let mut events = read_stream(&js, topology::EVENTS_STREAM).await;
    events.extend(read_stream(&js, topology::REJECTIONS_STREAM).await);
    let notify = read_stream(&js, topology::NOTIFY_STREAM).await;
    let dead_letters = read_stream(&js, topology::DLQ_STREAM).await;
    let consumers = durable_consumers(&js).await;

    let mut check = Check::default();
    check.violations.extend(chaos.self_exits.iter().cloned());
    if chaos.whole_service_kills > 0 && chaos.whole_service_kills_in_flight == 0 {
        check.violation(format!(
            "none of the {} kills of every instance of a service left a delivery unacknowledged: \
             the kills hit no work in flight",
            chaos.whole_service_kills
        ));
    }
    check.violations.extend(unfinished);
    let outcomes = check.one_outcome_per_report(&reports, &intake, &events);
    let steps = check.one_step_per_acceptance(&outcomes, &events);
    let notifications = check.notified_once(&steps, &notify);
    let mut datasets = Vec::new();
    for instance in instances.iter().filter(|i| i.http_port.is_some()) {
        let port = instance.http_port.unwrap_or_default();
        datasets.push((
            instance.process.label().to_string(),
            dataset_at(port, steps.last_event_sequence, Duration::from_secs(30)).await,
        ));
    }
    let rows = check.dataset_as_computed(&outcomes, &steps, &datasets);
    let cases = steps.policy_cases();
    if steps.count >= 5_000 && (cases.carried == 0 || cases.revoked == 0 || cases.partner_only == 0)
    {
        check.violation(format!(
            "the reports did not exercise the policy's record rules: {cases:?} (a designation \
             carried through a later report, one revoked, and a step with partner reports only \
             are each expected in a run this size)"
        ));
    }
    check.nothing_in_flight(&consumers, &dead_letters);
    check.diagnose_unreflected(&js).await;

    let summary = format!(
        "chaos summary (seed {seed}):\n\
         \x20 nats           {nats}\n\
         \x20 reports        {reports} published ({republished} sends repeated after a failed ack), {stored} stored\n\
         \x20 accepted       {accepted}\n\
         \x20 rejected       {rejected} ({invalid} invalid or undecodable as meant, {stale} stale revisions, \
         of which {reordered} were sent as new revisions but overtaken by a newer one)\n\
         \x20 determinations {determinations} on {situations} situations ({rows} published rows)\n\
         \x20 policy         {under} steps under a designation ({carried} carried through a later report), \
         {revoked} designations revoked, {partner_only} steps on partner reports only\n\
         \x20 notifications  {delivered} delivered ({changed} determination changed, {discrepancy} discrepancy)\n\
         \x20 service kills  {kills} (SIGKILL), exits on their own {exits}; {in_flight} of {whole} kills of a whole service left deliveries unacknowledged\n\
         \x20 server restarts {restarts}\n\
         \x20 lost {lost}, duplicated {duplicated}\n\
         \x20 time           chaos {chaos_ended:.1?}, drained at {drained:.1?}, checked at {total:.1?}",
        seed = settings.seed,
        reports = reports.len(),
        stored = intake.len(),
        accepted = outcomes.accepted.len(),
        rejected = outcomes.rejected,
        invalid = outcomes.rejected_as_meant,
        stale = outcomes.stale,
        reordered = outcomes.reordered,
        determinations = steps.count,
        situations = steps.situations,
        under = cases.under,
        carried = cases.carried,
        revoked = cases.revoked,
        partner_only = cases.partner_only,
        delivered = notifications.delivered,
        changed = notifications.changed,
        discrepancy = notifications.discrepancy,
        kills = chaos.kills,
        exits = chaos.self_exits.len(),
        in_flight = chaos.whole_service_kills_in_flight,
        whole = chaos.whole_service_kills,
        restarts = chaos.server_restarts,
        lost = check.lost,
        duplicated = check.duplicated,
        total = began.elapsed(),
    );
    eprintln!("{summary}");
    if !check.violations.is_empty() {
        let shown: Vec<&String> = check.violations.iter().take(40).collect();
        panic!(
            "{} invariant violations (first {}):\n- {}",
            check.violations.len(),
            shown.len(),
            shown
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join("\n- ")
        );
    }
}
