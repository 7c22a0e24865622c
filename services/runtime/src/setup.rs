//! Everything a deployment needs on JetStream — every stream, bucket, object store and durable
//! consumer — made or brought to the settings the services themselves would use
//! ([`topology`], [`consumer`]). `tandem setup` runs it as the NATS admin: the shipped accounts
//! let no service create a stream or a consumer, since a user that may create a consumer also
//! chooses where a push consumer delivers (docs/security.md).
//!
//! Idempotent: what is missing is made, what differs in a setting NATS can change is updated
//! (each step says what changed), and what already matches is left alone, so running it again,
//! or beside running services, changes nothing. A setting NATS cannot change on a running
//! stream or consumer (storage, retention, a consumer's delivery or acknowledgement policy, a
//! push consumer where a pull one belongs) is an error naming it: only an operator can decide
//! to move the data.
//!
//! Only the settings tandem chooses are compared; whatever else an operator set (placement,
//! metadata) is kept. `TANDEM_EVENTS` of a deployment made before rejections had a stream of
//! their own loses their subjects, and the rejections it already holds stay on it until an
//! operator purges them (each run says how many and the command; docs/operating.md).

use std::{fmt::Debug, time::Duration};

use anyhow::Context as _;
use async_nats::jetstream::{
    self,
    consumer::{self as js_consumer, IntoConsumerConfig as _},
    stream,
};

use crate::{
    config::{ConsumerConfig, StorageConfig},
    consumer::{self, ConsumerSpec},
    topology::{self, Found},
};

/// One thing set-up looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// `stream`, `bucket`, `object store` or `consumer`.
    pub kind: &'static str,
    /// Its name (a consumer's as `STREAM/durable`).
    pub name: String,
    /// Whether it was made now, updated, or there as it should be.
    pub found: Found,
    /// What an update changed, one `setting: was → now` each.
    pub changes: Vec<String>,
}

/// What set-up did, and what an operator should know of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// One step per stream, bucket, object store and durable.
    pub steps: Vec<Step>,
    /// Things left for an operator to do, in words, with the command to do it.
    pub notes: Vec<String>,
}

/// Makes whatever of the deployment is missing and updates what differs, in an order that
/// works (streams before their consumers, `TANDEM_EVENTS` narrowed before the rejections'
/// stream takes its subjects).
pub async fn run(
    js: &jetstream::Context,
    storage: &StorageConfig,
    settings: &ConsumerConfig,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for wanted in topology::streams(storage) {
        let name = wanted.name.clone();
        let (found, changes) = stream_to(js, wanted).await?;
        report.steps.push(Step {
            kind: "stream",
            name,
            found,
            changes,
        });
    }
    if let Some(note) = rejections_left_on_events(js).await? {
        report.notes.push(note);
    }
    for (config, reads) in topology::buckets(storage) {
        let name = config.bucket.clone();
        let wanted = topology::bucket_stream(&config, reads);
        let (_, found) = topology::open_or_create_bucket(js, config, reads)
            .await
            .map_err(|error| refused("bucket", &name, &error))?;
        let (found, changes) = updated_unless_created(js, found, wanted).await?;
        report.steps.push(Step {
            kind: "bucket",
            name,
            found,
            changes,
        });
    }
    let name = topology::DATA_OBJECT_STORE;
    let (_, found) = topology::open_or_create_object_store(js, name, storage)
        .await
        .map_err(|error| refused("object store", name, &error))?;
    // async-nats chooses the object store's stream; tandem chooses its size and replicas.
    let object_stream = format!("OBJ_{name}");
    let current = js
        .get_stream(&object_stream)
        .await
        .with_context(|| format!("cannot read stream {object_stream}"))?
        .cached_info()
        .config
        .clone();
    let wanted = stream::Config {
        max_bytes: storage.data_max_bytes,
        num_replicas: storage.replicas,
        ..current
    };
    let (found, changes) = updated_unless_created(js, found, wanted).await?;
    report.steps.push(Step {
        kind: "object store",
        name: name.into(),
        found,
        changes,
    });
    for durable in topology::durables() {
        let spec = ConsumerSpec::of(durable, settings.clone());
        let name = format!("{}/{}", spec.stream, spec.durable);
        let stream = js
            .get_stream(spec.stream)
            .await
            .with_context(|| format!("cannot read stream {}", spec.stream))?;
        // Read as any consumer, not as the pull consumer it should be: a push consumer
        // squatting the name must be named, not taken for a missing one.
        let (found, changes) = match stream.consumer_info(&spec.durable).await {
            Ok(info) => {
                let wanted = spec.config();
                let changes =
                    consumer_changes(&info.config, &wanted.clone().into_consumer_config())
                        .with_context(|| format!("consumer {name}"))?;
                if changes.is_empty() {
                    (Found::Existed, changes)
                } else {
                    stream
                        .update_consumer(wanted)
                        .await
                        .with_context(|| format!("cannot update consumer {name}"))?;
                    (Found::Updated, changes)
                }
            }
            Err(_) => {
                let (_, _, found) = consumer::open_or_create_durable(js, &spec)
                    .await
                    .map_err(|error| refused("consumer", &name, &error))?;
                (found, Vec::new())
            }
        };
        report.steps.push(Step {
            kind: "consumer",
            name,
            found,
            changes,
        });
    }
    Ok(report)
}

