//! Dataset versions: each change of the dataset is stored in object store `tandem-data` and
//! announced with `DatasetPublished` on `tandem.data.published`, at most once per interval.
//!
//! A version is stored as chunks of its CSV and a manifest listing them ([`crate::chunks`]):
//! the publisher remembers which chunks it knows stored, so a new version renders, hashes and
//! writes only the chunks that changed, plus its manifest; only the SHA-256 of the whole CSV,
//! which the announcement carries, still reads every row. Deleting a version no longer kept
//! deletes its manifest and the chunks no kept version lists.
//!
//! A change opens a window of one interval; every change within it goes into the one version
//! published when it closes. The version number is the stream sequence of the last event that
//! changed the state, so every instance that applied the same events stores the same bytes
//! under the same key and announces them under the same `Nats-Msg-Id`, which the stream
//! deduplicates. A version whose CSV equals the last announced one is not published again
//! (after a restart, for instance).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use async_nats::jetstream::{
    self,
    object_store::{InfoErrorKind, ObjectMetadata, ObjectStore},
    stream::Stream,
};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use prost::Message as _;
use tandem_proto::v1::DatasetPublished;
use tandem_runtime::{Shutdown, envelope::Envelope, topology};
use tracing::Instrument as _;

use crate::{SERVICE, Shared, chunks, dataset};

/// Chunks of one version read at once.
const READS_AT_ONCE: usize = 32;

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

    /// The CSV of the version stored under `key`: its manifest's chunks in order, or the one
    /// object of a version stored before chunks.
    pub(crate) async fn read_version(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        if !chunks::is_manifest(key) {
            return self.read(key).await;
        }
        let chunks = self
            .manifest(key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("manifest {key} was deleted"))?;
        // Many at a time: each read is two round trips, and a version has hundreds of chunks.
        let parts: Vec<Vec<u8>> = futures::stream::iter(chunks)
            .map(|chunk| async move { self.read(&chunk).await })
            .buffered(READS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(parts.concat())
    }

    /// The chunk keys listed by manifest `key`, `None` if it is not stored (any more).
    async fn manifest(&self, key: &str) -> anyhow::Result<Option<Vec<String>>> {
        if !self.exists(key).await? {
            return Ok(None);
        }
        let text = String::from_utf8(self.read(key).await?)
            .map_err(|_| anyhow::anyhow!("manifest {key} is not UTF-8"))?;
        let chunks =
            chunks::parse_manifest(&text).map_err(|e| anyhow::anyhow!("manifest {key}: {e}"))?;
        Ok(Some(chunks))
    }

    /// Whether object `key` is stored and not deleted.
    async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        match self.objects.info(key).await {
            Ok(info) => Ok(!info.deleted),
            Err(e) if e.kind() == InfoErrorKind::NotFound => Ok(false),
            Err(e) => Err(anyhow::anyhow!("cannot look up {key}: {e}")),
        }
    }

    /// Stores `bytes` under `key`.
    async fn put(
        &self,
        key: &str,
        description: Option<String>,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let metadata = ObjectMetadata {
            name: key.to_string(),
            description,
            ..Default::default()
        };
        self.objects
            .put(metadata, &mut &bytes[..])
            .await
            .map_err(|e| anyhow::anyhow!("cannot store {key}: {e}"))?;
        Ok(())
    }
}

/// What the publisher knows of the store, so that a version costs the chunks that changed.
#[derive(Default)]
struct Stored {
    /// The chunks known stored, by signature.
    chunks: chunks::Known,
    /// The chunk keys of the manifests written or read so far, by manifest key.
    manifests: HashMap<String, Vec<String>>,
}

