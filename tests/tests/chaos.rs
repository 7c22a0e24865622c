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
//!    `SituationAccepted` or `SituationRejected` in `TANDEM_EVENTS` or `TANDEM_REJECTIONS` (matched through intake's
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
//! the schedule kills every leadership instance at once if it has not yet killed a whole
//! service with consumers). A summary (counts, kills, restarts, lost, duplicated) is always printed
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

// ---------------------------------------------------------------------------------------------
// Settings

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

// ---------------------------------------------------------------------------------------------
// The reports

/// Countries of the situations, with their ISO2 (P-codes start with it).
const COUNTRIES: [(&str, &str); 10] = [
    ("COL", "CO"),
    ("PER", "PE"),
    ("ECU", "EC"),
    ("VEN", "VE"),
    ("BRA", "BR"),
    ("MEX", "MX"),
    ("LBY", "LY"),
    ("SDN", "SD"),
    ("BGD", "BD"),
    ("UKR", "UA"),
];

/// Reporting organisations as subject tokens.
const ORGS: [&str; 3] = ["iom", "unhcr", "partner.nrc"];

/// What a report is meant to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    /// A new revision from its organisation.
    Valid,
    /// A revision not newer than one its organisation sent before.
    Stale,
    /// Breaks a rule: rejected with this reason code.
    Invalid(&'static str),
    /// Not a protobuf message at all.
    Undecodable,
}

/// One report as published.
struct Planned {
    org: &'static str,
    report_id: String,
    situation: String,
    intent: Intent,
    payload: Bytes,
}

impl Planned {
    fn msg_id(&self) -> String {
        format!("{}:{}", self.org, self.report_id)
    }
}

/// What stays the same across a situation's reports, and its rough figures.
struct SituationPlan {
    id: String,
    country: usize,
    scope: Scope,
    driver: Driver,
    phase: Phase,
    on_the_move: bool,
    refugees: u64,
    migrants: u64,
    idps: u64,
    /// IOM reports refugees too, sometimes far from UNHCR's figure: discrepancies.
    discrepant: bool,
    /// The last revision sent by each organisation of [`ORGS`].
    sent: [u32; 3],
}

/// Draws `count` reports on `count / 10` situations: about 92% new revisions, 4% stale
/// revisions, 3.5% invalid ones of four kinds and 0.5% undecodable bytes, from IOM, UNHCR and
/// a partner, with figures that keep most situations' classification but move some across the
/// thresholds, small counts for the disclosure rule, and discrepancies on some situations.
///
/// About ten reports per situation over the window: with many more, a situation whose report
/// was in a killed leadership instance falls behind for good while the window lasts (each
/// later report waits for its predecessor and is retried up to `ack_wait` apart, one step per
/// retry, while new ones keep coming), and the drain after the chaos takes most of a minute.
fn plan_reports(count: usize, rng: &mut StdRng) -> Vec<Planned> {
    let mut situations: Vec<SituationPlan> = (0..(count / 10).max(1))
        .map(|index| {
            let kind = rng.random_range(0..100);
            let (scope, refugees, migrants, idps) = match kind {
                0..35 => (
                    Scope::CrossBorder,
                    rng.random_range(50_000..500_000),
                    rng.random_range(1_000..50_000),
                    0,
                ),
                35..70 => (
                    Scope::CrossBorder,
                    rng.random_range(1_000..50_000),
                    rng.random_range(50_000..500_000),
                    0,
                ),
                70..90 => {
                    let both = rng.random_range(20_000..200_000);
                    (
                        Scope::CrossBorder,
                        both,
                        both * rng.random_range(5..20) / 10,
                        0,
                    )
                }
                _ => (Scope::Internal, 0, 0, rng.random_range(10_000..1_000_000)),
            };
            SituationPlan {
                id: format!("CHAOS-{index:05}"),
                country: rng.random_range(0..COUNTRIES.len()),
                scope,
                driver: [
                    Driver::Conflict,
                    Driver::Disaster,
                    Driver::Economic,
                    Driver::Mixed,
                ][rng.random_range(0..4)],
                phase: [Phase::Emergency, Phase::Protracted, Phase::Solutions]
                    [rng.random_range(0..3)],
                on_the_move: rng.random_bool(0.5),
                refugees,
                migrants,
                idps,
                discrepant: rng.random_bool(0.15),
                sent: [0; 3],
            }
        })
        .collect();
    // Reported times: one per report, 10 ms apart in publication order, ending a minute ago.
    let start =
        SystemTime::now() - Duration::from_secs(60) - Duration::from_millis(10 * count as u64);
    (0..count)
        .map(|index| {
            let situation = rng.random_range(0..situations.len());
            let plan = &mut situations[situation];
            let org_index = match rng.random_range(0..10) {
                0..4 => 0,
                4..8 => 1,
                _ => 2,
            };
            let org = ORGS[org_index];
            let report_id = format!("chaos-{index}");
            let roll = rng.random_range(0..1000);
            let intent = match roll {
                0..5 => Intent::Undecodable,
                5..14 => Intent::Invalid("REQUIRED"),
                14..23 => Intent::Invalid("UNKNOWN_CODE"),
                23..31 => Intent::Invalid("PERSONAL_DATA"),
                31..40 => Intent::Invalid("DUPLICATE_GROUP"),
                40..80 if plan.sent[org_index] > 1 => Intent::Stale,
                _ => Intent::Valid,
            };
            if intent == Intent::Undecodable {
                // Field 1 with wire type 7, which does not exist: no decoder accepts it.
                let mut bytes = vec![0x0f, 0xff];
                bytes.extend_from_slice(&(index as u64).to_le_bytes());
                return Planned {
                    org,
                    report_id,
                    situation: plan.id.clone(),
                    intent,
                    payload: bytes.into(),
                };
            }
            let revision = match intent {
                Intent::Valid => {
                    plan.sent[org_index] += 1;
                    plan.sent[org_index]
                }
                Intent::Stale => rng.random_range(1..=plan.sent[org_index]),
                Intent::Invalid("REQUIRED") => 0,
                // A rule broken elsewhere: the revision would be new, but is not used up.
                _ => plan.sent[org_index] + 1,
            };
            if rng.random_bool(0.05) {
                plan.on_the_move = !plan.on_the_move;
            }
            let (country, iso2) = COUNTRIES[plan.country];
            let reported_at =
                timestamp::from_system_time(start + Duration::from_millis(10 * index as u64));
            let mut report = SituationReport {
                report_id: report_id.clone(),
                situation_id: plan.id.clone(),
                revision,
                reporting_agency: match org {
                    "iom" => Agency::Iom,
                    "unhcr" => Agency::Unhcr,
                    _ => Agency::Partner,
                } as i32,
                reporter_org: if org_index == 2 {
                    "nrc".into()
                } else {
                    String::new()
                },
                reported_at: Some(reported_at),
                country: country.into(),
                scope: plan.scope as i32,
                driver: plan.driver as i32,
                phase: plan.phase as i32,
                on_the_move: plan.on_the_move,
                population: figures(plan, org_index, rng),
                ..Default::default()
            };
            if rng.random_bool(0.5) {
                let admin1 = format!("{iso2}{:02}", rng.random_range(1..30));
                if rng.random_bool(0.5) {
                    report.admin2_pcode = format!("{admin1}{:03}", rng.random_range(1..200));
                }
                report.admin1_pcode = admin1;
            }
            // Only IOM and UNHCR record designations, each with its reference, and revoke them;
            // a designation stays in force through the reports between.
            if report.reporting_agency != Agency::Partner as i32 {
                if rng.random_bool(0.02) {
                    report.designated_leads = [
                        vec![Agency::Unhcr as i32],
                        vec![Agency::Iom as i32],
                        vec![Agency::Iom as i32, Agency::Unhcr as i32],
                    ][rng.random_range(0..3)]
                    .clone();
                    report.designation_reference = "SG decision of 12 April 2018".into();
                } else if rng.random_bool(0.03) {
                    report.revoke_designation = true;
                }
            }
            match intent {
                Intent::Invalid("UNKNOWN_CODE") => report.country = "QQQ".into(),
                Intent::Invalid("PERSONAL_DATA") => {
                    report.notes = "call the focal point: jane.doe@example.org".into();
                }
                Intent::Invalid("DUPLICATE_GROUP") => {
                    let first = report.population[0].clone();
                    report.population.push(first);
                }
                _ => {}
            }
            Planned {
                org,
                report_id,
                situation: plan.id.clone(),
                intent,
                payload: report.encode_to_vec().into(),
            }
        })
        .collect()
}

