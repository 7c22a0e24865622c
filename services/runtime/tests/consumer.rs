//! The consumer loop (`tandem_runtime::consumer::run`) against a real nats-server, with small
//! test handlers: finite redelivery ending in `TANDEM_DLQ`, immediate dead letters, a retry that
//! then succeeds, a consumer deleted under the loop, a server killed and restarted, progress
//! reports keeping slow work from redelivery, a redelivered message running beside a newer one
//! of its key, a graceful shutdown while messages flow, and a shutdown giving back what it had
//! not started to another instance.
//!
//! Waiting is always on an observable condition (the handler's record, the server's consumer
//! info or stream contents) with a deadline. That something does *not* happen (no redelivery
//! after a dead letter) is read from the server too: a message past the consumer's ack floor
//! is never delivered again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use anyhow::anyhow;
use async_nats::{
    HeaderMap,
    jetstream::{self, Message, consumer, stream},
};
use prost::Message as _;
use tandem_proto::v1::{DeadLetter, Header};
use tandem_runtime::{
    Shutdown,
    config::{ConsumerConfig, StorageConfig},
    consumer::{ConsumerSpec, Counters, Delivery, Handler, HandlerError},
    topology,
};
use tandem_testkit::{NatsServer, init_test_log, stream_messages, wait_until_consumed};
use tokio::time::Instant;

/// The stream the test handlers consume.
const STREAM: &str = "TEST_WORK";
/// The consuming service, as named in dead letters.
const SERVICE: &str = "worker";
/// Its durable consumer.
const DURABLE: &str = "test-worker";
/// `max_deliver` of every test.
const MAX_DELIVER: i64 = 3;

/// The work stream and `TANDEM_DLQ`, created the way services create theirs.
async fn ensure_streams(js: &jetstream::Context) {
    let storage = StorageConfig::default();
    topology::ensure_stream(
        js,
        stream::Config {
            name: STREAM.into(),
            subjects: vec!["test.work.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await
    .expect("work stream");
    topology::ensure_stream(js, topology::dlq_stream(&storage))
        .await
        .expect("dead-letter stream");
}

fn spec(ack_wait_secs: u64, batch: usize) -> ConsumerSpec {
    ConsumerSpec {
        service: SERVICE,
        stream: STREAM,
        durable: DURABLE.into(),
        filter_subject: "test.work.>".into(),
        settings: ConsumerConfig {
            max_deliver: MAX_DELIVER,
            ack_wait_secs,
            retry_base_ms: 10,
            batch,
            handler_timeout_secs: 60,
            ..ConsumerConfig::default()
        },
    }
}

/// What a test handler does with each message.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Succeed,
    AlwaysRetry,
    DeadLetter,
    /// `Retry` on a message's first call, success afterwards.
    FailFirstCall,
    /// The handler's very first call never returns; success otherwise.
    HangFirstCall,
}

/// One call of the handler.
#[derive(Clone, Debug)]
struct Call {
    payload: String,
    stream_sequence: u64,
    delivered: i64,
    at: Instant,
}

/// A handler that behaves as told and records every call and every success.
struct Recorder {
    behaviour: Behaviour,
    /// Time each call takes.
    work: Duration,
    /// Fires the shutdown while the n-th successful call is still in flight.
    shutdown_on_success: Option<(usize, Shutdown)>,
    calls: Mutex<Vec<Call>>,
    /// Payload and stream sequence of every call that returned `Ok`, in order.
    handled: Mutex<Vec<(String, u64)>>,
}

impl Recorder {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self::with(behaviour, Duration::ZERO, None))
    }

    fn with(
        behaviour: Behaviour,
        work: Duration,
        shutdown_on_success: Option<(usize, Shutdown)>,
    ) -> Self {
        Self {
            behaviour,
            work,
            shutdown_on_success,
            calls: Mutex::default(),
            handled: Mutex::default(),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    fn calls_of(&self, payload: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.payload == payload)
            .collect()
    }

    fn handled(&self) -> Vec<(String, u64)> {
        self.handled.lock().expect("handled").clone()
    }

    /// How often each payload was handled successfully.
    fn handled_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (payload, _) in self.handled() {
            *counts.entry(payload).or_default() += 1;
        }
        counts
    }

    fn times_handled(&self, payload: &str) -> usize {
        self.handled_counts().get(payload).copied().unwrap_or(0)
    }
}

