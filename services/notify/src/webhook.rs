//! Webhook delivery as Standard Webhooks (<https://www.standardwebhooks.com>) defines it: the
//! notification as JSON (`docs/design.md`'s mapping), signed, retried with exponential backoff
//! and jitter, and only to destinations [`crate::destination`] allows.
//!
//! Headers: `webhook-id` (the notification id, the same on every attempt, so a receiver can drop
//! repeats; also sent as `Idempotency-Key`), `webhook-timestamp` (Unix seconds, fresh on every
//! attempt, so a receiver can refuse old deliveries replayed later) and `webhook-signature`:
//! `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the recipient's current secret,
//! followed, space-separated, by one per previous secret still accepted during a rotation.
//! Secrets are `whsec_` and the base64 of 24 to 64 random bytes, the key being those bytes,
//! so the specification's reference libraries verify deliveries as they are.
//!
//! Network errors, timeouts, 5xx and 429 are retried (honouring `Retry-After` in seconds, up
//! to the backoff ceiling); any other 4xx means the receiver will never take it, so it fails at
//! once. The published status says only how it failed, coarsely (`unreachable`, `timeout`,
//! `rejected by receiver`): an exact status or error would let a directory entry map the
//! receiver's network. The detail is logged.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use hmac::{Hmac, Mac as _};
use reqwest::{StatusCode, header};
use sha2::Sha256;
use tandem_proto::v1::Notification;

use crate::{
    config::WebhookConfig,
    destination::{self, PublicOnly},
};

/// How a delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the receiver accepted it.
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed (empty when delivered), coarsely: never the URL, the secret, the
    /// receiver's status or the network error.
    pub reason: String,
}

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing key: the bytes of a `whsec_<base64>` secret.
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Parses `whsec_<base64 of 24 to 64 bytes>`; the error says what is wrong, never the
    /// secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("must start with {SECRET_PREFIX} (Standard Webhooks)"))?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| format!("must be {SECRET_PREFIX} followed by base64"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "must encode 24 to 64 bytes (it encodes {})",
                key.len()
            ));
        }
        Ok(Self(key))
    }
}

/// The `webhook-signature` header of message `id` sent at `timestamp` with `body`: one
/// `v1,<base64>` per key, space-separated.
pub fn signature(keys: &[WebhookSecret], id: &str, timestamp: u64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| {
            // HMAC accepts keys of any length, so this cannot fail.
            let mut mac = Hmac::<Sha256>::new_from_slice(&key.0)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The coarse reasons a published status may carry.
mod reason {
    pub const NOT_ALLOWED: &str = "destination not allowed";
    pub const BAD_SECRET: &str = "secret not usable";
    pub const REJECTED: &str = "rejected by receiver";
    pub const TIMEOUT: &str = "timeout";
    pub const UNREACHABLE: &str = "unreachable";
    pub const FAILED: &str = "request failed";
}

/// Posts notifications to webhooks.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    config: Arc<WebhookConfig>,
}

impl WebhookSender {
    /// A sender with `config`'s timeouts, retries and destinations, resolving names with the
    /// operating system.
    pub fn new(config: WebhookConfig) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        Self::with_resolver(config.clone(), PublicOnly::system(config))
    }

    /// A sender resolving names with `resolver`.
    pub fn with_resolver(config: Arc<WebhookConfig>, resolver: PublicOnly) -> anyhow::Result<Self> {
        tandem_runtime::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .connect_timeout(Duration::from_millis(config.timeout_ms.clamp(1, 10_000)))
            // A redirect would re-send a signed body somewhere the directory does not name.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past the resolver's filter.
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .user_agent(concat!("tandem-notify/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, config })
    }

    /// Delivers `notification` to `url`, signed with `secrets` (the current one first, then
    /// any previous ones still accepted), retrying as the module says.
    pub async fn send(&self, notification: &Notification, url: &str, secrets: &[&str]) -> Outcome {
        let id = &notification.notification_id;
        let failed = |attempts, reason: &str| Outcome {
            delivered: false,
            attempts,
            reason: reason.to_string(),
        };
        let url = match destination::check_url(url, &self.config) {
            Ok(url) => url,
            Err(refusal) => {
                tracing::warn!(notification.id = %id, %refusal, "webhook destination refused");
                return failed(0, reason::NOT_ALLOWED);
            }
        };
        let keys = match secrets
            .iter()
            .map(|secret| WebhookSecret::parse(secret))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(keys) => keys,
            Err(problem) => {
                tracing::warn!(notification.id = %id, %problem, "webhook secret not usable");
                return failed(0, reason::BAD_SECRET);
            }
        };
        let body = tandem_proto::json::to_string(notification).into_bytes();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let timestamp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let response = self
                .client
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp)
                .header("webhook-signature", signature(&keys, id, timestamp, &body))
                .header("Idempotency-Key", id)
                .body(body.clone())
                .send()
                .await;
            let (retry_after, reason, detail) = match response {
                Ok(response) if response.status().is_success() => {
                    return Outcome {
                        delivered: true,
                        attempts,
                        reason: String::new(),
                    };
                }
                Ok(response) => {
                    let status = response.status();
                    let detail = format!("HTTP {status}");
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                        tracing::warn!(notification.id = %id, attempt = attempts, %detail, "webhook refused by its receiver");
                        return failed(attempts, reason::REJECTED);
                    }
                    (retry_after(response.headers()), reason::REJECTED, detail)
                }
                Err(error) => (None, describe(&error), chain(error)),
            };
            if attempts >= self.config.max_attempts.max(1) {
                tracing::warn!(notification.id = %id, attempts, %detail, "webhook not delivered");
                return failed(attempts, &format!("{reason} after {attempts} attempts"));
            }
            let ceiling = Duration::from_millis(self.config.backoff_max_ms);
            let delay = retry_after
                .map(|d| d.min(ceiling))
                .unwrap_or_else(|| self.config.backoff(attempts));
            tracing::info!(
                notification.id = %id,
                attempt = attempts,
                %detail,
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

fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        reason::TIMEOUT
    } else if error.is_connect() {
        reason::UNREACHABLE
    } else {
        reason::FAILED
    }
}

/// `error` and its causes, for the log: without the URL, which may carry a token.
fn chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's published example.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn the_signature_is_the_specifications_test_vector() {
        let key = WebhookSecret::parse(SPEC_SECRET).expect("the spec's secret");
        assert_eq!(
            signature(
                &[key],
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn during_a_rotation_each_secret_signs_space_separated() {
        let keys = [
            WebhookSecret::parse(SPEC_SECRET).expect("current"),
            WebhookSecret::parse(&format!("{SECRET_PREFIX}{}", BASE64.encode([7u8; 32])))
                .expect("previous"),
        ];
        let header = signature(&keys, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")), "{header}");
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn secrets_are_whsec_and_base64_of_24_to_64_bytes() {
        assert!(WebhookSecret::parse(SPEC_SECRET).is_ok());
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_c2hvcnQ=",
            &format!("{SECRET_PREFIX}{}", BASE64.encode([1u8; 65])),
        ] {
            let error = WebhookSecret::parse(bad).err().expect(bad);
            assert!(!error.contains(bad), "{error}");
        }
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