/// The figures organisation `org_index` reports on `plan`: each within 20% of the situation's.
fn figures(plan: &SituationPlan, org_index: usize, rng: &mut StdRng) -> Vec<PopulationFigure> {
    let mut vary = |count: u64| count * rng.random_range(80..=120) / 100;
    let mut groups: Vec<(PopulationGroup, u64)> = Vec::new();
    match org_index {
        0 => {
            if plan.scope == Scope::Internal {
                groups.push((PopulationGroup::Idp, vary(plan.idps)));
            } else {
                groups.push((PopulationGroup::Migrant, vary(plan.migrants)));
            }
            if plan.discrepant {
                groups.push((PopulationGroup::Refugee, vary(plan.refugees * 7 / 10)));
            }
        }
        1 => {
            if plan.scope == Scope::Internal {
                groups.push((PopulationGroup::Idp, vary(plan.idps * 9 / 10)));
            } else {
                groups.push((PopulationGroup::Refugee, vary(plan.refugees)));
                groups.push((PopulationGroup::AsylumSeeker, vary(plan.refugees / 10)));
            }
        }
        _ => {
            // Small counts, published as `*` and left out of totals.
            groups.push((PopulationGroup::HostCommunity, rng.random_range(1..2_000)));
            groups.push((PopulationGroup::ReturnedRefugee, rng.random_range(1..12)));
            if rng.random_bool(0.3) {
                groups.push((PopulationGroup::Stateless, rng.random_range(1..6)));
            }
        }
    }
    groups
        .into_iter()
        .map(|(group, count)| PopulationFigure {
            group: group as i32,
            count,
            as_of: "2025-06-01".into(),
            source: String::new(),
        })
        .collect()
}

/// Publishes every report on its organisation's intake subject, paced evenly over `window`,
/// in pipelined batches (all of a batch sent, then its acks awaited). A publish that is not
/// acknowledged (the server is being restarted) is sent again with the same `Nats-Msg-Id`, so
/// the stream stores each report once whatever got through before. Returns how many sends
/// were retried.
async fn publish_reports(
    js: jetstream::Context,
    reports: Arc<Vec<Planned>>,
    window: Duration,
) -> u64 {
    const BATCH: usize = 100;
    let started = tokio::time::Instant::now();
    let batches = reports.len().div_ceil(BATCH);
    let mut retried = 0;
    for (number, batch) in reports.chunks(BATCH).enumerate() {
        // The offered load: batch `number` is due at its share of the window.
        tokio::time::sleep_until(started + window.mul_f64(number as f64 / batches as f64)).await;
        let mut unacked: Vec<&Planned> = batch.iter().collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut last_error = String::new();
        while !unacked.is_empty() {
            let mut acks = Vec::new();
            let mut failed = Vec::new();
            for report in unacked {
                let mut headers = HeaderMap::new();
                headers.insert(envelope::MSG_ID, report.msg_id().as_str());
                let message = PublishMessage::build()
                    .headers(headers)
                    .payload(report.payload.clone());
                match js
                    .send_publish(topology::intake_subject(report.org), message)
                    .await
                {
                    Ok(ack) => acks.push((report, ack)),
                    Err(error) => {
                        last_error = error.to_string();
                        failed.push(report);
                    }
                }
            }
            // Awaited together: an ack future's timeout starts when it is first polled, so
            // awaiting a batch whose acks were lost one by one would take 5 s per report.
            let (sent, acks): (Vec<&Planned>, Vec<_>) = acks.into_iter().unzip();
            for (report, result) in sent.into_iter().zip(
                futures::future::join_all(
                    acks.into_iter().map(std::future::IntoFuture::into_future),
                )
                .await,
            ) {
                if let Err(error) = result {
                    last_error = error.to_string();
                    failed.push(report);
                }
            }
            assert!(
                failed.is_empty() || tokio::time::Instant::now() < deadline,
                "{} reports could not be stored within 60 s, e.g. {} ({last_error}; connection {:?})",
                failed.len(),
                failed[0].msg_id(),
                js.client().connection_state()
            );
            if !failed.is_empty() {
                retried += failed.len() as u64;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            unacked = failed;
        }
    }
    retried
}

// ---------------------------------------------------------------------------------------------
// The directory

/// Focal points, NATS channel only. Every fall-back is exercised: two country coordinators
/// for one country, countries with only a regional coordinator, countries with only HQ.
const DIRECTORY: &str = r#"[
  {"id": "iom-cc-col", "name": "Chaos IOM Colombia", "agency": "iom", "role": "COUNTRY_COORDINATOR", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "iom-cc-per-lby", "name": "Chaos IOM Peru and Libya", "agency": "iom", "role": "COUNTRY_COORDINATOR", "countries": ["PER", "LBY"], "channels": [{"nats": {}}]},
  {"id": "iom-data-americas", "name": "Chaos IOM data Americas", "agency": "iom", "role": "DATA_FOCAL_POINT", "countries": ["COL", "VEN", "PER", "ECU", "BRA", "MEX"], "channels": [{"nats": {}}]},
  {"id": "iom-regional-bgd-sdn", "name": "Chaos IOM regional", "agency": "iom", "role": "REGIONAL_COORDINATOR", "countries": ["BGD", "SDN"], "channels": [{"nats": {}}]},
  {"id": "iom-hq", "name": "Chaos IOM HQ", "agency": "iom", "role": "HQ", "countries": [], "channels": [{"nats": {}}]},
  {"id": "unhcr-cc-col", "name": "Chaos UNHCR Colombia", "agency": "unhcr", "role": "COUNTRY_COORDINATOR", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "unhcr-cc-col-ven", "name": "Chaos UNHCR Colombia and Venezuela", "agency": "unhcr", "role": "COUNTRY_COORDINATOR", "countries": ["COL", "VEN"], "channels": [{"nats": {}}]},
  {"id": "unhcr-cc-ukr", "name": "Chaos UNHCR Ukraine", "agency": "unhcr", "role": "COUNTRY_COORDINATOR", "countries": ["UKR"], "channels": [{"nats": {}}]},
  {"id": "unhcr-data-col", "name": "Chaos UNHCR data Colombia", "agency": "unhcr", "role": "DATA_FOCAL_POINT", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "unhcr-regional-americas", "name": "Chaos UNHCR regional Americas", "agency": "unhcr", "role": "REGIONAL_COORDINATOR", "countries": ["ECU", "PER", "BRA", "MEX"], "channels": [{"nats": {}}]},
  {"id": "unhcr-hq", "name": "Chaos UNHCR HQ", "agency": "unhcr", "role": "HQ", "countries": [], "channels": [{"nats": {}}]}
]"#;

/// One focal point as this test reads the directory (not through notify's types).
struct FocalPoint {
    id: String,
    agency: String,
    role: String,
    countries: Vec<String>,
}

fn focal_points() -> Vec<FocalPoint> {
    let entries: Vec<Value> = serde_json::from_str(DIRECTORY).expect("directory JSON");
    entries
        .iter()
        .map(|entry| FocalPoint {
            id: entry["id"].as_str().unwrap_or_default().into(),
            agency: entry["agency"].as_str().unwrap_or_default().into(),
            role: entry["role"].as_str().unwrap_or_default().into(),
            countries: entry["countries"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(String::from))
                .collect(),
        })
        .collect()
}