impl Handler for Recorder {
    async fn handle(&self, message: &Message, info: Delivery) -> Result<(), HandlerError> {
        let payload = String::from_utf8_lossy(&message.payload).into_owned();
        let (call_number, first_call_of_all) = {
            let mut calls = self.calls.lock().expect("calls");
            calls.push(Call {
                payload: payload.clone(),
                stream_sequence: info.stream_sequence,
                delivered: info.delivered,
                at: Instant::now(),
            });
            let call_number = calls.iter().filter(|call| call.payload == payload).count();
            (call_number, calls.len() == 1)
        };
        if !self.work.is_zero() {
            tokio::time::sleep(self.work).await;
        }
        match self.behaviour {
            Behaviour::AlwaysRetry => Err(HandlerError::Retry(anyhow!(
                "the store is unavailable for {payload}"
            ))),
            Behaviour::DeadLetter => Err(HandlerError::DeadLetter(anyhow!(
                "{payload} cannot be parsed"
            ))),
            Behaviour::FailFirstCall if call_number == 1 => Err(HandlerError::Retry(anyhow!(
                "first attempt at {payload} failed"
            ))),
            Behaviour::HangFirstCall if first_call_of_all => std::future::pending().await,
            Behaviour::Succeed | Behaviour::FailFirstCall | Behaviour::HangFirstCall => {
                let successes = {
                    let mut handled = self.handled.lock().expect("handled");
                    handled.push((payload, info.stream_sequence));
                    handled.len()
                };
                if let Some((n, shutdown)) = &self.shutdown_on_success
                    && successes == *n
                {
                    shutdown.trigger();
                    // Still in flight when the loop is told to stop.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(())
            }
        }
    }
}

/// `consumer::run` in a task, on its own connection.
struct Running {
    shutdown: Shutdown,
    counters: Arc<Counters>,
    client: async_nats::Client,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start<H: Handler>(server: &NatsServer, spec: ConsumerSpec, handler: Arc<H>) -> Running {
    start_with(server, spec, handler, Shutdown::new()).await
}

async fn start_with<H: Handler>(
    server: &NatsServer,
    spec: ConsumerSpec,
    handler: Arc<H>,
    shutdown: Shutdown,
) -> Running {
    let client = server.client().await;
    let counters = Arc::new(Counters::default());
    let task = tokio::spawn(tandem_runtime::consumer::run(
        jetstream::new(client.clone()),
        spec,
        handler,
        counters.clone(),
        shutdown.clone(),
    ));
    Running {
        shutdown,
        counters,
        client,
        task,
    }
}

impl Running {
    /// Panics when the loop has ended although nobody asked it to stop.
    fn assert_running(&self) {
        assert!(
            !self.task.is_finished(),
            "the consumer loop ended before it was asked to"
        );
    }

    /// Waits for `run` to return (the shutdown having fired) and checks it returned `Ok`.
    async fn finished(self) -> Arc<Counters> {
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("consumer::run returns promptly after shutdown")
            .expect("consumer task did not panic");
        assert!(result.is_ok(), "consumer::run failed: {result:?}");
        // As services do after `run`: acks are plain publishes, make sure they left.
        self.client.flush().await.expect("flush");
        self.counters
    }

