//! Registration with the NATS service API, so `nats micro ls/info/stats` (and any
//! `$SRV.PING/INFO/STATS` request) finds every running instance of every service.
//!
//! Every instance reports its consumer counters as the `data` of its `$SRV.STATS` reply, so
//! operators see how work is shared; `tandem.svc.<service>.status` (outside every stream's subjects, so requests are not stored) answers the same from any one
//! instance (they share a queue group).

use std::sync::Arc;

use async_nats::service::ServiceExt as _;
use futures::StreamExt as _;
use tandem_proto::subjects;

use crate::{consumer::Counters, shutdown::Shutdown};

/// Registers `service` (`intake` → `tandem-intake`) and serves its status endpoint until
/// `shutdown`. Returns once registered; serving goes on in a task.
pub async fn register(
    client: &async_nats::Client,
    service: &str,
    description: &str,
    counters: Arc<Counters>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let stats = counters.clone();
    let registered = client
        .service_builder()
        .description(description)
        .stats_handler(move |_endpoint, _stats| stats.to_json())
        .start(subjects::service_name(service), env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|error| anyhow::anyhow!("cannot register with the NATS service API: {error}"))?;
    let mut status = registered
        .endpoint(subjects::service_status_subject(service))
        .await
        .map_err(|error| anyhow::anyhow!("cannot add the status endpoint: {error}"))?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.triggered() => break,
                request = status.next() => {
                    let Some(request) = request else { break };
                    let body = counters.to_json().to_string();
                    if let Err(error) = request.respond(Ok(body.into())).await {
                        tracing::debug!(%error, "status reply not sent");
                    }
                }
            }
        }
        if let Err(error) = registered.stop().await {
            tracing::debug!(%error, "service API registration not withdrawn");
        }
    });
    Ok(())
}
