//! Snapshots of the state, so that a start reads the latest snapshot and only the events after
//! it instead of every event ever stored (docs/design.md, "Data publication").
//!
//! A snapshot is the dataset's state and the histories, with the position of each stream they
//! cover: every event of `TANDEM_EVENTS` up to `events.through` and every notification status
//! of `TANDEM_NOTIFY` up to `statuses.through` is in it. It is stored under one key,
//! [`KEY`], in object store `tandem-data`, which the publish user already writes: a put
//! writes the new chunks before the metadata that points at them and then purges the old ones,
//! so a reader sees the previous snapshot or the new one, never half of one, and only the
//! latest is kept.
//!
//! Why this is safe:
//! - The positions are read *before* the state is copied, and a follower records a position
//!   only after applying the event, so a snapshot may hold events after its positions but
//!   never lacks one before them. Applying is idempotent, so reading those again changes
//!   nothing.
//! - A snapshot is used only if it is of these very streams (their creation times match) and
//!   not ahead of them; one that is missing, unreadable, of another format ([`FORMAT`]),
//!   corrupt or too large is never fatal: it is logged and the state is rebuilt from the start
//!   of the streams, as without snapshots.
//! - Every instance writes snapshots; one does not replace a stored snapshot that covers more.
//!
//! The encoding is protobuf (prost messages declared here, embedding the contract's own
//! messages for the histories), compressed with zstd and a checksum: tagged fields let later
//! formats add fields that older readers skip, and a change that older readers must not read
//! raises [`FORMAT`]. Snapshots are written every `snapshots.every_events` events or every
//! `snapshots.interval_secs` seconds with a change, whichever comes first ([`SnapshotConfig`]).

use std::{
    collections::{BTreeMap, HashMap},
    io::Read as _,
    sync::Arc,
    time::Duration,
};

use async_nats::jetstream::{self, object_store::ObjectMetadata};
use prost::Message as _;
use tandem_proto::{
    Timestamp,
    v1::{DatasetPublished, DeterminationReview, LeadershipDetermination, OriginCount},
};
use tandem_runtime::{Shutdown, topology};
use tokio::time::Instant;

use crate::{
    Shared,
    config::SnapshotConfig,
    history::{Histories, NotificationEntry},
};

/// The format written; a snapshot of any other is ignored.
pub const FORMAT: u32 = 1;

/// The snapshot's key in object store `tandem-data`.
pub const KEY: &str = "snapshots/publish-state";

/// The largest snapshot read, decompressed: the state holds less than the streams it is built
/// from, whose default limits are far below this.
const MAX_BYTES: u64 = 4 << 30;

/// zstd's level: its default, fast at a good ratio.
const LEVEL: i32 = 3;

/// Where a follower is in one stream.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Position {
    /// Every message up to this sequence is applied (0: none).
    #[prost(uint64, tag = "1")]
    pub through: u64,
    /// When the stream was created (Unix nanoseconds): a stream deleted and made again starts
    /// its sequences anew, and a snapshot of the old one must not count for the new.
    #[prost(int64, tag = "2")]
    pub stream_created: i64,
}

/// What the followers applied, in both streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    /// `TANDEM_EVENTS`.
    pub events: Position,
    /// `tandem.notify.status.>` of `TANDEM_NOTIFY`.
    pub statuses: Position,
}

impl Applied {
    /// Messages applied since `earlier`.
    fn since(&self, earlier: &Applied) -> u64 {
        self.events.through.saturating_sub(earlier.events.through)
            + self
                .statuses
                .through
                .saturating_sub(earlier.statuses.through)
    }
}

/// Just the format, read before the rest.
#[derive(Clone, PartialEq, prost::Message)]
struct Header {
    #[prost(uint32, tag = "1")]
    format: u32,
}

/// A stored snapshot.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Snapshot {
    /// [`FORMAT`] when written.
    #[prost(uint32, tag = "1")]
    pub format: u32,
    #[prost(message, optional, tag = "2")]
    pub events: Option<Position>,
    #[prost(message, optional, tag = "3")]
    pub statuses: Option<Position>,
    #[prost(message, optional, tag = "4")]
    pub state: Option<StateMessage>,
    #[prost(message, optional, tag = "5")]
    pub histories: Option<HistoriesMessage>,
}