    async fn stop(self) -> Arc<Counters> {
        self.assert_running();
        self.shutdown.trigger();
        self.finished().await
    }
}

/// Publishes `payload` on `test.work.<token>`, waits for the stream to store it, returns its
/// sequence.
async fn publish(js: &jetstream::Context, token: &str, payload: &str, headers: HeaderMap) -> u64 {
    js.publish_with_headers(
        format!("test.work.{token}"),
        headers,
        payload.to_string().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored")
    .sequence
}

/// [`tandem_testkit::eventually`] for a condition read from memory, without awaiting.
async fn eventually(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    tandem_testkit::eventually(what, timeout, || std::future::ready(done())).await;
}

/// The server's view of the test consumer, `None` while it does not exist.
async fn consumer_info(js: &jetstream::Context) -> Option<consumer::Info> {
    let stream = js.get_stream(STREAM).await.ok()?;
    stream.consumer_info(DURABLE).await.ok()
}

/// The dead letters in `TANDEM_DLQ`, once there are `count`.
async fn dead_letters(js: &jetstream::Context, count: usize) -> Vec<(HeaderMap, DeadLetter)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = stream_messages(js, topology::DLQ_STREAM).await;
        if messages.len() >= count {
            return messages
                .into_iter()
                .map(|message| {
                    assert_eq!(message.subject.as_str(), "tandem.dlq.worker");
                    let letter = DeadLetter::decode(message.payload).expect("a DeadLetter");
                    (message.headers, letter)
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{count} dead letter(s) expected, found {}",
            messages.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.as_str())
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_dead_lettered_after_max_deliver_deliveries() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let handler = Recorder::new(Behaviour::AlwaysRetry);
    let running = start(&server, spec(2, 16), handler.clone()).await;

    let mut headers = HeaderMap::new();
    headers.insert("x-order", "42");
    let sequence = publish(&js, "orders", "order-42", headers).await;

    let letters = dead_letters(&js, 1).await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;

    let calls = handler.calls_of("order-42");
    assert_eq!(
        calls.iter().map(|c| c.delivered).collect::<Vec<_>>(),
        vec![1, 2, 3],
        "the handler ran once per delivery, max_deliver = 3 times"
    );
    assert!(calls.iter().all(|c| c.stream_sequence == sequence));
    // Redelivery is paced by the retry delay (10 ms, then 20 ms), not by ack_wait (2 s).
    for (pair, min_ms) in calls.windows(2).zip([10, 20]) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(min_ms) && gap < Duration::from_secs(2),
            "delivery {} came {gap:?} after the previous one",
            pair[1].delivered
        );
    }

    assert_eq!(letters.len(), 1, "one dead letter");
    let (letter_headers, letter) = &letters[0];
    assert_eq!(letter.service, SERVICE);
    assert_eq!(letter.subject, "test.work.orders");
    assert_eq!(letter.stream, STREAM);
    assert_eq!(letter.stream_sequence, sequence);
    assert_eq!(letter.deliveries, 3);
    assert_eq!(letter.error, "the store is unavailable for order-42");
    assert_eq!(
        letter.payload, b"order-42",
        "the original bytes, for replay"
    );
    assert!(
        letter.headers.contains(&Header {
            name: "x-order".into(),
            value: "42".into()
        }),
        "the original headers, for replay: {:?}",
        letter.headers
    );
    assert!(letter.failed_at.is_some());
    assert_eq!(
        header(letter_headers, "Nats-Msg-Id"),
        Some(format!("dlq:{STREAM}:{sequence}").as_str())
    );
    assert_eq!(
        header(letter_headers, "ce-type"),
        Some("org.tandem.dead_letter.v1")
    );
    assert_eq!(header(letter_headers, "ce-source"), Some("/tandem/worker"));

    // Nothing is retried forever: the server has settled the message (its ack floor is past
    // it and nothing is unacknowledged), and the server redelivers only what is still
    // unacknowledged, so no later delivery can come; the handler ran only max_deliver times.
    let info = consumer_info(&js).await.expect("consumer");
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));
    assert!(
        info.ack_floor.stream_sequence >= sequence,
        "the message is settled: ack floor {} before {sequence}",
        info.ack_floor.stream_sequence
    );
    assert_eq!(
        handler.calls().len(),
        3,
        "no delivery after the dead letter"
    );
    assert_eq!(stream_messages(&js, topology::DLQ_STREAM).await.len(), 1);

    let counters = running.stop().await;
    assert_eq!(counters.processed.load(Ordering::Relaxed), 0);
    assert_eq!(counters.retried.load(Ordering::Relaxed), 2);
    assert_eq!(counters.dead_lettered.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_dead_letter_error_dead_letters_on_the_first_delivery() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let handler = Recorder::new(Behaviour::DeadLetter);
    let running = start(&server, spec(2, 16), handler.clone()).await;

    let sequence = publish(&js, "orders", "order-7", HeaderMap::new()).await;
    let letters = dead_letters(&js, 1).await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;

    assert_eq!(handler.calls().len(), 1, "no retry of a DeadLetter error");
    let (_, letter) = &letters[0];
    assert_eq!(letter.deliveries, 1);
    assert_eq!(letter.error, "order-7 cannot be parsed");
    assert_eq!(letter.payload, b"order-7");
    assert_eq!(letter.subject, "test.work.orders");
    assert_eq!(letter.stream_sequence, sequence);

    let counters = running.stop().await;
    assert_eq!(counters.retried.load(Ordering::Relaxed), 0);
    assert_eq!(counters.dead_lettered.load(Ordering::Relaxed), 1);
    assert_eq!(handler.calls().len(), 1);
}

#[tokio::test]
async fn a_failure_then_success_is_handled_once_and_not_dead_lettered() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let handler = Recorder::new(Behaviour::FailFirstCall);
    let running = start(&server, spec(2, 16), handler.clone()).await;

