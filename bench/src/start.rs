//! The data service alone (`tandem-publish`, found next to this binary) on a stream filled
//! beforehand, as leadership and intake would have filled it:
//!
//! - **start**: time from starting the process to `/healthz` 200, once with no snapshot (it
//!   reads every event) and once more after it stored its snapshot (it reads the snapshot and
//!   the events after it), with how many events each start read (`events_replayed`).
//! - **one event**: with that many situations published, the processor time of the service and
//!   the wall time from storing one determination to the dataset version that holds it being
//!   announced (versions at most every millisecond, snapshots off): the processor time over
//!   [`EVENTS`] events one after the other, and their median wall time; then the time to
//!   download the last version, which the service reads from the object store.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use async_nats::jetstream;
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::{
    timestamp,
    v1::{
        Agency, Arrangement, Classification, DatasetPublished, LeadershipDetermination,
        RationaleEntry, ReconciledFigure, SituationAccepted,
    },
};
use tandem_runtime::{config::NatsConfig, nats, topology};

use crate::{
    feed::{self, COUNTRIES, Outgoing, publish_all},
    figures::{EventRun, StartRun},
    process::{CpuMeter, Process},
};

/// Events whose cost is measured, one after the other.
const EVENTS: u64 = 9;

/// How long a start or a version may take before the run fails.
const TIMEOUT: Duration = Duration::from_secs(1800);

/// One `tandem-publish` process, killed when dropped.
struct Publish {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Publish {
    fn start(config: &NatsConfig, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let path = std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .context("no directory of tandem-bench")?
            .join("tandem-publish");
        if !path.is_file() {
            bail!("{} is missing: build every binary first", path.display());
        }
        tandem_runtime::tls::install_crypto_provider();
        let http = reqwest::Client::new();
        // A free port, handed to the service (which binds it at once).
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(path)
            .env("NATS_URL", &config.url)
            .env("TANDEM_PUBLISH_ADDR", &address)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(Self {
            child,
            base: format!("http://{address}"),
            http,
        })
    }

