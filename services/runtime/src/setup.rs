//! Everything a deployment needs on JetStream — every stream, bucket, object store and durable
//! consumer — made in one go, with the settings the services themselves would use
//! ([`topology`], [`consumer`]). `tandem setup` runs it as the NATS admin: the shipped accounts
//! let no service create a stream or a consumer, since a user that may create a consumer also
//! chooses where a push consumer delivers (docs/security.md). Idempotent: what exists is left
//! as it is, so running it again, or beside running services, changes nothing.

use async_nats::jetstream;

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
    /// Whether it was made now or was there.
    pub found: Found,
}

/// Makes whatever of the deployment is missing, in an order that works (streams before their
/// consumers); returns what it made and what it found.
pub async fn run(
    js: &jetstream::Context,
    storage: &StorageConfig,
    settings: &ConsumerConfig,
) -> anyhow::Result<Vec<Step>> {
    let mut steps = Vec::new();
    for config in topology::streams(storage) {
        let name = config.name.clone();
        let (_, found) = topology::open_or_create_stream(js, config).await?;
        steps.push(Step {
            kind: "stream",
            name,
            found,
        });
    }
    for (config, reads) in topology::buckets(storage) {
        let name = config.bucket.clone();
        let (_, found) = topology::open_or_create_bucket(js, config, reads).await?;
        steps.push(Step {
            kind: "bucket",
            name,
            found,
        });
    }
    let name = topology::DATA_OBJECT_STORE;
    let (_, found) = topology::open_or_create_object_store(js, name, storage).await?;
    steps.push(Step {
        kind: "object store",
        name: name.into(),
        found,
    });
    for durable in topology::durables() {
        let spec = ConsumerSpec::of(durable, settings.clone());
        let (_, _, found) = consumer::open_or_create_durable(js, &spec).await?;
        steps.push(Step {
            kind: "consumer",
            name: format!("{}/{}", spec.stream, spec.durable),
            found,
        });
    }
    Ok(steps)
}
