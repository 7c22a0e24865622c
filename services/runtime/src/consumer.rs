//! The durable pull-consumer loop every service runs.
//!
//! - A message is acknowledged only after its handler returned `Ok`, that is after its effects
//!   are stored; a crash before that means redelivery, so handlers are idempotent.
//! - A handler failure is either [`HandlerError::Retry`] (redelivered after an exponential
//!   delay, at most `max_deliver` times) or [`HandlerError::DeadLetter`] (no point retrying).
//!   Either way the message ends in `TANDEM_DLQ` with its error rather than being dropped or
//!   retried forever.
//! - Up to `batch` messages, and no more once their payloads reach `batch_bytes` (one pull asks
//!   for no more either), are in hand at once and handled concurrently, except that those
//!   with the same key (a situation; [`Handler::place`]) go one after another in their
//!   position's order (stream order unless the handler knows better); a slow message (a
//!   webhook retrying) holds back only its own key. A message placed before the one of its
//!   key running (a redelivery whose first holder crashed, or an acceptance another intake
//!   instance announced late) runs beside it instead: queued behind a later message that may
//!   be waiting for it (leadership waits for a report's predecessor), it would stall both.
//!   Handlers already take a key's messages concurrently when two instances hold them, so this
//!   asks nothing new.
//! - Every third of `ack_wait` the server is told that each message in hand, running or
//!   queued behind its key, is still in progress: however long it takes, it is not redelivered
//!   to another instance while this one holds it. So `ack_wait` only has to cover a crashed
//!   instance, and can be short enough for its messages to come back within seconds. A
//!   handling that outlasts `handler_timeout` (stuck, not slow) is abandoned and retried.
//! - On shutdown the loop stops pulling and gives back at once (a Nak without delay) every
//!   message delivered to it that has not started, both those queued behind their key and those
//!   the pull stream has buffered, so another instance gets them now rather than after
//!   `ack_wait`; it finishes and acks those running, then returns. It unsubscribes before
//!   giving back, so the server cannot hand the messages straight back to it.
//! - async-nats pull streams yield errors without ending (missed heartbeats, a deleted
//!   consumer, a server restart); the loop then drops the stream and opens it again with
//!   backoff, creating the consumer if it is gone. The server keeps the consumer's position, so
//!   nothing is skipped; a consumer deleted by hand is re-created from the start of the stream,
//!   and idempotent handlers make that replay harmless.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::{
    Client, Subject,
    jetstream::{
        self, AckKind, Message,
        consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
    },
};
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _, stream::FuturesUnordered};
use tracing::{Instrument as _, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use anyhow::Context as _;

use crate::{
    config::ConsumerConfig,
    dead_letter::DeadLetters,
    envelope,
    metrics::ConsumerInstruments,
    shutdown::Shutdown,
    topology::{self, Durable, Found},
};

/// Why a handler could not process a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Something outside the message failed (NATS unreachable, a lost compare-and-set race
    /// that kept losing): try again later.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// The message itself cannot be processed, now or later: dead-letter it at once.
    #[error("{0:#}")]
    DeadLetter(anyhow::Error),
}

impl From<anyhow::Error> for HandlerError {
    /// Failures are worth retrying unless a handler says otherwise.
    fn from(error: anyhow::Error) -> Self {
        HandlerError::Retry(error)
    }
}

/// Where a message goes among those in hand: messages with equal keys are handled one after
/// another, by position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// What must not be handled concurrently in one instance: a situation.
    pub key: String,
    /// The message's position among its key's messages.
    pub position: u64,
}

/// What a service does with each message of its consumer.
pub trait Handler: Send + Sync + 'static {
    /// Where `message`, delivered as `delivery` says, goes among those in hand. The default is
    /// its subject as key and its stream sequence as position; a handler whose messages carry
    /// their own order (leadership: the acceptance number) gives that, since stream order can
    /// differ from it when several instances publish them.
    fn place(&self, message: &Message, delivery: &Delivery) -> Place {
        Place {
            key: message.subject.to_string(),
            position: delivery.stream_sequence,
        }
    }

    /// Handles one message, delivered as `delivery` says. Returning `Ok` means its effects are
    /// stored and it may be acked.
    fn handle(
        &self,
        message: &Message,
        delivery: Delivery,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Which consumer to run.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// Consuming service, for logs and dead letters (`intake`).
    pub service: &'static str,
    /// The stream consumed.
    pub stream: &'static str,
    /// Durable consumer name, shared by every instance of the service.
    pub durable: String,
    /// Subject filter within the stream.
    pub filter_subject: String,
    /// Delivery settings.
    pub settings: ConsumerConfig,
}

