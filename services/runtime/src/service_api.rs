//! Registration with the NATS service API, so `nats micro ls/info/stats` (and any
//! `$SRV.PING/INFO/STATS` request) finds every running instance of every service; and waiting
//! until services answer there ([`wait_for_services`]), the sign that they have connected and
//! created their streams and buckets.
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

/// Waits until every service in `services` (`intake`, `leadership`, …) answers a ping, or
/// fails after `timeout`.
pub async fn wait_for_services(
    client: &async_nats::Client,
    services: &[&str],
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    for service in services {
        let subject = tandem_proto::subjects::service_ping_subject(service);
        loop {
            let ping = tokio::time::timeout(
                std::time::Duration::from_secs(1),
                client.request(subject.clone(), "".into()),
            )
            .await;
            if matches!(ping, Ok(Ok(_))) {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!("the {service} service did not answer within {timeout:?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Answers the requests on `subject` with `answer(payload)` until `shutdown`; instances share
/// them in queue group `queue`, one request at a time each, so a slow answer holds back only
/// its own instance. `what` names the requests in errors. A request without a reply subject is
/// answered to nobody.
pub async fn answer_requests<F, Fut>(
    client: async_nats::Client,
    subject: String,
    queue: String,
    what: &str,
    shutdown: Shutdown,
    mut answer: F,
) -> anyhow::Result<()>
where
    F: FnMut(bytes::Bytes) -> Fut,
    Fut: std::future::Future<Output = bytes::Bytes>,
{
    let mut requests = client
        .queue_subscribe(subject, queue)
        .await
        .map_err(|error| anyhow::anyhow!("cannot serve {what}: {error}"))?;
    loop {
        let request = tokio::select! {
            _ = shutdown.triggered() => return Ok(()),
            request = requests.next() => request,
        };
        let Some(request) = request else {
            anyhow::bail!("the subscription to {what} ended");
        };
        let reply = answer(request.payload).await;
        if let Some(inbox) = request.reply {
            let _ = client.publish(inbox, reply).await;
        }
    }
}
