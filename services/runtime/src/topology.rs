//! Every stream, bucket and durable of docs/design.md in one place, with the settings each is
//! created with by `tandem setup` ([`crate::setup`]), or by a service that finds it missing and
//! may create it (a development server without accounts: the shipped accounts let no service
//! create a stream or a consumer). The subjects messages are published on and consumed
//! from are the contract crate's ([`tandem_proto::subjects`], re-exported here), so that pure
//! code naming them (intake's rules under the fuzzer) does not pull in NATS.
//!
//! Creation is idempotent and a service never changes an existing stream: two services starting
//! at once must not fight over settings. Operators bring a running deployment to these settings
//! with `tandem setup` ([`crate::setup`]). Settings chosen here, and why:
//! - file storage everywhere: a killed server must lose nothing;
//! - `duplicate_window` 10 minutes: longer than a message's whole redelivery life
//!   (`max_deliver` × `ack_wait` with the defaults is 50 s), so a re-publish after a
//!   crash is always recognised as a duplicate;
//! - JetStream deduplicates by `Nats-Msg-Id` per stream, so every stream a tenant can write to
//!   has that tenant alone as its writer (with tandem's own service, in the ack streams): IOM's
//!   reports and UNHCR's have a stream each, and so have each agency's acknowledgements. The
//!   partners share one stream, so a partner's `Nats-Msg-Id` must be one no other partner can
//!   guess (a random id kept with the report and reused on every retry); and whatever the
//!   stream stores, intake answers each (organisation, report id) once;
//! - intake messages up to 1 MiB are stored, so that intake itself can reject anything over
//!   the contract's 64 KiB with `TOO_LARGE` instead of the publisher getting a bare error;
//! - no age limit on `TANDEM_EVENTS`: the data service rebuilds its state from it; rejections,
//!   which nothing rebuilds from, have a stream of their own with an age limit
//!   (`TANDEM_REJECTIONS`);
//! - a size limit on every stream and bucket ([`StorageConfig`]), with `discard: new`: a full
//!   stream refuses the publisher ("maximum bytes exceeded") rather than dropping what it
//!   holds, and a tenant filling its own intake stream stops no one else;
//! - intake's and leadership's buckets answer reads from their leader only ([`Reads`]).

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, kv, object_store, stream};

use tandem_proto::roster;

use crate::config::StorageConfig;

pub use tandem_proto::subjects::*;

/// IOM's reports as its systems publish them.
pub const INTAKE_IOM_STREAM: &str = "TANDEM_INTAKE_IOM";
/// UNHCR's reports as its systems publish them.
pub const INTAKE_UNHCR_STREAM: &str = "TANDEM_INTAKE_UNHCR";
/// Every partner organisation's reports.
pub const INTAKE_PARTNERS_STREAM: &str = "TANDEM_INTAKE_PARTNERS";
/// The intake streams: (stream, the subjects it stores, its intake durable's name).
pub const INTAKE_STREAMS: [(&str, &str, &str); 3] = [
    (
        INTAKE_IOM_STREAM,
        INTAKE_SUBJECTS[0],
        roster::INTAKE.durables[0],
    ),
    (
        INTAKE_UNHCR_STREAM,
        INTAKE_SUBJECTS[1],
        roster::INTAKE.durables[1],
    ),
    (
        INTAKE_PARTNERS_STREAM,
        INTAKE_SUBJECTS[2],
        roster::INTAKE.durables[2],
    ),
];
/// Accepted reports, determinations, reviews, dataset versions.
pub const EVENTS_STREAM: &str = "TANDEM_EVENTS";
/// Rejected reports, kept for `storage.rejections_max_age_days`.
pub const REJECTIONS_STREAM: &str = "TANDEM_REJECTIONS";
/// Notifications and delivery status: written by tandem only.
pub const NOTIFY_STREAM: &str = "TANDEM_NOTIFY";
/// Messages a service could not process.
pub const DLQ_STREAM: &str = "TANDEM_DLQ";

