//! Who leads a response: the leadership decision of the IOM/UNHCR Framework of Engagement
//! (docs/design.md, "Leadership policy v1"), as a library and as a service.
//!
//! - [`policy`]: the policy engine, a pure library (no I/O, no async). It reconciles the latest
//!   report of each organisation on a situation and applies a versioned policy file
//!   (`deploy/policy/leadership-v1.toml` is the default) to produce a `LeadershipDetermination`
//!   that says who leads, which functions each agency holds, and why.
//! - [`record`]: what an accepted report or a re-evaluation does to a situation's record, pure.
//! - [`situations`]: the records in KV `tandem-leadership` and the determinations on the stream,
//!   kept in step with compare-and-set.
//! - `handler`: the consumer of `tandem.situation.accepted.>`; `reevaluate`: the
//!   `tandem.svc.leadership.reevaluate` request that re-determines every situation after a policy
//!   change.
//! - [`words`]: determinations in words for people.
//! - [`run`]: the service.

mod handler;
pub mod policy;
pub mod record;
mod reevaluate;
pub mod situations;
pub mod words;

use std::{path::PathBuf, sync::Arc};

use anyhow::Context as _;
use async_nats::jetstream;
use serde::{Deserialize, Serialize};
use tandem_runtime::{
    Shutdown,
    config::CommonConfig,
    consumer::{self, ConsumerSpec, Counters},
    nats,
    records::Records,
    service_api,
    tasks::Tasks,
    topology,
};

pub use reevaluate::{REEVALUATE_SUBJECT, ReevaluateReply};

/// The service's name in subjects, consumers, dead letters and traces.
pub const SERVICE: &str = "leadership";

/// The leadership service's configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LeadershipConfig {
    /// NATS, storage and consumer settings.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// The policy file (`TANDEM_POLICY_FILE`); the built-in policy v1 when unset.
    pub policy_file: Option<PathBuf>,
    /// Milliseconds one delivery of a report waits for an earlier report of its situation that
    /// another instance is still handling (`TANDEM_GAP_WAIT_MS`).
    pub gap_wait_ms: u64,
}

impl Default for LeadershipConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            policy_file: None,
            gap_wait_ms: 5_000,
        }
    }
}

/// The policy `config` names, refused with every problem listed when it is not valid.
pub fn load_policy(config: &LeadershipConfig) -> anyhow::Result<policy::Policy> {
    let Some(path) = &config.policy_file else {
        return Ok(policy::Policy::default_v1());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {}", path.display()))?;
    policy::Policy::from_toml(&text)
        .with_context(|| format!("policy file {} is refused", path.display()))
}

impl tandem_runtime::service::ServiceConfig for LeadershipConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// Runs the leadership service until `shutdown` fires; several instances may run at once.
pub async fn run(config: LeadershipConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let policy = Arc::new(load_policy(&config)?);
    tracing::info!(policy = policy.version(), "leadership policy loaded");
    let client = nats::connect(&config.common.nats, "tandem-leadership", &shutdown).await?;
    let js = jetstream::new(client.clone());
    let storage = &config.common.storage;
    let (bucket, reads) = topology::leadership_bucket(storage);
    let records = nats::set_up(&shutdown, || {
        topology::ensure_streams_and_bucket(
            &js,
            [
                topology::events_stream(storage),
                topology::dlq_stream(storage),
            ],
            bucket.clone(),
            reads,
        )
    })
    .await?;
    let situations = Arc::new(situations::Situations {
        js: js.clone(),
        records: Records::new(records),
        policy,
    });

    let counters = Arc::new(Counters::default());
    service_api::register(
        &client,
        SERVICE,
        "Determines who leads each situation under the Framework of Engagement",
        counters.clone(),
        shutdown.clone(),
    )
    .await?;
    let mut tasks = Tasks::new(&shutdown);
    tasks.spawn(
        "re-evaluation requests",
        reevaluate::serve(client.clone(), situations.clone(), tasks.stop()),
    );
    let spec = ConsumerSpec::of(
        topology::leadership_durable(),
        config.common.consumer.clone(),
    );
    let handler = Arc::new(handler::LeadershipHandler {
        situations,
        gap_wait: std::time::Duration::from_millis(config.gap_wait_ms),
        max_deliver: config.common.consumer.max_deliver,
    });
    tasks.spawn(
        "accepted-report consumer",
        consumer::run(js, spec, handler, counters, tasks.stop()),
    );
    let result = tasks.run().await;
    let _ = client.flush().await;
    result
}
