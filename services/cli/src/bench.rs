//! `tandem bench`: the pipeline measured against the bare-NATS limit, on a nats-server it
//! starts itself.
//!
//! - **bare 4-hop**: four relays, each pulling from one JetStream subject and publishing to the
//!   next with an acknowledged publish, then acking — no work, batched and pipelined as the
//!   services are. Its messages per second through all four hops is the limit to compare with.
//! - **contract floor**: the same relays arranged as the contract's services, storing each event
//!   the contract names once and nothing else (see [`contract_floor`]): what any implementation
//!   of the contract must make JetStream do per report. It splits the ratio to the bare relay
//!   into what the contract costs (`floor_to_bare_ratio`) and what tandem adds on top of it
//!   (`pipeline_to_floor_ratio`).
//! - **pipeline**: the service binaries (found next to this `tandem`) as their own processes,
//!   notify once per agency with the demo's focal points, fed N realistic reports (IOM, UNHCR
//!   and a partner, several revisions per situation) as fast as the stream takes them; reports
//!   per second from the first publish until every determination is on the stream, every
//!   notification is delivered (notify's consumers have nothing left) and the data service
//!   announced a version that holds them. Run with tracing off, then on (OTLP http/protobuf to
//!   a local sink), for the ratio.
//! - **latency**: reports offered at a fixed rate; time from publish to the determination
//!   arriving, p50/p99/max. Once for the throughput runs' mix (`latency_*`), once for reports
//!   that each open a new situation (`latency_new_situations_*`), the heaviest kind: each
//!   changes its determination and notifies both agencies' coordinators.
//! - **peak RSS** of each service process (`VmHWM`), from the tracing-off run.
//! - Each throughput is the best of `--rounds` runs (3), taken in turn.
//! - **processor time** per report of each process, the nats-server's included (and per
//!   message in the bare relay): where the time goes, unaffected by what else the machine runs.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use async_nats::{
    Client,
    jetstream::{self, consumer::pull, context::PublishAckFuture, message::PublishMessage},
};
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::{
    timestamp,
    v1::{
        Agency, DatasetPublished, Driver, LeadershipDetermination, Phase, PopulationFigure,
        PopulationGroup, Scope, SituationReport,
    },
};
use tandem_runtime::{config::NatsConfig, nats, topology};

use crate::{demo, local_nats, ready};

/// Arguments of `tandem bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Reports in each throughput run (and messages through the bare relay).
    #[arg(long, default_value_t = 20_000)]
    reports: usize,
    /// Offered rate of the latency run, reports per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Seconds the latency run offers reports for.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Throughput runs of each kind; the best counts.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// One JSON object per figure and line: {"figure", "value", "unit"}.
    #[arg(long)]
    json: bool,
}

