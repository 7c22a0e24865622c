//! `tandem trace`: from a report or a situation to its trace in the tracing dashboard, and the
//! words every command uses to show a trace id (with a link when `TANDEM_TRACE_URL` is set).
//!
//! Trace ids are read from the `traceparent` header of the stored events (docs/design.md,
//! "Headers"): a report's is that of intake's outcome event, which continues the trace the
//! submitter started; a determination's is that of its event on `TANDEM_EVENTS`, which
//! continues the trace of the report that led to it. Reads are bounded and hold one event at a
//! time: a determination is looked up as the last event of its country, else among at most
//! [`DEFAULT_SCAN`] of its country's events from shortly before it was made; a report id,
//! which no subject names, among the newest `--scan` events of each outcome stream.

use std::{process::ExitCode, time::Duration};

use anyhow::Context as _;
use async_nats::{
    Client,
    jetstream::{
        self, Message,
        consumer::{DeliverPolicy, pull::OrderedConfig},
        stream::{LastRawMessageErrorKind, Stream},
    },
};
use futures::StreamExt as _;
use prost::Message as _;
use serde_json::json;
use tandem_leadership::situations::{determination_event_id, record_key};
use tandem_proto::{
    subjects,
    v1::{LeadershipDetermination, SituationAccepted, SituationRejected},
};
use tandem_runtime::{envelope, topology};

use crate::{render, situation};

/// How far before a determination was made its event is looked for: the determination's time
/// is the leadership host's clock, the stream's the server's.
const CLOCK_MARGIN: Duration = Duration::from_secs(10 * 60);

/// How many events a search reads at most, unless told otherwise.
const DEFAULT_SCAN: u64 = 100_000;

/// At most this many outcomes of one report id are shown (partners may reuse each other's ids).
const MAX_REPORT_MATCHES: usize = 16;

/// How long one scan of a stream may take before it gives up.
const SCAN_TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `tandem trace`.
#[derive(clap::Args)]
pub struct TraceArgs {
    /// A report id or a situation id.
    id: String,
    /// One JSON object instead of words.
    #[arg(long)]
    json: bool,
    /// How many of the newest events of TANDEM_EVENTS and of TANDEM_REJECTIONS are searched for
    /// a report id.
    #[arg(long, default_value_t = DEFAULT_SCAN)]
    scan: u64,
}

/// The dashboard link of `trace_id`, when `TANDEM_TRACE_URL` is set.
pub fn url(trace_id: &str) -> Option<String> {
    envelope::trace_url(trace_id)
}

/// `trace <id>` in the reader's language.
fn label(trace_id: &str) -> String {
    crate::lang().text_with("cli-trace", &[("trace", trace_id.into())])
}

/// `trace <id>`, followed by the dashboard link when there is one.
pub fn words(trace_id: &str) -> String {
    match url(trace_id) {
        Some(url) => format!("{} {url}", label(trace_id)),
        None => label(trace_id),
    }
}

/// The trace id of the event announcing `determination`, or `None` when it is not (or no
/// longer) on `TANDEM_EVENTS` or carries no trace context.
pub async fn of_determination(
    js: &jetstream::Context,
    determination: &LeadershipDetermination,
) -> anyhow::Result<Option<String>> {
    let Ok(stream) = js.get_stream(topology::EVENTS_STREAM).await else {
        return Ok(None);
    };
    let subject = subjects::determined_subject(&determination.country);
    let event_id = determination_event_id(&determination.determination_id);
    // Usually the last determination of its country.
    match stream.get_last_raw_message_by_subject(&subject).await {
        Ok(message) => {
            if envelope::header(Some(&message.headers), envelope::MSG_ID) == Some(&event_id) {
                return Ok(envelope::trace_id(Some(&message.headers)));
            }
        }
        Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => return Ok(None),
        Err(error) => return Err(error).context("cannot read TANDEM_EVENTS"),
    }
    let made = determination
        .determined_at
        .as_ref()
        .and_then(tandem_proto::timestamp::to_system_time)
        .map(time::OffsetDateTime::from)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut found = None;
    scan(
        &stream,
        subject,
        DeliverPolicy::ByStartTime {
            start_time: made - CLOCK_MARGIN,
        },
        DEFAULT_SCAN,
        |message| {
            if envelope::header(message.headers.as_ref(), envelope::MSG_ID) == Some(&event_id) {
                found = envelope::trace_id(message.headers.as_ref());
                return true;
            }
            false
        },
    )
    .await?;
    Ok(found)
}

/// One outcome of a report, as found on the outcome streams.
#[derive(Debug)]
pub struct ReportTrace {
    /// `accepted` or `rejected`.
    pub outcome: &'static str,
    /// The report's situation (empty when intake could not read it).
    pub situation_id: String,
    /// Who sent it, in words.
    pub organisation: String,
    /// The trace id of the outcome event.
    pub trace_id: String,
}