    let payloads = ["job-a", "job-b", "job-c"];
    for (i, payload) in payloads.iter().enumerate() {
        publish(&js, &format!("s{i}"), payload, HeaderMap::new()).await;
    }
    eventually("every job handled", Duration::from_secs(20), || {
        handler.handled().len() >= payloads.len()
    })
    .await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;

    for payload in payloads {
        let deliveries: Vec<i64> = handler
            .calls_of(payload)
            .iter()
            .map(|c| c.delivered)
            .collect();
        assert_eq!(
            deliveries,
            vec![1, 2],
            "{payload}: failed once, then handled"
        );
        assert_eq!(handler.times_handled(payload), 1, "{payload}");
    }
    assert!(
        stream_messages(&js, topology::DLQ_STREAM).await.is_empty(),
        "nothing dead-lettered"
    );
    let counters = running.stop().await;
    assert_eq!(counters.processed.load(Ordering::Relaxed), 3);
    assert_eq!(counters.retried.load(Ordering::Relaxed), 3);
    assert_eq!(counters.dead_lettered.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_consumer_deleted_on_the_server_is_recreated_and_work_goes_on() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let handler = Recorder::new(Behaviour::Succeed);
    let running = start(&server, spec(2, 16), handler.clone()).await;

    publish(&js, "a", "before-delete", HeaderMap::new()).await;
    eventually("the first message handled", Duration::from_secs(20), || {
        handler.times_handled("before-delete") == 1
    })
    .await;
    let original = consumer_info(&js).await.expect("consumer").created;

    let deleted_at = Instant::now();
    js.get_stream(STREAM)
        .await
        .expect("stream")
        .delete_consumer(DURABLE)
        .await
        .expect("delete the consumer");
    publish(&js, "a", "after-delete", HeaderMap::new()).await;

    eventually(
        "the message published after the deletion handled",
        Duration::from_secs(60),
        || {
            running.assert_running();
            handler.times_handled("after-delete") >= 1
        },
    )
    .await;
    let recovered_in = deleted_at.elapsed();
    let info = consumer_info(&js).await.expect("the consumer exists again");
    assert_ne!(info.created, original, "a new consumer was created");
    assert_eq!(info.config.durable_name.as_deref(), Some(DURABLE));
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;

    assert_eq!(handler.times_handled("after-delete"), 1);
    // A consumer created anew starts at the beginning of the stream (deliver policy all), so
    // the earlier message is handled again: at least once, never lost.
    assert!(handler.times_handled("before-delete") >= 1);
    eprintln!(
        "recovered {recovered_in:?} after the deletion; before-delete handled {} times",
        handler.times_handled("before-delete")
    );
    running.stop().await;
}

/// Publishes until the stream acknowledges, retrying while the server comes back.
async fn publish_retrying(js: &jetstream::Context, payload: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut headers = HeaderMap::new();
        // Retries of one payload are stored once.
        headers.insert("Nats-Msg-Id", payload);
        let attempt = async {
            js.publish_with_headers("test.work.r", headers, payload.to_string().into())
                .await?
                .await
                .map_err(anyhow::Error::from)
        };
        match attempt.await {
            Ok(ack) => return ack.sequence,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "cannot publish after the restart: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_published_after_a_server_restart_are_handled() {
    init_test_log();
    let mut server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let handler = Recorder::new(Behaviour::Succeed);
    let running = start(&server, spec(2, 16), handler.clone()).await;

    publish_retrying(&js, "before-restart").await;
    eventually(
        "handled before the restart",
        Duration::from_secs(20),
        || handler.times_handled("before-restart") == 1,
    )
    .await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;

    let restarted_at = Instant::now();
    tokio::task::block_in_place(|| server.restart());
    let sequence = publish_retrying(&js, "after-restart").await;
    assert_eq!(sequence, 2, "the stream kept its first message");

    eventually(
        "the message published after the restart handled",
        Duration::from_secs(60),
        || {
            running.assert_running();
            handler.times_handled("after-restart") >= 1
        },
    )
    .await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(30)).await;
    eprintln!("handled {:?} after the restart", restarted_at.elapsed());
    assert_eq!(handler.times_handled("after-restart"), 1);
    // A killed server may forget an ack it had not written yet, so the earlier message may
    // come again: at least once.
    assert!(handler.times_handled("before-restart") >= 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_recreates_its_consumer_after_an_outage_longer_than_the_heartbeat() {
    init_test_log();
    let mut server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    let handler = Recorder::new(Behaviour::Succeed);
    let running = start(&server, spec(2, 16), handler.clone()).await;
    publish_retrying(&js, "before-outage").await;
    eventually("handled before the outage", Duration::from_secs(20), || {
        handler.times_handled("before-outage") == 1
    })
    .await;

    // The outage is the scenario, not a wait for something: the server stays down longer than
    // two heartbeats (2 × 5 s), so the pull stream reports missed heartbeats and the loop has
    // to open its consumer again (with backoff while the server is unreachable) rather than
    // rely on the client's reconnection.
    tokio::task::block_in_place(|| server.kill());
    tokio::time::sleep(Duration::from_secs(12)).await;
    let restarted_at = Instant::now();
    tokio::task::block_in_place(|| server.restart());
    publish_retrying(&js, "after-outage").await;

    eventually(
        "the message published after the outage handled",
        Duration::from_secs(60),
        || {
            running.assert_running();
            handler.times_handled("after-outage") >= 1
        },
    )
    .await;
    eprintln!("handled {:?} after the restart", restarted_at.elapsed());
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(30)).await;
    assert_eq!(handler.times_handled("after-outage"), 1);
    assert!(handler.times_handled("before-outage") >= 1);
    running.stop().await;
}

#[tokio::test]
async fn work_longer_than_ack_wait_running_or_queued_behind_its_key_is_delivered_once() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    // Two messages of one key, each taking 1.5 s against an ack_wait of 1 s: the first runs
    // past its ack_wait, the second waits behind it past its own. Unless the loop reports
    // progress on both, the server redelivers them while they are in hand.
    for payload in ["slow-1", "slow-2"] {
        publish(&js, "one-key", payload, HeaderMap::new()).await;
    }
    let handler = Arc::new(Recorder::with(
        Behaviour::Succeed,
        Duration::from_millis(1_500),
        None,
    ));
    let running = start(&server, spec(1, 16), handler.clone()).await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;
    running.stop().await;

    let deliveries: Vec<(String, i64)> = handler
        .calls()
        .into_iter()
        .map(|call| (call.payload, call.delivered))
        .collect();
    assert_eq!(
        deliveries,
        [("slow-1".to_string(), 1), ("slow-2".to_string(), 1)],
        "each message delivered once, in order"
    );
    let info = consumer_info(&js).await.expect("consumer");
    assert_eq!(info.num_redelivered, 0, "nothing redelivered: {info:?}");
}

#[tokio::test]
async fn a_handler_stuck_for_ever_is_abandoned_and_its_message_retried() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    // The first call of `stuck` never returns. Progress reports keep the server from
    // redelivering it (ack_wait 1 s), so only the loop's handler timeout can free it; `next`,
    // of the same key, waits behind it until then.
    for payload in ["stuck", "next"] {
        publish(&js, "one-key", payload, HeaderMap::new()).await;
    }
    let handler = Recorder::new(Behaviour::HangFirstCall);
    let mut spec = spec(1, 16);
    spec.settings.handler_timeout_secs = 2;
    let running = start(&server, spec, handler.clone()).await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;
    let counters = running.stop().await;