/// Intake's per-situation state (country binding, accepted revisions).
pub const INTAKE_BUCKET: &str = "tandem-intake";
/// The current determination of each situation.
pub const LEADERSHIP_BUCKET: &str = "tandem-leadership";
/// The coordinator directory: personal data, read only by the notify service.
pub const DIRECTORY_BUCKET: &str = "tandem-directory";
/// Published dataset snapshots.
pub const DATA_OBJECT_STORE: &str = "tandem-data";

const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The intake streams ([`INTAKE_STREAMS`]).
pub fn intake_streams(storage: &StorageConfig) -> Vec<stream::Config> {
    INTAKE_STREAMS
        .iter()
        .map(|(name, subject, _)| stream::Config {
            name: (*name).into(),
            description: Some("Situation reports as agency systems publish them".into()),
            subjects: vec![(*subject).into()],
            max_message_size: 1024 * 1024,
            max_age: Duration::from_secs(storage.intake_max_age_days.max(1) * 24 * 3600),
            max_bytes: storage.intake_max_bytes,
            ..base_stream(storage)
        })
        .collect()
}

/// The `Nats-Msg-Id` of intake's outcome (accepted or rejected) of the report stored at
/// `sequence` of intake stream `stream`: whoever published the report can expect it from the
/// stream's publish acknowledgement.
pub fn intake_outcome_id(stream: &str, sequence: u64) -> String {
    format!("intake-outcome:{stream}:{sequence}")
}

/// `TANDEM_EVENTS`.
pub fn events_stream(storage: &StorageConfig) -> stream::Config {
    stream::Config {
        name: EVENTS_STREAM.into(),
        description: Some("Accepted reports, determinations, reviews, dataset versions".into()),
        subjects: vec![
            ACCEPTED_FILTER.into(),
            "tandem.leadership.>".into(),
            "tandem.data.>".into(),
        ],
        max_bytes: storage.events_max_bytes,
        ..base_stream(storage)
    }
}

/// `TANDEM_REJECTIONS`: what intake rejected, kept for `rejections_max_age_days`. Each
/// organisation hears its rejections at once on its outcome subject; the stream is the record
/// operators and the organisation's own subscription read.
pub fn rejections_stream(storage: &StorageConfig) -> stream::Config {
    stream::Config {
        name: REJECTIONS_STREAM.into(),
        description: Some("Rejected reports with every reason".into()),
        subjects: vec![REJECTED_FILTER.into()],
        max_age: Duration::from_secs(storage.rejections_max_age_days.max(1) * 24 * 3600),
        max_bytes: storage.rejections_max_bytes,
        ..base_stream(storage)
    }
}

/// How long notifications, their status and acknowledgements are kept (`Duration::ZERO`: no
/// limit but the stream's size).
fn notify_max_age(storage: &StorageConfig) -> Duration {
    Duration::from_secs(storage.notify_max_age_days.saturating_mul(24 * 3600))
}

/// `TANDEM_NOTIFY`.
pub fn notify_stream(storage: &StorageConfig) -> stream::Config {
    stream::Config {
        name: NOTIFY_STREAM.into(),
        description: Some("Notifications and delivery status".into()),
        subjects: vec![
            "tandem.notify.out.>".into(),
            "tandem.notify.status.>".into(),
        ],
        max_age: notify_max_age(storage),
        max_bytes: storage.notify_max_bytes,
        ..base_stream(storage)
    }
}

/// IOM's acknowledgements of its notifications: written by IOM and its notify service only.
pub const ACKS_IOM_STREAM: &str = "TANDEM_ACKS_IOM";
/// UNHCR's acknowledgements of its notifications: written by UNHCR and its notify service only.
pub const ACKS_UNHCR_STREAM: &str = "TANDEM_ACKS_UNHCR";

/// The stream of the acknowledgements of agency `token` (`iom` or `unhcr`): each agency's
/// acknowledgements have a deduplication of their own.
pub fn acks_stream_name(token: &str) -> &'static str {
    if token == "iom" {
        ACKS_IOM_STREAM
    } else {
        ACKS_UNHCR_STREAM
    }
}

