//! Protobuf records in a KV bucket, updated with compare-and-set and remembered in memory.
//!
//! Intake and leadership each keep one record per situation and rewrite it for every report.
//! Reading it back from the bucket before each write would be a round trip to the server per
//! report, so the record an instance last wrote or read is remembered with its KV revision, and
//! the next write is a compare-and-set against that revision. [`Records::update`] owns the
//! loop every caller needs, and the rules that make it correct:
//! - when another instance wrote the record meanwhile, the write fails as a lost race, the
//!   remembered copy is forgotten, and the record is read from the bucket and decided again —
//!   the bucket stays the one truth, shared by every instance;
//! - a key the instance does not remember is presumed absent, so a new situation's record is
//!   created with no read first; when the key holds a record after all, the create fails as a
//!   lost race like any other;
//! - a decision that writes nothing (a rejection, a wait for a predecessor) is not checked by
//!   any compare-and-set, so it counts only when made on a record just read from the bucket:
//!   made on a remembered copy, it is made again on a fresh one.
//!
//! At most [`REMEMBERED`] records are kept (least recently used go first), which bounds the
//! memory whatever the number of situations. Records are shared (`Arc`), not copied: a record
//! holds whole reports, and copying it on every read and write would cost more than the
//! compare-and-set saves.
//!
//! Storage failures are [`RecordsError`]s; a consumer's handler turns them into its
//! [`HandlerError`] with `?` (a corrupt record is a dead letter, anything else a retry).

use std::{
    future::Future,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use lru::LruCache;

use crate::consumer::HandlerError;

/// How many records an instance remembers: a few MiB of memory at most.
pub const REMEMBERED: usize = 4096;

/// How often [`Records::update`] decides again after a lost race before giving up for now.
pub const ATTEMPTS: usize = 16;

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The bucket did not answer as asked (unreachable, timed out, refused).
    #[error("the record under {key} could not be {action}: {source}")]
    Storage {
        /// The record's key.
        key: String,
        /// `read` or `written`.
        action: &'static str,
        /// What the bucket answered.
        source: anyhow::Error,
    },
    /// What the bucket holds under the key is not a record of this type.
    #[error("the stored record under {key} is corrupt: {source}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// Why it does not decode.
        source: prost::DecodeError,
    },
    /// Other instances kept changing the record between each read and write.
    #[error("the record under {key} kept changing under {ATTEMPTS} attempts")]
    KeptChanging {
        /// The record's key.
        key: String,
    },
}

impl From<RecordsError> for HandlerError {
    /// A corrupt record will not decode on any redelivery; everything else may pass later.
    fn from(error: RecordsError) -> Self {
        match error {
            RecordsError::Corrupt { .. } => HandlerError::DeadLetter(error.into()),
            _ => HandlerError::Retry(error.into()),
        }
    }
}

/// A record as read: its value (none when the key holds nothing, or when it is presumed to
/// because the instance does not remember it), its KV revision (0 when the key was never
/// written, or is presumed not to be), and whether it was just read from the bucket.
pub struct Loaded<T> {
    /// The record, if any.
    pub value: Option<Arc<T>>,
    /// Its KV revision: what a compare-and-set checks.
    pub revision: u64,
    /// Whether it was read from the bucket rather than remembered.
    pub fresh: bool,
}

/// What a [`Records::update`] decision does with the record, and what it tells the caller
/// (`W` when it writes, `K` when it keeps the record).
pub enum Decision<T, W, K> {
    /// Write this record (compare-and-set against the one decided on).
    Write(T, W),
    /// Write nothing. Made on a remembered copy, this is decided again on the record as the
    /// bucket holds it, since no compare-and-set checks it.
    Keep(K),
}

/// What a [`Records::update`] ended with.
pub enum Updated<T, W, K> {
    /// The decision wrote `record`, now at `revision`.
    Written {
        /// The decision's answer.
        answer: W,
        /// The record as written.
        record: Arc<T>,
        /// Its revision now.
        revision: u64,
    },
    /// The decision, made on the record as the bucket holds it at `revision`, wrote nothing.
    Kept {
        /// The decision's answer.
        answer: K,
        /// The revision decided on.
        revision: u64,
    },
}

/// The records of one bucket.
pub struct Records<T> {
    store: kv::Store,
    remembered: Mutex<LruCache<String, (Arc<T>, u64)>>,
}