/// [`crate::state::State`].
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StateMessage {
    #[prost(uint64, tag = "1")]
    pub version: u64,
    #[prost(message, repeated, tag = "2")]
    pub situations: Vec<SituationMessage>,
    #[prost(message, repeated, tag = "3")]
    pub datasets: Vec<DatasetPublished>,
    /// Object keys of versions no longer kept, still to delete.
    #[prost(string, repeated, tag = "4")]
    pub unkept: Vec<String>,
}

/// One situation of the state.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SituationMessage {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, repeated, tag = "2")]
    pub reports: Vec<ReportMessage>,
    #[prost(message, optional, tag = "3")]
    pub determination: Option<DeterminationMessage>,
}

/// The latest accepted report of one organisation.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReportMessage {
    #[prost(string, tag = "1")]
    pub organisation: String,
    #[prost(uint32, tag = "2")]
    pub revision: u32,
    #[prost(int32, tag = "3")]
    pub agency: i32,
    #[prost(string, tag = "4")]
    pub country: String,
    #[prost(string, tag = "5")]
    pub admin1_pcode: String,
    #[prost(string, tag = "6")]
    pub admin2_pcode: String,
    #[prost(int64, tag = "7")]
    pub reported_seconds: i64,
    #[prost(int32, tag = "8")]
    pub reported_nanos: i32,
    #[prost(uint64, tag = "9")]
    pub stream_sequence: u64,
    /// The report's per-area figures (those with an admin-1 P-code).
    #[prost(message, repeated, tag = "10")]
    pub areas: Vec<AreaFigureMessage>,
    #[prost(message, repeated, tag = "11")]
    pub solutions: Vec<SolutionMessage>,
}

/// A report's figure for one area (`PopulationFigure` without its free-text source).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AreaFigureMessage {
    #[prost(int32, tag = "1")]
    pub group: i32,
    #[prost(uint64, tag = "2")]
    pub count: u64,
    #[prost(string, tag = "3")]
    pub origin: String,
    #[prost(string, tag = "4")]
    pub admin1_pcode: String,
    #[prost(string, tag = "5")]
    pub admin2_pcode: String,
    #[prost(string, tag = "6")]
    pub as_of: String,
}

/// A report's progress on one durable-solutions criterion (`SolutionsProgress` without its
/// free-text source).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SolutionMessage {
    #[prost(int32, tag = "1")]
    pub criterion: i32,
    #[prost(double, tag = "2")]
    pub share: f64,
    #[prost(string, tag = "3")]
    pub as_of: String,
}

/// What the dataset uses of the current determination.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DeterminationMessage {
    #[prost(uint64, tag = "1")]
    pub sequence: u64,
    #[prost(string, tag = "2")]
    pub country: String,
    #[prost(int32, tag = "3")]
    pub classification: i32,
    #[prost(int32, tag = "4")]
    pub arrangement: i32,
    #[prost(int32, repeated, tag = "5")]
    pub lead_agencies: Vec<i32>,
    #[prost(message, repeated, tag = "6")]
    pub figures: Vec<FigureMessage>,
    #[prost(string, tag = "7")]
    pub policy_version: String,
    #[prost(message, optional, tag = "8")]
    pub determined_at: Option<Timestamp>,
    #[prost(bool, tag = "9")]
    pub regional: bool,
    #[prost(message, repeated, tag = "10")]
    pub operations: Vec<OperationMessage>,
}

/// What the dataset uses of one country operation of a regional determination.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OperationMessage {
    #[prost(string, tag = "1")]
    pub country: String,
    #[prost(int32, tag = "2")]
    pub classification: i32,
    #[prost(int32, tag = "3")]
    pub arrangement: i32,
    #[prost(int32, repeated, tag = "4")]
    pub lead_agencies: Vec<i32>,
    #[prost(message, repeated, tag = "5")]
    pub figures: Vec<FigureMessage>,
}