    let stuck = handler.calls_of("stuck");
    let deliveries: Vec<i64> = stuck.iter().map(|call| call.delivered).collect();
    assert_eq!(deliveries, [1, 2], "abandoned, then retried");
    let next = handler.calls_of("next");
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(
        next[0].at.duration_since(stuck[0].at) >= Duration::from_secs(2),
        "next waited behind stuck until it was abandoned"
    );
    assert_eq!(handler.times_handled("stuck"), 1);
    assert_eq!(handler.times_handled("next"), 1);
    assert_eq!(counters.retried.load(Ordering::Relaxed), 1);
    assert!(
        stream_messages(&js, topology::DLQ_STREAM).await.is_empty(),
        "nothing dead-lettered"
    );
}

/// Leadership's case in small: `waiting` may only be handled after `late`, its predecessor in
/// the stream, and waits up to 10 s for it; `late` fails its first call, so it comes back while
/// `waiting` already runs.
#[derive(Default)]
struct WaitsForPredecessor {
    late_calls: Mutex<u32>,
    late_done: tokio::sync::watch::Sender<bool>,
    handled: Mutex<Vec<String>>,
}

impl Handler for WaitsForPredecessor {
    async fn handle(&self, message: &Message, _: Delivery) -> Result<(), HandlerError> {
        let payload = String::from_utf8_lossy(&message.payload).into_owned();
        if payload == "late" {
            let first_call = {
                let mut calls = self.late_calls.lock().expect("calls");
                *calls += 1;
                *calls == 1
            };
            if first_call {
                return Err(HandlerError::Retry(anyhow!("late fails its first call")));
            }
            self.handled.lock().expect("handled").push(payload);
            self.late_done.send_replace(true);
        } else {
            let mut late_done = self.late_done.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(10), late_done.wait_for(|done| *done))
                .await;
            self.handled.lock().expect("handled").push(payload);
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_redelivered_message_does_not_wait_behind_a_newer_one_of_its_key() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    for payload in ["late", "waiting"] {
        publish(&js, "one-key", payload, HeaderMap::new()).await;
    }
    let handler = Arc::new(WaitsForPredecessor::default());
    let running = start(&server, spec(2, 16), handler.clone()).await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(20)).await;
    running.stop().await;

