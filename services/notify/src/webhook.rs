//! Webhook delivery: the notification as JSON (docs/design.md's mapping), signed with the
//! recipient's secret, retried with exponential backoff and jitter.
//!
//! Headers: `Content-Type: application/json`, `Idempotency-Key: <notification_id>` (the same on
//! every attempt, so a receiver can drop repeats) and `X-Tandem-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the exact body bytes. Network errors, timeouts, 5xx and 429 are retried
//! (honouring `Retry-After` in seconds, up to the backoff ceiling); any other 4xx means the
//! receiver will never take it, so it fails at once.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use reqwest::{StatusCode, header};
use sha2::Sha256;
use tandem_proto::v1::Notification;

use crate::config::WebhookConfig;

/// How a delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the receiver accepted it.
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed (empty when delivered). Never contains the URL or the secret.
    pub reason: String,
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts notifications to webhooks.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    config: WebhookConfig,
}

impl WebhookSender {
    /// A sender with `config`'s timeouts and retries.
    pub fn new(config: WebhookConfig) -> anyhow::Result<Self> {
        tandem_runtime::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .connect_timeout(Duration::from_millis(config.timeout_ms.clamp(1, 10_000)))
            // A redirect would re-send a signed body somewhere the directory does not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tandem-notify/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, config })
    }

    /// Delivers `notification` to `url`, retrying as the module says.
    pub async fn send(&self, notification: &Notification, url: &str, secret: &str) -> Outcome {
        let body = tandem_proto::json::to_string(notification).into_bytes();
        let signature = signature(secret, &body);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let response = self
                .client
                .post(url)
                .header(header::CONTENT_TYPE, "application/json")
                .header("Idempotency-Key", &notification.notification_id)
                .header("X-Tandem-Signature", &signature)
                .body(body.clone())
                .send()
                .await;
            let (retry_after, reason) = match response {
                Ok(response) if response.status().is_success() => {
                    return Outcome {
                        delivered: true,
                        attempts,
                        reason: String::new(),
                    };
                }
                Ok(response) => {
                    let status = response.status();
                    let reason = format!("HTTP {status}");
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                        return Outcome {
                            delivered: false,
                            attempts,
                            reason,
                        };
                    }
                    (retry_after(response.headers()), reason)
                }
                // Without the URL: it may carry a token.
                Err(error) => (None, describe(&error)),
            };
            if attempts >= self.config.max_attempts.max(1) {
                return Outcome {
                    delivered: false,
                    attempts,
                    reason: format!("{reason} after {attempts} attempts"),
                };
            }
            let ceiling = Duration::from_millis(self.config.backoff_max_ms);
            let delay = retry_after
                .map(|d| d.min(ceiling))
                .unwrap_or_else(|| self.config.backoff(attempts));
            tracing::info!(
                notification.id = %notification.notification_id,
                attempt = attempts,
                %reason,
                retry_in = ?delay,
                "webhook not accepted; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_stops_at_the_ceiling() {
        let config = WebhookConfig {
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
            ..Default::default()
        };
        for _ in 0..50 {
            let first = config.backoff(1).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = config.backoff(3).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let late = config.backoff(30).as_millis();
            assert!((500..=1_000).contains(&late), "{late}");
        }
    }
}