    /// Waits for `/healthz` 200 and returns its body.
    async fn ready(&self) -> anyhow::Result<serde_json::Value> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(response) = self.http.get(format!("{}/healthz", self.base)).send().await
                && response.status().is_success()
            {
                return Ok(serde_json::from_str(&response.text().await?)?);
            }
            if Instant::now() > deadline {
                bail!("tandem-publish was not ready within {TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn process(&self) -> Process {
        Process::new("publish", self.child.id())
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A determination of situation `situation` as leadership announces it, with a rationale of the
/// usual length.
fn determination(situation: usize, sequence: u64) -> LeadershipDetermination {
    let id = format!("START-{situation}");
    LeadershipDetermination {
        determination_id: format!("{id}/{sequence}"),
        situation_id: id,
        sequence,
        country: COUNTRIES[situation % COUNTRIES.len()].into(),
        classification: Classification::MixedMovement as i32,
        arrangement: Arrangement::JointPlatform as i32,
        lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
        figures: vec![ReconciledFigure {
            group: tandem_proto::v1::PopulationGroup::Migrant as i32,
            count: 1_000 + sequence,
            source_agency: Agency::Iom as i32,
            report_id: format!("bench-{situation}-{sequence}"),
            ..Default::default()
        }],
        rationale: vec![RationaleEntry {
            rule_id: "mixed_movement".into(),
            clause: "FoE B.1 mixed movements".into(),
            text: "Protection share 0.25 between migrant threshold 0.20 and refugee threshold \
                   0.80: mixed movement; IOM and UNHCR co-lead a joint platform."
                .into(),
            ..Default::default()
        }],
        policy_version: "v1".into(),
        changed: true,
        determined_at: Some(timestamp::now()),
        ..Default::default()
    }
}

/// Event `i` of a stream over `situations` situations: in turn an accepted report (a new
/// revision) and a determination of each situation.
fn event(i: usize, situations: usize, reports: &[tandem_proto::v1::SituationReport]) -> Outgoing {
    let situation = i % situations;
    let round = i / situations;
    let sequence = (round / 2 + 1) as u64;
    if round.is_multiple_of(2) {
        let mut report = reports[situation % reports.len()].clone();
        report.situation_id = format!("START-{situation}");
        report.report_id = format!("bench-{situation}-{sequence}");
        report.revision = u32::try_from(sequence).unwrap_or(u32::MAX);
        report.country = COUNTRIES[situation % COUNTRIES.len()].into();
        let accepted = SituationAccepted {
            report: Some(report),
            ..Default::default()
        };
        Outgoing {
            subject: topology::accepted_subject(COUNTRIES[situation % COUNTRIES.len()]),
            payload: accepted.encode_to_vec(),
            id: Some(format!("intake-outcome:BENCH:{i}")),
        }
    } else {
        let determination = determination(situation, sequence);
        Outgoing {
            subject: topology::determined_subject(&determination.country),
            id: Some(format!("determination:{}", determination.determination_id)),
            payload: determination.encode_to_vec(),
        }
    }
}

/// Fills `TANDEM_EVENTS` (and makes the streams and the object store the service needs) with
/// `events` events over `situations` situations.
async fn fill(js: &jetstream::Context, events: usize, situations: usize) -> anyhow::Result<()> {
    let storage = Default::default();
    topology::ensure_stream(js, topology::events_stream(&storage)).await?;
    topology::ensure_stream(js, topology::notify_stream(&storage)).await?;
    topology::ensure_object_store(js, topology::DATA_OBJECT_STORE, &storage).await?;
    let reports = feed::reports(30);
    publish_all(js, (0..events).map(|i| event(i, situations, &reports))).await
}

fn replayed(health: &serde_json::Value) -> u64 {
    health["events_replayed"].as_u64().unwrap_or(0)
}

/// The start with and without a snapshot, on a stream of `events` events.
pub async fn start(config: &NatsConfig, events: usize) -> anyhow::Result<StartRun> {
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client);
    fill(&js, events, (events / 20).max(1)).await?;

    // A snapshot as soon as the first start has read them, as with the default setting for
    // any stream longer than it.
    let every = events.to_string();
    let env = [("TANDEM_SNAPSHOTS__EVERY_EVENTS", every.as_str())];
    let started = Instant::now();
    let publish = Publish::start(config, &env)?;
    let health = publish.ready().await?;
    let full_rebuild_s = started.elapsed().as_secs_f64();
    let full_replayed = replayed(&health);
    // Rebuilt from the start, it stores a snapshot at once.
    let store = js.get_object_store(topology::DATA_OBJECT_STORE).await?;
    let deadline = Instant::now() + TIMEOUT;
    let snapshot_bytes = loop {
        if let Ok(info) = store.info(tandem_publish::SNAPSHOT_KEY).await {
            break info.size;
        }
        if Instant::now() > deadline {
            bail!("no snapshot stored within {TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(publish);

    let started = Instant::now();
    let publish = Publish::start(config, &env)?;
    let health = publish.ready().await?;
    let from_snapshot_s = started.elapsed().as_secs_f64();
    if health["started_from_snapshot"].is_null() {
        bail!("the second start did not use the snapshot: {health}");
    }
    Ok(StartRun {
        events: events as f64,
        full_rebuild_s,
        full_replayed: full_replayed as f64,
        from_snapshot_s,
        snapshot_replayed: replayed(&health) as f64,
        snapshot_mib: snapshot_bytes as f64 / (1024.0 * 1024.0),
    })
}

/// The cost of one event with `situations` situations published.
pub async fn one_event(config: &NatsConfig, situations: usize) -> anyhow::Result<EventRun> {
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    // One report and one determination each.
    fill(&js, 2 * situations, situations).await?;
    let mut announcements = client.subscribe(topology::DATA_PUBLISHED_SUBJECT).await?;
    let publish = Publish::start(
        config,
        &[
            ("TANDEM_PUBLISH_INTERVAL_MS", "1"),
            ("TANDEM_SNAPSHOTS__EVERY_EVENTS", "0"),
        ],
    )?;
    publish.ready().await?;
    let first = announced(&mut announcements, 1).await?;
    if first.rows != situations as u64 {
        bail!("{} rows published, not {situations}", first.rows);
    }
    let mut wall_ms = Vec::new();
    let meter = CpuMeter::start(vec![publish.process()]);
    let mut last = first;
    for sequence in 2..=EVENTS + 1 {
        let started = Instant::now();
        let determination = determination(situations / 2, sequence);
        let stored = js
            .publish(
                topology::determined_subject(&determination.country),
                determination.encode_to_vec().into(),
            )
            .await?
            .await?;
        last = announced(&mut announcements, stored.sequence).await?;
        wall_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let cpu_ms = meter.per_item(EVENTS as usize)[0].value / 1e3;
    let started = Instant::now();
    let url = format!("{}/v1/datasets/{}.csv", publish.base, last.version);
    let csv = publish
        .http
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let version_read_ms = started.elapsed().as_secs_f64() * 1e3;
    if tandem_publish::dataset::sha256_hex(&csv) != last.sha256 {
        bail!("{url} does not match its announced SHA-256");
    }
    Ok(EventRun {
        situations: situations as f64,
        // Over all of them: the processor time is counted in hundredths of a second.
        cpu_ms,
        wall_ms: median(wall_ms),
        version_read_ms,
    })
}

/// Waits for the announcement of a version at least `version`.
async fn announced(
    announcements: &mut async_nats::Subscriber,
    version: u64,
) -> anyhow::Result<DatasetPublished> {
    tokio::time::timeout(TIMEOUT, async {
        while let Some(message) = announcements.next().await {
            if let Ok(published) = DatasetPublished::decode(message.payload)
                && published.version >= version
            {
                return Ok(published);
            }
        }
        bail!("the announcements ended")
    })
    .await
    .context("no version announced in time")?
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