    // Queued behind `waiting`, the redelivered `late` would run only after `waiting` gave up.
    assert_eq!(
        *handler.handled.lock().expect("handled"),
        ["late", "waiting"],
        "the predecessor, redelivered, ran beside the message waiting for it"
    );
}

#[tokio::test]
async fn shutdown_finishes_in_flight_work_acks_only_what_was_handled_and_loses_nothing() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;

    const MESSAGES: u64 = 200;
    const STOP_AT: usize = 30;
    for i in 1..=MESSAGES {
        // One subject: handled one after another, in stream order.
        publish(&js, "flow", &format!("m-{i}"), HeaderMap::new()).await;
    }

    // The handler fires the shutdown while its 30th message is in flight.
    let shutdown = Shutdown::new();
    let first = Arc::new(Recorder::with(
        Behaviour::Succeed,
        Duration::from_millis(2),
        Some((STOP_AT, shutdown.clone())),
    ));
    let running = start_with(&server, spec(2, 10), first.clone(), shutdown).await;
    let counters = running.finished().await;

    let handled: Vec<u64> = first.handled().iter().map(|(_, seq)| *seq).collect();
    let count = handled.len() as u64;
    assert!(
        handled.len() >= STOP_AT,
        "the message in flight was finished"
    );
    assert!(
        count < MESSAGES,
        "stopped while messages were still flowing"
    );
    assert_eq!(
        handled,
        (1..=count).collect::<Vec<_>>(),
        "handled in order, each once"
    );
    assert_eq!(counters.processed.load(Ordering::Relaxed), count);
    eprintln!("first run handled {count} of {MESSAGES} messages");

    // The server saw an ack for exactly the handled messages: its ack floor reaches the last
    // one handled, and every message delivered beyond it is still awaiting its ack.
    let deadline = Instant::now() + Duration::from_secs(10);
    let info = loop {
        let info = consumer_info(&js).await.expect("consumer");
        if info.ack_floor.stream_sequence >= count {
            break info;
        }
        assert!(
            Instant::now() < deadline,
            "acks of the handled messages did not reach the server: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        info.ack_floor.stream_sequence, count,
        "no unhandled message acked"
    );
    let delivered = info.delivered.stream_sequence;
    assert!(delivered >= count);
    assert_eq!(
        info.num_ack_pending as u64,
        delivered - count,
        "everything delivered but not handled is left for redelivery: {info:?}"
    );
    assert_eq!(info.num_pending, MESSAGES - delivered);

    // A second run picks up the rest; in total every message is handled exactly once.
    let second = Arc::new(Recorder::with(
        Behaviour::Succeed,
        Duration::from_millis(2),
        None,
    ));
    let running = start(&server, spec(2, 10), second.clone()).await;
    eventually(
        "the rest handled by the second run",
        Duration::from_secs(60),
        || second.handled().len() as u64 >= MESSAGES - count,
    )
    .await;
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(30)).await;
    running.stop().await;
    eprintln!(
        "second run: deliveries seen {:?}",
        second.calls().iter().map(|c| c.delivered).max()
    );

    let mut all: Vec<u64> = handled;
    all.extend(second.handled().iter().map(|(_, seq)| *seq));
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=MESSAGES).collect::<Vec<_>>(),
        "every message handled exactly once across the two runs"
    );
    assert!(stream_messages(&js, topology::DLQ_STREAM).await.is_empty());
}