impl ConsumerSpec {
    /// The spec of `durable`, run with `settings`.
    pub fn of(durable: Durable, settings: ConsumerConfig) -> Self {
        Self {
            service: durable.service,
            stream: durable.stream,
            durable: durable.name,
            filter_subject: durable.filter,
            settings,
        }
    }

    /// The durable's settings on the server.
    pub fn config(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.durable.clone()),
            description: Some(format!("tandem {} service", self.service)),
            filter_subject: self.filter_subject.clone(),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.settings.ack_wait(),
            // One delivery more than handlers get: if storing the dead letter fails on the
            // last handled delivery, the spare one stores it without running the handler.
            max_deliver: self.settings.max_deliver + 1,
            max_ack_pending: i64::try_from(self.settings.batch.saturating_mul(8))
                .unwrap_or(i64::MAX),
            ..Default::default()
        }
    }
}

/// Opens `spec`'s stream and durable, creating the durable when missing and the user may (the
/// admin running `tandem setup`, or a development server without accounts). Looked up first,
/// so that a user without the right never asks.
pub async fn open_or_create_durable(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
) -> anyhow::Result<(jetstream::stream::Stream, PullConsumer, Found)> {
    let stream = js
        .get_stream(spec.stream)
        .await
        .with_context(|| topology::missing(&format!("stream {}", spec.stream)))?;
    if let Ok(consumer) = stream.get_consumer(&spec.durable).await {
        return Ok((stream, consumer, Found::Existed));
    }
    match stream.create_consumer(spec.config()).await {
        Ok(consumer) => Ok((stream, consumer, Found::Created)),
        // Another instance made it between our look and our create.
        Err(error) => match stream.get_consumer(&spec.durable).await {
            Ok(consumer) => Ok((stream, consumer, Found::Existed)),
            Err(_) => Err(anyhow::Error::new(error)).with_context(|| {
                topology::missing(&format!("consumer {} on {}", spec.durable, spec.stream))
            }),
        },
    }
}

/// Running totals of one consumer, for the service API's stats.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages handled and acknowledged.
    pub processed: AtomicU64,
    /// Handler failures that will be retried.
    pub retried: AtomicU64,
    /// Messages sent to the dead-letter stream.
    pub dead_lettered: AtomicU64,
}

impl Counters {
    /// The totals as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "processed": self.processed.load(Ordering::Relaxed),
            "retried": self.retried.load(Ordering::Relaxed),
            "dead_lettered": self.dead_lettered.load(Ordering::Relaxed),
        })
    }
}

/// Runs `handler` on `spec`'s consumer until `shutdown` fires.
pub async fn run<H: Handler>(
    js: jetstream::Context,
    spec: ConsumerSpec,
    handler: Arc<H>,
    counters: Arc<Counters>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let dead_letters = DeadLetters::new(js.clone(), spec.service);
    let worker = Worker {
        spec: &spec,
        handler: &*handler,
        counters: &counters,
        instruments: ConsumerInstruments::new(spec.service),
        dead_letters: &dead_letters,
    };
    const FIRST_BACKOFF: Duration = Duration::from_millis(100);
    let mut backoff = FIRST_BACKOFF;
    while !shutdown.is_triggered() {
        let opened_at = tokio::time::Instant::now();
        match worker.consume(&js, &shutdown).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                tracing::warn!(
                    service = spec.service,
                    consumer = %spec.durable,
                    error = format!("{error:#}"),
                    retry_in = ?backoff,
                    "consumer stream failed; re-creating it"
                );
                if !shutdown.sleep(backoff).await {
                    break;
                }
                // A stream that worked for a while starts the backoff afresh; one that keeps
                // failing at once backs off further.
                backoff = if opened_at.elapsed() > Duration::from_secs(30) {
                    FIRST_BACKOFF
                } else {
                    (backoff * 2).min(Duration::from_secs(10))
                };
            }
        }
    }
    Ok(())
}

/// Where a message stands, read once from its JetStream metadata (its reply subject) when it
/// arrives, and handed to the handler with the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its place in the stream: the same on every redelivery, so a stable id for its effects.
    pub stream_sequence: u64,
    /// How often it has been delivered, this time included (1 the first time).
    pub delivered: i64,
    /// How many messages waited behind it on the consumer then: for the metrics.
    pub pending: u64,
}

