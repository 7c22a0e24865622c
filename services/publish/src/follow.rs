//! Following `TANDEM_EVENTS`: the state is rebuilt from the first message at start-up and kept
//! current after. The notification statuses of `TANDEM_NOTIFY`, for the situations' histories,
//! are followed the same way by a second follower.
//!
//! Every instance needs every event, so this is not the shared durable work-queue consumer but
//! an ordered consumer of this instance's own, on the whole stream: nats-server 2.9 allows one
//! subject filter per consumer, and accepted reports, determinations and dataset announcements
//! together are most of the stream anyway; other subjects are skipped here. An ordered
//! consumer delivers in stream order and recreates itself on gaps; should its stream end or
//! fail, it is opened again from the sequence after the last one applied, so nothing is
//! applied twice and nothing is skipped (and applying twice would change nothing). After a
//! reconnection it is opened again at once: a restarted server has forgotten the ephemeral
//! consumer, and waiting for missed heartbeats to tell would leave the data stale for seconds.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use async_nats::jetstream::{
    self, Message,
    consumer::{DeliverPolicy, pull::OrderedConfig},
};
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::{
    subjects,
    v1::{
        DatasetPublished, DeterminationReview, LeadershipDetermination, NotificationStatus,
        SituationAccepted,
    },
};
use tandem_runtime::{Shutdown, consumer::Counters, envelope, topology};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::{SERVICE, Shared, dataset};

/// How often the follower looks whether the connection was re-established.
const RECONNECTION_CHECK: Duration = Duration::from_millis(250);

/// Follows the stream until `shutdown`, marking `shared` ready once the stream's last message
/// at start-up is applied.
pub(crate) async fn run(
    js: jetstream::Context,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    follow(js, Followed::Events, shared, counters, shutdown).await
}

/// Follows the notification statuses on `TANDEM_NOTIFY` until `shutdown`, for the histories
/// (who was told, who acknowledged); readiness is the event stream's alone.
pub(crate) async fn run_statuses(
    js: jetstream::Context,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    follow(js, Followed::Statuses, shared, counters, shutdown).await
}

/// The stream a follower reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Followed {
    /// All of `TANDEM_EVENTS`: the dataset, the determinations and reviews.
    Events,
    /// `tandem.notify.status.>` of `TANDEM_NOTIFY`.
    Statuses,
}

