//! Protobuf records in a KV bucket, updated with compare-and-set and remembered in memory.
//!
//! Intake and leadership each keep one record per situation and rewrite it for every report.
//! Reading it back from the bucket before each write was a round trip to the server per
//! report; the profile of `tandem bench` showed the services' time going to such round trips.
//! So the record an instance last wrote or read is remembered with its KV revision, and the
//! next write is a compare-and-set against that revision:
//! - when another instance wrote the record meanwhile, the write fails as a lost race, the
//!   remembered copy is forgotten, and the caller reads the bucket again and retries — the
//!   bucket stays the one truth, shared by every instance;
//! - a key the instance does not remember is presumed absent, so a new situation's record is
//!   created with no read first; when the key holds a record after all, the create fails as a
//!   lost race like any other;
//! - a decision that writes nothing (a rejection, a wait for a predecessor) is not checked by
//!   any compare-and-set, so callers make it only on a [`Loaded::fresh`] record, read from the
//!   bucket.
//!
//! At most [`REMEMBERED`] records are kept (least recently used go first), which bounds the
//! memory whatever the number of situations. Records are shared (`Arc`), not copied: a record
//! holds whole reports, and copying it on every read and write showed in the profile.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use anyhow::anyhow;
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use lru::LruCache;

use crate::consumer::HandlerError;

/// How many records an instance remembers: a few MiB of memory at most.
pub const REMEMBERED: usize = 4096;

/// A record as read: its value (none when the key holds nothing, or when it is presumed to
/// because the instance does not remember it), its KV revision (0 when the key was never
/// written, or is presumed not to be), and whether it was just read from the bucket.
pub struct Loaded<T> {
    /// The record, if any.
    pub value: Option<Arc<T>>,
    /// Its KV revision.
    pub revision: u64,
    /// Whether it was just read from the bucket.
    pub fresh: bool,
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
    pub async fn load_fresh(&self, key: &str) -> Result<Loaded<T>, HandlerError> {
        let entry = self.store.entry(key).await.map_err(|e| anyhow!(e))?;
        let (value, revision) = match entry {
            Some(entry) if entry.operation == Operation::Put => {
                let value = T::decode(entry.value).map_err(|error| {
                    HandlerError::DeadLetter(anyhow!(
                        "the stored record under {key} is corrupt: {error}"
                    ))
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
    ) -> Result<Option<(u64, Arc<T>)>, HandlerError> {
        let bytes = value.encode_to_vec().into();
        let written = match revision {
            0 => self
                .store
                .create(key, bytes)
                .await
                .map_err(|e| (e.kind() == CreateErrorKind::AlreadyExists, anyhow!(e))),
            revision => self
                .store
                .update(key, bytes, revision)
                .await
                .map_err(|e| (e.kind() == UpdateErrorKind::WrongLastRevision, anyhow!(e))),
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
                    false => Err(HandlerError::Retry(error)),
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
    ) -> Result<Option<(u64, Arc<T>)>, HandlerError> {
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