/// Creates stream `wanted`, or brings the existing one to its settings.
async fn stream_to(
    js: &jetstream::Context,
    wanted: stream::Config,
) -> anyhow::Result<(Found, Vec<String>)> {
    let (_, found) = topology::open_or_create_stream(js, wanted.clone())
        .await
        .map_err(|error| refused("stream", &wanted.name, &error))?;
    updated_unless_created(js, found, wanted).await
}

/// Setup's own error for an item the server would not make: the server's reason, without the
/// advice a service gives ("run `tandem setup`"), which would send whoever runs setup in a
/// circle.
fn refused(kind: &str, name: &str, error: &anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "the server refused to create {kind} {name}: {} (tandem setup needs the NATS admin's \
         credentials, and no other stream may hold the subjects docs/design.md gives it)",
        error.root_cause()
    )
}

/// Brings the existing stream `wanted.name` to `wanted`'s settings, unless it was just made.
async fn updated_unless_created(
    js: &jetstream::Context,
    found: Found,
    wanted: stream::Config,
) -> anyhow::Result<(Found, Vec<String>)> {
    if found == Found::Created {
        return Ok((found, Vec::new()));
    }
    let name = wanted.name.clone();
    let current = js
        .get_stream(&name)
        .await
        .with_context(|| format!("cannot read stream {name}"))?
        .cached_info()
        .config
        .clone();
    let (updated, changes) =
        stream_changes(&current, &wanted).with_context(|| format!("stream {name}"))?;
    if changes.is_empty() {
        return Ok((Found::Existed, changes));
    }
    js.update_stream(updated)
        .await
        .with_context(|| format!("cannot update stream {name} ({})", changes.join("; ")))?;
    Ok((Found::Updated, changes))
}

/// The number the server stores for "no limit" when it was given 0.
fn limit(value: i64) -> i64 {
    if value <= 0 { -1 } else { value }
}

/// One setting that differs, in words.
fn change(setting: &str, was: impl Debug, now: impl Debug) -> String {
    format!("{setting}: {was:?} → {now:?}")
}

