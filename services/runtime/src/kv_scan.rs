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

use std::time::Duration;

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
pub struct Watch {
    /// How many current values come first (0: the watched keys hold nothing yet).
    pub initial: u64,
    /// Each value (or deletion) with the number of messages the consumer still had to deliver
    /// after it: 0 once the current values are all in. The stream ends after an error (missed
    /// heartbeats, skipped messages): re-open it.
    pub entries: BoxStream<'static, anyhow::Result<(KvEntry, u64)>>,
}

/// Watches every key of `bucket` matching `filter`.
pub async fn watch(js: &jetstream::Context, bucket: &str, filter: &str) -> anyhow::Result<Watch> {
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