/// Holds its first call until `release` says so; records every call's payload and delivery
/// count.
#[derive(Default)]
struct HoldsFirstCall {
    release: tokio::sync::watch::Sender<bool>,
    calls: Mutex<Vec<(String, i64)>>,
}

impl HoldsFirstCall {
    fn calls(&self) -> Vec<(String, i64)> {
        self.calls.lock().expect("calls").clone()
    }
}

impl Handler for HoldsFirstCall {
    async fn handle(&self, message: &Message, info: Delivery) -> Result<(), HandlerError> {
        let payload = String::from_utf8_lossy(&message.payload).into_owned();
        let first = {
            let mut calls = self.calls.lock().expect("calls");
            calls.push((payload, info.delivered));
            calls.len() == 1
        };
        if first {
            let _ = self.release.subscribe().wait_for(|release| *release).await;
        }
        Ok(())
    }
}

/// The server's view of the test consumer once `reached` holds of it; panics after 10 s.
async fn consumer_reaches(
    js: &jetstream::Context,
    what: &str,
    reached: impl Fn(&consumer::Info) -> bool,
) -> consumer::Info {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(info) = consumer_info(js).await.filter(|info| reached(info)) {
            return info;
        }
        assert!(Instant::now() < deadline, "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_back_what_it_has_not_started_so_another_instance_gets_it_before_ack_wait() {
    init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_streams(&js).await;
    const MESSAGES: u64 = 6;
    for i in 1..=MESSAGES {
        publish(&js, "one-key", &format!("m-{i}"), HeaderMap::new()).await;
    }

    // With a batch of 4 the first instance runs m-1 (held until released) with m-2..m-4 queued
    // behind it, and its pull stream has already received m-5 and m-6. ack_wait is 60 s: what
    // it left unacknowledged would reach another instance only after that.
    let first = Arc::new(HoldsFirstCall::default());
    let running = start(&server, spec(60, 4), first.clone()).await;
    eventually("m-1 started", Duration::from_secs(10), || {
        first.calls().len() == 1
    })
    .await;
    let info = consumer_reaches(
        &js,
        "every message delivered to the first instance",
        |info| info.delivered.stream_sequence == MESSAGES,
    )
    .await;

    // A second instance, as in a rolling restart, is waiting for work when the first is told
    // to stop.
    let second = Recorder::new(Behaviour::Succeed);
    let second_running = start(&server, spec(60, 4), second.clone()).await;
    consumer_reaches(&js, "the second instance pulling", |now| {
        now.num_waiting > info.num_waiting
    })
    .await;
    running.shutdown.trigger();
    eventually(
        "m-2..m-6 handled by the second instance long before ack_wait",
        Duration::from_secs(10),
        || second.handled().len() as u64 == MESSAGES - 1,
    )
    .await;
    let mut seconds: Vec<(u64, i64)> = second
        .calls()
        .iter()
        .map(|call| (call.stream_sequence, call.delivered))
        .collect();
    seconds.sort_unstable();
    assert_eq!(
        seconds,
        (2..=MESSAGES).map(|seq| (seq, 2)).collect::<Vec<_>>(),
        "each given back once, handled on its second delivery"
    );

    // The one in progress is finished, not given back.
    running.assert_running();
    first.release.send_replace(true);
    running.finished().await;
    assert_eq!(first.calls(), [("m-1".to_string(), 1)]);
    wait_until_consumed(&js, STREAM, DURABLE, Duration::from_secs(10)).await;
    second_running.stop().await;
    assert!(stream_messages(&js, topology::DLQ_STREAM).await.is_empty());
}