/// Who of `agency` is told something addressed to `role` in `country` (docs/design.md,
/// "Notifications": missing a focal point for a country falls back to the regional
/// coordinator, then HQ; an empty country list covers every country).
fn expected_recipients<'a>(
    directory: &'a [FocalPoint],
    agency: &str,
    role: &str,
    country: &str,
) -> Vec<&'a str> {
    for candidate in [role, "REGIONAL_COORDINATOR", "HQ"] {
        let found: Vec<&str> = directory
            .iter()
            .filter(|p| {
                p.agency == agency
                    && p.role == candidate
                    && (p.countries.is_empty() || p.countries.iter().any(|c| c == country))
            })
            .map(|p| p.id.as_str())
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

// ---------------------------------------------------------------------------------------------
// The services

/// The kinds of service process, with their instance count.
const KINDS: [(&str, &str, usize); 5] = [
    ("intake", "tandem-intake", 2),
    ("leadership", "tandem-leadership", 2),
    ("notify-iom", "tandem-notify", 2),
    ("notify-unhcr", "tandem-notify", 2),
    ("publish", "tandem-publish", 2),
];

struct Instance {
    kind: &'static str,
    process: ServiceProcess,
    /// The HTTP port of a publish instance.
    http_port: Option<u16>,
}

fn start_services(bus: &Bus) -> Vec<Instance> {
    let mut instances = Vec::new();
    for (kind, binary, count) in KINDS {
        for number in 1..=count {
            let mut command = ServiceCommand::new(binary, &bus.urls())
                .label(format!("{kind}#{number}"))
                .env("TANDEM_STORAGE__REPLICAS", bus.replicas().to_string());
            for (key, value) in CONSUMER_ENV {
                // The test's own environment wins, to try other settings (e.g. production's).
                command = command.env(key, std::env::var(key).unwrap_or_else(|_| value.into()));
            }
            let mut http_port = None;
            match kind {
                // A report waiting for its predecessor holds its delivery this long (polling
                // the record) before asking for redelivery: half of ack_wait, so it is not
                // redelivered while still in hand.
                "leadership" => {
                    let wait =
                        std::env::var("TANDEM_GAP_WAIT_MS").unwrap_or_else(|_| "1000".into());
                    command = command.env("TANDEM_GAP_WAIT_MS", wait);
                }
                // A delivery claimed by a killed instance is taken over after 3 s instead of 5
                // minutes; a live delivery (one NATS publish) takes milliseconds.
                "notify-iom" | "notify-unhcr" => {
                    command = command
                        .arg("--agency")
                        .arg(kind.trim_start_matches("notify-"))
                        .env("TANDEM_CLAIM_LEASE_SECS", "3");
                }
                "publish" => {
                    let port = tandem_testkit::process::free_ports(1)[0];
                    http_port = Some(port);
                    command = command
                        .env("TANDEM_PUBLISH_ADDR", format!("127.0.0.1:{port}"))
                        .env("TANDEM_PUBLISH_INTERVAL_MS", "500");
                }
                _ => {}
            }
            instances.push(Instance {
                kind,
                process: command.spawn(),
                http_port,
            });
        }
    }
    instances
}

/// The NATS the pipeline runs on: one nats-server (R1), or with `TANDEM_CHAOS_CLUSTER=1` three
/// routed ones with every stream and bucket replicated three times (R3), as production runs.
enum Bus {
    Single(NatsServer),
    Cluster(NatsCluster),
}

impl Bus {
    async fn start(cluster: bool) -> Self {
        if !cluster {
            return Bus::Single(NatsServer::start());
        }
        let cluster = NatsCluster::start(3);
        cluster.wait_for_jetstream(Duration::from_secs(30)).await;
        Bus::Cluster(cluster)
    }

    /// `NATS_URL` for the services: every node of a cluster, so they fail over.
    fn urls(&self) -> String {
        match self {
            Bus::Single(server) => server.url(),
            Bus::Cluster(cluster) => cluster.urls(),
        }
    }

    /// What the summary calls it.
    fn describe(&self, server_version: &str) -> String {
        match self {
            Bus::Single(_) => format!("one nats-server {server_version}, streams R1"),
            Bus::Cluster(cluster) => format!(
                "{} routed nats-servers {server_version}, streams R{}",
                cluster.size(),
                self.replicas()
            ),
        }
    }

    fn replicas(&self) -> usize {
        match self {
            Bus::Single(_) => 1,
            Bus::Cluster(cluster) => cluster.size(),
        }
    }

    async fn jetstream(&self) -> async_nats::jetstream::Context {
        match self {
            Bus::Single(server) => server.jetstream().await,
            Bus::Cluster(cluster) => async_nats::jetstream::new(cluster.client().await),
        }
    }

    /// SIGKILLs the server (on a cluster: one node drawn at random), leaves it down for `down`,
    /// and starts it again on the same port and store.
    async fn crash_and_restart(
        &mut self,
        rng: &mut StdRng,
        down: Duration,
        started: tokio::time::Instant,
    ) {
        let (name, node) = match self {
            Bus::Single(_) => ("nats-server".to_string(), 0),
            Bus::Cluster(cluster) => {
                let node = rng.random_range(0..cluster.size());
                (format!("nats-server {}", cluster.name(node)), node)
            }
        };
        eprintln!("chaos {:>6.1?}: {name} killed", started.elapsed());
        match self {
            Bus::Single(server) => server.kill(),
            Bus::Cluster(cluster) => cluster.kill(node),
        }
        tokio::time::sleep(down).await;
        // Blocks until the server says it is ready (it reads its store first).
        tokio::task::block_in_place(|| match self {
            Bus::Single(server) => server.restart(),
            Bus::Cluster(cluster) => cluster.restart(node),
        });
        eprintln!("chaos {:>6.1?}: {name} restarted", started.elapsed());
    }
}

/// What the chaos schedule did.
#[derive(Default)]
struct Chaos {
    kills: u64,
    server_restarts: u64,
    /// Kills of every instance of a service with durable consumers, and how many of them
    /// left deliveries unacknowledged on those consumers (with every instance dead, only the
    /// dead can have held them): the proof that the kills hit work in flight.
    whole_service_kills: u64,
    whole_service_kills_in_flight: u64,
    /// Processes that ended without being killed: (label, status, last log lines). Each is a
    /// violation (a service must ride out every fault here); they are started again, as a
    /// supervisor would, so that the run goes on to check everything else.
    self_exits: Vec<String>,
}

impl Chaos {
    /// Starts again any process that ended by itself, noting it.
    fn supervise(&mut self, instances: &mut [Instance]) {
        for instance in instances.iter_mut() {
            if let Some(status) = instance.process.exited() {
                let log = instance.process.log();
                let tail = log[log.len().saturating_sub(8)..].join("\n    ");
                self.self_exits.push(format!(
                    "{} exited by itself ({status}); last log lines:\n    {tail}",
                    instance.process.label()
                ));
                instance.process.restart();
            }
        }
    }
}

/// Kills and restarts processes until `until`: every 0.3–1.2 s either one random instance or
/// (one time in five) every instance of one service, down for up to 0.7 s; the nats-server at
/// a third and at two thirds of the window, down for 0.2–1 s.
async fn run_chaos(
    js: &jetstream::Context,
    bus: &mut Bus,
    instances: &mut [Instance],
    rng: &mut StdRng,
    window: Duration,
    server_restarts: u32,
) -> Chaos {
    let started = tokio::time::Instant::now();
    let mut server_restarts_due: Vec<_> = (1..=server_restarts)
        .map(|n| started + window * n / (server_restarts + 1))
        .collect();
    let mut chaos = Chaos::default();
    // Every server restart happens, however short the window.
    while started.elapsed() < window || !server_restarts_due.is_empty() {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1200))).await;
        chaos.supervise(instances);
        if server_restarts_due
            .first()
            .is_some_and(|due| tokio::time::Instant::now() >= *due)
        {
            server_restarts_due.remove(0);
            let down = Duration::from_millis(rng.random_range(200..1000));
            bus.crash_and_restart(rng, down, started).await;
            chaos.server_restarts += 1;
            continue;
        }
        let drawn = rng
            .random_bool(0.2)
            .then(|| KINDS[rng.random_range(0..KINDS.len())].0);
        // From half the window on, every leadership instance at once if no kill of a whole
        // service with consumers was counted yet, so that the in-flight check is never vacuous.
        let whole_service = if chaos.whole_service_kills == 0
            && started.elapsed() >= window / 2
            && drawn.is_none_or(|kind| kind == "publish")
        {
            Some("leadership")
        } else {
            drawn
        };
        let victims: Vec<usize> = match whole_service {
            Some(kind) => (0..instances.len())
                .filter(|i| instances[*i].kind == kind)
                .collect(),
            None => vec![rng.random_range(0..instances.len())],
        };
        let names: Vec<&str> = victims
            .iter()
            .map(|v| instances[*v].process.label())
            .collect();
        eprintln!(
            "chaos {:>6.1?}: SIGKILL {}",
            started.elapsed(),
            names.join(", ")
        );
        for victim in &victims {
            instances[*victim].process.kill();
            chaos.kills += 1;
        }
        if let Some(kind) = whole_service
            && let Some(unacknowledged) = unacknowledged(js, kind).await
        {
            chaos.whole_service_kills += 1;
            if unacknowledged > 0 {
                chaos.whole_service_kills_in_flight += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..700))).await;
        for victim in victims {
            instances[victim].process.restart();
        }
    }
    chaos
}

// ---------------------------------------------------------------------------------------------
// Reading NATS

/// The deliveries the durable consumers of service `kind` have not had acknowledged; `None`
/// for a service without durable consumers, or when the server does not answer (it may be
/// electing or starting: the kill is then not counted either way).
async fn unacknowledged(js: &jetstream::Context, kind: &str) -> Option<usize> {
    let consumers: Vec<(&str, &str)> = match kind {
        "intake" => topology::INTAKE_STREAMS
            .iter()
            .map(|(stream, _, durable)| (*stream, *durable))
            .collect(),
        "leadership" => vec![(topology::EVENTS_STREAM, "tandem-leadership")],
        "notify-iom" => vec![(topology::EVENTS_STREAM, "tandem-notify-iom")],
        "notify-unhcr" => vec![(topology::EVENTS_STREAM, "tandem-notify-unhcr")],
        _ => return None,
    };
    let mut total = 0;
    for (stream, durable) in consumers {
        let info = js
            .get_stream(stream)
            .await
            .ok()?
            .consumer_info(durable)
            .await
            .ok()?
            .clone();
        total += info.num_ack_pending;
    }
    Some(total)
}

