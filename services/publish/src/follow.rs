//! Following `TANDEM_EVENTS`: at start-up the state is restored from the latest usable
//! snapshot ([`crate::snapshot`]) and rebuilt from the first message after it (from the first
//! message of the stream without one), and kept current after. The notification statuses of
//! `TANDEM_NOTIFY`, for the situations' histories, are followed the same way by a second
//! follower, which starts once the snapshot is restored, from the position it covers.
//!
//! Every instance needs every event, in stream order. They are read without a consumer: a
//! user allowed to create one could give it a deliver subject of its choosing and have
//! JetStream publish the whole stream there (docs/security.md), and publish is the service
//! strangers reach. Each message is read by sequence (`$JS.API.STREAM.MSG.GET`, the first
//! message at or after the next sequence to apply); once past the last, a core subscription
//! to the subjects this service uses rings when there is more. Subjects the dataset does not
//! use are skipped here. Should reading fail, it starts again from the sequence after the
//! last one applied, so nothing is applied twice and nothing is skipped (and applying twice
//! would change nothing). After a reconnection it reads again at once: events published while
//! the connection was down rang no bell.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use async_nats::{
    HeaderMap,
    jetstream::{
        self,
        message::StreamMessage,
        stream::{RawMessageErrorKind, Stream},
    },
};
use futures::{FutureExt as _, StreamExt as _};
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

use crate::{SERVICE, Shared, dataset, snapshot};

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

impl Followed {
    /// The subjects of the stream this follower reads.
    fn filter(self) -> &'static str {
        match self {
            Followed::Events => ">",
            Followed::Statuses => subjects::NOTIFY_STATUS_FILTER,
        }
    }

    /// The subjects whose publication rings the doorbell: those `Follower::apply` uses.
    fn subjects(self) -> &'static [&'static str] {
        match self {
            Followed::Events => &[
                subjects::ACCEPTED_FILTER,
                subjects::DETERMINED_FILTER,
                subjects::REVIEWED_FILTER,
                topology::DATA_PUBLISHED_SUBJECT,
            ],
            Followed::Statuses => &[subjects::NOTIFY_STATUS_FILTER],
        }
    }
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
    let start = match followed {
        Followed::Events => {
            let (applied, from_snapshot) = snapshot::restore(&js, &shared).await?;
            let _ = shared.started.set(from_snapshot.then_some(applied));
            shared.applied.send_replace(Some(applied));
            applied.events.through
        }
        Followed::Statuses => {
            let mut applied = shared.applied.subscribe();
            tokio::select! {
                _ = shutdown.triggered() => return Ok(()),
                restored = applied.wait_for(Option::is_some) => {
                    restored?.map_or(0, |applied| applied.statuses.through)
                }
            }
        }
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
        next: start + 1,
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

/// The first message of `stream` on `filter` at or after `sequence`, `None` past the last.
async fn next_from(
    stream: &Stream,
    filter: &str,
    sequence: u64,
) -> anyhow::Result<Option<StreamMessage>> {
    match stream
        .raw_message_builder()
        .sequence(sequence)
        .next_by_subject(filter)
        .send()
        .await
    {
        Ok(message) => Ok(Some(message)),
        Err(error) if error.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error) => Err(anyhow::anyhow!("cannot read event {sequence}: {error}")),
    }
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
        let statistics = client.statistics();
        let connects = statistics.connects.load(Ordering::Relaxed);
        // The doorbell first (and known to the server), so no event after the reading below
        // goes unnoticed.
        let mut doorbell = Vec::new();
        for subject in self.followed.subjects() {
            doorbell.push(client.subscribe(*subject).await?);
        }
        let mut doorbell = futures::stream::select_all(doorbell);
        client.flush().await?;
        let mut reconnection_check = tokio::time::interval(RECONNECTION_CHECK);
        loop {
            // Everything stored from `self.next` on, then wait for the next event.
            while let Some(message) = next_from(stream, self.followed.filter(), self.next).await? {
                if shutdown.is_triggered() {
                    return Ok(());
                }
                let sequence = message.sequence;
                if self.followed == Followed::Events && !self.shared.is_ready() {
                    self.shared.replayed.fetch_add(1, Ordering::Relaxed);
                }
                self.apply(&message, sequence);
                self.next = sequence + 1;
                self.record_applied(sequence);
                self.check_ready(None);
            }
            self.check_ready(Some(0));
            tokio::select! {
                _ = shutdown.triggered() => return Ok(()),
                _ = reconnection_check.tick() => {
                    if statistics.connects.load(Ordering::Relaxed) != connects {
                        anyhow::bail!("reconnected to NATS");
                    }
                }
                rung = doorbell.next() => {
                    if rung.is_none() {
                        anyhow::bail!("the event subscription ended");
                    }
                    // The events themselves are read from the stream, in its order; the ones
                    // already rung are among them.
                    while doorbell.next().now_or_never().flatten().is_some() {}
                }
            }
        }
    }

    /// Records that every message up to `sequence` is applied, for the snapshots: only after
    /// applying, so a snapshot never claims an event its state lacks.
    fn record_applied(&self, sequence: u64) {
        let followed = self.followed;
        self.shared.applied.send_modify(|applied| {
            if let Some(applied) = applied {
                match followed {
                    Followed::Events => applied.events.through = sequence,
                    Followed::Statuses => applied.statuses.through = sequence,
                }
            }
        });
    }

    fn check_ready(&self, pending: Option<u64>) {
        if self.followed != Followed::Events {
            return;
        }
        let caught_up = self.next > self.target || pending == Some(0);
        if caught_up && !self.shared.is_ready() {
            tracing::info!(
                applied_to = self.next - 1,
                from_snapshot = self.shared.started_from_snapshot(),
                replayed = self.shared.replayed.load(Ordering::Relaxed),
                "state rebuilt; ready"
            );
            self.shared.ready.send_replace(true);
        }
    }

    /// Applies one event inside a span continuing its publisher's trace.
    fn apply(&self, message: &StreamMessage, sequence: u64) {
        let subject = message.subject.as_str();
        let headers = Some(&message.headers);
        let span = tracing::info_span!(
            "apply",
            otel.name = format!("{SERVICE} apply {subject}"),
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.destination.name = subject,
            messaging.message.id = envelope::header(headers, envelope::MSG_ID),
            stream.sequence = sequence,
            situation.id = Empty,
            outcome = Empty,
        );
        let _ = span.set_parent(envelope::parent_context(headers));
        let _entered = span.enter();
        let outcome = match self.decode_and_apply(subject, &message.payload, headers, sequence) {
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
        headers: Option<&HeaderMap>,
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
            self.shared.write_histories(|h| {
                h.apply_determination(&determination, envelope::trace_id(headers))
            });
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