impl Delivery {
    /// The delivery facts of `message`; none when it carries no JetStream metadata, which a
    /// pull consumer never yields. The loop dead-letters such a message rather than hand its
    /// handler an invented sequence (two of them would share every id made from it).
    pub fn of(message: &Message) -> Option<Self> {
        let info = message.info().ok()?;
        Some(Self {
            stream_sequence: info.stream_sequence,
            delivered: info.delivered,
            pending: info.pending,
        })
    }
}

/// A message in hand, waiting behind its key's running one.
struct Queued {
    position: u64,
    delivery: Delivery,
    message: Message,
}

/// The messages of one key in hand: the position of the one running, and the key's later ones
/// waiting behind it, by position.
struct KeyInHand {
    running: u64,
    queued: VecDeque<Queued>,
}

impl KeyInHand {
    fn running(position: u64) -> Self {
        Self {
            running: position,
            queued: VecDeque::new(),
        }
    }

    /// Queues a message by position: a redelivery may arrive after later ones.
    fn queue(&mut self, queued: Queued) {
        let at = self
            .queued
            .partition_point(|other| other.position <= queued.position);
        self.queued.insert(at, queued);
    }

    /// The next message to run, once the running one is done.
    fn start_next(&mut self) -> Option<(Delivery, Message)> {
        let next = self.queued.pop_front()?;
        self.running = next.position;
        Some((next.delivery, next.message))
    }
}

/// Tells the server that every message in `held` is still being worked on (`+WPI` on its
/// reply subject, as `AckKind::Progress` does), which restarts its `ack_wait`.
async fn report_progress(client: &Client, held: &BTreeMap<Subject, usize>) {
    let in_progress = Bytes::from(AckKind::Progress);
    for reply in held.keys() {
        if let Err(error) = client.publish(reply.clone(), in_progress.clone()).await {
            tracing::debug!(%error, "progress not sent; the message may be redelivered");
            return;
        }
    }
}

/// The messages in hand that have not started: those queued behind their keys, and those
/// `messages` has already received but not yielded. The stream is dropped before returning, which
/// unsubscribes it, so giving them back cannot deliver them to it again.
fn not_started(
    keys: &mut HashMap<String, KeyInHand>,
    messages: Option<pull::Stream>,
) -> Vec<Message> {
    let mut not_started: Vec<Message> = keys
        .values_mut()
        .flat_map(|in_hand| in_hand.queued.drain(..))
        .map(|queued| queued.message)
        .collect();
    if let Some(mut messages) = messages {
        // Only what is already here: waiting would let new pulls deliver more.
        while let Some(Some(Ok(message))) = messages.next().now_or_never() {
            not_started.push(message);
        }
    }
    not_started
}

/// When handling a message started, and how many waited behind it then: for the metrics.
#[derive(Clone, Copy)]
struct Took {
    started: tokio::time::Instant,
    pending: u64,
}

struct Worker<'a, H> {
    spec: &'a ConsumerSpec,
    handler: &'a H,
    counters: &'a Counters,
    instruments: ConsumerInstruments,
    dead_letters: &'a DeadLetters,
}