/// Every message of stream `name`, in order, read with an ordered consumer (far faster than
/// one direct get per message).
async fn read_stream(js: &jetstream::Context, name: &str) -> Vec<jetstream::Message> {
    let mut stream = js.get_stream(name).await.expect("stream exists");
    let state = stream.info().await.expect("stream info").state.clone();
    if state.messages == 0 {
        return Vec::new();
    }
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut read = Vec::with_capacity(state.messages as usize);
    while let Some(message) = tokio::time::timeout(Duration::from_secs(30), messages.next())
        .await
        .unwrap_or_else(|_| panic!("reading {name} stalled after {} messages", read.len()))
    {
        let message = message.expect("stream message");
        let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        read.push(message);
        if sequence >= state.last_sequence {
            break;
        }
    }
    read
}

/// A one-line account of every durable consumer of tandem's streams:
/// `(stream, consumer, num_pending, num_ack_pending)`.
async fn durable_consumers(js: &jetstream::Context) -> Vec<(String, String, u64, usize)> {
    let mut found = Vec::new();
    for name in [
        topology::INTAKE_IOM_STREAM,
        topology::INTAKE_UNHCR_STREAM,
        topology::INTAKE_PARTNERS_STREAM,
        topology::EVENTS_STREAM,
        topology::ACKS_IOM_STREAM,
        topology::ACKS_UNHCR_STREAM,
        topology::DLQ_STREAM,
    ] {
        // A failed read fails the test: "nothing in flight" must not pass on an error.
        let stream = js
            .get_stream(name)
            .await
            .unwrap_or_else(|error| panic!("stream {name}: {error}"));
        let mut consumers = stream.consumers();
        while let Some(info) = consumers.next().await {
            let info = info.unwrap_or_else(|error| panic!("consumers of {name}: {error}"));
            if info.config.durable_name.is_some() {
                found.push((
                    name.to_string(),
                    info.name.clone(),
                    info.num_pending,
                    info.num_ack_pending,
                ));
            }
        }
    }
    found.sort();
    found
}