/// The services the pipeline runs: binary, arguments, and the name they answer `$SRV.PING` to
/// (`tandem-<name>`), which also names their figures. Notify runs once per agency.
const SERVICES: [(&str, &[&str], &str); 5] = [
    ("tandem-intake", &[], "intake"),
    ("tandem-leadership", &[], "leadership"),
    ("tandem-notify", &["--agency", "iom"], "notify-iom"),
    ("tandem-notify", &["--agency", "unhcr"], "notify-unhcr"),
    ("tandem-publish", &[], "publish"),
];

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut figures: Vec<(String, f64, &str)> = Vec::new();

    // Each throughput is the best of `rounds` runs, taken in turn (bare, tracing off, tracing
    // on, floor) so that whatever else the machine does weighs on all four alike.
    let (mut bare_runs, mut off_runs, mut on_runs) = (Vec::new(), Vec::new(), Vec::new());
    let mut floor_runs = Vec::new();
    let mix = Arc::new(reports(args.reports));
    for _ in 0..args.rounds.max(1) {
        bare_runs.push(
            with_server(|config, server| async move {
                bare_four_hops(&config, server, args.reports).await
            })
            .await?,
        );
        for (tracing, runs) in [(false, &mut off_runs), (true, &mut on_runs)] {
            let reports = mix.clone();
            runs.push(
                with_server(|config, server| async move {
                    pipeline(&config, server, &reports, tracing).await
                })
                .await?,
            );
        }
        // As many notifications as the pipeline delivered in this round.
        let notifications_per_report =
            off_runs.last().map_or(0, |run| run.notifications) as f64 / args.reports.max(1) as f64;
        floor_runs.push(
            with_server(|config, server| {
                let reports = mix.clone();
                async move {
                    contract_floor(&config, server, &reports, notifications_per_report).await
                }
            })
            .await?,
        );
    }
    let (bare, bare_cpu) = best(bare_runs, |run| run.0)?;
    let (floor, floor_cpu) = best(floor_runs, |run| run.0)?;
    let off = best(off_runs, |run| run.throughput)?;
    let on = best(on_runs, |run| run.throughput)?;
    figures.push(("bare_4hop_msgs_per_s".into(), bare, "msgs/s"));
    figures.push(("pipeline_reports_per_s".into(), off.throughput, "reports/s"));
    figures.push((
        "pipeline_to_bare_ratio".into(),
        off.throughput / bare,
        "ratio",
    ));
    figures.push(("contract_floor_reports_per_s".into(), floor, "reports/s"));
    figures.push(("floor_to_bare_ratio".into(), floor / bare, "ratio"));
    figures.push((
        "pipeline_to_floor_ratio".into(),
        off.throughput / floor,
        "ratio",
    ));
    figures.push((
        "pipeline_notifications".into(),
        off.notifications as f64,
        "notifications",
    ));
    // A message through the bare relay is stored 5 times: as sent, and once per hop.
    figures.push((
        "pipeline_stored_msgs_per_report".into(),
        off.writes_per_report,
        "msgs",
    ));

    // The latency of the throughput runs' mix, and of reports that each open a new situation.
    let offered = (args.rate * args.latency_secs) as usize;
    let template = reports(1).remove(0);
    let new_situations: Vec<SituationReport> = (0..offered)
        .map(|i| SituationReport {
            report_id: format!("latency-{i}"),
            situation_id: format!("LATENCY-{i}"),
            ..template.clone()
        })
        .collect();
    for (feed, name) in [
        (reports(offered), "latency"),
        (new_situations, "latency_new_situations"),
    ] {
        let (p50, p99, max) =
            with_server(|config, _| async move { latency(&config, feed, args.rate).await }).await?;
        figures.push((format!("{name}_p50_ms"), p50, "ms"));
        figures.push((format!("{name}_p99_ms"), p99, "ms"));
        figures.push((format!("{name}_max_ms"), max, "ms"));
    }

    figures.push((
        "pipeline_reports_per_s_tracing_on".into(),
        on.throughput,
        "reports/s",
    ));
    figures.push((
        "tracing_on_to_off_ratio".into(),
        on.throughput / off.throughput,
        "ratio",
    ));
    for (service, mib) in off.peak_rss {
        figures.push((format!("peak_rss_mib_{service}"), mib, "MiB"));
    }
    // Where the processor time goes, whatever else the machine is doing.
    for (process, micros) in bare_cpu {
        figures.push((format!("bare_cpu_us_per_msg_{process}"), micros, "us"));
    }
    for (process, micros) in floor_cpu {
        figures.push((format!("floor_cpu_us_per_report_{process}"), micros, "us"));
    }
    for (process, micros) in off.cpu_per_report {
        figures.push((
            format!("pipeline_cpu_us_per_report_{process}"),
            micros,
            "us",
        ));
    }

    for (figure, value, unit) in &figures {
        if args.json {
            println!(
                "{}",
                serde_json::json!({"figure": figure, "value": round(*value), "unit": unit})
            );
        } else {
            println!("{figure:<36} {:>12.2} {unit}", value);
        }
    }
    Ok(())
}

/// The run with the highest `throughput`.
fn best<T>(runs: Vec<T>, throughput: impl Fn(&T) -> f64) -> anyhow::Result<T> {
    runs.into_iter()
        .max_by(|a, b| throughput(a).total_cmp(&throughput(b)))
        .context("no run to take the best of")
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Runs `work` against a fresh nats-server (given its process id), stopped afterwards.
async fn with_server<F, Fut, T>(work: F) -> anyhow::Result<T>
where
    F: FnOnce(NatsConfig, u32) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = NatsConfig {
        url: format!("nats://127.0.0.1:{port}"),
        ..Default::default()
    };
    let server = local_nats::start(&config, port, dir.path()).await?;
    work(config, server.pid()).await
}