/// A reconciled figure: population group, count, its date, source agency and origins (no
/// report id: it is never published).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FigureMessage {
    #[prost(int32, tag = "1")]
    pub group: i32,
    #[prost(uint64, tag = "2")]
    pub count: u64,
    #[prost(string, tag = "3")]
    pub as_of: String,
    #[prost(int32, tag = "4")]
    pub source_agency: i32,
    #[prost(message, repeated, tag = "5")]
    pub origins: Vec<OriginCount>,
}

/// [`crate::history::Histories`].
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HistoriesMessage {
    #[prost(message, repeated, tag = "1")]
    pub situations: Vec<SituationHistoryMessage>,
}

/// One situation's history.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SituationHistoryMessage {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, repeated, tag = "2")]
    pub determinations: Vec<LeadershipDetermination>,
    #[prost(message, repeated, tag = "3")]
    pub reviews: Vec<ReviewsMessage>,
    #[prost(message, repeated, tag = "4")]
    pub notifications: Vec<NotificationsMessage>,
    /// The trace of each determination that had one, by its sequence.
    #[prost(btree_map = "uint64, string", tag = "5")]
    pub trace_ids: BTreeMap<u64, String>,
}

/// The reviews of one determination, in the order recorded.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReviewsMessage {
    #[prost(string, tag = "1")]
    pub determination_id: String,
    #[prost(message, repeated, tag = "2")]
    pub reviews: Vec<DeterminationReview>,
}

/// The notifications about one determination.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NotificationsMessage {
    #[prost(string, tag = "1")]
    pub determination_id: String,
    #[prost(message, repeated, tag = "2")]
    pub notifications: Vec<NotificationMessage>,
}

/// [`NotificationEntry`].
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NotificationMessage {
    #[prost(string, tag = "1")]
    pub notification_id: String,
    #[prost(string, tag = "2")]
    pub recipient_id: String,
    #[prost(string, tag = "3")]
    pub recipient_agency: String,
    #[prost(string, tag = "4")]
    pub kind: String,
    #[prost(string, optional, tag = "5")]
    pub sent_at: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub acknowledged_by: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub acknowledged_via: Option<String>,
    #[prost(string, optional, tag = "8")]
    pub acknowledged_at: Option<String>,
    #[prost(string, repeated, tag = "9")]
    pub escalated_to: Vec<String>,
}

impl From<&NotificationEntry> for NotificationMessage {
    fn from(entry: &NotificationEntry) -> Self {
        Self {
            notification_id: entry.notification_id.clone(),
            recipient_id: entry.recipient_id.clone(),
            recipient_agency: entry.recipient_agency.clone(),
            kind: entry.kind.clone(),
            sent_at: entry.sent_at.clone(),
            acknowledged_by: entry.acknowledged_by.clone(),
            acknowledged_via: entry.acknowledged_via.clone(),
            acknowledged_at: entry.acknowledged_at.clone(),
            escalated_to: entry.escalated_to.clone(),
        }
    }
}

impl From<NotificationMessage> for NotificationEntry {
    fn from(message: NotificationMessage) -> Self {
        Self {
            notification_id: message.notification_id,
            recipient_id: message.recipient_id,
            recipient_agency: message.recipient_agency,
            kind: message.kind,
            sent_at: message.sent_at,
            acknowledged_by: message.acknowledged_by,
            acknowledged_via: message.acknowledged_via,
            acknowledged_at: message.acknowledged_at,
            escalated_to: message.escalated_to,
        }
    }
}

/// Why a stored snapshot is not used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unusable {
    /// Written in another format.
    #[error("it is in format {0}, this version reads format {FORMAT}")]
    Format(u32),
    /// Not zstd, truncated, or failing its checksum.
    #[error("it does not decompress: {0}")]
    Compression(std::io::Error),
    /// Larger than [`MAX_BYTES`] once decompressed.
    #[error("it is larger than {MAX_BYTES} bytes")]
    TooLarge,
    /// Not the messages above.
    #[error("it does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// Of another stream of the same name, or ahead of the stream.
    #[error(
        "it covers {stream} through sequence {through} of a stream created at {created}, which is not this one"
    )]
    OtherStream {
        stream: &'static str,
        through: u64,
        created: i64,
    },
}