/// [`acks_stream_name`]'s settings.
pub fn acks_stream(agency: &str, storage: &StorageConfig) -> stream::Config {
    stream::Config {
        name: acks_stream_name(agency).into(),
        description: Some(format!("Acknowledgements of {agency}'s notifications")),
        subjects: vec![format!("tandem.notify.ack.{agency}.>")],
        max_age: notify_max_age(storage),
        max_bytes: storage.notify_max_bytes,
        ..base_stream(storage)
    }
}

/// `TANDEM_DLQ`.
pub fn dlq_stream(storage: &StorageConfig) -> stream::Config {
    stream::Config {
        name: DLQ_STREAM.into(),
        description: Some("Messages a service could not process, with the error".into()),
        subjects: vec!["tandem.dlq.>".into()],
        max_age: Duration::from_secs(30 * 24 * 3600),
        max_bytes: storage.dlq_max_bytes,
        ..base_stream(storage)
    }
}

fn base_stream(storage: &StorageConfig) -> stream::Config {
    stream::Config {
        storage: stream::StorageType::File,
        // Full is full: the publisher is told, and nothing stored is dropped to make room.
        discard: stream::DiscardPolicy::New,
        num_replicas: storage.replicas,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// A key-value bucket keeping `history` revisions per key.
pub fn bucket(name: &str, description: &str, history: i64, storage: &StorageConfig) -> kv::Config {
    kv::Config {
        bucket: name.into(),
        description: description.into(),
        history,
        storage: stream::StorageType::File,
        num_replicas: storage.replicas,
        max_bytes: storage.bucket_max_bytes,
        ..Default::default()
    }
}

/// Whether set-up made a stream, bucket, object store or consumer, or found it there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Made now.
    Created,
    /// There already, left as it was.
    Existed,
    /// There already, with settings brought to the deployment's (by `tandem setup` only).
    Updated,
}

/// What a service says when something it needs is missing and it could not make it (most
/// often: it may not): the shipped
/// accounts let no service create a stream or a consumer (docs/security.md), so an operator
/// runs `tandem setup` first.
pub fn missing(what: &str) -> String {
    format!(
        "{what} is missing and could not be created (service users of the shipped accounts may \
         not create it: run `tandem setup` with the NATS admin's credentials first, \
         docs/operating.md)"
    )
}

/// Creates `config`'s stream unless it exists. Safe to call from several instances at once.
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> anyhow::Result<stream::Stream> {
    open_or_create_stream(js, config)
        .await
        .map(|(stream, _)| stream)
}

/// [`ensure_stream`], saying whether it made the stream.
pub async fn open_or_create_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> anyhow::Result<(stream::Stream, Found)> {
    let name = config.name.clone();
    // Looked up first, so that a user without the right to create (every service user of the
    // shipped accounts) never asks to when the stream is there.
    if let Ok(stream) = js.get_stream(&name).await {
        return Ok((stream, Found::Existed));
    }
    match js.create_stream(config).await {
        Ok(stream) => Ok((stream, Found::Created)),
        // Another instance created it between our look and our create ("already in use",
        // "subjects overlap"): open what it made.
        Err(error) => js
            .get_stream(&name)
            .await
            .map(|stream| (stream, Found::Existed))
            .map_err(|_| anyhow::Error::new(error))
            .with_context(|| missing(&format!("stream {name}"))),
    }
}

/// [`ensure_stream`] for each of `configs`.
pub async fn ensure_streams(
    js: &jetstream::Context,
    configs: impl IntoIterator<Item = stream::Config>,
) -> anyhow::Result<()> {
    for config in configs {
        ensure_stream(js, config).await?;
    }
    Ok(())
}

/// [`ensure_streams`], then [`ensure_bucket`]: the set-up of a service with one bucket.
pub async fn ensure_streams_and_bucket(
    js: &jetstream::Context,
    streams: impl IntoIterator<Item = stream::Config>,
    bucket: kv::Config,
    reads: Reads,
) -> anyhow::Result<kv::Store> {
    ensure_streams(js, streams).await?;
    ensure_bucket(js, bucket, reads).await
}

/// Which servers answer a bucket's reads (its stream's `allow_direct`, which async-nats
/// follows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// The stream's leader only (`STREAM.MSG.GET`): a read sees every write acknowledged before
    /// it. For intake's and leadership's records, whose readers also decide without writing:
    /// leadership, told by a replica answering from behind that a report's predecessor is not
    /// reflected yet, would wait for a write already made until its gap wait ran out.
    Leader,
    /// Any replica (direct get), with the key in the subject, so that permissions can limit a
    /// user to some keys (each agency's half of the directory and of notify's records). A
    /// replica may answer from a moment ago; these readers only decide by compare-and-set.
    AnyReplica,
}