/// The outcomes of report `report_id` among the newest `scan` events of each outcome stream,
/// newest first.
pub async fn of_report(
    js: &jetstream::Context,
    report_id: &str,
    scan_limit: u64,
) -> anyhow::Result<Vec<ReportTrace>> {
    let mut found: Vec<(time::OffsetDateTime, ReportTrace)> = Vec::new();
    for (name, filter) in [
        (topology::EVENTS_STREAM, subjects::ACCEPTED_FILTER),
        (topology::REJECTIONS_STREAM, subjects::REJECTED_FILTER),
    ] {
        let Ok(mut stream) = js.get_stream(name).await else {
            continue;
        };
        let last = stream.info().await?.state.last_sequence;
        let start = last.saturating_sub(scan_limit).saturating_add(1).max(1);
        scan(
            &stream,
            filter.to_string(),
            DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            scan_limit,
            |message| {
                let outcome = if subjects::is_accepted_subject(&message.subject) {
                    SituationAccepted::decode(message.payload.clone())
                        .ok()
                        .and_then(|accepted| accepted.report)
                        .filter(|report| report.report_id == report_id)
                        .map(|report| {
                            (
                                "accepted",
                                report.situation_id,
                                report.reporting_agency,
                                report.reporter_org,
                            )
                        })
                } else {
                    SituationRejected::decode(message.payload.clone())
                        .ok()
                        .filter(|rejected| rejected.report_id == report_id)
                        .map(|rejected| {
                            (
                                "rejected",
                                rejected.situation_id,
                                rejected.reporting_agency,
                                rejected.reporter_org,
                            )
                        })
                };
                let (Some((outcome, situation_id, agency, reporter_org)), Some(trace_id)) =
                    (outcome, envelope::trace_id(message.headers.as_ref()))
                else {
                    return false;
                };
                let published = message
                    .info()
                    .map(|info| info.published)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                found.push((
                    published,
                    ReportTrace {
                        outcome,
                        situation_id,
                        organisation: render::organisation(crate::lang(), agency, &reporter_org),
                        trace_id,
                    },
                ));
                if found.len() > MAX_REPORT_MATCHES {
                    found.sort_by_key(|(published, _)| std::cmp::Reverse(*published));
                    found.truncate(MAX_REPORT_MATCHES);
                }
                false
            },
        )
        .await?;
    }
    found.sort_by_key(|(published, _)| std::cmp::Reverse(*published));
    Ok(found.into_iter().map(|(_, trace)| trace).collect())
}

/// Reads `stream`'s messages on `filter` from `start`, at most `limit` of them and only those
/// stored when the scan began, with an ordered consumer (no state left on the server), until
/// `visit` says it found what it looked for.
async fn scan(
    stream: &Stream,
    filter: String,
    start: DeliverPolicy,
    limit: u64,
    mut visit: impl FnMut(&Message) -> bool,
) -> anyhow::Result<()> {
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: filter,
            deliver_policy: start,
            ..Default::default()
        })
        .await
        .context("cannot read the stream")?;
    let mut remaining = consumer.cached_info().num_pending.min(limit);
    if remaining == 0 {
        return Ok(());
    }
    let mut messages = consumer.messages().await?;
    tokio::time::timeout(SCAN_TIMEOUT, async {
        while let Some(message) = messages.next().await {
            let message = message?;
            remaining -= 1;
            if visit(&message) || remaining == 0 {
                break;
            }
        }
        anyhow::Ok(())
    })
    .await
    .map_err(|_| anyhow::anyhow!("reading the stream took longer than {SCAN_TIMEOUT:?}"))?
}

pub async fn run(client: &Client, args: TraceArgs) -> anyhow::Result<ExitCode> {
    let js = jetstream::new(client.clone());
    let determination = match js.get_key_value(topology::LEADERSHIP_BUCKET).await {
        Ok(records) => situation::load(&records, &record_key(&args.id))
            .await?
            .and_then(|record| record.determination),
        Err(_) => None,
    };
    let determination_trace = match &determination {
        Some(determination) => of_determination(&js, determination).await?,
        None => None,
    };
    let reports = of_report(&js, &args.id, args.scan).await?;
    if determination.is_none() && reports.is_empty() {
        eprintln!(
            "tandem: no situation and no report {} (searched the situations and the newest {} events of {} and of {})",
            args.id,
            args.scan,
            topology::EVENTS_STREAM,
            topology::REJECTIONS_STREAM
        );
        return Ok(ExitCode::from(crate::exit::NOT_FOUND));
    }
    if args.json {
        let mut traces = Vec::new();
        for report in &reports {
            traces.push(json!({
                "report_id": args.id,
                "outcome": report.outcome,
                "situation_id": report.situation_id,
                "organisation": report.organisation,
                "trace_id": report.trace_id,
                "trace_url": url(&report.trace_id),
            }));
        }
        if let Some(determination) = &determination {
            traces.push(json!({
                "situation_id": determination.situation_id,
                "determination_id": determination.determination_id,
                "trace_id": determination_trace,
                "trace_url": determination_trace.as_deref().and_then(url),
            }));
        }
        println!("{}", json!({ "id": args.id, "traces": traces }));
    } else {
        for report in &reports {
            println!(
                "report {} {} ({}, from {}): {}",
                args.id,
                report.outcome,
                if report.situation_id.is_empty() {
                    "no situation"
                } else {
                    &report.situation_id
                },
                report.organisation,
                words(&report.trace_id)
            );
        }
        if let Some(determination) = &determination {
            println!(
                "situation {} determination {}: {}",
                determination.situation_id,
                determination.sequence,
                describe(determination_trace.as_deref())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A determination's trace in words, or why there is none.
pub fn describe(trace_id: Option<&str>) -> String {
    match trace_id {
        Some(trace_id) => words(trace_id),
        None => crate::lang().text_with(
            "cli-no-trace",
            &[("stream", topology::EVENTS_STREAM.into())],
        ),
    }
}