/// `snapshot` as stored: protobuf, compressed.
pub(crate) fn encode(snapshot: &Snapshot) -> std::io::Result<Vec<u8>> {
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), LEVEL)?;
    encoder.include_checksum(true)?;
    std::io::Write::write_all(&mut encoder, &snapshot.encode_to_vec())?;
    encoder.finish()
}

/// The snapshot stored as `bytes`, if it is one of [`FORMAT`].
pub(crate) fn decode(bytes: &[u8]) -> Result<Snapshot, Unusable> {
    let mut decoder = zstd::stream::Decoder::new(bytes).map_err(Unusable::Compression)?;
    let mut decoded = Vec::new();
    (&mut decoder)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut decoded)
        .map_err(Unusable::Compression)?;
    if decoded.len() as u64 > MAX_BYTES {
        return Err(Unusable::TooLarge);
    }
    let format = Header::decode(decoded.as_slice())?.format;
    if format != FORMAT {
        return Err(Unusable::Format(format));
    }
    Ok(Snapshot::decode(decoded.as_slice())?)
}

/// The position of `stream`'s start: nothing applied yet.
async fn start_of(js: &jetstream::Context, stream: &str) -> anyhow::Result<(Position, u64)> {
    let info = js.get_stream(stream).await?.info().await?.clone();
    let created = i64::try_from(info.created.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    Ok((
        Position {
            through: 0,
            stream_created: created,
        },
        info.state.last_sequence,
    ))
}

/// Whether `position` belongs to the stream `start` (as found now, with `last` its last
/// sequence).
fn check(
    stream: &'static str,
    position: Option<Position>,
    start: Position,
    last: u64,
) -> Result<Position, Unusable> {
    let position = position.unwrap_or_default();
    if position.stream_created != start.stream_created || position.through > last {
        return Err(Unusable::OtherStream {
            stream,
            through: position.through,
            created: position.stream_created,
        });
    }
    Ok(position)
}

/// Restores the state and the histories from the latest usable snapshot, if any, and returns
/// where the followers start from, and whether that is a snapshot's position. Only reaching the
/// streams can fail: an unusable snapshot is logged and the state left empty.
pub(crate) async fn restore(
    js: &jetstream::Context,
    shared: &Shared,
) -> anyhow::Result<(Applied, bool)> {
    let (events, events_last) = start_of(js, topology::EVENTS_STREAM).await?;
    let (statuses, statuses_last) = start_of(js, topology::NOTIFY_STREAM).await?;
    let empty = Applied { events, statuses };
    let Some(store) = shared.store.get() else {
        return Ok((empty, false));
    };
    let bytes = match store.read(KEY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            // Most often there is none yet; a damaged one is the same to a start.
            tracing::info!(
                error = format!("{error:#}"),
                "no snapshot read; rebuilding from the start of the streams"
            );
            return Ok((empty, false));
        }
    };
    let used = decode(&bytes).and_then(|snapshot| {
        let applied = Applied {
            events: check(
                topology::EVENTS_STREAM,
                snapshot.events,
                events,
                events_last,
            )?,
            statuses: check(
                topology::NOTIFY_STREAM,
                snapshot.statuses,
                statuses,
                statuses_last,
            )?,
        };
        Ok((snapshot, applied))
    });
    match used {
        Ok((snapshot, applied)) => {
            let histories = Histories::from_message(snapshot.histories.unwrap_or_default());
            shared.write(|state| state.restore(snapshot.state.unwrap_or_default()));
            shared.write_histories(|h| *h = histories);
            tracing::info!(
                bytes = bytes.len(),
                events_through = applied.events.through,
                statuses_through = applied.statuses.through,
                "state restored from the snapshot; reading the events after it"
            );
            Ok((applied, true))
        }
        Err(unusable) => {
            tracing::warn!(reason = %unusable, "the snapshot is not used; rebuilding from the start of the streams");
            Ok((empty, false))
        }
    }
}