/// The stream under bucket `config`: the KV conventions (the same settings `nats kv add` uses),
/// with `reads` deciding `allow_direct`.
pub fn bucket_stream(config: &kv::Config, reads: Reads) -> stream::Config {
    let name = &config.bucket;
    stream::Config {
        name: format!("KV_{name}"),
        description: Some(config.description.clone()),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: config.history.max(1),
        max_bytes: config.max_bytes,
        storage: config.storage,
        num_replicas: config.num_replicas.max(1),
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: reads == Reads::AnyReplica,
        ..Default::default()
    }
}

/// Opens bucket `config.bucket`, creating it when missing.
///
/// The bucket's stream is created here with the KV conventions (the same settings
/// `nats kv add` uses) rather than with `create_key_value`, because async-nats 0.51 first
/// queries the account, and cannot parse nats-server 2.9's answer.
pub async fn ensure_bucket(
    js: &jetstream::Context,
    config: kv::Config,
    reads: Reads,
) -> anyhow::Result<kv::Store> {
    open_or_create_bucket(js, config, reads)
        .await
        .map(|(store, _)| store)
}

/// [`ensure_bucket`], saying whether it made the bucket.
pub async fn open_or_create_bucket(
    js: &jetstream::Context,
    config: kv::Config,
    reads: Reads,
) -> anyhow::Result<(kv::Store, Found)> {
    let name = config.bucket.clone();
    let (stream, found) = open_or_create_stream(js, bucket_stream(&config, reads)).await?;
    if stream.cached_info().config.allow_direct && reads == Reads::Leader {
        // A bucket made before its reads went to the leader; a service may not edit streams.
        tracing::warn!(
            bucket = %name,
            "the bucket's replicas answer reads; on a cluster they can answer from behind. \
             As an operator: run `tandem setup`, or nats stream edit KV_{name} --no-allow-direct"
        );
    }
    let store = js
        .get_key_value(&name)
        .await
        .with_context(|| format!("cannot open bucket {name}"))?;
    Ok((store, found))
}

/// Opens object store `name`, creating it when missing.
pub async fn ensure_object_store(
    js: &jetstream::Context,
    name: &str,
    storage: &StorageConfig,
) -> anyhow::Result<object_store::ObjectStore> {
    open_or_create_object_store(js, name, storage)
        .await
        .map(|(store, _)| store)
}

/// [`ensure_object_store`], saying whether it made the store.
pub async fn open_or_create_object_store(
    js: &jetstream::Context,
    name: &str,
    storage: &StorageConfig,
) -> anyhow::Result<(object_store::ObjectStore, Found)> {
    if let Ok(store) = js.get_object_store(name).await {
        return Ok((store, Found::Existed));
    }
    let config = object_store::Config {
        bucket: name.into(),
        storage: stream::StorageType::File,
        num_replicas: storage.replicas,
        max_bytes: storage.data_max_bytes,
        ..Default::default()
    };
    match js.create_object_store(config).await {
        Ok(store) => Ok((store, Found::Created)),
        Err(error) => js
            .get_object_store(name)
            .await
            .map(|store| (store, Found::Existed))
            .map_err(|_| anyhow::Error::new(error))
            .with_context(|| missing(&format!("object store {name}"))),
    }
}

