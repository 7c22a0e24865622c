//! Reading and watching part of a KV bucket through NAMED ephemeral consumers whose filter is in
//! the create subject (`$JS.API.CONSUMER.CREATE.KV_<bucket>.<name>.$KV.<bucket>.<filter>`).
//!
//! `kv::Store::keys()` and `kv::Store::watch*` create unnamed consumers, with the filter only in
//! the request body: a NATS account cannot restrict those to part of a bucket, so the
//! least-privilege users (notify's, which may read only their agency's half) are refused them.
//! These are push consumers without acks (no `$JS.ACK` or `MSG.NEXT` rights needed), delivering
//! to an inbox under the connection's inbox prefix; flow-control requests are answered on
//! `$JS.FC.KV_<bucket>.>`. The consumer goes away by itself once nobody listens
//! ([`INACTIVE_THRESHOLD`]).
//!
//! [`scan`] reads the current values once; [`follow`] watches them and every change, re-opening
//! the watch with backoff when it fails (the directory and the escalation timers in notify).

use std::time::Duration;

use crate::Shutdown;

use anyhow::{Context as _, anyhow};
use async_nats::{
    StatusCode, Subscriber,
    jetstream::{
        self,
        consumer::{AckPolicy, DeliverPolicy, push},
        kv::Operation,
    },
};
use bytes::Bytes;
use futures::{StreamExt as _, stream::BoxStream};

/// How often the server sends an idle heartbeat on a consumer.
pub const IDLE_HEARTBEAT: Duration = Duration::from_secs(5);
/// How long after its reader went away the server deletes a consumer.
pub const INACTIVE_THRESHOLD: Duration = Duration::from_secs(10);
/// Longest wait for the next message (data or heartbeat) before giving up.
const MISSED_HEARTBEAT: Duration = Duration::from_secs(15);

/// One key's value (or deletion) as read from the bucket's stream.
#[derive(Clone, Debug, PartialEq)]
pub struct KvEntry {
    /// The key, without the `$KV.<bucket>.` prefix.
    pub key: String,
    /// The value (empty for a deletion).
    pub value: Bytes,
    /// The stream sequence of this value.
    pub revision: u64,
    /// Put, delete or purge.
    pub operation: Operation,
}

struct Reader {
    client: async_nats::Client,
    subscriber: Subscriber,
    prefix: String,
    next_consumer_sequence: u64,
    /// How many messages the consumer had to deliver when created.
    initial_pending: u64,
}

impl Reader {
    async fn open(
        js: &jetstream::Context,
        bucket: &str,
        filter: &str,
        deliver_policy: DeliverPolicy,
    ) -> anyhow::Result<Self> {
        let client = js.client();
        let deliver_subject = client.new_inbox();
        let name = deliver_subject
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string();
        // Subscribe first, so nothing the consumer delivers can be missed.
        let subscriber = client
            .subscribe(deliver_subject.clone())
            .await
            .with_context(|| format!("cannot subscribe to read KV {bucket}"))?;
        let stream = format!("KV_{bucket}");
        let config = push::Config {
            deliver_subject,
            name: Some(format!("kv_{name}")),
            filter_subject: format!("$KV.{bucket}.{filter}"),
            deliver_policy,
            ack_policy: AckPolicy::None,
            max_deliver: 1,
            flow_control: true,
            idle_heartbeat: IDLE_HEARTBEAT,
            inactive_threshold: INACTIVE_THRESHOLD,
            num_replicas: 1,
            memory_storage: true,
            ..Default::default()
        };
        let consumer = js
            .create_consumer_on_stream(config, &stream)
            .await
            .map_err(|error| anyhow!("cannot read KV {bucket} ({filter}): {error}"))?;
        let initial_pending = consumer.cached_info().num_pending;
        Ok(Self {
            client,
            subscriber,
            prefix: format!("$KV.{bucket}."),
            next_consumer_sequence: 1,
            initial_pending,
        })
    }