/// Processor time (user and system, every thread) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces, hence the last ')'): utime and
    // stime are the 12th and 13th, in clock ticks of 1/100 s (Linux's USER_HZ).
    let ticks: f64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|field| field.parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(0.0);
    ticks / 100.0
}

/// Processor time per item, microseconds, of each `(name, pid)` between two readings.
struct CpuMeter(Vec<(String, u32, f64)>);

impl CpuMeter {
    fn start(processes: Vec<(String, u32)>) -> Self {
        Self(
            processes
                .into_iter()
                .map(|(name, pid)| (name, pid, cpu_seconds(pid)))
                .collect(),
        )
    }

    fn per_item(&self, items: usize) -> Vec<(String, f64)> {
        self.0
            .iter()
            .map(|(name, pid, before)| {
                let used = cpu_seconds(*pid) - before;
                (name.clone(), used * 1e6 / items.max(1) as f64)
            })
            .collect()
    }
}

async fn bare_four_hops(
    config: &NatsConfig,
    server: u32,
    messages: usize,
) -> anyhow::Result<(f64, Vec<(String, f64)>)> {
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "BENCH".into(),
            subjects: vec!["bench.hop.>".into()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let mut relays = Relays::default();
    for hop in 1..=4 {
        let next = format!("bench.hop.{}", hop + 1);
        relays
            .start(
                &js,
                &stream,
                &format!("hop{hop}"),
                &format!("bench.hop.{hop}"),
                move |message| vec![(next.clone(), message.payload.clone())],
            )
            .await?;
    }
    let mut arrivals = client.subscribe("bench.hop.5").await?;
    let payload = SituationReport::default().encode_to_vec();
    let cpu = CpuMeter::start(vec![
        ("nats_server".into(), server),
        ("relay".into(), std::process::id()),
    ]);
    let started = Instant::now();
    relays
        .until(async {
            publish_all(
                &js,
                (0..messages).map(|_| ("bench.hop.1".to_string(), payload.clone(), None)),
            )
            .await?;
            count(&mut arrivals, messages, Duration::from_secs(300)).await
        })
        .await?;
    let throughput = messages as f64 / started.elapsed().as_secs_f64();
    Ok((throughput, cpu.per_item(messages)))
}

/// The least any implementation of the contract makes JetStream do for the pipeline's reports:
/// the four services as relays with no work (see [`Relays::start`]), each event the contract names one
/// stored message carrying the report's bytes:
/// - intake: submission → accepted event;
/// - leadership: accepted → the situation's state in a KV-like stream (one message per key) and
///   a determination;
/// - notify, once per agency: determination → `notifications_per_report / 2` notifications,
///   each with its delivered status;
/// - publish: an ordered consumer of the event stream (accepted and determined), no acks.
///
/// Reports per second until both notify relays and the follower have every determination.
async fn contract_floor(
    config: &NatsConfig,
    server: u32,
    reports: &[SituationReport],
    notifications_per_report: f64,
) -> anyhow::Result<(f64, Vec<(String, f64)>)> {
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    let stream = |name: &str, subjects: &[&str]| jetstream::stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    };
    let intake = js
        .create_stream(stream("FLOOR_INTAKE", &["floor.intake.>"]))
        .await?;
    let events = js
        .create_stream(stream(
            "FLOOR_EVENTS",
            &["floor.accepted.>", "floor.determined.>"],
        ))
        .await?;
    js.create_stream(jetstream::stream::Config {
        max_messages_per_subject: 1,
        ..stream("FLOOR_STATE", &["floor.state.>"])
    })
    .await?;
    js.create_stream(stream("FLOOR_NOTIFY", &["floor.notify.>"]))
        .await?;

    let mut relays = Relays::default();
    relays
        .start(&js, &intake, "intake", "floor.intake.>", move |message| {
            vec![(
                format!("floor.accepted.{}", situation(message)),
                message.payload.clone(),
            )]
        })
        .await?;
    relays
        .start(
            &js,
            &events,
            "leadership",
            "floor.accepted.>",
            move |message| {
                let situation = situation(message);
                vec![
                    (format!("floor.state.{situation}"), message.payload.clone()),
                    (
                        format!("floor.determined.{situation}"),
                        message.payload.clone(),
                    ),
                ]
            },
        )
        .await?;
    let total = reports.len();
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<()>();
    for agency in ["iom", "unhcr"] {
        let per_determination = notifications_per_report / 2.0;
        let (mut seen, done) = (0usize, done.clone());
        relays
            .start(&js, &events, agency, "floor.determined.>", move |message| {
                // Notifications spread evenly: one whenever the running total passes a whole number.
                let due = ((seen + 1) as f64 * per_determination).floor()
                    > (seen as f64 * per_determination).floor();
                seen += 1;
                if seen == total {
                    let _ = done.send(());
                }
                match due {
                    true => vec![
                        (
                            format!("floor.notify.out.{agency}"),
                            message.payload.clone(),
                        ),
                        (
                            format!("floor.notify.status.{agency}"),
                            message.payload.clone(),
                        ),
                    ],
                    false => Vec::new(),
                }
            })
            .await?;
    }
    let mut follower = events
        .create_consumer(pull::OrderedConfig::default())
        .await?
        .messages()
        .await?;
    tokio::spawn(async move {
        let mut determined = 0;
        while let Some(message) = follower.next().await {
            match message {
                Ok(message) if message.subject.starts_with("floor.determined.") => {
                    determined += 1;
                    if determined == total {
                        let _ = done.send(());
                    }
                }
                Ok(_) => {}
                // An error the ordered consumer yields does not end it.
                Err(error) => tracing::warn!(%error, "the floor's follower: pull error"),
            }
        }
    });

    let cpu = CpuMeter::start(vec![
        ("nats_server".into(), server),
        ("relays".into(), std::process::id()),
    ]);
    let started = Instant::now();
    relays
        .until(async {
            publish_all(
                &js,
                reports.iter().map(|report| {
                    let (_, payload, id) = submission(report);
                    (format!("floor.intake.{}", report.situation_id), payload, id)
                }),
            )
            .await?;
            tokio::time::timeout(Duration::from_secs(300), async {
                for _ in 0..3 {
                    finished.recv().await;
                }
            })
            .await
            .context("the contract floor did not finish in 300 s")
        })
        .await?;
    let throughput = total as f64 / started.elapsed().as_secs_f64();
    Ok((throughput, cpu.per_item(total)))
}