/// Notify's records: notifications, escalation timers, delivery claims.
pub const NOTIFY_BUCKET: &str = "tandem-notify";

/// Every bucket: name, description, revisions kept per key, and who answers reads.
const BUCKETS: [(&str, &str, i64, Reads); 4] = [
    (
        INTAKE_BUCKET,
        "Intake: the country and last accepted revisions of each situation",
        1,
        Reads::Leader,
    ),
    (
        LEADERSHIP_BUCKET,
        "Leadership: each situation's current determination and the reports it rests on",
        5,
        Reads::Leader,
    ),
    (
        DIRECTORY_BUCKET,
        "Focal points of both agencies: personal data, read only by the notify service",
        1,
        Reads::AnyReplica,
    ),
    (
        NOTIFY_BUCKET,
        "Notify: notifications, escalation timers, delivery claims",
        1,
        Reads::AnyReplica,
    ),
];

/// Bucket `name` of [`BUCKETS`], with its settings.
fn named_bucket(name: &str, storage: &StorageConfig) -> (kv::Config, Reads) {
    buckets(storage)
        .into_iter()
        .find(|(config, _)| config.bucket == name)
        .expect("every bucket name has its row in BUCKETS")
}

/// Intake's bucket: the country and last accepted revisions of each situation.
pub fn intake_bucket(storage: &StorageConfig) -> (kv::Config, Reads) {
    named_bucket(INTAKE_BUCKET, storage)
}

/// Leadership's bucket: each situation's determination.
pub fn leadership_bucket(storage: &StorageConfig) -> (kv::Config, Reads) {
    named_bucket(LEADERSHIP_BUCKET, storage)
}

/// The coordinator directory.
pub fn directory_bucket(storage: &StorageConfig) -> (kv::Config, Reads) {
    named_bucket(DIRECTORY_BUCKET, storage)
}

/// [`NOTIFY_BUCKET`].
pub fn notify_bucket(storage: &StorageConfig) -> (kv::Config, Reads) {
    named_bucket(NOTIFY_BUCKET, storage)
}

/// The agencies that run a notify service of their own, by token.
pub const NOTIFY_AGENCIES: [&str; 2] = ["iom", "unhcr"];

/// Every stream of a deployment.
pub fn streams(storage: &StorageConfig) -> Vec<stream::Config> {
    let mut streams = intake_streams(storage);
    streams.extend([
        events_stream(storage),
        rejections_stream(storage),
        notify_stream(storage),
    ]);
    streams.extend(NOTIFY_AGENCIES.map(|agency| acks_stream(agency, storage)));
    streams.push(dlq_stream(storage));
    streams
}

/// Every bucket of a deployment.
pub fn buckets(storage: &StorageConfig) -> [(kv::Config, Reads); 4] {
    BUCKETS.map(|(name, description, history, reads)| {
        (bucket(name, description, history, storage), reads)
    })
}

/// A durable consumer a service runs: fixed names, so that permissions can name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durable {
    /// The consuming service (`intake`, `leadership`, `notify`).
    pub service: &'static str,
    /// The stream consumed.
    pub stream: &'static str,
    /// The durable's name, shared by every instance of the service.
    pub name: String,
    /// Its subject filter within the stream.
    pub filter: String,
}

/// Intake's durables, one per intake stream.
pub fn intake_durables() -> [Durable; 3] {
    INTAKE_STREAMS.map(|(stream, subject, name)| Durable {
        service: "intake",
        stream,
        name: name.into(),
        filter: subject.into(),
    })
}

/// Leadership's durable on accepted reports.
pub fn leadership_durable() -> Durable {
    Durable {
        service: "leadership",
        stream: EVENTS_STREAM,
        name: roster::LEADERSHIP.durables[0].into(),
        filter: ACCEPTED_FILTER.into(),
    }
}

