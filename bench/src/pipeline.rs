//! The service binaries (found next to this binary) as their own processes: the pipeline's
//! throughput, and the latency at an offered rate.

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
use async_nats::jetstream::{self, context::PublishAckFuture};
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::v1::{DatasetPublished, LeadershipDetermination, SituationReport};
use tandem_runtime::{config::NatsConfig, nats, service_api, topology};

use crate::{
    feed::{COUNTRIES, count, publish_all, submission},
    figures::{Latency, PipelineRun, ProcessFigure},
    process::{self, CpuMeter, Process},
};

/// A service the pipeline runs.
struct Service {
    binary: &'static str,
    args: &'static [&'static str],
    /// The name it answers `$SRV.PING` to (`tandem-<name>`), which also names its figures.
    name: &'static str,
}

/// The pipeline's services. Notify runs once per agency.
const SERVICES: [Service; 5] = [
    Service {
        binary: "tandem-intake",
        args: &[],
        name: "intake",
    },
    Service {
        binary: "tandem-leadership",
        args: &[],
        name: "leadership",
    },
    Service {
        binary: "tandem-notify",
        args: &["--agency", "iom"],
        name: "notify-iom",
    },
    Service {
        binary: "tandem-notify",
        args: &["--agency", "unhcr"],
        name: "notify-unhcr",
    },
    Service {
        binary: "tandem-publish",
        args: &[],
        name: "publish",
    },
];

/// The focal points of the demo (fictional), so that notify has coordinators to notify.
const DIRECTORY: &str = include_str!("../../deploy/demo/directory.yaml");

/// The service binaries as processes (by the name of their figures), killed when dropped.
struct Services(Vec<(&'static str, Child)>);

impl Services {
    fn start(config: &NatsConfig, tracing: Option<&str>) -> anyhow::Result<Self> {
        let dir = std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .context("no directory of tandem-bench")?;
        // Held as `Services` from the start, so that those started are killed if a later one
        // cannot be: left running, they would keep this process's stderr open.
        let mut services = Self(Vec::new());
        for Service { binary, args, name } in SERVICES {
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

    /// Each service as a measured process.
    fn processes(&self) -> Vec<Process> {
        self.0
            .iter()
            .map(|(name, child)| Process::new(name.replace('-', "_"), child.id()))
            .collect()
    }

    /// Peak resident memory of each service, MiB.
    fn peak_rss_mib(&self) -> Vec<ProcessFigure> {
        self.processes()
            .into_iter()
            .map(|process| ProcessFigure {
                value: process::peak_rss_mib(process.pid),
                process: process.name,
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

/// The names the pipeline's services answer `$SRV.PING` to.
fn service_names() -> Vec<&'static str> {
    SERVICES.iter().map(|service| service.name).collect()
}

/// Reports per second through the services, from the first publish until every
/// determination is on the stream, the data service announced a version that holds them and
/// every notification is delivered.
pub async fn throughput(
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
    tandem_notify::directory::import_document(&js, DIRECTORY).await?;
    let services = Services::start(config, endpoint.as_deref())?;
    service_api::wait_for_services(&client, &service_names(), Duration::from_secs(60)).await?;
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
    let mut processes = services.processes();
    processes.push(Process::new("nats_server", server));
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
    let peak_rss_mib = services.peak_rss_mib();
    drop(services);
    counting.abort();
    Ok(PipelineRun {
        throughput,
        notifications: notifications.load(Ordering::Relaxed),
        writes_per_report,
        peak_rss_mib,
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
pub async fn latency(
    config: &NatsConfig,
    feed: Vec<SituationReport>,
    rate: u64,
) -> anyhow::Result<Latency> {
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    tandem_notify::directory::import_document(&js, DIRECTORY).await?;
    let services = Services::start(config, None)?;
    service_api::wait_for_services(&client, &service_names(), Duration::from_secs(60)).await?;
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
        if let Ok(mut sent) = sent.lock() {
            sent.insert(report.report_id.clone(), Instant::now());
        }
        // A send fails only when a failed acknowledgement ended the waiter: its error follows.
        let _ = acks.send(submission(report).send(&js).await?);
    }
    drop(acks);
    acknowledged.await??;
    let latencies = receiver.await?;
    drop(services);
    if latencies.len() < total {
        bail!("only {} of {total} determinations arrived", latencies.len());
    }
    Latency::of(latencies).context("no report was offered")
}