/// The situation of a floor message: it rides in the subject's last token, so that no relay
/// decodes anything.
fn situation(message: &jetstream::Message) -> &str {
    let subject = message.subject.as_str();
    subject.rsplit('.').next().unwrap_or_default()
}

/// The relays of one measurement, each a task; dropping the set stops them.
#[derive(Default)]
struct Relays(tokio::task::JoinSet<anyhow::Result<()>>);

impl Relays {
    /// Starts a relay on a durable consumer of `stream` (`name`, filtered to `filter`): it
    /// pulls in batches, publishes what `forward` makes of each message (acknowledged
    /// publishes, all of a batch in flight at once), then acks the batch. No decoding, no
    /// state: the least a hop costs.
    async fn start(
        &mut self,
        js: &jetstream::Context,
        stream: &jetstream::stream::Stream,
        name: &str,
        filter: &str,
        mut forward: impl FnMut(&jetstream::Message) -> Vec<(String, bytes::Bytes)> + Send + 'static,
    ) -> anyhow::Result<()> {
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(name.into()),
                filter_subject: filter.into(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                max_ack_pending: 2048,
                ..Default::default()
            })
            .await?;
        let (js, name) = (js.clone(), name.to_string());
        self.0.spawn(async move {
            let messages = consumer
                .stream()
                .max_messages_per_batch(256)
                .messages()
                .await?;
            let mut batches = messages.ready_chunks(256);
            while let Some(batch) = batches.next().await {
                let mut pulled = Vec::with_capacity(batch.len());
                for message in batch {
                    match message {
                        Ok(message) => pulled.push(message),
                        // The pull stream goes on after an error (a missed heartbeat, say).
                        Err(error) => tracing::warn!(relay = name, %error, "pull error"),
                    }
                }
                let mut acks = Vec::with_capacity(pulled.len());
                for message in &pulled {
                    for (subject, payload) in forward(message) {
                        let publish = PublishMessage::build().payload(payload);
                        acks.push(js.send_publish(subject, publish).await?);
                    }
                }
                for ack in
                    futures::future::join_all(acks.into_iter().map(IntoFuture::into_future)).await
                {
                    ack.with_context(|| format!("relay {name}: a publish was not stored"))?;
                }
                for message in pulled {
                    message
                        .ack()
                        .await
                        .map_err(|error| anyhow::anyhow!(error))
                        .with_context(|| format!("relay {name}: an ack failed"))?;
                }
            }
            Ok(())
        });
        Ok(())
    }

    /// Runs `work`, failing instead with the error of any relay that stops first: a relay that
    /// lost a message would otherwise show only as a run that never finishes.
    async fn until<T>(
        &mut self,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        tokio::select! {
            result = work => result,
            Some(stopped) = self.0.join_next() => Err(match stopped {
                Ok(Err(error)) => error,
                Ok(Ok(())) => anyhow::anyhow!("a relay's pull stream ended"),
                Err(panicked) => panicked.into(),
            }),
        }
    }
}