async fn follow(
    js: jetstream::Context,
    followed: Followed,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let name = match followed {
        Followed::Events => topology::EVENTS_STREAM,
        Followed::Statuses => topology::NOTIFY_STREAM,
    };
    let mut stream = js.get_stream(name).await?;
    let info = stream.info().await?;
    let target = if info.state.messages == 0 {
        0
    } else {
        info.state.last_sequence
    };
    tracing::info!(last_sequence = target, "rebuilding state from {name}");
    let mut follower = Follower {
        shared,
        counters,
        followed,
        target,
        next: 1,
    };
    follower.check_ready(None);
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_triggered() {
        let from = follower.next;
        match follower.consume(&js.client(), &stream, &shutdown).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                if follower.next > from {
                    // It worked for a while: this is a new failure, not the same one again.
                    backoff = Duration::from_millis(100);
                }
                tracing::warn!(error = format!("{error:#}"), next = follower.next, retry_in = ?backoff, "event stream failed; reopening it");
                if !shutdown.sleep(backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    Ok(())
}

struct Follower {
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    followed: Followed,
    /// The stream's last sequence at start-up: ready once it is applied.
    target: u64,
    /// The next stream sequence to apply.
    next: u64,
}

impl Follower {
    /// Reads messages from `self.next` on until shutdown (`Ok`) or a stream error (`Err`).
    async fn consume(
        &mut self,
        client: &async_nats::Client,
        stream: &jetstream::stream::Stream,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()> {
        let config = OrderedConfig {
            description: Some("tandem publish: state rebuild".into()),
            filter_subject: match self.followed {
                Followed::Events => String::new(),
                Followed::Statuses => subjects::NOTIFY_STATUS_FILTER.into(),
            },
            deliver_policy: if self.next <= 1 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence {
                    start_sequence: self.next,
                }
            },
            ..Default::default()
        };
        let statistics = client.statistics();
        let connects = statistics.connects.load(Ordering::Relaxed);
        let mut messages = stream.create_consumer(config).await?.messages().await?;
        let mut reconnection_check = tokio::time::interval(RECONNECTION_CHECK);
        loop {
            let message = tokio::select! {
                _ = shutdown.triggered() => return Ok(()),
                _ = reconnection_check.tick() => {
                    if statistics.connects.load(Ordering::Relaxed) != connects {
                        anyhow::bail!("reconnected to NATS");
                    }
                    continue;
                }
                message = messages.next() => message,
            };
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(error)) => return Err(error.into()),
                None => anyhow::bail!("event stream ended"),
            };
            let (sequence, pending) = match message.info() {
                Ok(info) => (info.stream_sequence, info.pending),
                Err(error) => anyhow::bail!("message without stream info: {error}"),
            };
            if sequence < self.next {
                continue;
            }
            self.apply(&message, sequence);
            self.next = sequence + 1;
            self.check_ready(Some(pending));
        }
    }

    fn check_ready(&self, pending: Option<u64>) {
        if self.followed != Followed::Events {
            return;
        }
        let caught_up = self.next > self.target || pending == Some(0);
        if caught_up && !self.shared.is_ready() {
            tracing::info!(applied_to = self.next - 1, "state rebuilt; ready");
            self.shared.ready.send_replace(true);
        }
    }

    /// Applies one event inside a span continuing its publisher's trace.
    fn apply(&self, message: &Message, sequence: u64) {
        let subject = message.subject.as_str();
        let span = tracing::info_span!(
            "apply",
            otel.name = format!("{SERVICE} apply {subject}"),
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.destination.name = subject,
            messaging.message.id = envelope::header(message.headers.as_ref(), envelope::MSG_ID),
            stream.sequence = sequence,
            situation.id = Empty,
            outcome = Empty,
        );
        let _ = span.set_parent(envelope::parent_context(message.headers.as_ref()));
        let _entered = span.enter();
        let outcome = match self.decode_and_apply(subject, &message.payload, sequence) {
            Ok(Some((situation, changed))) => {
                span.record("situation.id", situation.as_str());
                if changed {
                    self.shared.changed.send_replace(sequence);
                    "applied"
                } else {
                    "unchanged"
                }
            }
            Ok(None) => return,
            Err(error) => {
                // A message that does not decode is the publisher's bug; it cannot become
                // decodable later, and the dataset goes on without it.
                tracing::warn!(error = %error, "undecodable event skipped");
                "undecodable"
            }
        };
        span.record("outcome", outcome);
        self.counters.processed.fetch_add(1, Ordering::Relaxed);
    }

    /// `Some((situation or dataset, changed))` for an event the dataset uses, `None` for one it
    /// does not.
    fn decode_and_apply(
        &self,
        subject: &str,
        payload: &[u8],
        sequence: u64,
    ) -> Result<Option<(String, bool)>, prost::DecodeError> {
        if subjects::is_accepted_subject(subject) {
            let accepted = SituationAccepted::decode(payload)?;
            let Some(report) = accepted.report else {
                return Ok(Some((String::new(), false)));
            };
            let changed = self.shared.write(|s| s.apply_accepted(&report, sequence));
            Ok(Some((report.situation_id, changed)))
        } else if subjects::is_determined_subject(subject) {
            let determination = LeadershipDetermination::decode(payload)?;
            self.shared
                .write_histories(|h| h.apply_determination(&determination));
            let changed = self
                .shared
                .write(|s| s.apply_determination(&determination, sequence));
            Ok(Some((determination.situation_id, changed)))
        } else if subjects::is_reviewed_subject(subject) {
            let review = DeterminationReview::decode(payload)?;
            self.shared.write_histories(|h| h.apply_review(&review));
            Ok(Some((review.situation_id, false)))
        } else if subjects::is_notify_status_subject(subject) {
            let status = NotificationStatus::decode(payload)?;
            self.shared.write_histories(|h| h.apply_status(&status));
            Ok(Some((status.situation_id, false)))
        } else if subject == topology::DATA_PUBLISHED_SUBJECT {
            let published = DatasetPublished::decode(payload)?;
            if published.dataset != dataset::DATASET {
                return Ok(None);
            }
            // An announcement changes the version list, not the dataset: no new version.
            let _ = self.shared.write(|s| s.apply_published(&published));
            Ok(Some((published.dataset, false)))
        } else {
            Ok(None)
        }
    }
}