/// Writes snapshots until `shutdown`: once the state is rebuilt, whenever
/// `every_events` messages were applied since the last one, or `interval_secs` passed with
/// any applied (`every_events` 0: never). A failure is logged and tried again later:
/// without a snapshot the service only starts slower.
pub(crate) async fn run(
    shared: Arc<Shared>,
    config: SnapshotConfig,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let every = config.every_events;
    if every == 0 {
        shutdown.triggered().await;
        return Ok(());
    }
    let interval = Duration::from_secs(config.interval_secs.max(1));
    let mut ready = shared.ready.subscribe();
    tokio::select! {
        _ = shutdown.triggered() => return Ok(()),
        result = ready.wait_for(|ready| *ready) => { result?; }
    }
    let mut applied = shared.applied.subscribe();
    // What the stored snapshot covers: a start that read many events stores one at once.
    let mut last = shared.started.get().copied().flatten().unwrap_or_default();
    let mut due = Instant::now() + interval;
    let mut backoff = Duration::from_secs(1);
    loop {
        let now = shared.applied.borrow().unwrap_or_default();
        let pending = now.since(&last);
        if pending > 0 && (pending >= every || Instant::now() >= due) {
            match write(&shared).await {
                Ok(written) => {
                    last = written;
                    backoff = Duration::from_secs(1);
                    due = Instant::now() + interval;
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "storing a snapshot failed");
                    if !shutdown.sleep(backoff).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(interval);
                }
            }
            continue;
        }
        tokio::select! {
            _ = shutdown.triggered() => return Ok(()),
            changed = applied.changed() => if changed.is_err() { return Ok(()) },
            _ = tokio::time::sleep_until(due), if pending > 0 => {}
        }
    }
}