/// The durables of agency `token`'s notify service: determinations, its acknowledgements, and
/// reviews (for contests), named in [`roster`].
///
/// # Panics
/// When `token` is not one of [`NOTIFY_AGENCIES`] (the roster lists their services).
pub fn notify_durables(token: &str) -> [Durable; 3] {
    let service = roster::notify(token)
        .unwrap_or_else(|| panic!("the roster has no notify service of agency {token}"));
    let [determined, acks, reviews] = service.durables else {
        panic!(
            "the roster lists {} durables of {}, not 3",
            service.durables.len(),
            service.name
        );
    };
    [
        Durable {
            service: "notify",
            stream: EVENTS_STREAM,
            name: (*determined).into(),
            filter: DETERMINED_FILTER.into(),
        },
        Durable {
            service: "notify",
            stream: acks_stream_name(token),
            name: (*acks).into(),
            filter: notify_ack_filter(token),
        },
        Durable {
            service: "notify",
            stream: EVENTS_STREAM,
            name: (*reviews).into(),
            filter: tandem_proto::subjects::REVIEWED_FILTER.into(),
        },
    ]
}

/// Every durable of a deployment.
pub fn durables() -> Vec<Durable> {
    let mut durables = intake_durables().to_vec();
    durables.push(leadership_durable());
    for agency in NOTIFY_AGENCIES {
        durables.extend(notify_durables(agency));
    }
    durables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_kept_for_the_configured_days_on_a_stream_of_their_own() {
        let storage = StorageConfig {
            rejections_max_age_days: 3,
            ..StorageConfig::default()
        };
        let rejections = rejections_stream(&storage);
        assert_eq!(rejections.max_age, Duration::from_secs(3 * 24 * 3600));
        assert_eq!(
            rejections_stream(&StorageConfig::default()).max_age,
            Duration::from_secs(90 * 24 * 3600)
        );
        // Publish rebuilds from TANDEM_EVENTS, so it keeps what it holds for ever; NATS refuses
        // two streams whose subjects overlap.
        let events = events_stream(&storage);
        assert_eq!(events.max_age, Duration::ZERO);
        let rejected = rejected_subject("partner.nrc");
        assert!(rejections.subjects.iter().any(|s| covers(s, &rejected)));
        assert!(!events.subjects.iter().any(|s| covers(s, &rejected)));
        assert!(
            events
                .subjects
                .iter()
                .any(|s| covers(s, &accepted_subject("COL")))
        );
    }

    /// Whether subject filter `filter` matches `subject` (`*` one token, `>` the rest).
    fn covers(filter: &str, subject: &str) -> bool {
        let mut subject = subject.split('.');
        for token in filter.split('.') {
            match (token, subject.next()) {
                (">", Some(_)) => return true,
                ("*", Some(_)) => {}
                (token, Some(word)) if token == word => {}
                _ => return false,
            }
        }
        subject.next().is_none()
    }

    #[test]
    fn intake_streams_keep_submissions_for_the_configured_days() {
        let storage = StorageConfig {
            intake_max_age_days: 7,
            ..StorageConfig::default()
        };
        for stream in intake_streams(&storage) {
            assert_eq!(
                stream.max_age,
                Duration::from_secs(7 * 24 * 3600),
                "{}",
                stream.name
            );
        }
        let default = intake_streams(&StorageConfig::default());
        assert_eq!(default[0].max_age, Duration::from_secs(90 * 24 * 3600));
    }

    #[test]
    fn each_service_bucket_and_durable_is_one_of_the_deployment() {
        let storage = StorageConfig::default();
        let names: Vec<String> = buckets(&storage).map(|(c, _)| c.bucket).into();
        for (config, _) in [
            intake_bucket(&storage),
            leadership_bucket(&storage),
            directory_bucket(&storage),
            notify_bucket(&storage),
        ] {
            assert!(names.contains(&config.bucket), "{}", config.bucket);
        }
        assert_eq!(leadership_bucket(&storage).0.history, 5);
        assert_eq!(directory_bucket(&storage).1, Reads::AnyReplica);
        let all = durables();
        let mut unique: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
        let streams: Vec<String> = streams(&storage).into_iter().map(|s| s.name).collect();
        for durable in &all {
            assert!(streams.iter().any(|s| s == durable.stream), "{durable:?}");
        }
    }
}