impl<T: prost::Message + Default + Clone> Records<T> {
    /// The records of `store`, none remembered yet.
    pub fn new(store: kv::Store) -> Self {
        let capacity = NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN);
        Self {
            store,
            remembered: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The bucket itself, for listing keys.
    pub fn store(&self) -> &kv::Store {
        &self.store
    }

    /// Updates the record under `key`: `decide` gets the record as this instance knows it and
    /// says what to write, if anything. A lost race, or a decision to write nothing made on a
    /// remembered copy, has it decide again on the record read from the bucket, up to
    /// [`ATTEMPTS`] times; so `decide` may run several times, and any effect it has before
    /// answering (leadership publishes a stored determination) must be idempotent.
    pub async fn update<W, K, E, F, Fut>(
        &self,
        key: &str,
        mut decide: F,
    ) -> Result<Updated<T, W, K>, E>
    where
        F: FnMut(Option<Arc<T>>) -> Fut,
        Fut: Future<Output = Result<Decision<T, W, K>, E>>,
        E: From<RecordsError>,
    {
        let mut fresh = false;
        for _ in 0..ATTEMPTS {
            let loaded = match fresh {
                true => self.load_fresh(key).await?,
                false => self.load(key),
            };
            match decide(loaded.value).await? {
                Decision::Keep(_) if !loaded.fresh => fresh = true,
                Decision::Keep(answer) => {
                    return Ok(Updated::Kept {
                        answer,
                        revision: loaded.revision,
                    });
                }
                Decision::Write(next, answer) => {
                    match self.write(key, next, loaded.revision).await? {
                        Some((revision, record)) => {
                            return Ok(Updated::Written {
                                answer,
                                record,
                                revision,
                            });
                        }
                        // Another instance wrote the record meanwhile: read it and decide again.
                        None => fresh = true,
                    }
                }
            }
        }
        Err(RecordsError::KeptChanging { key: key.into() }.into())
    }

    /// The record under `key` as this instance knows it: the remembered copy, or none when it
    /// remembers none. A key it has not seen is presumed absent, which it is for a new
    /// situation, so that the record is created without a read that would find nothing. When
    /// the key holds a record after all, the create fails as a lost race and the caller reads
    /// the bucket; and nothing is decided on an absence that no create checks, since the
    /// result is not [`Loaded::fresh`].
    pub fn load(&self, key: &str) -> Loaded<T> {
        let (value, revision) = match self.remembered().get(key).cloned() {
            Some((value, revision)) => (Some(value), revision),
            None => (None, 0),
        };
        Loaded {
            value,
            revision,
            fresh: false,
        }
    }

    /// The record under `key` as the bucket holds it now.
    pub async fn load_fresh(&self, key: &str) -> Result<Loaded<T>, RecordsError> {
        let entry = self
            .store
            .entry(key)
            .await
            .map_err(|error| RecordsError::Storage {
                key: key.into(),
                action: "read",
                source: error.into(),
            })?;
        let (value, revision) = match entry {
            Some(entry) if entry.operation == Operation::Put => {
                let value = T::decode(entry.value).map_err(|source| RecordsError::Corrupt {
                    key: key.into(),
                    source,
                })?;
                let value = Arc::new(value);
                self.remember(key, &value, entry.revision);
                (Some(value), entry.revision)
            }
            Some(entry) => (None, entry.revision),
            None => (None, 0),
        };
        Ok(Loaded {
            value,
            revision,
            fresh: true,
        })
    }

    /// Writes `value` under `key` if the key is still at `revision` (0: if it was never
    /// written). Returns the new revision and the record as now remembered, or `None` when
    /// another writer got there first.
    pub async fn write(
        &self,
        key: &str,
        value: T,
        revision: u64,
    ) -> Result<Option<(u64, Arc<T>)>, RecordsError> {
        let bytes = value.encode_to_vec().into();
        let written = match revision {
            0 => self.store.create(key, bytes).await.map_err(|e| {
                (
                    e.kind() == CreateErrorKind::AlreadyExists,
                    anyhow::Error::from(e),
                )
            }),
            revision => self.store.update(key, bytes, revision).await.map_err(|e| {
                (
                    e.kind() == UpdateErrorKind::WrongLastRevision,
                    anyhow::Error::from(e),
                )
            }),
        };
        match written {
            Ok(new_revision) => {
                let value = Arc::new(value);
                self.remember(key, &value, new_revision);
                Ok(Some((new_revision, value)))
            }
            Err((lost_race, error)) => {
                // Whatever the bucket holds now, it is not what we remember.
                self.remembered().pop(key);
                match lost_race {
                    true => Ok(None),
                    false => Err(RecordsError::Storage {
                        key: key.into(),
                        action: "written",
                        source: error,
                    }),
                }
            }
        }
    }

    /// [`Records::write`] of `record` — as loaded or written by this instance, and held by the
    /// caller alone — changed by `change`. The remembered copy is let go first, so the change
    /// is made in place instead of on a copy of the whole record.
    pub async fn write_changed(
        &self,
        key: &str,
        record: Arc<T>,
        revision: u64,
        change: impl FnOnce(&mut T),
    ) -> Result<Option<(u64, Arc<T>)>, RecordsError> {
        self.remembered().pop(key);
        let mut value = Arc::unwrap_or_clone(record);
        change(&mut value);
        self.write(key, value, revision).await
    }

    fn remember(&self, key: &str, value: &Arc<T>, revision: u64) {
        self.remembered()
            .put(key.to_string(), (value.clone(), revision));
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, LruCache<String, (Arc<T>, u64)>> {
        // A panic while holding the lock cannot leave the cache inconsistent: every
        // operation on it is a single call.
        self.remembered.lock().unwrap_or_else(|e| e.into_inner())
    }
}
