//! What notify remembers, in KV `tandem-notify`, every key prefixed by the agency so each
//! agency's instances touch only their half:
//!
//! - `<agency>.ntf.<id>`: a notification and what became of it ([`NotificationRecord`]);
//! - `<agency>.timer.<id>`: when an unacknowledged notification escalates (milliseconds since
//!   the epoch). Timers are keys, not memory, so they survive restarts; every instance watches
//!   them and compare-and-set on the record decides which one escalates;
//! - `<agency>.dlv.<id>.<channel>`: the claim on one webhook or e-mail delivery ([`Claim`]),
//!   created with compare-and-set before sending, so one instance sends it (a NATS delivery
//!   needs none: the stream deduplicates it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use async_nats::jetstream::{
    self,
    kv::{self, CreateErrorKind, Operation, UpdateErrorKind},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tandem_proto::v1::{Channel, Notification};
use tandem_runtime::{Shutdown, config::StorageConfig, kv_scan, topology};

use crate::config::NotifyAgency;

/// The bucket of notify's own state (not personal data: recipients appear by id only).
pub use topology::NOTIFY_BUCKET;

/// Where a notification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Waiting for an acknowledgement.
    Pending,
    /// Someone acknowledged it.
    Acknowledged,
    /// Its deadline passed and it went one tier up.
    Escalated,
    /// Its deadline passed and there was nobody left to escalate to.
    Expired,
}

/// A notification and what became of it, under `<agency>.ntf.<id>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// The notification as first sent (every redelivery reuses it, so it never changes).
    pub notification: Notification,
    /// Pending, acknowledged, escalated or expired.
    pub state: RecordState,
    /// When the deadline passes, in milliseconds since the epoch.
    pub escalate_at_ms: u64,
    /// When and how it was acknowledged.
    #[serde(default)]
    pub acknowledged: Option<Acknowledgement>,
    /// The notifications it escalated to.
    #[serde(default)]
    pub escalated_to: Vec<String>,
}

/// When, how and by whom a notification was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// RFC 3339.
    pub at: String,
    /// `cli`, `nats` or `link`.
    pub via: String,
    /// Who: a directory id, or `system` when nobody was named.
    #[serde(default)]
    pub by: String,
}

/// The state of one delivery claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// An instance is sending it.
    Sending,
    /// The channel accepted it.
    Delivered,
    /// It could not be delivered (`reason`).
    Failed,
}

/// One delivery, under `<agency>.dlv.<id>.<channel>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Sending, delivered or failed.
    pub state: ClaimState,
    /// The instance that claimed it.
    pub instance: String,
    /// When it was claimed, in milliseconds since the epoch.
    pub since_ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed.
    pub reason: String,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    to_ms(SystemTime::now())
}

/// `time` in milliseconds since the epoch.
pub fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How often a lost compare-and-set race is retried at once.
const CAS_ATTEMPTS: usize = 32;

/// Access to `tandem-notify` for one agency.
#[derive(Clone)]
pub struct Store {
    kv: kv::Store,
    js: jetstream::Context,
    agency: NotifyAgency,
}

impl Store {
    /// Opens (creating when missing) the bucket.
    pub async fn open(
        js: &jetstream::Context,
        storage: &StorageConfig,
        agency: NotifyAgency,
    ) -> anyhow::Result<Self> {
        let (bucket, reads) = topology::notify_bucket(storage);
        let kv = topology::ensure_bucket(js, bucket, reads).await?;
        Ok(Self {
            kv,
            js: js.clone(),
            agency,
        })
    }

    /// The same bucket, for another agency.
    pub fn for_agency(&self, agency: NotifyAgency) -> Self {
        Self {
            kv: self.kv.clone(),
            js: self.js.clone(),
            agency,
        }
    }

    fn key(&self, kind: &str, rest: &str) -> String {
        format!("{}.{kind}.{rest}", self.agency.token())
    }

    /// The subject filter of this agency's timers.
    fn timer_filter(&self) -> String {
        self.key("timer", ">")
    }

    /// Hands `on` this agency's timers until `shutdown`: their current values, then every change,
    /// read through a named consumer restricted to the agency's keys (all the notify user may
    /// create).
    pub async fn follow_timers(&self, shutdown: &Shutdown, on: impl FnMut(kv_scan::Followed)) {
        kv_scan::follow(
            &self.js,
            NOTIFY_BUCKET,
            &self.timer_filter(),
            "escalation timers",
            shutdown,
            on,
        )
        .await
    }

    /// The underlying bucket.
    pub fn kv(&self) -> &kv::Store {
        &self.kv
    }

    async fn read<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<(T, u64)>> {
        match self.kv.entry(key).await.map_err(|e| anyhow!(e))? {
            Some(entry) if entry.operation == Operation::Put => {
                let value = serde_json::from_slice(&entry.value)
                    .map_err(|e| anyhow!("{key} is unreadable: {e}"))?;
                Ok(Some((value, entry.revision)))
            }
            _ => Ok(None),
        }
    }