/// Waits until the pipeline has handled everything: each durable consumer, in pipeline order
/// (a handler acks only after publishing what it produces, so once a consumer is empty its
/// output is already counted in the next one's pending), has nothing pending or unacked.
/// Fails after `timeout` naming what is still in flight.
async fn drain(
    js: &jetstream::Context,
    instances: &mut [Instance],
    chaos: &mut Chaos,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let order = [
        (topology::INTAKE_IOM_STREAM, "tandem-intake-iom"),
        (topology::INTAKE_UNHCR_STREAM, "tandem-intake-unhcr"),
        (topology::INTAKE_PARTNERS_STREAM, "tandem-intake-partners"),
        (topology::EVENTS_STREAM, "tandem-leadership"),
        (topology::EVENTS_STREAM, "tandem-notify-iom"),
        (topology::EVENTS_STREAM, "tandem-notify-unhcr"),
        (topology::ACKS_IOM_STREAM, "tandem-notify-iom-acks"),
        (topology::ACKS_UNHCR_STREAM, "tandem-notify-unhcr-acks"),
    ];
    for (stream, consumer) in order {
        loop {
            chaos.supervise(instances);
            let done = match js.get_stream(stream).await {
                Ok(handle) => handle
                    .consumer_info(consumer)
                    .await
                    .is_ok_and(|info| info.num_pending == 0 && info.num_ack_pending == 0),
                Err(_) => false,
            };
            if done {
                eprintln!(
                    "drain {:>6.1?}: {consumer} has handled everything",
                    timeout.saturating_sub(
                        deadline.saturating_duration_since(tokio::time::Instant::now())
                    )
                );
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                let consumers = durable_consumers(js).await;
                let mut logs = String::new();
                for instance in instances.iter() {
                    let log = instance.process.log();
                    let _ = writeln!(
                        logs,
                        "  {}: {}",
                        instance.process.label(),
                        log[log.len().saturating_sub(3)..].join("\n    ")
                    );
                }
                return Err(format!(
                    "the pipeline did not finish within {timeout:?} after the chaos: {consumer} on \
                     {stream} still has work; consumers (stream, name, pending, unacked): \
                     {consumers:?}\nlast log lines:\n{logs}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// `GET path` from 127.0.0.1:`port`: (status, body); `None` when nothing answers.
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The dataset of the publish instance on `port` once it has applied the stream up to
/// `version` (its JSON `version` is the sequence of the last event it applied that changed
/// something). Panics after `timeout`.
async fn dataset_at(port: u16, version: u64, timeout: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::new();
    loop {
        if let Some((status, body)) = http_get(port, "/v1/situations").await {
            if status == 200
                && let Ok(dataset) = serde_json::from_str::<Value>(&body)
                && dataset["version"].as_u64().is_some_and(|v| v >= version)
            {
                return dataset;
            }
            last = format!("{status}: {}", body.chars().take(200).collect::<String>());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the publish instance on port {port} did not reach dataset version {version} within \
             {timeout:?}; last answer: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The test

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

// ---------------------------------------------------------------------------------------------
// The invariants

impl Check {
    /// For situations with accepted reports that no determination step reflects, what the
    /// server holds under leadership's record, read three ways: a KV get (direct get), the
    /// stream's last message of the key's subject, and the key's whole history through a
    /// consumer. Tells a record the server lost from one it cannot find.
    async fn diagnose_unreflected(&mut self, js: &jetstream::Context) {
        let situations: BTreeSet<String> = self
            .violations
            .iter()
            .filter(|v| v.contains("has no determination step"))
            .filter_map(|v| v.split(':').next().map(str::to_string))
            .take(5)
            .collect();
        if situations.is_empty() {
            return;
        }
        let bucket = topology::LEADERSHIP_BUCKET;
        let (Ok(kv), Ok(stream)) = (
            js.get_key_value(bucket).await,
            js.get_stream(format!("KV_{bucket}")).await,
        ) else {
            return;
        };
        for situation in situations {
            let key = tandem_leadership::situations::record_key(&situation);
            let get = match kv.entry(&key).await {
                Ok(Some(entry)) => format!("revision {}", entry.revision),
                Ok(None) => "none".to_string(),
                Err(error) => format!("error {error}"),
            };
            let last = match stream
                .get_last_raw_message_by_subject(&format!("$KV.{bucket}.{key}"))
                .await
            {
                Ok(message) => format!("sequence {}", message.sequence),
                Err(error) => format!("error {error}"),
            };
            // Every message of the key, not only the last: a consumer delivering all of them.
            let history = tokio::time::timeout(Duration::from_secs(10), async {
                match kv.history(&key).await {
                    Ok(entries) => {
                        let revisions: Vec<u64> = entries
                            .filter_map(|entry| async move { entry.ok().map(|e| e.revision) })
                            .collect()
                            .await;
                        format!("{revisions:?}")
                    }
                    Err(error) => format!("error {error}"),
                }
            })
            .await
            .unwrap_or_else(|_| "no answer within 10 s".to_string());
            // First, so that the panic message, which shows the first 40, holds them.
            self.violations.insert(
                0,
                format!(
                "diagnosis {situation}: leadership's record by KV get: {get}; by last message of \
                 its subject: {last}; its history: {history}"
            ),
            );
        }
    }
}

/// Violations found, and the loss and duplication counts of the summary.
#[derive(Default)]
struct Check {
    violations: Vec<String>,
    lost: u64,
    duplicated: u64,
}

/// An accepted report, as announced.
struct Acceptance {
    event_sequence: u64,
    situation_sequence: u64,
    report: SituationReport,
}

/// What invariant 1 established.
#[derive(Default)]
struct Outcomes {
    /// Every acceptance, per situation.
    accepted: Vec<Acceptance>,
    rejected: usize,
    rejected_as_meant: usize,
    stale: usize,
    reordered: usize,
}

/// What invariant 2 established.
#[derive(Default)]
struct Steps {
    /// Determinations per situation, by sequence.
    by_situation: BTreeMap<String, BTreeMap<u64, LeadershipDetermination>>,
    count: usize,
    situations: usize,
    /// The stream sequence of the last determination: the dataset must have applied it.
    last_event_sequence: u64,
    /// Per situation, what this test's reading of the policy gives for each accepted report,
    /// by situation sequence.
    modelled: BTreeMap<String, BTreeMap<u64, Modelled>>,
}

/// How often the modelled steps met the policy's rules that depend on earlier reports or on
/// who reported: for the summary, and to tell a run that never exercised them.
#[derive(Debug, Default)]
struct PolicyCases {
    /// Steps with a designation in force.
    under: usize,
    /// Steps whose designation was in force at the previous step and stayed.
    carried: usize,
    /// Steps that ended a designation in force.
    revoked: usize,
    /// Steps without any IOM or UNHCR report, so without scope.
    partner_only: usize,
}

impl Steps {
    fn policy_cases(&self) -> PolicyCases {
        let mut cases = PolicyCases::default();
        for modelled in self.modelled.values() {
            let mut before: Option<&Modelled> = None;
            for step in modelled.values() {
                let was = before.and_then(|b| b.designation.as_ref());
                cases.under += usize::from(step.designation.is_some());
                cases.carried += usize::from(was.is_some() && was == step.designation.as_ref());
                cases.revoked += usize::from(was.is_some() && step.designation.is_none());
                cases.partner_only += usize::from(!step.facts_known);
                before = Some(step);
            }
        }
        cases
    }
}

/// What invariant 3 counted.
#[derive(Default)]
struct Notified {
    delivered: usize,
    changed: usize,
    discrepancy: usize,
}

/// (agency, partner name, report id, revision): how a determination names a report.
type ReportKey = (i32, String, String, u32);

fn report_key(report: &SituationReport) -> ReportKey {
    (
        report.reporting_agency,
        report.reporter_org.clone(),
        report.report_id.clone(),
        report.revision,
    )
}

impl Check {
    fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    /// Invariant 1: every stored report has exactly one outcome, the one it was meant to get.
    fn one_outcome_per_report(
        &mut self,
        reports: &[Planned],
        intake: &[jetstream::Message],
        events: &[jetstream::Message],
    ) -> Outcomes {
        let planned: HashMap<String, usize> = reports
            .iter()
            .enumerate()
            .map(|(index, report)| (report.msg_id(), index))
            .collect();
        // Intake's outcome id of each stored message → planned report.
        let mut stored: HashMap<String, usize> = HashMap::new();
        let mut times_stored = vec![0u32; reports.len()];
        for message in intake {
            let id = envelope::header(message.headers.as_ref(), envelope::MSG_ID).unwrap_or("");
            let outcome_id = message
                .info()
                .map(|i| topology::intake_outcome_id(i.stream, i.stream_sequence))
                .unwrap_or_default();
            match planned.get(id) {
                Some(index) => {
                    stored.insert(outcome_id, *index);
                    times_stored[*index] += 1;
                }
                None => self.violation(format!(
                    "an intake stream holds a report nobody sent: {id:?}"
                )),
            }
        }
        for (index, times) in times_stored.iter().enumerate() {
            if *times != 1 {
                self.violation(format!(
                    "report {} is stored {times} times in its intake stream",
                    reports[index].msg_id()
                ));
                if *times == 0 {
                    self.lost += 1;
                } else {
                    self.duplicated += u64::from(times - 1);
                }
            }
        }

        let mut outcomes = Outcomes::default();
        let mut answers: Vec<Vec<Result<u64, SituationRejected>>> = vec![Vec::new(); reports.len()];
        let mut accepted_by_report: HashMap<usize, Acceptance> = HashMap::new();
        for message in events {
            let accepted = message.subject.starts_with("tandem.situation.accepted.");
            let rejected = message.subject.starts_with("tandem.situation.rejected.");
            if !accepted && !rejected {
                continue;
            }
            let id = envelope::header(message.headers.as_ref(), envelope::MSG_ID).unwrap_or("");
            let Some(index) = stored.get(id).copied() else {
                self.violation(format!(
                    "an outcome names no stored report: {id:?} on {}",
                    message.subject
                ));
                continue;
            };
            let report = &reports[index];
            let event_sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            if accepted {
                let Ok(event) = SituationAccepted::decode(message.payload.clone()) else {
                    self.violation(format!(
                        "undecodable SituationAccepted for {}",
                        report.msg_id()
                    ));
                    continue;
                };
                let announced = event.report.unwrap_or_default();
                if announced.report_id != report.report_id
                    || announced.situation_id != report.situation
                {
                    self.violation(format!(
                        "the acceptance of {} carries report {} of {}",
                        report.msg_id(),
                        announced.report_id,
                        announced.situation_id
                    ));
                }
                answers[index].push(Ok(event_sequence));
                accepted_by_report.insert(
                    index,
                    Acceptance {
                        event_sequence,
                        situation_sequence: event.situation_sequence,
                        report: announced,
                    },
                );
            } else {
                let Ok(event) = SituationRejected::decode(message.payload.clone()) else {
                    self.violation(format!(
                        "undecodable SituationRejected for {}",
                        report.msg_id()
                    ));
                    continue;
                };
                let expected_id = if report.intent == Intent::Undecodable {
                    ""
                } else {
                    report.report_id.as_str()
                };
                if event.report_id != expected_id {
                    self.violation(format!(
                        "the rejection of {} names report {:?}",
                        report.msg_id(),
                        event.report_id
                    ));
                }
                answers[index].push(Err(event));
            }
        }

        // Accepted revisions per (situation, organisation), to judge stale rejections.
        let mut newest_accepted: HashMap<(String, &str), u32> = HashMap::new();
        for (index, acceptance) in &accepted_by_report {
            let report = &reports[*index];
            let newest = newest_accepted
                .entry((report.situation.clone(), report.org))
                .or_default();
            *newest = (*newest).max(acceptance.report.revision);
        }
        for (index, report) in reports.iter().enumerate() {
            match answers[index].len() {
                0 => {
                    if times_stored[index] > 0 {
                        self.lost += 1;
                        self.violation(format!("report {} has no outcome", report.msg_id()));
                    }
                    continue;
                }
                1 => {}
                n => {
                    self.duplicated += n as u64 - 1;
                    self.violation(format!("report {} has {n} outcomes", report.msg_id()));
                }
            }
            match (&answers[index][0], report.intent) {
                (Ok(_), Intent::Valid | Intent::Stale) => {}
                (Ok(_), intent) => self.violation(format!(
                    "report {} was accepted though {intent:?}",
                    report.msg_id()
                )),
                (Err(rejection), intent) => {
                    outcomes.rejected += 1;
                    let codes: Vec<&str> =
                        rejection.reasons.iter().map(|r| r.code.as_str()).collect();
                    match intent {
                        Intent::Invalid(code) if codes.contains(&code) => {
                            outcomes.rejected_as_meant += 1
                        }
                        Intent::Undecodable if codes == ["UNDECODABLE"] => {
                            outcomes.rejected_as_meant += 1
                        }
                        Intent::Valid | Intent::Stale if codes == ["STALE_REVISION"] => {
                            outcomes.stale += 1;
                            if intent == Intent::Valid {
                                outcomes.reordered += 1;
                            }
                            // Stale only against an accepted revision at least as new.
                            let revision = SituationReport::decode(report.payload.clone())
                                .map(|r| r.revision)
                                .unwrap_or(0);
                            let newest = newest_accepted
                                .get(&(report.situation.clone(), report.org))
                                .copied()
                                .unwrap_or(0);
                            if newest < revision {
                                self.violation(format!(
                                    "report {} (revision {revision}) was rejected as stale, but the newest accepted revision of {} on {} is {newest}",
                                    report.msg_id(),
                                    report.org,
                                    report.situation
                                ));
                            }
                        }
                        intent => self.violation(format!(
                            "report {} ({intent:?}) was rejected with {codes:?}",
                            report.msg_id()
                        )),
                    }
                }
            }
        }
        outcomes.accepted = accepted_by_report.into_values().collect();
        outcomes.accepted.sort_by_key(|a| a.event_sequence);
        outcomes
    }

    /// Part of invariant 2: `determination` says what the policy, as this test reads it, gives.
    fn as_modelled(
        &mut self,
        situation: &str,
        determination: &LeadershipDetermination,
        model: &Modelled,
    ) {
        let found = Modelled {
            decided: Decided {
                classification: determination.classification(),
                arrangement: determination.arrangement(),
                leads: determination.lead_agencies.iter().copied().collect(),
            },
            changed: determination.changed,
            discrepancies: determination
                .discrepancies
                .iter()
                .map(|d| d.group)
                .collect(),
            country: determination.country.clone(),
            designation: determination
                .designation
                .as_ref()
                .map(|d| d.leads.iter().copied().collect()),
            // A determination does not say this; it is not compared.
            facts_known: model.facts_known,
        };
        if (
            &found.decided,
            found.changed,
            &found.discrepancies,
            &found.country,
            &found.designation,
        ) != (
            &model.decided,
            model.changed,
            &model.discrepancies,
            &model.country,
            &model.designation,
        ) {
            self.violation(format!(
                "{situation}: determination {} is {found:?}, the policy gives {model:?}",
                determination.sequence
            ));
        }
    }

    /// Invariant 2: per situation, acceptances are numbered 1..n and each is one determination
    /// step, resting on exactly the latest accepted revision of each organisation.
    fn one_step_per_acceptance(
        &mut self,
        outcomes: &Outcomes,
        events: &[jetstream::Message],
    ) -> Steps {
        let mut steps = Steps::default();
        let mut acceptances: BTreeMap<&str, BTreeMap<u64, &Acceptance>> = BTreeMap::new();
        for acceptance in &outcomes.accepted {
            let numbered = acceptances
                .entry(&acceptance.report.situation_id)
                .or_default();
            if numbered
                .insert(acceptance.situation_sequence, acceptance)
                .is_some()
            {
                self.duplicated += 1;
                self.violation(format!(
                    "two acceptances of {} carry number {}",
                    acceptance.report.situation_id, acceptance.situation_sequence
                ));
            }
        }
        let mut determinations: BTreeMap<String, BTreeMap<u64, LeadershipDetermination>> =
            BTreeMap::new();
        for message in events {
            if !message.subject.starts_with("tandem.leadership.determined.") {
                continue;
            }
            let Ok(determination) = LeadershipDetermination::decode(message.payload.clone()) else {
                self.violation(format!("undecodable determination on {}", message.subject));
                continue;
            };
            steps.count += 1;
            steps.last_event_sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            let situation = determination.situation_id.clone();
            let sequence = determination.sequence;
            if determinations
                .entry(situation.clone())
                .or_default()
                .insert(sequence, determination)
                .is_some()
            {
                self.duplicated += 1;
                self.violation(format!(
                    "situation {situation} has determination {sequence} twice"
                ));
            }
        }
        for (situation, numbered) in &acceptances {
            let count = numbered.len() as u64;
            if numbered.keys().copied().ne(1..=count) {
                self.violation(format!(
                    "the acceptances of {situation} are numbered {:?}, not 1..={count}",
                    numbered.keys().collect::<Vec<_>>()
                ));
            }
            let mut revisions: HashMap<(i32, &str), u32> = HashMap::new();
            let mut latest: BTreeMap<(i32, &str), ReportKey> = BTreeMap::new();
            // Each organisation's latest accepted revision, with the number of its acceptance.
            let mut held: BTreeMap<(i32, &str), (u64, &SituationReport)> = BTreeMap::new();
            let mut modelled: BTreeMap<u64, Modelled> = BTreeMap::new();
            let steps_of = determinations.get(*situation);
            for (number, acceptance) in numbered {
                let report = &acceptance.report;
                let org = (report.reporting_agency, report.reporter_org.as_str());
                if let Some(before) = revisions.insert(org, report.revision)
                    && before >= report.revision
                {
                    self.violation(format!(
                        "{situation}: revision {} of {org:?} accepted as number {number} after revision {before}",
                        report.revision
                    ));
                }
                latest.insert(org, report_key(report));
                held.insert(org, (*number, report));
                let mut in_order: Vec<(u64, &SituationReport)> = held.values().copied().collect();
                in_order.sort_by_key(|(number, _)| *number);
                let in_order: Vec<&SituationReport> =
                    in_order.into_iter().map(|(_, r)| r).collect();
                let model = model_step(&in_order, modelled.values().next_back());
                let determination = steps_of.and_then(|s| s.get(number));
                if let Some(determination) = determination {
                    self.as_modelled(situation, determination, &model);
                }
                modelled.insert(*number, model);
                let Some(determination) = determination else {
                    self.lost += 1;
                    self.violation(format!(
                        "{situation}: accepted report {} (number {number}) has no determination step {number}",
                        report.report_id
                    ));
                    continue;
                };
                let expected: BTreeSet<&ReportKey> = latest.values().collect();
                let based_on: Vec<ReportKey> = determination
                    .based_on
                    .iter()
                    .map(|r| {
                        (
                            r.reporting_agency,
                            r.reporter_org.clone(),
                            r.report_id.clone(),
                            r.revision,
                        )
                    })
                    .collect();
                if based_on.iter().collect::<BTreeSet<_>>() != expected
                    || based_on.len() != expected.len()
                {
                    self.violation(format!(
                        "{situation}: determination {number} rests on {based_on:?}, expected {expected:?}"
                    ));
                }
            }
            steps.modelled.insert(situation.to_string(), modelled);
            if let Some(steps_of) = steps_of
                && let Some(extra) = steps_of.keys().find(|n| !numbered.contains_key(n))
            {
                self.duplicated += 1;
                self.violation(format!(
                    "{situation}: determination {extra} reflects no accepted report ({} accepted)",
                    numbered.len()
                ));
            }
        }
        for situation in determinations.keys() {
            if !acceptances.contains_key(situation.as_str()) {
                self.violation(format!(
                    "determinations of {situation}, which has no accepted report"
                ));
            }
        }
        steps.situations = determinations.len();
        steps.by_situation = determinations;
        steps
    }

    /// Invariant 3: every notification docs/design.md's rules call for was delivered once, over
    /// NATS, and nothing else was.
    fn notified_once(&mut self, steps: &Steps, notify: &[jetstream::Message]) -> Notified {
        let directory = focal_points();
        // (determination id, kind, agency, recipient) → how often expected (always 1).
        let mut expected: BTreeSet<(String, i32, String, String)> = BTreeSet::new();
        // Determination id → its discrepancy groups and its predecessor's, for messages.
        let mut history: HashMap<String, String> = HashMap::new();
        for (situation, modelled) in &steps.modelled {
            let mut groups_before: BTreeSet<i32> = BTreeSet::new();
            for (sequence, step) in modelled {
                // docs/design.md: a determination's id is `<situation_id>/<sequence>`.
                let determination_id = format!("{situation}/{sequence}");
                let groups = &step.discrepancies;
                let fresh = groups.difference(&groups_before).next().is_some();
                history.insert(
                    determination_id.clone(),
                    format!("discrepancy groups {groups_before:?} before, {groups:?} here"),
                );
                for agency in ["iom", "unhcr"] {
                    let mut tell = |role: &str, kind: NotificationKind| {
                        for recipient in
                            expected_recipients(&directory, agency, role, &step.country)
                        {
                            expected.insert((
                                determination_id.clone(),
                                kind as i32,
                                agency.to_string(),
                                recipient.to_string(),
                            ));
                        }
                    };
                    if step.changed {
                        tell(
                            "COUNTRY_COORDINATOR",
                            NotificationKind::DeterminationChanged,
                        );
                    }
                    if fresh {
                        tell("DATA_FOCAL_POINT", NotificationKind::Discrepancy);
                    }
                }
                groups_before = groups.clone();
            }
        }

        let mut notified = Notified::default();
        let mut seen: BTreeMap<(String, i32, String, String), Vec<String>> = BTreeMap::new();
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut delivered: BTreeMap<(String, i32), usize> = BTreeMap::new();
        for message in notify {
            if let Some(rest) = message.subject.strip_prefix("tandem.notify.out.") {
                let Ok(notification) = Notification::decode(message.payload.clone()) else {
                    self.violation(format!("undecodable notification on {}", message.subject));
                    continue;
                };
                let agency = match notification.recipient_agency() {
                    Agency::Iom => "iom",
                    Agency::Unhcr => "unhcr",
                    _ => "?",
                };
                if rest != format!("{agency}.{}", notification.recipient_id) {
                    self.violation(format!(
                        "notification {} for {agency}/{} was sent on {}",
                        notification.notification_id, notification.recipient_id, message.subject
                    ));
                }
                if notification.escalation_tier > 0 {
                    self.violation(format!(
                        "notification {} is an escalation, and nothing here waits for one",
                        notification.notification_id
                    ));
                }
                *ids.entry(notification.notification_id.clone()).or_default() += 1;
                seen.entry((
                    notification.determination_id.clone(),
                    notification.kind,
                    agency.to_string(),
                    notification.recipient_id.clone(),
                ))
                .or_default()
                .push(notification.notification_id);
            } else if message.subject.starts_with("tandem.notify.status.") {
                let Ok(status) = NotificationStatus::decode(message.payload.clone()) else {
                    self.violation(format!("undecodable status on {}", message.subject));
                    continue;
                };
                if status.state() == NotificationState::Delivered {
                    *delivered
                        .entry((status.notification_id.clone(), status.channel))
                        .or_default() += 1;
                } else {
                    self.violation(format!(
                        "notification {} has status {:?} on {:?}: {}",
                        status.notification_id,
                        status.state(),
                        status.channel(),
                        status.reason
                    ));
                }
            }
        }
        let describe =
            |(determination, kind, agency, recipient): &(String, i32, String, String)| {
                let kind = NotificationKind::try_from(*kind)
                    .unwrap_or(NotificationKind::Unspecified)
                    .as_str_name()
                    .trim_start_matches("NOTIFICATION_KIND_");
                let context = history.get(determination).map_or("", String::as_str);
                format!(
                    "{kind} of determination {determination} to {agency}/{recipient} ({context})"
                )
            };
        for (key, notifications) in &seen {
            if notifications.len() > 1 {
                self.duplicated += notifications.len() as u64 - 1;
                self.violation(format!(
                    "{} was notified {} times",
                    describe(key),
                    notifications.len()
                ));
            }
            if !expected.contains(key) {
                self.duplicated += 1;
                self.violation(format!(
                    "{} was notified, and the rules call for no such notification",
                    describe(key)
                ));
            }
        }
        for key in &expected {
            if !seen.contains_key(key) {
                self.lost += 1;
                self.violation(format!("{} was never notified", describe(key)));
            }
        }
        let keys_of: HashMap<&str, &(String, i32, String, String)> = seen
            .iter()
            .flat_map(|(key, ids)| ids.iter().map(move |id| (id.as_str(), key)))
            .collect();
        for (id, times) in &ids {
            let statuses = delivered
                .get(&(id.clone(), tandem_proto::v1::Channel::Nats as i32))
                .copied()
                .unwrap_or(0);
            if *times != 1 || statuses != 1 {
                self.violation(format!(
                    "notification {id}, {}: published {times} times, {statuses} DELIVERED statuses over NATS",
                    keys_of.get(id.as_str()).map(|key| describe(key)).unwrap_or_default()
                ));
            }
        }
        for (id, _) in delivered.keys() {
            if !ids.contains_key(id) {
                self.violation(format!(
                    "notification {id} is DELIVERED but was never published"
                ));
            }
        }
        notified.delivered = seen.values().map(Vec::len).sum();
        notified.changed = seen
            .keys()
            .filter(|k| k.1 == NotificationKind::DeterminationChanged as i32)
            .count();
        notified.discrepancy = seen
            .keys()
            .filter(|k| k.1 == NotificationKind::Discrepancy as i32)
            .count();
        notified
    }

    /// Invariant 4: each publish instance serves exactly the rows computed here from the
    /// latest accepted revisions. Returns the number of rows.
    fn dataset_as_computed(
        &mut self,
        outcomes: &Outcomes,
        steps: &Steps,
        datasets: &[(String, Value)],
    ) -> usize {
        // The latest accepted revision of each organisation per situation, with the stream
        // sequence of its acceptance (publish breaks equal report times by it).
        let mut latest: BTreeMap<&str, BTreeMap<(i32, &str), &Acceptance>> = BTreeMap::new();
        for acceptance in &outcomes.accepted {
            let report = &acceptance.report;
            let slot = latest
                .entry(&report.situation_id)
                .or_default()
                .entry((report.reporting_agency, report.reporter_org.as_str()))
                .or_insert(acceptance);
            if slot.report.revision < report.revision {
                *slot = acceptance;
            }
        }
        let mut expected_rows: BTreeMap<String, Value> = BTreeMap::new();
        for (situation, reports) in &latest {
            let (Some(final_step), Some(model)) = (
                steps
                    .by_situation
                    .get(*situation)
                    .and_then(|d| d.values().next_back()),
                steps
                    .modelled
                    .get(*situation)
                    .and_then(|m| m.values().next_back()),
            ) else {
                continue; // Reported in invariant 2.
            };
            let mut in_order: Vec<&Acceptance> = reports.values().copied().collect();
            in_order.sort_by_key(|a| a.situation_sequence);
            let figures = reconciled_figures(in_order.iter().map(|a| &a.report));
            let final_figures: BTreeMap<i32, u64> = final_step
                .figures
                .iter()
                .map(|f| (f.group, f.count))
                .collect();
            let reconciled: BTreeMap<i32, u64> =
                figures.iter().map(|(g, c)| (*g as i32, *c)).collect();
            if final_figures != reconciled {
                self.violation(format!(
                    "{situation}: the final determination's figures {final_figures:?} are not the reconciled {figures:?}"
                ));
            }
            expected_rows.insert(
                situation.to_string(),
                expected_row(situation, reports, final_step, model, &figures),
            );
        }
        for (label, dataset) in datasets {
            let rows: BTreeMap<String, &Value> = dataset["situations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|row| {
                    (
                        row["situation_id"].as_str().unwrap_or_default().to_string(),
                        row,
                    )
                })
                .collect();
            for (situation, expected) in &expected_rows {
                match rows.get(situation) {
                    None => {
                        self.lost += 1;
                        self.violation(format!("{label}: the dataset has no row for {situation}"));
                    }
                    Some(row) if *row != expected => self.violation(format!(
                        "{label}: row {situation} is\n    {row}\n  computed from the reports:\n    {expected}"
                    )),
                    Some(_) => {}
                }
            }
            for situation in rows.keys().filter(|s| !expected_rows.contains_key(*s)) {
                self.violation(format!(
                    "{label}: the dataset has a row for {situation}, which has no accepted report"
                ));
            }
        }
        expected_rows.len()
    }

    /// Invariant 5: no durable consumer has anything pending or unacknowledged, and nothing
    /// was dead-lettered.
    fn nothing_in_flight(
        &mut self,
        consumers: &[(String, String, u64, usize)],
        dead_letters: &[jetstream::Message],
    ) {
        for (stream, consumer, pending, unacked) in consumers {
            if *pending != 0 || *unacked != 0 {
                self.violation(format!(
                    "consumer {consumer} on {stream}: {pending} pending, {unacked} unacknowledged"
                ));
            }
        }
        for expected in [
            "tandem-intake-iom",
            "tandem-intake-unhcr",
            "tandem-intake-partners",
            "tandem-leadership",
            "tandem-notify-iom",
            "tandem-notify-unhcr",
        ] {
            if !consumers.iter().any(|(_, name, _, _)| name == expected) {
                self.violation(format!("durable consumer {expected} does not exist"));
            }
        }
        for message in dead_letters {
            let letter =
                tandem_proto::v1::DeadLetter::decode(message.payload.clone()).unwrap_or_default();
            self.violation(format!(
                "dead letter on {} from {}: {} (after {} deliveries, {} #{})",
                message.subject,
                letter.service,
                letter.error,
                letter.deliveries,
                letter.stream,
                letter.stream_sequence
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The policy, as this test reads docs/design.md ("Leadership policy v1", "Several reports on
// one situation"): written here, not taken from the leadership service, so that a wrong rule in
// the product and a wrong expectation here would have to be the same mistake.

/// What the rules give for one determination step.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Decided {
    classification: Classification,
    arrangement: Arrangement,
    /// The lead agencies, as a set of enum values.
    leads: BTreeSet<i32>,
}

/// One step of a situation as this test expects it.
#[derive(Clone, Debug)]
struct Modelled {
    decided: Decided,
    /// Classification, arrangement or leads differ from the previous step (true for the first).
    changed: bool,
    /// The groups where IOM's and UNHCR's figures differ by more than 25% of the larger.
    discrepancies: BTreeSet<i32>,
    /// The country the reports give.
    country: String,
    /// The leads of the designation in force, if any: recorded by an IOM or UNHCR report,
    /// kept through later reports until an IOM or UNHCR report revokes it.
    designation: Option<BTreeSet<i32>>,
    /// Whether an IOM or UNHCR report gave the situation's facts (scope, driver, phase, on the
    /// move); without one there is no scope yet.
    facts_known: bool,
}

/// UNHCR's mandate population (P), migrants (M) and the internally displaced (D).
const PROTECTION_GROUPS: [PopulationGroup; 5] = [
    PopulationGroup::Refugee,
    PopulationGroup::AsylumSeeker,
    PopulationGroup::OtherInNeedOfProtection,
    PopulationGroup::Stateless,
    PopulationGroup::ReturnedRefugee,
];
const DISPLACED_GROUPS: [PopulationGroup; 2] = [PopulationGroup::Idp, PopulationGroup::ReturnedIdp];

/// The step the rules give for `held` (the latest accepted revision of each organisation, in
/// the order intake accepted them, so the last is the report this step reflects), after the
/// step `previous`.
fn model_step(held: &[&SituationReport], previous: Option<&Modelled>) -> Modelled {
    use Arrangement as A;
    use Classification as C;
    let figures = reconciled_figures(held.iter().copied());
    let sum = |groups: &[PopulationGroup]| -> u128 {
        groups
            .iter()
            .map(|g| u128::from(figures.get(g).copied().unwrap_or(0)))
            .sum()
    };
    let p = sum(&PROTECTION_GROUPS);
    let m = sum(&[PopulationGroup::Migrant]);
    let d = sum(&DISPLACED_GROUPS);
    // Recency is acceptance order. Scope, driver, phase and `on_the_move` come from the most
    // recently accepted IOM or UNHCR report ([facts]); partners give figures only, so a
    // situation only a partner reported has no scope yet.
    let newest = held.last().copied().cloned().unwrap_or_default();
    let by_agency =
        |r: &SituationReport| matches!(r.reporting_agency(), Agency::Iom | Agency::Unhcr);
    let facts = held.iter().rev().copied().find(|r| by_agency(r));
    let scope = facts.map_or(Scope::Unspecified, |r| r.scope());
    let set = |agencies: &[Agency]| agencies.iter().map(|a| *a as i32).collect::<BTreeSet<_>>();
    let joint = set(&[Agency::Iom, Agency::Unhcr]);
    let previous_classification = previous.map(|p| p.decided.classification);
    let mut decided = if p + m + d == 0
        || scope == Scope::Unspecified
        || (scope == Scope::CrossBorder && p + m == 0)
    {
        Decided {
            classification: C::PendingJointAssessment,
            arrangement: A::JointAssessment,
            leads: joint.clone(),
        }
    } else if scope == Scope::Internal {
        if facts.is_some_and(|r| r.phase() == Phase::Solutions) {
            Decided {
                classification: C::IdpDurableSolutions,
                arrangement: A::JointSolutionsSupport,
                leads: joint.clone(),
            }
        } else {
            // Protection cluster → UNHCR, CCCM → IOM for a disaster, else UNHCR.
            let cccm = if facts.is_some_and(|r| r.driver() == Driver::Disaster) {
                Agency::Iom
            } else {
                Agency::Unhcr
            };
            Decided {
                classification: C::IdpSituation,
                arrangement: A::ClusterSystem,
                leads: set(&[Agency::Unhcr, cccm]),
            }
        }
    } else {
        // Thresholds in percent, moved 5 points in favour of the previous classification.
        let (refugee_at, migrant_at) = match previous_classification {
            Some(C::RefugeeSituation) => (75, 20),
            Some(C::MigrantSituation) => (80, 25),
            Some(C::MixedMovement | C::RespectiveMandates) => (85, 15),
            _ => (80, 20),
        };
        if 100 * p >= refugee_at * (p + m) {
            Decided {
                classification: C::RefugeeSituation,
                arrangement: A::RefugeeCoordinationModel,
                leads: set(&[Agency::Unhcr]),
            }
        } else if 100 * p <= migrant_at * (p + m) {
            Decided {
                classification: C::MigrantSituation,
                arrangement: A::IomLedResponse,
                leads: set(&[Agency::Iom]),
            }
        } else if facts.is_some_and(|r| r.on_the_move) {
            Decided {
                classification: C::MixedMovement,
                arrangement: A::JointPlatform,
                leads: joint.clone(),
            }
        } else {
            Decided {
                classification: C::RespectiveMandates,
                arrangement: A::RespectiveMandates,
                leads: joint.clone(),
            }
        }
    };
    // Rule 1: a designation recorded by IOM or UNHCR stays in force through later reports
    // until IOM or UNHCR revokes it; while in force, the designated hold the lead.
    let designated: BTreeSet<i32> = newest
        .designated_leads
        .iter()
        .copied()
        .filter(|a| {
            [Agency::Iom, Agency::Unhcr, Agency::Partner]
                .map(|k| k as i32)
                .contains(a)
        })
        .collect();
    let designation = if !by_agency(&newest) {
        previous.and_then(|p| p.designation.clone())
    } else if newest.revoke_designation {
        None
    } else if !designated.is_empty() && !newest.designation_reference.is_empty() {
        Some(designated)
    } else {
        previous.and_then(|p| p.designation.clone())
    };
    if let Some(leads) = &designation {
        decided.arrangement = A::Designated;
        decided.leads = leads.clone();
    }
    // IOM's and UNHCR's own figures (the first of a repeated group), compared exactly.
    let own = |agency: Agency| -> BTreeMap<i32, u64> {
        let mut own = BTreeMap::new();
        for report in held.iter().filter(|r| r.reporting_agency() == agency) {
            for figure in &report.population {
                own.entry(figure.group).or_insert(figure.count);
            }
        }
        own
    };
    let (iom, unhcr) = (own(Agency::Iom), own(Agency::Unhcr));
    let discrepancies = iom
        .iter()
        .filter_map(|(group, a)| {
            let b = unhcr.get(group)?;
            (100 * u128::from(a.abs_diff(*b)) > 25 * u128::from(*a.max(b))).then_some(*group)
        })
        .collect();
    Modelled {
        changed: previous.is_none_or(|p| p.decided != decided),
        decided,
        discrepancies,
        country: newest.country,
        designation,
        facts_known: facts.is_some(),
    }
}

/// The dataset's population columns (docs/analysts.md): group, JSON name, and whether the
/// group counts in `total`.
const COLUMNS: [(PopulationGroup, &str, bool); 9] = [
    (PopulationGroup::Refugee, "refugees", true),
    (PopulationGroup::AsylumSeeker, "asylum_seekers", true),
    (
        PopulationGroup::OtherInNeedOfProtection,
        "others_in_need_of_protection",
        true,
    ),
    (PopulationGroup::Stateless, "stateless", true),
    (PopulationGroup::Migrant, "migrants", true),
    (PopulationGroup::Idp, "idps", true),
    (PopulationGroup::ReturnedRefugee, "returned_refugees", true),
    (PopulationGroup::ReturnedIdp, "returned_idps", true),
    (PopulationGroup::HostCommunity, "host_community", false),
];

/// Reconciles the figures of one situation's latest revisions, given in the order intake
/// accepted them, as docs/design.md says: per group, the figure of its authoritative agency when
/// that agency reported one, else the most recently accepted (never by `reported_at`).
fn reconciled_figures<'a>(
    reports: impl Iterator<Item = &'a SituationReport> + Clone,
) -> BTreeMap<PopulationGroup, u64> {
    let authority = |group: PopulationGroup| match group {
        PopulationGroup::Refugee
        | PopulationGroup::AsylumSeeker
        | PopulationGroup::OtherInNeedOfProtection
        | PopulationGroup::Stateless
        | PopulationGroup::ReturnedRefugee => Some(Agency::Unhcr),
        PopulationGroup::Migrant | PopulationGroup::Idp | PopulationGroup::ReturnedIdp => {
            Some(Agency::Iom)
        }
        _ => None,
    };
    let mut figures = BTreeMap::new();
    for (group, _, _) in COLUMNS {
        let reporting = reports.clone().filter_map(|report| {
            report
                .population
                .iter()
                .find(|f| f.group == group as i32)
                .map(|f| (report, f.count))
        });
        let authoritative = reporting
            .clone()
            .filter(|(report, _)| Some(report.reporting_agency()) == authority(group))
            .last();
        if let Some((_, count)) = authoritative.or_else(|| reporting.last()) {
            figures.insert(group, count);
        }
    }
    figures
}

/// The row `GET /v1/situations` must show for `situation` (docs/design.md, "Data publication").
fn expected_row(
    situation: &str,
    reports: &BTreeMap<(i32, &str), &Acceptance>,
    determination: &LeadershipDetermination,
    model: &Modelled,
    figures: &BTreeMap<PopulationGroup, u64>,
) -> Value {
    // The most recently accepted report's P-codes (docs/design.md: recency is acceptance order).
    let latest = reports
        .values()
        .max_by_key(|a| a.event_sequence)
        .map(|a| &a.report);
    let name = |agency: i32| match Agency::try_from(agency).unwrap_or(Agency::Unspecified) {
        Agency::Iom => "IOM",
        Agency::Unhcr => "UNHCR",
        Agency::Partner => "PARTNER",
        Agency::Unspecified => "UNSPECIFIED",
    };
    let leads: BTreeSet<&str> = model.decided.leads.iter().map(|a| name(*a)).collect();
    let sources: BTreeSet<&str> = reports
        .values()
        .map(|a| name(a.report.reporting_agency))
        .collect();
    let last_reported = reports
        .values()
        .filter_map(|a| a.report.reported_at.map(|t| t.seconds))
        .max()
        .map(|seconds| civil(seconds).0)
        .unwrap_or_default();
    let mut row = json!({
        "situation_id": situation,
        "country": model.country,
        "admin1_pcode": latest.map(|r| r.admin1_pcode.clone()).unwrap_or_default(),
        "admin2_pcode": latest.map(|r| r.admin2_pcode.clone()).unwrap_or_default(),
        "classification": model.decided.classification.as_str_name(),
        "arrangement": model.decided.arrangement.as_str_name(),
        "lead_agencies": leads,
        "source_agencies": sources,
        "last_reported": last_reported,
        "policy_version": determination.policy_version,
        "as_of": determination.determined_at.map(|t| civil(t.seconds).1).unwrap_or_default(),
    });
    // Counts of 1–4 are published as `*` and left out of the total, which leaves out host
    // communities too; zero is published; a group nobody reported is null.
    let mut total = 0;
    let mut total_suppressed = false;
    for (group, column, in_total) in COLUMNS {
        let cell = figures.get(&group).copied();
        row[column] = match cell {
            None => Value::Null,
            Some(1..=4) => "*".into(),
            Some(count) => count.into(),
        };
        match cell {
            Some(1..=4) if in_total => total_suppressed = true,
            Some(count) if in_total => total += count,
            _ => {}
        }
    }
    row["total"] = total.into();
    row["total_suppressed"] = total_suppressed.into();
    row
}

/// A Unix time as (`YYYY-MM-DD`, RFC 3339 to the second in UTC), by the civil-from-days
/// algorithm (H. Hinnant), so the test needs no date library.
fn civil(seconds: i64) -> (String, String) {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}-{month:02}-{day:02}");
    let time = format!(
        "{date}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    (date, time)
}