    /// The next entry, with the number of messages still pending after it; `None` when the
    /// subscription ended.
    async fn next(&mut self) -> anyhow::Result<Option<(KvEntry, u64)>> {
        loop {
            let message = match tokio::time::timeout(MISSED_HEARTBEAT, self.subscriber.next()).await
            {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(None),
                Err(_) => return Err(anyhow!("KV consumer missed its heartbeats")),
            };
            match message.status {
                // Idle heartbeat, or a flow-control request (which carries a reply subject).
                Some(StatusCode::IDLE_HEARTBEAT) => {
                    if let Some(reply) = message.reply {
                        self.client
                            .publish(reply, Bytes::new())
                            .await
                            .context("cannot answer KV flow control")?;
                    }
                    continue;
                }
                Some(status) => return Err(anyhow!("KV consumer status {status}")),
                None => {}
            }
            let message = jetstream::Message {
                message,
                context: jetstream::new(self.client.clone()),
            };
            let info = message.info().map_err(|e| anyhow!("bad KV message: {e}"))?;
            if info.consumer_sequence != self.next_consumer_sequence {
                return Err(anyhow!(
                    "KV consumer skipped messages (got {}, expected {})",
                    info.consumer_sequence,
                    self.next_consumer_sequence
                ));
            }
            self.next_consumer_sequence += 1;
            let (revision, pending) = (info.stream_sequence, info.pending);
            let operation = match message
                .headers
                .as_ref()
                .and_then(|h| h.get("KV-Operation"))
                .map(|v| v.as_str())
            {
                Some("DEL") => Operation::Delete,
                Some("PURGE") => Operation::Purge,
                _ => Operation::Put,
            };
            let key = message
                .subject
                .as_str()
                .strip_prefix(&self.prefix)
                .unwrap_or(message.subject.as_str())
                .to_string();
            let entry = KvEntry {
                key,
                value: message.message.payload.clone(),
                revision,
                operation,
            };
            return Ok(Some((entry, pending)));
        }
    }
}

/// The current value of every key of `bucket` matching `filter` (`iom.>`, `>`), deletions and
/// purges left out, in stream order.
pub async fn scan(
    js: &jetstream::Context,
    bucket: &str,
    filter: &str,
) -> anyhow::Result<Vec<KvEntry>> {
    let mut reader = Reader::open(js, bucket, filter, DeliverPolicy::LastPerSubject).await?;
    let mut entries = Vec::new();
    if reader.initial_pending == 0 {
        return Ok(entries);
    }
    loop {
        let Some((entry, pending)) = reader.next().await? else {
            return Err(anyhow!("the scan of KV {bucket} ended early"));
        };
        if entry.operation == Operation::Put {
            entries.push(entry);
        }
        if pending == 0 {
            return Ok(entries);
        }
    }
}

/// A watch of part of a bucket: the current values first, then every change.
struct Watch {
    /// How many current values come first (0: the watched keys hold nothing yet).
    initial: u64,
    /// Each value (or deletion) with the number of messages the consumer still had to deliver
    /// after it: 0 once the current values are all in. The stream ends after an error (missed
    /// heartbeats, skipped messages): re-open it.
    entries: BoxStream<'static, anyhow::Result<(KvEntry, u64)>>,
}

/// Watches every key of `bucket` matching `filter`.
async fn watch(js: &jetstream::Context, bucket: &str, filter: &str) -> anyhow::Result<Watch> {
    let reader = Reader::open(js, bucket, filter, DeliverPolicy::LastPerSubject).await?;
    let initial = reader.initial_pending;
    let entries = futures::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        match reader.next().await {
            Ok(Some(entry)) => Some((Ok(entry), Some(reader))),
            Ok(None) => None,
            Err(error) => Some((Err(error), None)),
        }
    })
    .boxed();
    Ok(Watch { initial, entries })
}

/// What [`follow`] reports.
pub enum Followed {
    /// The watch was (re)opened; `initial` current values follow (0: none).
    Opened {
        /// How many current values follow.
        initial: u64,
    },
    /// A value or deletion, with the messages still to come of the current values (0 once
    /// they are all in).
    Entry {
        /// The value or deletion.
        entry: KvEntry,
        /// Current values still to come.
        pending: u64,
    },
}

/// Watches every key of `bucket` matching `filter` until `shutdown`, handing each event to
/// `on`. A watch that fails (`what` names it in the warning) is re-opened with backoff, from
/// 100 ms doubling to 10 s, and starts again from the current values.
pub async fn follow(
    js: &jetstream::Context,
    bucket: &str,
    filter: &str,
    what: &str,
    shutdown: &Shutdown,
    mut on: impl FnMut(Followed),
) {
    const FIRST_BACKOFF: Duration = Duration::from_millis(100);
    let mut backoff = FIRST_BACKOFF;
    while !shutdown.is_triggered() {
        match watch(js, bucket, filter).await {
            Ok(mut watch) => {
                on(Followed::Opened {
                    initial: watch.initial,
                });
                loop {
                    let next = tokio::select! {
                        _ = shutdown.triggered() => return,
                        next = watch.entries.next() => next,
                    };
                    let Some(Ok((entry, pending))) = next else {
                        break;
                    };
                    backoff = FIRST_BACKOFF;
                    on(Followed::Entry { entry, pending });
                }
            }
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "cannot watch {what}; retrying"
            ),
        }
        if !shutdown.sleep(backoff).await {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