    /// Writes `value` at `key` if it is still at `revision` (0: absent). `Ok(None)` when
    /// another writer got there first.
    async fn write<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        revision: u64,
    ) -> anyhow::Result<Option<u64>> {
        let bytes = serde_json::to_vec(value)?;
        if revision == 0 {
            match self.kv.create(key, bytes.into()).await {
                Ok(revision) => Ok(Some(revision)),
                Err(error) if error.kind() == CreateErrorKind::AlreadyExists => Ok(None),
                Err(error) => Err(anyhow!(error)),
            }
        } else {
            match self.kv.update(key, bytes.into(), revision).await {
                Ok(revision) => Ok(Some(revision)),
                Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
                Err(error) => Err(anyhow!(error)),
            }
        }
    }

    /// The record of notification `id`.
    pub async fn record(&self, id: &str) -> anyhow::Result<Option<(NotificationRecord, u64)>> {
        if !crate::rules::is_notification_id(id) {
            return Ok(None);
        }
        self.read(&self.key("ntf", id)).await
    }

    /// Stores `record` unless one exists; returns the stored one either way, so a redelivery
    /// continues with what the first delivery decided.
    pub async fn create_record(
        &self,
        record: NotificationRecord,
    ) -> anyhow::Result<NotificationRecord> {
        let key = self.key("ntf", &record.notification.notification_id);
        for _ in 0..CAS_ATTEMPTS {
            // Create first: a notification is almost always new, so reading first would cost
            // a round trip to find nothing.
            if self.write(&key, &record, 0).await?.is_some() {
                return Ok(record);
            }
            if let Some((existing, _)) = self.read::<NotificationRecord>(&key).await? {
                return Ok(existing);
            }
        }
        Err(anyhow!("notification record {key} kept changing"))
    }

    /// Applies `change` to record `id` with compare-and-set, retrying lost races. `change`
    /// returns `false` to leave the record as it is. Returns the record as it ends up and
    /// whether this call changed it; `None` when there is no such record.
    pub async fn update_record(
        &self,
        id: &str,
        mut change: impl FnMut(&mut NotificationRecord) -> bool,
    ) -> anyhow::Result<Option<(NotificationRecord, bool)>> {
        let key = self.key("ntf", id);
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut record, revision)) = self.read::<NotificationRecord>(&key).await? else {
                return Ok(None);
            };
            if !change(&mut record) {
                return Ok(Some((record, false)));
            }
            if self.write(&key, &record, revision).await?.is_some() {
                return Ok(Some((record, true)));
            }
        }
        Err(anyhow!("notification record {key} kept changing"))
    }

    /// Every record of this agency.
    pub async fn records(&self) -> anyhow::Result<Vec<NotificationRecord>> {
        // Only this agency's keys, through a named consumer (all the notify user may create).
        let mut keys: Vec<String> = kv_scan::scan(&self.js, NOTIFY_BUCKET, &self.key("ntf", ">"))
            .await?
            .into_iter()
            .map(|entry| entry.key)
            .collect();
        keys.sort();
        keys.dedup();
        let mut records = Vec::new();
        for key in keys {
            if let Some((record, _)) = self.read::<NotificationRecord>(&key).await? {
                records.push(record);
            }
        }
        records.sort_by_key(|r| {
            r.notification
                .created_at
                .as_ref()
                .map(|t| (t.seconds, t.nanos))
        });
        Ok(records)
    }

    /// Sets the escalation timer of `id`.
    pub async fn set_timer(&self, id: &str, at_ms: u64) -> anyhow::Result<()> {
        self.kv
            .put(self.key("timer", id), at_ms.to_string().into())
            .await
            .map_err(|e| anyhow!(e))?;
        Ok(())
    }

    /// Removes the escalation timer of `id`.
    pub async fn clear_timer(&self, id: &str) -> anyhow::Result<()> {
        let key = self.key("timer", id);
        if self.kv.get(&key).await.map_err(|e| anyhow!(e))?.is_some() {
            self.kv.delete(&key).await.map_err(|e| anyhow!(e))?;
        }
        Ok(())
    }

    /// The notification id of a timer key, if it is one of this agency's.
    pub fn timer_id<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(self.agency.token())?
            .strip_prefix(".timer.")
    }

    fn claim_key(&self, id: &str, channel: Channel) -> String {
        let channel = match channel {
            Channel::Nats => "nats",
            Channel::Webhook => "webhook",
            Channel::Email => "email",
            Channel::Unspecified => "unspecified",
        };
        self.key("dlv", &format!("{id}.{channel}"))
    }

    /// The claim on delivering `id` over `channel`, with its revision.
    pub async fn claim(&self, id: &str, channel: Channel) -> anyhow::Result<Option<(Claim, u64)>> {
        self.read(&self.claim_key(id, channel)).await
    }

    /// Writes a claim if the key is still at `revision` (0: absent); `None` on a lost race.
    pub async fn write_claim(
        &self,
        id: &str,
        channel: Channel,
        claim: &Claim,
        revision: u64,
    ) -> anyhow::Result<Option<u64>> {
        self.write(&self.claim_key(id, channel), claim, revision)
            .await
    }
}

/// How long ago `since_ms` was.
pub fn age(since_ms: u64) -> Duration {
    Duration::from_millis(now_ms().saturating_sub(since_ms))
}
