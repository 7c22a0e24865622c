//! The situations' records in KV `tandem-leadership` and the determinations on the event
//! stream, kept in step.
//!
//! Each change runs: load the record (the copy this instance remembers, see
//! `tandem_runtime::records`) → [`record::next`] → compare-and-set write (a lost race
//! with another instance reloads and tries again, so two updates of one situation never
//! interleave) → publish the determination → mark the record published. A crash between the
//! write and the mark leaves `published = false`; whoever touches the situation next publishes
//! it first, under the same `Nats-Msg-Id` (`determination:<situation>/<sequence>`), so the
//! stream holds every sequence step once and in order.

use std::sync::Arc;

use anyhow::anyhow;
use async_nats::jetstream;
use prost::Message as _;
use tandem_proto::{
    timestamp,
    v1::{LeadershipDetermination, LeadershipRecord},
};
use tandem_runtime::{
    consumer::HandlerError, envelope::Envelope, kv_key, records::Records, topology,
};

use crate::{
    SERVICE,
    policy::Policy,
    record::{self, Change, Gap},
};

/// What applying a change did.
#[derive(Debug)]
pub(crate) enum Applied {
    /// A new determination, stored and published.
    Determined(Box<LeadershipDetermination>),
    /// Nothing new to determine.
    Nothing,
    /// An earlier accepted report of the situation has not been reflected yet.
    Waiting(Gap),
}

/// How often a lost compare-and-set race is retried at once before giving up for now.
const CAS_ATTEMPTS: usize = 16;

/// The KV key of a situation's record.
pub fn record_key(situation_id: &str) -> String {
    kv_key::segment(situation_id)
}

/// Records and determinations of every situation.
pub(crate) struct Situations {
    pub(crate) js: jetstream::Context,
    pub(crate) records: Records<LeadershipRecord>,
    pub(crate) policy: Arc<Policy>,
}

impl Situations {
    /// Applies `change` to situation `situation_id`.
    pub(crate) async fn apply(
        &self,
        situation_id: &str,
        change: Change<'_>,
    ) -> Result<Applied, HandlerError> {
        let key = record_key(situation_id);
        let mut fresh = false;
        for _ in 0..CAS_ATTEMPTS {
            let loaded = match fresh {
                true => self.records.load_fresh(&key).await?,
                false => self.records.load(&key).await?,
            };
            let (mut record, revision) = (loaded.value, loaded.revision);
            let mut repaired = false;
            if let Some(unpublished) = record.as_mut().filter(|r| !r.published) {
                // A predecessor stored this determination but may not have published it:
                // sequence n goes on the stream before n + 1.
                self.publish(unpublished).await?;
                Arc::make_mut(unpublished).published = true;
                repaired = true;
            }
            let held_sequence = record
                .as_ref()
                .and_then(|r| r.determination.as_ref())
                .map_or(0, |d| d.sequence);
            let next = match record::next(&self.policy, record.as_deref(), change, timestamp::now())
            {
                // Waiting and "nothing new" write nothing, so no compare-and-set checks them:
                // decide them on the record as the bucket holds it, not on a remembered copy.
                Err(_) | Ok(None) if !loaded.fresh => {
                    fresh = true;
                    continue;
                }
                Err(gap) => return Ok(Applied::Waiting(gap)),
                Ok(None) => {
                    if let Some(record) = record.filter(|_| repaired) {
                        self.mark_published(&key, record, revision).await;
                    }
                    return Ok(Applied::Nothing);
                }
                Ok(Some(next)) => next,
            };
            let Some((new_revision, next)) = self.records.write(&key, next, revision).await? else {
                // Another instance changed the record meanwhile: read it and decide again.
                fresh = true;
                continue;
            };
            let new_determination = next
                .determination
                .clone()
                .filter(|d| d.sequence > held_sequence);
            let Some(determination) = new_determination else {
                // Only `accepted_through` moved on.
                return Ok(Applied::Nothing);
            };
            self.publish(&next).await?;
            self.mark_published(&key, next, new_revision).await;
            return Ok(Applied::Determined(Box::new(determination)));
        }
        Err(HandlerError::Retry(anyhow!(
            "situation {situation_id} kept changing under {CAS_ATTEMPTS} attempts"
        )))
    }

    /// Whether the record of `situation_id` reflects its accepted reports up to `number`, as
    /// the bucket holds it now (another instance may be the one reflecting them).
    pub(crate) async fn reflects(
        &self,
        situation_id: &str,
        number: u64,
    ) -> Result<bool, HandlerError> {
        let loaded = self.records.load_fresh(&record_key(situation_id)).await?;
        Ok(loaded.value.is_some_and(|r| r.accepted_through >= number))
    }

    async fn publish(&self, record: &LeadershipRecord) -> Result<(), HandlerError> {
        let Some(determination) = &record.determination else {
            return Ok(());
        };
        let id = format!("determination:{}", determination.determination_id);
        Envelope {
            service: SERVICE,
            event: "leadership.determined",
            subject: &determination.situation_id,
            id: &id,
        }
        .publish(
            &self.js,
            topology::determined_subject(&determination.country),
            determination.encode_to_vec().into(),
        )
        .await?;
        Ok(())
    }

    /// Records that the determination is on the stream. A lost race is fine: whoever won has
    /// seen the determination unpublished and published it first.
    async fn mark_published(&self, key: &str, record: Arc<LeadershipRecord>, revision: u64) {
        let marked = self
            .records
            .write_changed(key, record, revision, |record| record.published = true);
        if let Err(error) = marked.await {
            tracing::warn!(%error, "could not mark the determination published; the next change republishes it under the same id");
        }
    }
}
