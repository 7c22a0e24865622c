//! Who leads a response: the leadership decision of the IOM/UNHCR Framework of Engagement
//! (docs/design.md, "Leadership policy v1"), as a library and as a service.
//!
//! - [`config`]: [`LeadershipConfig`]: the policy file and the gap wait.
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
//! - [`review`]: endorsements and contests of determinations and the status they give, pure,
//!   and the `tandem.svc.leadership.review` requests that record them.
//! - [`words`]: determinations in words for people.
//! - [`run`]: the service.

pub mod config;
mod handler;
pub mod policy;
pub mod record;
mod reevaluate;
pub mod review;
pub mod situations;
pub mod words;

use std::sync::Arc;

use tandem_proto::roster;
use tandem_runtime::{
    Shutdown, consumer::ConsumerSpec, records::Records, service::Service, topology,
};

pub use config::{LeadershipConfig, load_policy};
pub use reevaluate::{REEVALUATE_SUBJECT, ReevaluateReply};

/// The service's name in subjects, consumers, dead letters and traces.
pub const SERVICE: &str = "leadership";

/// Runs the leadership service until `shutdown` fires; several instances may run at once.
pub async fn run(config: LeadershipConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let policy = Arc::new(load_policy(&config)?);
    tracing::info!(policy = policy.version(), "leadership policy loaded");
    let untranslated = policy.untranslated();
    if !untranslated.is_empty() {
        let codes: Vec<&str> = untranslated.iter().map(|lang| lang.code()).collect();
        tracing::warn!(
            policy = policy.version(),
            languages = codes.join(","),
            "the policy's rule texts are in English only for these languages; their readers get the English rationale"
        );
    }
    let storage = &config.common.storage;
    let description = "Determines who leads each situation under the Framework of Engagement";
    Service::new(
        roster::LEADERSHIP,
        description,
        &config.common.nats,
        &shutdown,
    )
    .run(
        |js| async move {
            let streams = [
                topology::events_stream(storage),
                topology::dlq_stream(storage),
            ];
            let (bucket, reads) = topology::leadership_bucket(storage);
            topology::ensure_streams_and_bucket(&js, streams, bucket, reads).await
        },
        |service, records| {
            let situations = Arc::new(situations::Situations {
                js: service.js().clone(),
                records: Records::new(records),
                policy,
            });
            service.spawn(
                "re-evaluation requests",
                reevaluate::serve(service.client().clone(), situations.clone(), service.stop()),
            );
            service.spawn(
                "review requests",
                review::serve(service.client().clone(), situations.clone(), service.stop()),
            );
            let spec = ConsumerSpec::of(
                topology::leadership_durable(),
                config.common.consumer.clone(),
            );
            let handler = Arc::new(handler::LeadershipHandler {
                situations,
                gap_wait: config.gap_wait(),
                max_deliver: config.common.consumer.max_deliver,
            });
            service.consume("accepted-report consumer", spec, handler);
            Ok(())
        },
    )
    .await
}