/// `current` with the settings tandem chooses taken from `wanted`, and what that changes; an
/// error naming the settings NATS cannot change on a running stream.
fn stream_changes(
    current: &stream::Config,
    wanted: &stream::Config,
) -> anyhow::Result<(stream::Config, Vec<String>)> {
    let mut fixed = Vec::new();
    if current.storage != wanted.storage {
        fixed.push(change("storage", current.storage, wanted.storage));
    }
    if current.retention != wanted.retention {
        fixed.push(change("retention", current.retention, wanted.retention));
    }
    if !fixed.is_empty() {
        anyhow::bail!(
            "NATS cannot change {} of a stream: copy its messages to a new stream made by \
             `tandem setup` (docs/operating.md)",
            fixed.join("; ")
        );
    }
    let mut updated = current.clone();
    let mut changes = Vec::new();
    let sorted = |subjects: &[String]| {
        let mut subjects = subjects.to_vec();
        subjects.sort();
        subjects
    };
    if sorted(&current.subjects) != sorted(&wanted.subjects) {
        changes.push(change("subjects", &current.subjects, &wanted.subjects));
        updated.subjects = wanted.subjects.clone();
    }
    if current.description != wanted.description {
        changes.push(change(
            "description",
            &current.description,
            &wanted.description,
        ));
        updated.description = wanted.description.clone();
    }
    let limits = [
        (
            "max_bytes",
            current.max_bytes,
            wanted.max_bytes,
            &mut updated.max_bytes,
        ),
        (
            "max_messages_per_subject",
            current.max_messages_per_subject,
            wanted.max_messages_per_subject,
            &mut updated.max_messages_per_subject,
        ),
    ];
    for (setting, was, now, field) in limits {
        if limit(was) != limit(now) {
            changes.push(change(setting, limit(was), limit(now)));
            *field = now;
        }
    }
    if limit(current.max_message_size.into()) != limit(wanted.max_message_size.into()) {
        changes.push(change(
            "max_message_size",
            limit(current.max_message_size.into()),
            limit(wanted.max_message_size.into()),
        ));
        updated.max_message_size = wanted.max_message_size;
    }
    let durations = [
        (
            "max_age",
            current.max_age,
            wanted.max_age,
            &mut updated.max_age,
        ),
        (
            "duplicate_window",
            current.duplicate_window,
            wanted.duplicate_window,
            &mut updated.duplicate_window,
        ),
    ];
    for (setting, was, now, field) in durations {
        // A zero duplicate window asks for the server's default, whatever it is.
        let server_default = setting == "duplicate_window" && now == Duration::ZERO;
        if was != now && !server_default {
            changes.push(change(setting, was, now));
            *field = now;
        }
    }
    if current.discard != wanted.discard {
        changes.push(change("discard", current.discard, wanted.discard));
        updated.discard = wanted.discard;
    }
    if current.num_replicas.max(1) != wanted.num_replicas.max(1) {
        changes.push(change(
            "replicas",
            current.num_replicas,
            wanted.num_replicas,
        ));
        updated.num_replicas = wanted.num_replicas;
    }
    let flags = [
        (
            "allow_rollup",
            current.allow_rollup,
            wanted.allow_rollup,
            &mut updated.allow_rollup,
        ),
        (
            "deny_delete",
            current.deny_delete,
            wanted.deny_delete,
            &mut updated.deny_delete,
        ),
        (
            "allow_direct",
            current.allow_direct,
            wanted.allow_direct,
            &mut updated.allow_direct,
        ),
    ];
    for (setting, was, now, field) in flags {
        if was != now {
            changes.push(change(setting, was, now));
            *field = now;
        }
    }
    Ok((updated, changes))
}

/// What differs between durable `current` and `wanted` in the settings NATS lets an update
/// change; an error naming those it cannot (a push consumer squatting a durable's name among
/// them).
fn consumer_changes(
    current: &js_consumer::Config,
    wanted: &js_consumer::Config,
) -> anyhow::Result<Vec<String>> {
    let mut fixed = Vec::new();
    if current.deliver_subject.is_some() {
        fixed.push(change(
            "deliver_subject (a push consumer)",
            &current.deliver_subject,
            &wanted.deliver_subject,
        ));
    }
    if current.deliver_policy != wanted.deliver_policy {
        fixed.push(change(
            "deliver_policy",
            current.deliver_policy,
            wanted.deliver_policy,
        ));
    }
    if current.ack_policy != wanted.ack_policy {
        fixed.push(change("ack_policy", current.ack_policy, wanted.ack_policy));
    }
    if !fixed.is_empty() {
        anyhow::bail!(
            "NATS cannot change {} of a consumer: delete it (`nats consumer rm`; it will start \
             from the beginning of its stream, which tandem's handlers take as redeliveries) and \
             run `tandem setup` again",
            fixed.join("; ")
        );
    }
    let mut changes = Vec::new();
    if current.description != wanted.description {
        changes.push(change(
            "description",
            &current.description,
            &wanted.description,
        ));
    }
    if current.filter_subject != wanted.filter_subject {
        changes.push(change(
            "filter_subject",
            &current.filter_subject,
            &wanted.filter_subject,
        ));
    }
    if current.ack_wait != wanted.ack_wait {
        changes.push(change("ack_wait", current.ack_wait, wanted.ack_wait));
    }
    if current.max_deliver != wanted.max_deliver {
        changes.push(change(
            "max_deliver",
            current.max_deliver,
            wanted.max_deliver,
        ));
    }
    if current.max_ack_pending != wanted.max_ack_pending {
        changes.push(change(
            "max_ack_pending",
            current.max_ack_pending,
            wanted.max_ack_pending,
        ));
    }
    Ok(changes)
}

