//! Dataset versions: each change of the dataset is stored in object store `tandem-data` as CSV
//! and announced with `DatasetPublished` on `tandem.data.published`, at most once per interval.
//!
//! A change opens a window of one interval; every change within it goes into the one version
//! published when it closes. The version number is the stream sequence of the last event that
//! changed the state, so every instance that applied the same events stores the same bytes
//! under the same key and announces them under the same `Nats-Msg-Id`, which the stream
//! deduplicates. A version whose CSV equals the last announced one is not published again
//! (after a restart, for instance).

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{
    self,
    object_store::{ObjectMetadata, ObjectStore},
    stream::Stream,
};
use bytes::Bytes;
use prost::Message as _;
use tandem_proto::v1::DatasetPublished;
use tandem_runtime::{Shutdown, envelope::Envelope, topology};
use tracing::Instrument as _;

use crate::{SERVICE, Shared, dataset};

/// Object store `tandem-data` and the stream under it, which its objects are read from.
///
/// `ObjectStore::get` reads an object through a consumer, and a user allowed to create one
/// could give it a deliver subject of its choosing (docs/security.md); here each chunk is read
/// by sequence instead (`$JS.API.STREAM.MSG.GET`, the next message on the object's chunk
/// subject).
pub(crate) struct DataStore {
    /// The object store, for writing and for objects' metadata.
    pub(crate) objects: ObjectStore,
    stream: Stream,
}

impl DataStore {
    /// Opens the stream of `objects`.
    pub(crate) async fn new(js: &jetstream::Context, objects: ObjectStore) -> anyhow::Result<Self> {
        let name = format!("OBJ_{}", topology::DATA_OBJECT_STORE);
        let stream = js
            .get_stream(&name)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open stream {name}: {e}"))?;
        Ok(Self { objects, stream })
    }

    /// The bytes of object `key`, chunk by chunk.
    pub(crate) async fn read(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        let info = self.objects.info(key).await?;
        if info.deleted {
            anyhow::bail!("object {key} was deleted");
        }
        let chunks = format!("$O.{}.C.{}", topology::DATA_OBJECT_STORE, info.nuid);
        let mut bytes = Vec::with_capacity(info.size);
        let mut sequence = 1;
        for _ in 0..info.chunks {
            let chunk = self
                .stream
                .raw_message_builder()
                .sequence(sequence)
                .next_by_subject(chunks.as_str())
                .send()
                .await?;
            bytes.extend_from_slice(&chunk.payload);
            sequence = chunk.sequence + 1;
        }
        if bytes.len() != info.size {
            anyhow::bail!("object {key} has {} bytes, not {}", bytes.len(), info.size);
        }
        Ok(bytes)
    }
}

/// Publishes versions until `shutdown`. Waits for the state to be rebuilt first: a half-built
/// state is no version.
pub(crate) async fn run(
    js: jetstream::Context,
    shared: Arc<Shared>,
    interval: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut ready = shared.ready.subscribe();
    tokio::select! {
        _ = shutdown.triggered() => return Ok(()),
        result = ready.wait_for(|ready| *ready) => { result?; }
    }
    let mut changes = shared.changed.subscribe();
    // The rebuilt state may hold changes no instance announced yet (a stop within a window).
    changes.mark_changed();
    loop {
        tokio::select! {
            _ = shutdown.triggered() => return Ok(()),
            changed = changes.changed() => if changed.is_err() { return Ok(()) },
        }
        if !shutdown.sleep(interval).await {
            return Ok(());
        }
        changes.mark_unchanged();
        let mut backoff = Duration::from_millis(200);
        loop {
            match publish_current(&js, &shared).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "storing a dataset version failed; retrying");
                    if !shutdown.sleep(backoff).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

/// Stores and announces the current dataset, unless it is already the last announced one.
async fn publish_current(js: &jetstream::Context, shared: &Shared) -> anyhow::Result<()> {
    let (csv, version, rows, latest) = shared.read(|state| {
        (
            state.csv(None),
            state.version(),
            state.row_count(),
            state
                .latest_dataset()
                .map(|d| (d.version, d.sha256.clone())),
        )
    });
    let sha256 = dataset::sha256_hex(csv.as_bytes());
    if version == 0
        || latest.is_some_and(|(latest_version, latest_sha)| {
            latest_sha == sha256 || latest_version >= version
        })
    {
        return Ok(());
    }
    let span = tracing::info_span!(
        "publish dataset",
        otel.kind = "producer",
        dataset.version = version,
        dataset.rows = rows,
        dataset.sha256 = %sha256,
    );
    async {
        let object_key = dataset::object_key(version);
        let description = format!(
            "tandem {} dataset version {version}, SHA-256 {sha256}",
            dataset::DATASET
        );
        let store = shared.store.get().ok_or_else(|| {
            anyhow::anyhow!("object store {} not open", topology::DATA_OBJECT_STORE)
        })?;
        // Another instance may have stored this very version already; writing it again would
        // replace the object under readers' feet for nothing.
        let stored = store.objects.info(&object_key).await.is_ok_and(|info| {
            !info.deleted && info.description.as_deref() == Some(description.as_str())
        });
        if !stored {
            let metadata = ObjectMetadata {
                name: object_key.clone(),
                description: Some(description),
                ..Default::default()
            };
            store
                .objects
                .put(metadata, &mut csv.as_bytes())
                .await
                .map_err(|e| anyhow::anyhow!("cannot store {object_key}: {e}"))?;
        }
        let event = DatasetPublished {
            dataset: dataset::DATASET.into(),
            version,
            rows: rows as u64,
            sha256: sha256.clone(),
            object_key,
            published_at: Some(tandem_proto::timestamp::now()),
        };
        let id = format!("dataset:{}:{version}:{sha256}", dataset::DATASET);
        Envelope {
            service: SERVICE,
            event: "data.published",
            subject: dataset::DATASET,
            id: &id,
        }
        .publish(
            js,
            topology::DATA_PUBLISHED_SUBJECT.into(),
            Bytes::from(event.encode_to_vec()),
        )
        .await?;
        // Known at once, so the next window compares against it even before the follower
        // reads the announcement back.
        let unkept = shared.write(|state| {
            state.apply_published(&event);
            state.take_unkept()
        });
        for key in unkept {
            // Another instance may have deleted it first: nothing is lost if this one fails.
            if let Err(error) = store.objects.delete(&key).await {
                tracing::debug!(object = key, error = %error, "old version not deleted");
            }
        }
        tracing::info!(version, rows, sha256, "dataset version published");
        Ok(())
    }
    .instrument(span)
    .await
}
