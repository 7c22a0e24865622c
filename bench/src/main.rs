//! `tandem-bench` (run as `tandem bench`): the pipeline measured against the bare-NATS limit, on
//! nats-servers it starts itself.
//!
//! - **bare 4-hop**: four relays, each pulling from one JetStream subject and publishing to the
//!   next with an acknowledged publish, then acking — no work, batched and pipelined as the
//!   services are. Its messages per second through all four hops is the limit to compare with.
//! - **contract floor**: the same relays arranged as the contract's services, storing each event
//!   the contract names once and nothing else (see [`relays::contract_floor`]): what any implementation
//!   of the contract must make JetStream do per report. It splits the ratio to the bare relay
//!   into what the contract costs (`floor_to_bare_ratio`) and what tandem adds on top of it
//!   (`pipeline_to_floor_ratio`).
//! - **pipeline**: the service binaries (found next to this binary) as their own processes,
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
//! - **the data service** (`publish_*`): time to `/healthz` 200 on a stream of
//!   `--start-events` events without a snapshot and from one, and the cost of one event with
//!   `--situations` situations published.
//!
//! `--only pipeline` or `--only publish` runs one of the two parts.
//!
//! Modules: [`feed`] (the reports fed in, publishing and counting), [`relays`] (the bare relay
//! and the contract floor), [`pipeline`] (the service binaries: throughput and latency),
//! [`start`] (the data service's start and the cost of one event), [`process`] (processor time
//! and memory from `/proc`), [`figures`] (the typed results and the figures they print as).

mod feed;
mod figures;
mod pipeline;
mod process;
mod relays;
mod start;

use std::{process::ExitCode, sync::Arc};

use anyhow::Context as _;
use clap::Parser;
use tandem_proto::v1::SituationReport;
use tandem_runtime::config::NatsConfig;
use tandem_testkit::NatsServer;

use crate::figures::{Figure, PublishResults, Results};

/// Measure the pipeline against the bare-NATS limit on a nats-server of its own.
#[derive(Parser)]
#[command(name = "tandem bench", version, about)]
struct Args {
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
    /// Events on the stream for the data service's start (0: not measured).
    #[arg(long, default_value_t = 100_000)]
    start_events: usize,
    /// Situations published for the cost of one event to the data service (0: not measured).
    #[arg(long, default_value_t = 100_000)]
    situations: usize,
    /// Runs only this part.
    #[arg(long, value_enum)]
    only: Option<Part>,
    /// One JSON object per figure and line: {"figure", "value", "unit"}.
    #[arg(long)]
    json: bool,
}

/// The two parts of a run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// The pipeline against the bare-NATS limit.
    Pipeline,
    /// The data service: its start and the cost of one event.
    Publish,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match measure_parts(&args).await {
        Ok(figures) => {
            for figure in figures {
                match args.json {
                    true => println!("{}", figure.json()),
                    false => println!("{}", figure.line()),
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tandem bench: {error:#}");
            // The `tandem` command's exit code for "could not do what was asked".
            ExitCode::from(2)
        }
    }
}

async fn measure_parts(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    if args.only != Some(Part::Publish) {
        figures.extend(measure(args).await?.figures());
    }
    if args.only != Some(Part::Pipeline) {
        figures.extend(measure_publish(args).await?.figures());
    }
    Ok(figures)
}

async fn measure_publish(args: &Args) -> anyhow::Result<PublishResults> {
    let mut results = PublishResults::default();
    let events = args.start_events;
    if events > 0 {
        results.start = Some(
            with_server(|config, _| async move { start::start(&config, events).await }).await?,
        );
    }
    let situations = args.situations;
    if situations > 0 {
        results.one_event = Some(
            with_server(|config, _| async move { start::one_event(&config, situations).await })
                .await?,
        );
    }
    Ok(results)
}

async fn measure(args: &Args) -> anyhow::Result<Results> {
    // Each throughput is the best of `rounds` runs, taken in turn (bare, tracing off, tracing
    // on, floor) so that whatever else the machine does weighs on all four alike.
    let (mut bare_runs, mut off_runs, mut on_runs) = (Vec::new(), Vec::new(), Vec::new());
    let mut floor_runs = Vec::new();
    let reports = args.reports;
    let mix = Arc::new(feed::reports(reports));
    for _ in 0..args.rounds.max(1) {
        bare_runs.push(
            with_server(|config, server| async move {
                relays::bare_four_hops(&config, server, reports).await
            })
            .await?,
        );
        for (tracing, runs) in [(false, &mut off_runs), (true, &mut on_runs)] {
            let mix = mix.clone();
            runs.push(
                with_server(|config, server| async move {
                    pipeline::throughput(&config, server, &mix, tracing).await
                })
                .await?,
            );
        }
        // As many notifications as the pipeline delivered in this round.
        let notifications_per_report = off_runs
            .last()
            .map_or(0, |run: &figures::PipelineRun| run.notifications)
            as f64
            / reports.max(1) as f64;
        let mix = mix.clone();
        floor_runs.push(
            with_server(|config, server| async move {
                relays::contract_floor(&config, server, &mix, notifications_per_report).await
            })
            .await?,
        );
    }

    // The latency of the throughput runs' mix, and of reports that each open a new situation.
    let offered = usize::try_from(args.rate * args.latency_secs)?;
    let template = feed::reports(1).remove(0);
    let new_situations: Vec<SituationReport> = (0..offered)
        .map(|i| SituationReport {
            report_id: format!("latency-{i}"),
            situation_id: format!("LATENCY-{i}"),
            ..template.clone()
        })
        .collect();
    let rate = args.rate;
    let latency = with_server(|config, _| async move {
        pipeline::latency(&config, feed::reports(offered), rate).await
    })
    .await?;
    let latency_new_situations =
        with_server(
            |config, _| async move { pipeline::latency(&config, new_situations, rate).await },
        )
        .await?;

    Ok(Results {
        bare: best(bare_runs, |run| run.throughput)?,
        floor: best(floor_runs, |run| run.throughput)?,
        tracing_off: best(off_runs, |run| run.throughput)?,
        tracing_on: best(on_runs, |run| run.throughput)?,
        latency,
        latency_new_situations,
    })
}

/// The run with the highest `throughput`.
fn best<T>(runs: Vec<T>, throughput: impl Fn(&T) -> f64) -> anyhow::Result<T> {
    runs.into_iter()
        .max_by(|a, b| throughput(a).total_cmp(&throughput(b)))
        .context("no run to take the best of")
}

/// Runs `work` against a fresh nats-server (given its process id), stopped afterwards.
async fn with_server<F, Fut, T>(work: F) -> anyhow::Result<T>
where
    F: FnOnce(NatsConfig, u32) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    // Starting waits (blocking) until the server is ready.
    let server = tokio::task::spawn_blocking(NatsServer::start).await?;
    let pid = server.pid().context("the nats-server is not running")?;
    let config = NatsConfig {
        url: server.url(),
        ..Default::default()
    };
    work(config, pid).await
}