impl Stored {
    /// The chunk keys of manifest `key`, read once; `None` if it is not stored.
    async fn chunks_of(
        &mut self,
        store: &DataStore,
        key: &str,
    ) -> anyhow::Result<Option<&Vec<String>>> {
        if !self.manifests.contains_key(key) {
            match store.manifest(key).await? {
                Some(chunks) => {
                    self.manifests.insert(key.to_string(), chunks);
                }
                None => return Ok(None),
            }
        }
        Ok(self.manifests.get(key))
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
    let mut stored = Stored::default();
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
            match publish_current(&js, &shared, &mut stored).await {
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
async fn publish_current(
    js: &jetstream::Context,
    shared: &Shared,
    stored: &mut Stored,
) -> anyhow::Result<()> {
    let store = shared
        .store
        .get()
        .ok_or_else(|| anyhow::anyhow!("object store {} not open", topology::DATA_OBJECT_STORE))?;
    // Versions another instance dropped are deleted first: a chunk it deleted with them must
    // not be taken for stored by the version written next.
    delete_unkept(store, shared, stored).await;
    let (chunked, version, rows, latest) = shared.read(|state| {
        (
            state.chunked(&stored.chunks),
            state.version(),
            state.row_count(),
            state
                .latest_dataset()
                .map(|d| (d.version, d.sha256.clone())),
        )
    });
    stored.chunks.resume(&chunked);
    let sha256 = chunked.sha256.clone();
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
        let mut written = 0;
        for chunk in &chunked.chunks {
            let Some(bytes) = &chunk.bytes else { continue };
            let key = chunks::chunk_key(&chunk.sha256);
            // Named by its content: a chunk stored already (by another instance, or before a
            // restart) holds these very bytes.
            if !store.exists(&key).await? {
                store.put(&key, None, bytes.as_bytes()).await?;
                written += 1;
            }
            stored
                .chunks
                .insert(chunk.signature.clone(), chunk.sha256.clone());
        }
        let object_key = chunks::manifest_key(version);
        let description = format!(
            "tandem {} dataset version {version}, SHA-256 {sha256}",
            dataset::DATASET
        );
        // Another instance may have stored this very version already; writing it again would
        // replace the object under readers' feet for nothing.
        let manifest_stored = store.objects.info(&object_key).await.is_ok_and(|info| {
            !info.deleted && info.description.as_deref() == Some(description.as_str())
        });
        if !manifest_stored {
            let manifest = chunks::manifest(&chunked.chunks);
            store
                .put(&object_key, Some(description), manifest.as_bytes())
                .await?;
        }
        stored.manifests.insert(
            object_key.clone(),
            chunked
                .chunks
                .iter()
                .map(|c| chunks::chunk_key(&c.sha256))
                .collect(),
        );
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
        shared.write(|state| state.apply_published(&event));
        delete_unkept(store, shared, stored).await;
        tracing::info!(
            version,
            rows,
            sha256,
            chunks = chunked.chunks.len(),
            chunks_written = written,
            "dataset version published"
        );
        Ok(())
    }
    .instrument(span)
    .await
}

/// Deletes the versions no longer kept: their manifests, and the chunks no kept version lists.
/// Each instance learns of them from the announcements, so whichever stores the next version
/// deletes them and the others find nothing left to do. A failure is not fatal: the versions
/// stay to be deleted with the next one, and a deletion that failed leaves only an unused
/// object behind.
async fn delete_unkept(store: &DataStore, shared: &Shared, stored: &mut Stored) {
    let (unkept, kept): (Vec<String>, Vec<String>) = shared.read(|state| {
        (
            state.unkept().to_vec(),
            state.datasets().map(|d| d.object_key.clone()).collect(),
        )
    });
    if unkept.is_empty() {
        return;
    }
    let mut in_use = HashSet::new();
    for key in kept.iter().filter(|key| chunks::is_manifest(key)) {
        match stored.chunks_of(store, key).await {
            Ok(chunks) => in_use.extend(chunks.into_iter().flatten().cloned()),
            // Without every kept version's chunks, none can be known unused.
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "old versions not deleted");
                return;
            }
        }
    }
    let mut deleted = HashSet::new();
    let mut done = Vec::new();
    for key in &unkept {
        let listed = match chunks::is_manifest(key) {
            true => stored.chunks_of(store, key).await,
            // A version stored before chunks is one object.
            false => Ok(None),
        };
        let unused: Vec<String> = match listed {
            Ok(chunks) => chunks
                .into_iter()
                .flatten()
                .filter(|chunk| !in_use.contains(*chunk))
                .cloned()
                .collect(),
            Err(error) => {
                tracing::warn!(
                    object = key,
                    error = format!("{error:#}"),
                    "old version not deleted"
                );
                break;
            }
        };
        // The chunks first: a manifest gone means its chunks were dealt with.
        for object in unused.iter().chain(std::iter::once(key)) {
            if let Err(error) = store.objects.delete(object).await {
                tracing::debug!(object, error = %error, "old object not deleted");
            }
        }
        deleted.extend(unused);
        stored.manifests.remove(key);
        done.push(key.clone());
    }
    stored
        .chunks
        .forget(|sha256| deleted.contains(&chunks::chunk_key(sha256)));
    shared.write(|state| state.forget_unkept(&done));
}
