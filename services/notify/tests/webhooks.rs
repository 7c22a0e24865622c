//! Webhooks as Standard Webhooks defines them, checked by the specification's reference
//! library, and only to the destinations an operator allows: internal addresses are refused in
//! the URL and again when a name resolves to one (DNS rebinding).

mod common;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use common::*;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tandem_notify::{
    config::WebhookConfig,
    destination::PublicOnly,
    webhook::{Outcome, WebhookSender},
};
use tandem_proto::v1::Notification;

const CURRENT: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PREVIOUS: &str = "whsec_aW9tLXdlYmhvb2stc2VjcmV0LTAxMjM0NTY3ODk=";

fn notification() -> Notification {
    Notification {
        notification_id: "iom.ntf-0123456789abcdef0123".into(),
        recipient_id: "iom-col-cc".into(),
        ..Default::default()
    }
}

fn quick(config: WebhookConfig) -> WebhookConfig {
    WebhookConfig {
        timeout_ms: 2_000,
        max_attempts: 1,
        ..config
    }
}

/// A resolver that answers every name with this test's receiver: what a rebinding DNS server
/// does to a name that looked public.
struct Rebinding(SocketAddr);

impl Resolve for Rebinding {
    fn resolve(&self, _: Name) -> Resolving {
        let address = self.0;
        Box::pin(async move { Ok(Box::new(std::iter::once(address)) as Addrs) })
    }
}

fn rebinding_to(hooks: &Hooks) -> Arc<Rebinding> {
    let address = hooks
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("receiver address");
    Arc::new(Rebinding(address))
}

fn port(hooks: &Hooks) -> u16 {
    hooks
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

#[tokio::test]
async fn a_delivery_verifies_with_the_reference_library_under_each_rotating_secret_and_a_replay_is_refused()
 {
    let hooks = Hooks::start().await;
    let sender = WebhookSender::new(quick(development_webhooks())).expect("sender");
    let outcome = sender
        .send(
            &notification(),
            &hooks.url("rotating"),
            &[CURRENT, PREVIOUS],
        )
        .await;
    assert!(outcome.delivered, "{outcome:?}");
    let received = hooks.received("rotating");
    let delivery = &received[0];
    assert_eq!(
        delivery.header("webhook-id"),
        notification().notification_id
    );
    assert_eq!(delivery.header("webhook-signature").split(' ').count(), 2);

    // A receiver still on the previous secret and one already on the new one both accept it.
    assert_eq!(reference_verify(CURRENT, delivery, Duration::ZERO), Ok(()));
    assert_eq!(reference_verify(PREVIOUS, delivery, Duration::ZERO), Ok(()));
    let stranger = "whsec_dW5oY3Itd2ViaG9vay1zZWNyZXQtOTg3NjU0MzIxMA==";
    assert!(reference_verify(stranger, delivery, Duration::ZERO).is_err());

    // The same delivery captured and replayed ten minutes later is too old.
    let replayed = reference_verify(CURRENT, delivery, Duration::from_secs(600))
        .expect_err("a replay is refused");
    assert!(replayed.contains("too old"), "{replayed}");
}

#[tokio::test]
async fn every_retry_is_signed_afresh_with_the_same_id() {
    let hooks = Hooks::start().await;
    hooks.script("flaky", &[503, 503]);
    let config = WebhookConfig {
        max_attempts: 3,
        backoff_base_ms: 1_100,
        backoff_max_ms: 1_100,
        ..quick(development_webhooks())
    };
    let sender = WebhookSender::new(config).expect("sender");
    let outcome = sender
        .send(&notification(), &hooks.url("flaky"), &[CURRENT])
        .await;
    assert!(outcome.delivered, "{outcome:?}");
    let attempts = hooks.received("flaky");
    assert_eq!(attempts.len(), 3);
    let timestamps: Vec<u64> = attempts
        .iter()
        .map(|a| a.header("webhook-timestamp").parse().expect("Unix seconds"))
        .collect();
    // The retries wait at least 550 ms each, so the last attempt starts more than a second
    // after the first, and its timestamp (whole seconds) is later.
    assert!(
        timestamps.windows(2).all(|w| w[0] <= w[1]),
        "{timestamps:?}"
    );
    assert!(timestamps[2] > timestamps[0], "{timestamps:?}");
    for attempt in &attempts {
        assert_eq!(attempt.header("webhook-id"), notification().notification_id);
        assert_eq!(reference_verify(CURRENT, attempt, Duration::ZERO), Ok(()));
    }
}

#[tokio::test]
async fn an_internal_address_in_the_url_is_refused_without_connecting() {
    let hooks = Hooks::start().await;
    let sender = WebhookSender::new(quick(WebhookConfig::default())).expect("sender");
    let literal = hooks.url("literal").replacen("http://", "https://", 1);
    let localhost = format!("https://localhost:{}/hook/literal", port(&hooks));
    for url in [literal, localhost, hooks.url("literal")] {
        let outcome = sender.send(&notification(), &url, &[CURRENT]).await;
        assert_eq!(
            outcome,
            Outcome {
                delivered: false,
                attempts: 0,
                reason: "destination not allowed".into(),
            },
            "{url}"
        );
    }
    assert!(hooks.received("literal").is_empty());
}

#[tokio::test]
async fn a_public_name_resolving_to_loopback_is_refused_at_connect_unless_allowed() {
    let hooks = Hooks::start().await;
    let url = format!("http://hooks.example.org:{}/hook/rebound", port(&hooks));
    tandem_runtime::tls::install_crypto_provider();
    let client = |config: WebhookConfig| {
        reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnly::new(
                Arc::new(config),
                rebinding_to(&hooks),
            )))
            .build()
            .expect("client")
    };

    let refused = client(WebhookConfig::default())
        .post(&url)
        .send()
        .await
        .expect_err("no connection to loopback");
    assert!(refused.is_connect(), "{refused:?}");
    assert!(hooks.received("rebound").is_empty());

    for allowed in [
        development_webhooks(),
        WebhookConfig {
            allowed_internal_hosts: vec!["hooks.example.org".into()],
            ..WebhookConfig::default()
        },
    ] {
        let answer = client(allowed).post(&url).send().await.expect("connected");
        assert!(answer.status().is_success());
    }
    assert_eq!(hooks.received("rebound").len(), 2);

    // Through the sender: the agency is told only that the receiver was unreachable.
    let config = Arc::new(quick(WebhookConfig::default()));
    let sender = WebhookSender::with_resolver(
        config.clone(),
        PublicOnly::new(config, rebinding_to(&hooks)),
    )
    .expect("sender");
    let https = format!("https://hooks.example.org:{}/hook/rebound", port(&hooks));
    let outcome = sender.send(&notification(), &https, &[CURRENT]).await;
    assert!(!outcome.delivered);
    assert_eq!(outcome.reason, "unreachable after 1 attempts");
    assert_eq!(hooks.received("rebound").len(), 2, "nothing more arrived");
}
