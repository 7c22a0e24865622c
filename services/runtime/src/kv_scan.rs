//! Reading and following part of a KV bucket without creating any consumer.
//!
//! `kv::Store::keys()` and `kv::Store::watch*` create consumers, and a user allowed to create a
//! consumer may give it a deliver subject of its choosing (the server checks no permission on
//! it), so that JetStream itself publishes the bucket wherever that user asks: into another
//! stream, or to a subject exported to an agency. No service user has that grant
//! (docs/security.md). This module reads with calls a grant can pin to part of a bucket:
//!
//! - the keys: the stream's info with a subjects filter (`$JS.API.STREAM.INFO.KV_<bucket>`);
//! - each key's value: a direct get of its last message, the subject in the API subject
//!   (`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`), or from the leader for a bucket
//!   whose reads go there (`$JS.API.STREAM.MSG.GET.KV_<bucket>`);
//! - changes: a core subscription to `$KV.<bucket>.<filter>`, each message only a doorbell for
//!   its key, whose current value is then read as above (the stream's order is the truth, not
//!   the order in which the doorbells arrive).
//!
//! [`scan`] reads the current values once; [`follow`] reads them and every change after,
//! starting again from a scan when the watch may have missed a change (a reconnection) or
//! failed, with backoff.

use std::{sync::atomic::Ordering, time::Duration};

use crate::Shutdown;

use anyhow::{Context as _, anyhow};
use async_nats::jetstream::{self, kv::Operation, message::StreamMessage, stream::Stream};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};

/// How often [`follow`] checks whether its connection was re-established (doorbells published
/// while it was down are lost, so it reads everything again).
const RECONNECTION_CHECK: Duration = Duration::from_secs(1);

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

/// A bucket's stream, opened for reading keys one by one.
struct Bucket {
    stream: Stream,
    prefix: String,
}

impl Bucket {
    async fn open(js: &jetstream::Context, bucket: &str) -> anyhow::Result<Self> {
        let stream = js
            .get_stream(format!("KV_{bucket}"))
            .await
            .map_err(|error| anyhow!("cannot open KV {bucket}: {error}"))?;
        Ok(Self {
            stream,
            prefix: format!("$KV.{bucket}."),
        })
    }

    /// The keys matching `filter` that have a message (a value or a deletion marker).
    async fn keys(&self, filter: &str) -> anyhow::Result<Vec<String>> {
        let subjects: Vec<(String, usize)> = self
            .stream
            .info_with_subjects(format!("{}{filter}", self.prefix))
            .await
            .map_err(|error| anyhow!("cannot list the keys of {}: {error}", self.prefix))?
            .try_collect()
            .await
            .map_err(|error| anyhow!("cannot list the keys of {}: {error}", self.prefix))?;
        Ok(subjects
            .into_iter()
            .filter_map(|(subject, _)| subject.strip_prefix(&self.prefix).map(str::to_string))
            .collect())
    }

    /// The last message of `key`, or `None` when it has none (purged away).
    async fn last(&self, key: &str) -> anyhow::Result<Option<KvEntry>> {
        let subject = format!("{}{key}", self.prefix);
        let message: Result<StreamMessage, String> =
            if self.stream.cached_info().config.allow_direct {
                match self.stream.direct_get_last_for_subject(&subject).await {
                    Ok(message) => Ok(message),
                    Err(error)
                        if error.kind() == jetstream::stream::DirectGetErrorKind::NotFound =>
                    {
                        return Ok(None);
                    }
                    Err(error) => Err(error.to_string()),
                }
            } else {
                match self.stream.get_last_raw_message_by_subject(&subject).await {
                    Ok(message) => Ok(message),
                    Err(error)
                        if error.kind()
                            == jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
                    {
                        return Ok(None);
                    }
                    Err(error) => Err(error.to_string()),
                }
            };
        let message = message.map_err(|error| anyhow!("cannot read {subject}: {error}"))?;
        let operation = match message.headers.get("KV-Operation").map(|v| v.as_str()) {
            Some("DEL") => Operation::Delete,
            Some("PURGE") => Operation::Purge,
            _ => Operation::Put,
        };
        Ok(Some(KvEntry {
            key: key.to_string(),
            value: message.payload,
            revision: message.sequence,
            operation,
        }))
    }

    /// The current value of every key matching `filter`, deletions and purges left out, in
    /// stream order.
    async fn scan(&self, filter: &str) -> anyhow::Result<Vec<KvEntry>> {
        let mut entries = Vec::new();
        for key in self.keys(filter).await? {
            if let Some(entry) = self.last(&key).await?
                && entry.operation == Operation::Put
            {
                entries.push(entry);
            }
        }
        entries.sort_by_key(|entry| entry.revision);
        Ok(entries)
    }
}

/// The current value of every key of `bucket` matching `filter` (`iom.>`, `>`), deletions and
/// purges left out, in stream order.
pub async fn scan(
    js: &jetstream::Context,
    bucket: &str,
    filter: &str,
) -> anyhow::Result<Vec<KvEntry>> {
    Bucket::open(js, bucket).await?.scan(filter).await
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

/// Reads the current values, then each change, until shutdown (`Ok`) or until a change may
/// have been missed (`Err`).
async fn follow_once(
    js: &jetstream::Context,
    bucket: &str,
    filter: &str,
    shutdown: &Shutdown,
    on: &mut impl FnMut(Followed),
) -> anyhow::Result<()> {
    let client = js.client();
    let statistics = client.statistics();
    let connects = statistics.connects.load(Ordering::Relaxed);
    let opened = Bucket::open(js, bucket).await?;
    // The doorbell first (and known to the server), so no change after the scan is missed.
    let mut doorbell = client
        .subscribe(format!("$KV.{bucket}.{filter}"))
        .await
        .with_context(|| format!("cannot follow KV {bucket} ({filter})"))?;
    client
        .flush()
        .await
        .context("cannot flush the subscription")?;
    let current = opened.scan(filter).await?;
    let initial = u64::try_from(current.len()).unwrap_or(u64::MAX);
    on(Followed::Opened { initial });
    for (pending, entry) in (0..initial).rev().zip(current) {
        on(Followed::Entry { entry, pending });
    }
    let mut reconnection_check = tokio::time::interval(RECONNECTION_CHECK);
    loop {
        let rung = tokio::select! {
            _ = shutdown.triggered() => return Ok(()),
            _ = reconnection_check.tick() => {
                if statistics.connects.load(Ordering::Relaxed) != connects {
                    anyhow::bail!("reconnected to NATS");
                }
                continue;
            }
            rung = doorbell.next() => rung,
        };
        let Some(rung) = rung else {
            anyhow::bail!("the subscription ended");
        };
        let Some(key) = rung.subject.as_str().strip_prefix(&opened.prefix) else {
            continue;
        };
        if let Some(entry) = opened.last(key).await? {
            on(Followed::Entry { entry, pending: 0 });
        }
    }
}

/// Follows every key of `bucket` matching `filter` until `shutdown`, handing each event to
/// `on`: the current values, then each change. A watch that fails (`what` names it in the
/// warning) is re-opened with backoff, from 100 ms doubling to 10 s, and starts again from the
/// current values.
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
        match follow_once(js, bucket, filter, shutdown, &mut on).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "cannot follow {what}; reading it again"
            ),
        }
        if !shutdown.sleep(backoff).await {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
