//! Waiting until services answer on the NATS service API (`$SRV.PING.tandem-<service>`): the
//! sign that a service has connected and created its streams and buckets.

use std::time::Duration;

use anyhow::bail;
use async_nats::Client;

/// Waits until every service in `services` (`intake`, `leadership`, …) answers a ping, or
/// fails after `timeout`.
pub async fn wait_for_services(
    client: &Client,
    services: &[&str],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    for service in services {
        let subject = tandem_proto::subjects::service_ping_subject(service);
        loop {
            let ping = tokio::time::timeout(
                Duration::from_secs(1),
                client.request(subject.clone(), "".into()),
            )
            .await;
            if matches!(ping, Ok(Ok(_))) {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("the {service} service did not answer within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
