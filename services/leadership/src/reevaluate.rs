//! Re-determination after a policy change: `tandem policy apply` asks on
//! `tandem.svc.leadership.reevaluate` (the body, when not empty, is the policy version the caller
//! expects); one instance (they share a queue group) walks every situation and publishes a
//! determination only where the outcome changed under its policy.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tandem_proto::roster;
use tandem_runtime::{Shutdown, kv_key, kv_scan, service_api, topology};

use crate::{
    record::Change,
    situations::{Applied, Situations},
};

pub use tandem_proto::subjects::REEVALUATE_SUBJECT;

/// The answer to a re-evaluation request.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ReevaluateReply {
    /// The policy version of the instance that did the work.
    pub policy_version: String,
    /// Situations looked at.
    pub situations: usize,
    /// Situations with a new determination, by id.
    pub changed: Vec<String>,
    /// Situations that could not be re-evaluated, with the error.
    pub failed: Vec<String>,
}

pub(crate) async fn serve(
    client: async_nats::Client,
    situations: Arc<Situations>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    service_api::answer_requests(
        client,
        REEVALUATE_SUBJECT.into(),
        roster::LEADERSHIP.connection.into(),
        "re-evaluation requests",
        shutdown,
        |payload| {
            let situations = situations.clone();
            async move {
                let expected = String::from_utf8_lossy(&payload).trim().to_string();
                let reply = if expected.is_empty() || expected == situations.policy.version() {
                    reevaluate_all(&situations).await
                } else {
                    // An instance still on another policy (mid-rollout) must not re-determine.
                    ReevaluateReply {
                        policy_version: situations.policy.version().to_string(),
                        failed: vec![format!(
                            "this instance runs policy {}, not {expected}",
                            situations.policy.version()
                        )],
                        ..Default::default()
                    }
                };
                serde_json::to_vec(&reply).unwrap_or_default().into()
            }
        },
    )
    .await
}

async fn reevaluate_all(situations: &Situations) -> ReevaluateReply {
    let mut reply = ReevaluateReply {
        policy_version: situations.policy.version().to_string(),
        ..Default::default()
    };
    // Listed without a consumer (docs/security.md): the stream's subjects, then each value.
    let keys: Vec<String> =
        match kv_scan::scan(&situations.js, topology::LEADERSHIP_BUCKET, ">").await {
            Ok(entries) => entries.into_iter().map(|entry| entry.key).collect(),
            Err(error) => {
                reply
                    .failed
                    .push(format!("cannot list situations: {error:#}"));
                return reply;
            }
        };
    for key in keys {
        let Some(situation_id) = kv_key::unsegment(&key) else {
            continue;
        };
        reply.situations += 1;
        let span = tracing::info_span!("reevaluate", situation.id = %situation_id);
        let _entered = span.enter();
        match situations.apply(&situation_id, Change::Reevaluate).await {
            Ok(Applied::Determined(_)) => reply.changed.push(situation_id),
            Ok(_) => {}
            Err(error) => reply.failed.push(format!("{situation_id}: {error}")),
        }
    }
    reply
}