/// The rejections `TANDEM_EVENTS` still holds from before they had a stream of their own, as a
/// note for the operator with the command that removes them; `None` when there are none.
///
/// They are left where they are: they were answered when they were made, nothing reads them
/// from `TANDEM_EVENTS` any more, and removing records is the operator's decision (a purge
/// cannot be undone).
async fn rejections_left_on_events(js: &jetstream::Context) -> anyhow::Result<Option<String>> {
    let events = js
        .get_stream(topology::EVENTS_STREAM)
        .await
        .context("cannot read stream TANDEM_EVENTS")?;
    let mut subjects = events
        .info_with_subjects(topology::REJECTED_FILTER)
        .await
        .context("cannot count the rejections on TANDEM_EVENTS")?;
    let mut held = 0;
    while let Some((_, count)) = futures::TryStreamExt::try_next(&mut subjects)
        .await
        .context("cannot count the rejections on TANDEM_EVENTS")?
    {
        held += count;
    }
    Ok((held > 0).then(|| {
        format!(
            "{held} rejection(s) made before {rejections} existed are still on {events_name} \
             (no longer read there, not subject to {rejections}' age limit). Remove them with: \
             nats stream purge {events_name} --subject '{filter}' --force",
            rejections = topology::REJECTIONS_STREAM,
            events_name = topology::EVENTS_STREAM,
            filter = topology::REJECTED_FILTER,
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str) -> stream::Config {
        stream::Config {
            name: name.into(),
            subjects: vec!["a.>".into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_servers_defaults_for_settings_tandem_leaves_open_are_no_change() {
        let wanted = stream("S");
        let current = stream::Config {
            max_bytes: -1,
            max_messages_per_subject: -1,
            max_message_size: -1,
            duplicate_window: Duration::from_secs(120),
            num_replicas: 1,
            ..wanted.clone()
        };
        let (_, changes) = stream_changes(&current, &wanted).expect("editable");
        assert_eq!(changes, Vec::<String>::new());
    }

    #[test]
    fn a_stream_whose_storage_differs_names_it_and_is_not_updated() {
        let wanted = stream("S");
        let current = stream::Config {
            storage: stream::StorageType::Memory,
            max_bytes: 5,
            ..wanted.clone()
        };
        let error = stream_changes(&current, &wanted).expect_err("storage is fixed");
        assert!(
            error.to_string().contains("storage: Memory → File"),
            "{error}"
        );
    }

    #[test]
    fn only_the_settings_that_differ_change_and_others_are_kept() {
        let wanted = stream::Config {
            max_bytes: 10,
            max_age: Duration::from_secs(60),
            ..stream("S")
        };
        let current = stream::Config {
            subjects: vec!["a.>".into(), "b.>".into()],
            max_bytes: 10,
            max_consumers: 7,
            ..stream("S")
        };
        let (updated, changes) = stream_changes(&current, &wanted).expect("editable");
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(updated.subjects, wanted.subjects);
        assert_eq!(updated.max_age, wanted.max_age);
        assert_eq!(
            updated.max_consumers, 7,
            "a setting tandem leaves open is kept"
        );
    }
}
