//! What `tandem notifications list|ack` does: reading both agencies' notification records and
//! acknowledging one through the same path as every other acknowledgement (a message on
//! `tandem.notify.ack.<id>`), then waiting until the notifier has recorded it.

use std::time::Duration;

use async_nats::jetstream;
use tandem_runtime::{config::StorageConfig, envelope::MSG_ID};

use crate::{
    config::NotifyAgency,
    store::{NotificationRecord, RecordState, Store},
};

/// Every notification of both agencies, oldest first; only those waiting for an
/// acknowledgement when `pending_only`.
pub async fn list(
    js: &jetstream::Context,
    pending_only: bool,
) -> anyhow::Result<Vec<NotificationRecord>> {
    let store = Store::open(js, &StorageConfig::default(), NotifyAgency::Iom).await?;
    let mut records = Vec::new();
    for agency in NotifyAgency::ALL {
        records.extend(store.for_agency(agency).records().await?);
    }
    records.retain(|r| !pending_only || r.state == RecordState::Pending);
    records.sort_by_key(|r| {
        r.notification
            .created_at
            .as_ref()
            .map(|t| (t.seconds, t.nanos))
    });
    Ok(records)
}

/// What became of an acknowledgement.
#[derive(Clone, Debug, PartialEq)]
pub enum AckOutcome {
    /// Recorded now.
    Acknowledged(NotificationRecord),
    /// It was acknowledged before.
    AlreadyAcknowledged(NotificationRecord),
    /// No notification has this id.
    Unknown,
    /// Sent, but no notify instance recorded it within the wait (none is running?); it will be
    /// recorded when one runs.
    Sent,
}

/// Acknowledges notification `id` in nobody's name (recorded as `system`), waiting up to
/// `wait` for the notifier to record it.
pub async fn acknowledge(
    js: &jetstream::Context,
    id: &str,
    wait: Duration,
) -> anyhow::Result<AckOutcome> {
    acknowledge_as(js, id, None, wait).await
}

/// Acknowledges notification `id` as `by` (a directory id; `None`: `system`), waiting up to
/// `wait` for the notifier to record it.
pub async fn acknowledge_as(
    js: &jetstream::Context,
    id: &str,
    by: Option<&str>,
    wait: Duration,
) -> anyhow::Result<AckOutcome> {
    let store = Store::open(js, &StorageConfig::default(), NotifyAgency::Iom).await?;
    let mut owner = None;
    for agency in NotifyAgency::ALL {
        if let Some((record, _)) = store.for_agency(agency).record(id).await? {
            owner = Some((store.for_agency(agency), record));
        }
    }
    let Some((store, record)) = owner else {
        return Ok(AckOutcome::Unknown);
    };
    if record.state == RecordState::Acknowledged {
        return Ok(AckOutcome::AlreadyAcknowledged(record));
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MSG_ID, format!("ack:{id}:cli").as_str());
    let payload = match by {
        Some(by) => format!("cli {by}"),
        None => "cli".into(),
    };
    js.publish_with_headers(
        tandem_proto::subjects::notify_ack_subject(id),
        headers,
        payload.into(),
    )
    .await?
    .await?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some((record, _)) = store.record(id).await?
            && record.state == RecordState::Acknowledged
        {
            return Ok(AckOutcome::Acknowledged(record));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(AckOutcome::Sent);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