/// Stores a snapshot of the state as it is, unless the stored one covers more. Returns the
/// positions it covers.
async fn write(shared: &Shared) -> anyhow::Result<Applied> {
    let store = shared
        .store
        .get()
        .ok_or_else(|| anyhow::anyhow!("object store {} not open", topology::DATA_OBJECT_STORE))?;
    // Before the state is read: see the module's documentation.
    let applied = shared.applied.borrow().unwrap_or_default();
    let snapshot = Snapshot {
        format: FORMAT,
        events: Some(applied.events),
        statuses: Some(applied.statuses),
        state: Some(shared.read(|state| state.to_message())),
        histories: Some(shared.read_histories(|h| h.to_message())),
    };
    let bytes = tokio::task::spawn_blocking(move || encode(&snapshot)).await??;
    let stored = store
        .objects
        .info(KEY)
        .await
        .ok()
        .filter(|info| !info.deleted);
    let covers = |info: &async_nats::jetstream::object_store::ObjectInfo, name: &str| {
        info.metadata
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    if let Some(info) = &stored
        && info.metadata.get("format").map(String::as_str) == Some(&FORMAT.to_string())
        && covers(info, "events_through") >= applied.events.through
        && covers(info, "statuses_through") >= applied.statuses.through
    {
        tracing::debug!("the stored snapshot covers as much; not replaced");
        return Ok(applied);
    }
    let metadata = ObjectMetadata {
        name: KEY.into(),
        description: Some("tandem publish: the state, to start from (docs/operating.md)".into()),
        metadata: HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            (
                "events_through".to_string(),
                applied.events.through.to_string(),
            ),
            (
                "statuses_through".to_string(),
                applied.statuses.through.to_string(),
            ),
        ]),
        ..Default::default()
    };
    let size = bytes.len();
    store
        .objects
        .put(metadata, &mut bytes.as_slice())
        .await
        .map_err(|e| anyhow::anyhow!("cannot store {KEY}: {e}"))?;
    tracing::info!(
        bytes = size,
        events_through = applied.events.through,
        statuses_through = applied.statuses.through,
        "snapshot stored"
    );
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{
        Agency, DurableSolutionsCriterion, NotificationKind, NotificationState, NotificationStatus,
        OperationDetermination, PopulationFigure, PopulationGroup, ReconciledFigure,
        SituationReport, SolutionsProgress,
    };

    use super::*;
    use crate::state::State;

    /// A state and histories with every kind of fact: several organisations' reports (with
    /// per-area figures and solutions progress), a partner's, determinations (one regional,
    /// with origins), announced versions (one no longer kept), reviews and notification
    /// statuses.
    fn populated() -> (State, Histories) {
        let mut state = State::keeping_versions(1);
        let mut histories = Histories::default();
        let mut sequence = 0;
        for (n, situation) in ["COL-1", "COL-2", "PER-1"].into_iter().enumerate() {
            for (agency, org) in [
                (Agency::Iom, ""),
                (Agency::Unhcr, ""),
                (Agency::Partner, "nrc"),
            ] {
                sequence += 1;
                let report = SituationReport {
                    situation_id: situation.into(),
                    revision: 2,
                    reporting_agency: agency as i32,
                    reporter_org: org.into(),
                    country: situation[..3].into(),
                    admin1_pcode: format!("CO0{n}"),
                    admin2_pcode: format!("CO0{n}001"),
                    reported_at: Some(Timestamp {
                        seconds: 1_767_225_600 + sequence,
                        nanos: 7,
                    }),
                    population: vec![PopulationFigure {
                        group: PopulationGroup::Refugee as i32,
                        count: 40,
                        as_of: "2026-01-01".into(),
                        origin: "VEN".into(),
                        admin1_pcode: format!("CO0{n}"),
                        admin2_pcode: format!("CO0{n}001"),
                        ..Default::default()
                    }],
                    solutions_progress: vec![SolutionsProgress {
                        criterion: DurableSolutionsCriterion::Documentation as i32,
                        share: 0.25,
                        as_of: "2026-01-01".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                assert!(state.apply_accepted(&report, u64::try_from(sequence).unwrap_or(0)));
            }
            let determination = LeadershipDetermination {
                situation_id: situation.into(),
                sequence: 1,
                determination_id: format!("{situation}/1"),
                country: situation[..3].into(),
                lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
                figures: vec![ReconciledFigure {
                    group: PopulationGroup::Refugee as i32,
                    count: 3 + n as u64 * 1000,
                    ..Default::default()
                }],
                policy_version: "v1".into(),
                determined_at: Some(Timestamp {
                    seconds: 1_767_225_600,
                    nanos: 0,
                }),
                ..Default::default()
            };
            sequence += 1;
            state.apply_determination(&determination, u64::try_from(sequence).unwrap_or(0));
            histories.apply_determination(&determination, Some(format!("{:032x}", n + 1)));
            histories.apply_review(&DeterminationReview {
                review_id: format!("{situation}/1/review/1"),
                determination_id: format!("{situation}/1"),
                situation_id: situation.into(),
                by: "unhcr-cc".into(),
                ..Default::default()
            });
            for state_now in [
                NotificationState::Delivered,
                NotificationState::Acknowledged,
            ] {
                histories.apply_status(&NotificationStatus {
                    notification_id: format!("iom.ntf-{n}"),
                    recipient_agency: Agency::Iom as i32,
                    recipient_id: "iom-cc".into(),
                    kind: NotificationKind::DeterminationChanged as i32,
                    state: state_now as i32,
                    situation_id: situation.into(),
                    determination_id: format!("{situation}/1"),
                    acknowledged_by: "iom-cc".into(),
                    acknowledged_via: "link".into(),
                    at: Some(tandem_proto::timestamp::now()),
                    ..Default::default()
                });
            }
        }
        // PER-1 becomes regional: IOM reports for COL too, and the determination has both
        // operations.
        let colombia = SituationReport {
            situation_id: "PER-1".into(),
            revision: 3,
            reporting_agency: Agency::Iom as i32,
            country: "COL".into(),
            regional: true,
            ..Default::default()
        };
        sequence += 1;
        assert!(state.apply_accepted(&colombia, u64::try_from(sequence).unwrap_or(0)));
        let figure = |count: u64| ReconciledFigure {
            group: PopulationGroup::Refugee as i32,
            count,
            source_agency: Agency::Iom as i32,
            as_of: "2026-01-02".into(),
            origins: vec![tandem_proto::v1::OriginCount {
                origin: "VEN".into(),
                count: count - 1,
            }],
            ..Default::default()
        };
        let regional = LeadershipDetermination {
            situation_id: "PER-1".into(),
            sequence: 2,
            determination_id: "PER-1/2".into(),
            country: "PER".into(),
            regional: true,
            figures: vec![figure(3000)],
            operations: ["COL", "PER"]
                .into_iter()
                .map(|country| OperationDetermination {
                    country: country.into(),
                    figures: vec![figure(1500)],
                    lead_agencies: vec![Agency::Unhcr as i32],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        sequence += 1;
        assert!(state.apply_determination(&regional, u64::try_from(sequence).unwrap_or(0)));
        histories.apply_determination(&regional, None);
        for version in [20, 21] {
            state.apply_published(&DatasetPublished {
                dataset: "situations".into(),
                version,
                object_key: format!("situations/{version}.csv"),
                ..Default::default()
            });
        }
        (state, histories)
    }

    fn snapshot_of(state: &State, histories: &Histories) -> Snapshot {
        let position = |through| Position {
            through,
            stream_created: 1_700_000_000_000_000_000,
        };
        Snapshot {
            format: FORMAT,
            events: Some(position(12)),
            statuses: Some(position(6)),
            state: Some(state.to_message()),
            histories: Some(histories.to_message()),
        }
    }

    #[test]
    fn a_snapshot_restores_the_state_and_histories_it_was_taken_from() {
        let (state, histories) = populated();
        assert_eq!(state.rows(None).len(), 3);
        let bytes = encode(&snapshot_of(&state, &histories)).expect("encoded");
        let decoded = decode(&bytes).expect("decoded");
        assert_eq!(decoded.events.map(|p| p.through), Some(12));
        assert_eq!(decoded.statuses.map(|p| p.through), Some(6));
        let mut restored = State::keeping_versions(1);
        restored.restore(decoded.state.expect("a state"));
        assert_eq!(
            restored, state,
            "every fact, the kept rows and the versions to delete"
        );
        assert_eq!(restored.csv(None), state.csv(None));
        let restored_histories = Histories::from_message(decoded.histories.expect("histories"));
        assert_eq!(restored_histories, histories);
        assert!(restored_histories.history("COL-1").is_some_and(|h| {
            h[0].notifications[0].acknowledged_via.as_deref() == Some("link")
                && h[0].determination.reviews.len() == 1
                && h[0].trace_id.as_ref().is_some_and(|t| t.len() == 32)
        }));
    }

    #[test]
    fn a_snapshot_of_another_format_or_damaged_is_refused_without_panicking() {
        let (state, histories) = populated();
        let mut future = snapshot_of(&state, &histories);
        future.format = FORMAT + 1;
        let bytes = encode(&future).expect("encoded");
        assert!(matches!(decode(&bytes), Err(Unusable::Format(f)) if f == FORMAT + 1));

        let bytes = encode(&snapshot_of(&state, &histories)).expect("encoded");
        assert!(matches!(
            decode(&bytes[..bytes.len() / 2]),
            Err(Unusable::Compression(_))
        ));
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        assert!(
            decode(&flipped).is_err(),
            "the checksum or the decoder catches it"
        );
        assert!(matches!(
            decode(b"not a snapshot at all"),
            Err(Unusable::Compression(_))
        ));
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), LEVEL).expect("encoder");
        std::io::Write::write_all(&mut encoder, &[0x0a, 0xff, 0xff]).expect("written");
        let not_protobuf = encoder.finish().expect("finished");
        assert!(matches!(decode(&not_protobuf), Err(Unusable::Decode(_))));
    }

    #[test]
    fn a_snapshot_counts_only_for_the_stream_it_was_taken_of() {
        let stream = Position {
            through: 0,
            stream_created: 5,
        };
        let taken = |through, stream_created| {
            Some(Position {
                through,
                stream_created,
            })
        };
        assert_eq!(
            check("S", taken(10, 5), stream, 12).ok(),
            taken(10, 5),
            "the same stream, with more after it"
        );
        assert!(check("S", taken(10, 5), stream, 10).is_ok());
        assert!(
            check("S", taken(10, 4), stream, 12).is_err(),
            "a stream made again"
        );
        assert!(
            check("S", taken(13, 5), stream, 12).is_err(),
            "ahead of the stream"
        );
        assert!(check("S", None, stream, 12).is_err());
    }
}