/// Publishes `(subject, payload, Nats-Msg-Id)`s with up to 1,000 acknowledgements in flight.
async fn publish_all(
    js: &jetstream::Context,
    messages: impl Iterator<Item = (String, Vec<u8>, Option<String>)>,
) -> anyhow::Result<()> {
    let mut in_flight = Vec::with_capacity(1000);
    for (subject, payload, id) in messages {
        let mut publish = PublishMessage::build().payload(payload.into());
        if let Some(id) = id {
            publish = publish.message_id(id);
        }
        in_flight.push(js.send_publish(subject, publish).await?);
        if in_flight.len() == 1000 {
            for ack in
                futures::future::join_all(in_flight.drain(..).map(IntoFuture::into_future)).await
            {
                ack?;
            }
        }
    }
    for ack in futures::future::join_all(in_flight.into_iter().map(IntoFuture::into_future)).await {
        ack?;
    }
    Ok(())
}

async fn count(
    subscription: &mut async_nats::Subscriber,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut seen = 0;
    tokio::time::timeout(timeout, async {
        while seen < expected && subscription.next().await.is_some() {
            seen += 1;
        }
    })
    .await
    .with_context(|| format!("only {seen} of {expected} arrived in time"))
}

/// The countries of the reports.
const COUNTRIES: [&str; 3] = ["COL", "LBY", "BGD"];

/// Realistic reports: situations in three countries, each reported by IOM, UNHCR and a
/// partner with increasing revisions.
fn reports(total: usize) -> Vec<SituationReport> {
    let situations = (total / 10).max(1);
    (0..total)
        .map(|i| {
            let situation = i % situations;
            let round = i / situations;
            let (agency, org) = [
                (Agency::Iom, ""),
                (Agency::Unhcr, ""),
                (Agency::Partner, "nrc"),
            ][round % 3];
            let revision = (round / 3 + 1) as u32;
            SituationReport {
                report_id: format!("bench-{i}"),
                situation_id: format!("BENCH-{situation}"),
                revision,
                reporting_agency: agency as i32,
                reporter_org: org.into(),
                reported_at: Some(timestamp::now()),
                country: COUNTRIES[situation % COUNTRIES.len()].into(),
                scope: Scope::CrossBorder as i32,
                driver: Driver::Mixed as i32,
                phase: Phase::Protracted as i32,
                on_the_move: true,
                population: vec![
                    PopulationFigure {
                        group: PopulationGroup::Refugee as i32,
                        count: 1_000 + (i as u64 * 37) % 5_000,
                        as_of: "2026-01-01".into(),
                        source: "bench".into(),
                    },
                    PopulationFigure {
                        group: PopulationGroup::Migrant as i32,
                        count: 2_000 + (i as u64 * 53) % 5_000,
                        as_of: "2026-01-01".into(),
                        source: "bench".into(),
                    },
                ],
                ..Default::default()
            }
        })
        .collect()
}

fn submission(report: &SituationReport) -> (String, Vec<u8>, Option<String>) {
    let organisation =
        topology::organisation_token(report.reporting_agency(), &report.reporter_org)
            .unwrap_or_default();
    (
        topology::intake_subject(&organisation),
        report.encode_to_vec(),
        Some(format!("{organisation}:{}", report.report_id)),
    )
}