impl<H: Handler> Worker<'_, H> {
    /// Pulls and handles messages until shutdown (`Ok`) or a stream error (`Err`).
    async fn consume(&self, js: &jetstream::Context, shutdown: &Shutdown) -> anyhow::Result<()> {
        let spec = self.spec;
        let (stream, consumer, _) = open_or_create_durable(js, spec).await?;
        // A pull must have room for the stream's largest message (with its headers and subject),
        // which the server never splits; a smaller `batch_bytes` would stall the consumer.
        let largest = usize::try_from(stream.cached_info().config.max_message_size)
            .unwrap_or_else(|_| js.client().server_info().max_payload);
        let pull_bytes = spec.settings.batch_bytes.max(largest + 64 * 1024);
        let messages = consumer
            .stream()
            .max_messages_per_batch(spec.settings.batch)
            .max_bytes_per_batch(pull_bytes)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await?;
        tracing::info!(service = spec.service, consumer = %spec.durable, "consuming");
        // `None` once shutdown has given back what the stream buffered: dropping it unsubscribes.
        let mut messages = Some(messages);
        // Up to `batch` messages in hand: one running per key, the key's later ones
        // queued behind it, so a slow message holds back its own key and nothing else. `held`
        // has the reply subject of each, for the progress reports, and its payload size.
        let limit = spec.settings.batch.max(1);
        let mut running = FuturesUnordered::new();
        let mut keys: HashMap<String, KeyInHand> = HashMap::new();
        let mut held: BTreeMap<Subject, usize> = BTreeMap::new();
        // The payload bytes in `held`: no more is taken once they reach `batch_bytes`, so large
        // messages handled slowly do not pile up in memory.
        let mut held_bytes = 0;
        let client = js.client();
        let every = (spec.settings.ack_wait() / 3).max(Duration::from_millis(100));
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Set on shutdown or when the stream breaks: nothing more is pulled, and what is in
        // hand is finished and acked before returning, except what shutdown gave back.
        let mut stopping: Option<anyhow::Result<()>> = None;
        loop {
            if stopping.is_some() && running.is_empty() {
                break;
            }
            tokio::select! {
                // Shutdown first, then finished work, then progress, then new messages.
                biased;
                _ = shutdown.triggered(), if stopping.is_none() => {
                    stopping = Some(Ok(()));
                    let not_started = not_started(&mut keys, messages.take());
                    for message in not_started {
                        if let Some(reply) = &message.reply {
                            held.remove(reply);
                        }
                        if let Err(error) = message.ack_with(AckKind::Nak(None)).await {
                            tracing::debug!(%error, "not given back; the message will be redelivered after ack_wait");
                        }
                    }
                }
                Some((key, reply)) = running.next(), if !running.is_empty() => {
                    if let Some(reply) = reply {
                        held_bytes -= held.remove(&reply).unwrap_or_default();
                    }
                    // A message run beside its key's (no key here) leaves the queue alone.
                    if let Some(key) = key {
                        match keys.get_mut(&key).and_then(KeyInHand::start_next) {
                            Some((delivery, next)) => {
                                running.push(self.process_keyed(Some(key), Some(delivery), next));
                            }
                            None => {
                                keys.remove(&key);
                            }
                        }
                    }
                }
                _ = progress.tick() => report_progress(&client, &held).await,
                item = async {
                    match messages.as_mut() {
                        Some(messages) => messages.next().await,
                        None => std::future::pending().await,
                    }
                },
                    if stopping.is_none()
                        && held.len() < limit
                        && held_bytes < spec.settings.batch_bytes => match item {
                    None => stopping = Some(Err(anyhow::anyhow!("message stream ended"))),
                    Some(Err(error)) => stopping = Some(Err(anyhow::Error::from(error))),
                    Some(Ok(message)) => {
                        if let Some(reply) = &message.reply {
                            let bytes = message.payload.len();
                            held_bytes += bytes;
                            held_bytes -= held.insert(reply.clone(), bytes).unwrap_or_default();
                        }
                        let Some(delivery) = Delivery::of(&message) else {
                            running.push(self.process_keyed(None, None, message));
                            continue;
                        };
                        let Place { key, position } = self.handler.place(&message, &delivery);
                        let delivered = Some(delivery);
                        match keys.get_mut(&key) {
                            Some(in_hand) if position < in_hand.running => {
                                running.push(self.process_keyed(None, delivered, message));
                            }
                            Some(in_hand) => in_hand.queue(Queued { position, delivery, message }),
                            None => {
                                keys.insert(key.clone(), KeyInHand::running(position));
                                running.push(self.process_keyed(Some(key), delivered, message));
                            }
                        }
                    }
                },
            }
        }
        stopping.unwrap_or(Ok(()))
    }

    /// Handles `message` and gives back its key (`None` when it ran beside its key's
    /// queue, or has no place), so the next of that key can start, and its reply subject, which
    /// no longer needs progress reports.
    async fn process_keyed(
        &self,
        key: Option<String>,
        delivery: Option<Delivery>,
        message: Message,
    ) -> (Option<String>, Option<Subject>) {
        let reply = message.reply.clone();
        self.process(delivery, message).await;
        (key, reply)
    }

    async fn process(&self, delivery: Option<Delivery>, message: Message) {
        let started = tokio::time::Instant::now();
        let Some(delivery) = delivery else {
            let error = "the message carries no JetStream metadata (stream sequence, delivery \
                         count), so it cannot be handled idempotently";
            let took = Took {
                started,
                pending: 0,
            };
            return self.dead_letter(&message, error, 1, took).await;
        };
        let Delivery {
            stream_sequence,
            delivered,
            pending,
        } = delivery;
        let span = tracing::info_span!(
            "handle",
            otel.name = format!("{} process {}", self.spec.service, message.subject),
            otel.kind = "consumer",
            otel.status_code = Empty,
            otel.status_description = Empty,
            messaging.system = "nats",
            messaging.destination.name = %message.subject,
            messaging.message.id = envelope::header(message.headers.as_ref(), envelope::MSG_ID),
            stream.sequence = stream_sequence,
            delivery = delivered,
            situation.id = Empty,
            report.id = Empty,
            agency = Empty,
            classification = Empty,
            outcome = Empty,
            error = Empty,
            trace_id = Empty,
        );
        let _ = span.set_parent(envelope::parent_context(message.headers.as_ref()));
        // On every log line of this message, so logs and the trace can be joined.
        span.record("trace_id", envelope::trace_id_of(&span));
        let took = Took { started, pending };
        if delivered > self.spec.settings.max_deliver {
            // The spare delivery: the handler has had all its deliveries and the last one was
            // never settled. Say why that can be, for whoever reads the dead letter.
            let error = "every delivery used up: the last one ended unsettled (the instance \
                         handling it stopped, or storing its dead letter failed)";
            return self
                .dead_letter(&message, error, delivered, took)
                .instrument(span)
                .await;
        }
        // Progress reports keep a message from being redelivered however long its handler
        // runs, so a handler stuck for ever would hold it, and its key, for ever. Abandoning
        // it is what a crash of this instance would do, which handlers are built to survive.
        let timeout = self.spec.settings.handler_timeout();
        let handling = self
            .handler
            .handle(&message, delivery)
            .instrument(span.clone());
        let result = tokio::time::timeout(timeout, handling)
            .await
            .unwrap_or_else(|_| {
                Err(HandlerError::Retry(anyhow::anyhow!(
                    "handling took longer than {timeout:?} and was abandoned"
                )))
            });
        let settle = async {
            match result {
                Ok(()) => {
                    self.count(&self.counters.processed, "processed", took);
                    if let Err(error) = message.ack().await {
                        // The effects are stored; a redelivery is handled idempotently.
                        tracing::warn!(%error, "ack failed; the message will be redelivered");
                    }
                }
                Err(HandlerError::Retry(error)) if delivered < self.spec.settings.max_deliver => {
                    self.count(&self.counters.retried, "retried", took);
                    let delay = self.spec.settings.retry_delay(delivered);
                    tracing::warn!(error = format!("{error:#}"), retry_in = ?delay, "handling failed; will retry");
                    if let Err(error) = message.ack_with(AckKind::Nak(Some(delay))).await {
                        tracing::warn!(%error, "nak failed; the message will be redelivered after ack_wait");
                    }
                }
                Err(error) => {
                    self.dead_letter(&message, &error.to_string(), delivered, took)
                        .await
                }
            }
        };
        settle.instrument(span).await;
    }

    /// Counts one message with `outcome`: the service API's counter and the metrics.
    fn count(&self, counter: &AtomicU64, outcome: &'static str, took: Took) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.instruments
            .record(outcome, took.started.elapsed(), took.pending);
    }

    async fn dead_letter(&self, message: &Message, error: &str, delivered: i64, took: Took) {
        let span = tracing::Span::current();
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", error);
        span.record("error", error);
        span.record("outcome", "dead_lettered");
        let deliveries = u64::try_from(delivered).unwrap_or(0);
        match self.dead_letters.send(message, error, deliveries).await {
            Ok(()) => {
                self.count(&self.counters.dead_lettered, "dead_lettered", took);
                tracing::error!(error, deliveries, "message dead-lettered");
                if let Err(ack_error) = message.ack_with(AckKind::Term).await {
                    tracing::warn!(error = %ack_error, "term failed; the dead letter is stored, a redelivery will store it again under the same id");
                }
            }
            Err(dlq_error) => {
                // Not stored anywhere yet: leave it to redelivery rather than lose it.
                tracing::error!(
                    error,
                    dlq_error = format!("{dlq_error:#}"),
                    "cannot dead-letter; leaving the message for redelivery"
                );
                let _ = message
                    .ack_with(AckKind::Nak(Some(self.spec.settings.ack_wait())))
                    .await;
            }
        }
    }
}