/// The service binaries as processes (by the name of their figures), killed when dropped.
struct Services(Vec<(&'static str, Child)>);

impl Services {
    fn start(config: &NatsConfig, tracing: Option<&str>) -> anyhow::Result<Self> {
        let dir = std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .context("no directory of tandem")?;
        // Held as `Services` from the start, so that those started are killed if a later one
        // cannot be: left running, they would keep this process's stderr open.
        let mut services = Self(Vec::new());
        for (binary, args, name) in SERVICES {
            let path = dir.join(binary);
            if !path.is_file() {
                bail!(
                    "{} is missing: build every binary first (cargo build --release --workspace --bins)",
                    path.display()
                );
            }
            let mut command = Command::new(path);
            command
                .args(args)
                .env("NATS_URL", &config.url)
                .env("TANDEM_PUBLISH_ADDR", "127.0.0.1:0")
                .env("TANDEM_PUBLISH_INTERVAL_MS", "200")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            if let Some(endpoint) = tracing {
                command
                    .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
                    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
            }
            services.0.push((name, command.spawn()?));
        }
        Ok(services)
    }

    /// Each service's name and process id.
    fn pids(&self) -> Vec<(String, u32)> {
        self.0
            .iter()
            .map(|(name, child)| (name.replace('-', "_"), child.id()))
            .collect()
    }

    /// Peak resident memory of each service, MiB.
    fn peak_rss(&self) -> Vec<(String, f64)> {
        self.0
            .iter()
            .map(|(name, child)| {
                let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
                    .unwrap_or_default();
                let kib = status
                    .lines()
                    .find_map(|line| line.strip_prefix("VmHWM:"))
                    .and_then(|rest| {
                        rest.trim()
                            .trim_end_matches("kB")
                            .trim()
                            .parse::<f64>()
                            .ok()
                    })
                    .unwrap_or(0.0);
                (name.replace('-', "_"), kib / 1024.0)
            })
            .collect()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An OTLP http sink that accepts and drops spans, so tracing costs what exporting costs.
async fn otlp_sink() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new().fallback(|| async { Vec::<u8>::new() });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

/// What one pipeline run measured.
struct PipelineRun {
    throughput: f64,
    notifications: usize,
    /// Messages stored in JetStream (every stream and bucket) per report.
    writes_per_report: f64,
    peak_rss: Vec<(String, f64)>,
    cpu_per_report: Vec<(String, f64)>,
}

/// The names the pipeline's services answer `$SRV.PING` to.
fn service_names() -> Vec<&'static str> {
    SERVICES.iter().map(|(_, _, name)| *name).collect()
}

async fn pipeline(
    config: &NatsConfig,
    server: u32,
    reports: &[SituationReport],
    tracing: bool,
) -> anyhow::Result<PipelineRun> {
    let total = reports.len();
    let endpoint = match tracing {
        true => Some(otlp_sink().await?),
        false => None,
    };
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    // Focal points first, so notify has them from its start.
    demo::import_directory(&js).await?;
    let services = Services::start(config, endpoint.as_deref())?;
    ready::wait_for_services(&client, &service_names(), Duration::from_secs(60)).await?;
    let mut determinations = client.subscribe(topology::DETERMINED_FILTER).await?;
    let mut versions = client.subscribe(topology::DATA_PUBLISHED_SUBJECT).await?;
    let notifications = Arc::new(AtomicUsize::new(0));
    let counting = tokio::spawn({
        let mut delivered = client.subscribe("tandem.notify.out.>").await?;
        let notifications = notifications.clone();
        async move {
            while delivered.next().await.is_some() {
                notifications.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let mut processes = services.pids();
    processes.push(("nats_server".into(), server));
    let cpu = CpuMeter::start(processes);
    let started = Instant::now();
    publish_all(&js, reports.iter().map(submission)).await?;
    count(&mut determinations, total, Duration::from_secs(600)).await?;
    // The data service has caught up once it announces a version taken after the last
    // determination (the stream's last message may be a version announcement itself).
    let stream = js.get_stream(topology::EVENTS_STREAM).await?;
    let mut events = 0;
    for country in COUNTRIES {
        let subject = topology::determined_subject(country);
        events = events.max(
            stream
                .get_last_raw_message_by_subject(&subject)
                .await?
                .sequence,
        );
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(message) = versions.next().await {
            if DatasetPublished::decode(message.payload).is_ok_and(|v| v.version >= events) {
                break;
            }
        }
    })
    .await
    .context("no dataset version after the last determination")?;
    // Every notification is delivered once notify's consumers have nothing left.
    for agency in ["iom", "unhcr"] {
        drained(&js, &format!("tandem-notify-{agency}")).await?;
    }
    let throughput = total as f64 / started.elapsed().as_secs_f64();
    let cpu_per_report = cpu.per_item(total);
    let writes_per_report = stream_writes(&js).await? as f64 / total as f64;
    let peak_rss = services.peak_rss();
    drop(services);
    counting.abort();
    Ok(PipelineRun {
        throughput,
        notifications: notifications.load(Ordering::Relaxed),
        writes_per_report,
        peak_rss,
        cpu_per_report,
    })
}

/// Messages ever stored in the server's streams (buckets included).
async fn stream_writes(js: &jetstream::Context) -> anyhow::Result<u64> {
    let mut names = js.stream_names();
    let mut total = 0;
    while let Some(name) = names.next().await {
        total += js
            .get_stream(name?)
            .await?
            .get_info()
            .await?
            .state
            .last_sequence;
    }
    Ok(total)
}

/// Waits until consumer `durable` of the event stream has handled and acknowledged everything.
async fn drained(js: &jetstream::Context, durable: &str) -> anyhow::Result<()> {
    let stream = js.get_stream(topology::EVENTS_STREAM).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = stream.consumer_info(durable).await?;
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{durable} still has {} to handle",
                info.num_pending + info.num_ack_pending as u64
            );
        }
        // Polling the server's counters: there is no event for "nothing left".
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Time from publish to determination of each of `feed`'s reports, offered at `rate` a second:
/// p50, p99 and max, in milliseconds. Every accepted report makes one determination, the first
/// to name it among those it is based on (a report can be named only by its own determination
/// and later ones of its situation).
async fn latency(
    config: &NatsConfig,
    feed: Vec<SituationReport>,
    rate: u64,
) -> anyhow::Result<(f64, f64, f64)> {
    let client: Client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    demo::import_directory(&js).await?;
    let services = Services::start(config, None)?;
    ready::wait_for_services(&client, &service_names(), Duration::from_secs(60)).await?;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut determinations = client.subscribe(topology::DETERMINED_FILTER).await?;
    let total = feed.len();
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(total);
            while latencies.len() < total {
                let Ok(Some(message)) =
                    tokio::time::timeout(Duration::from_secs(30), determinations.next()).await
                else {
                    break;
                };
                let Ok(determination) = LeadershipDetermination::decode(message.payload) else {
                    continue;
                };
                let Ok(mut sent) = sent.lock() else {
                    break;
                };
                for basis in &determination.based_on {
                    if let Some(at) = sent.remove(&basis.report_id) {
                        latencies.push(at.elapsed().as_secs_f64() * 1000.0);
                    }
                }
            }
            latencies
        })
    };
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // Acknowledgements are awaited aside, so that waiting for them never holds back the next
    // report: the reports arrive at the offered rate, not in bursts after each wait.
    let (acks, mut unacknowledged) = tokio::sync::mpsc::unbounded_channel::<PublishAckFuture>();
    let acknowledged = tokio::spawn(async move {
        while let Some(ack) = unacknowledged.recv().await {
            ack.await.context("a report was not stored")?;
        }
        anyhow::Ok(())
    });
    for report in &feed {
        ticks.tick().await;
        let (subject, payload, id) = submission(report);
        if let Ok(mut sent) = sent.lock() {
            sent.insert(report.report_id.clone(), Instant::now());
        }
        let mut publish = PublishMessage::build().payload(payload.into());
        if let Some(id) = id {
            publish = publish.message_id(id);
        }
        // A send fails only when a failed acknowledgement ended the waiter: its error follows.
        let _ = acks.send(js.send_publish(subject, publish).await?);
    }
    drop(acks);
    acknowledged.await??;
    let mut latencies = receiver.await?;
    drop(services);
    if latencies.len() < total {
        bail!("only {} of {total} determinations arrived", latencies.len());
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Ok((at(0.50), at(0.99), latencies[latencies.len() - 1]))
}
