//! The notify service: every coordinator who must know about a determination is told, once per
//! channel, and followed up until someone acknowledges (docs/design.md, "Notifications").
//!
//! - [`config`]: [`NotifyConfig`]: agency, deadlines per role, webhook, SMTP, ack link.
//! - [`directory`]: the focal points in KV `tandem-directory`: import (JSON/YAML, validated
//!   whole), list without secrets, remove.
//! - [`rules`]: who is told what, and who is next when nobody acknowledges; pure.
//! - [`store`]: notify's own state in KV `tandem-notify`: records, timers, delivery claims.
//! - `notifier`: the effects: webhook and e-mail deliveries claimed with compare-and-set (NATS
//!   deliveries are deduplicated by the stream), status events, acknowledgements, escalations.
//! - [`webhook`], [`email`]: the HTTP and SMTP channels (the NATS channel is a publish);
//!   [`destination`]: where webhooks may go (public `https://` only, checked again on connect).
//! - `handler`: the consumers of determinations and acknowledgements.
//! - `escalation`: the timers, from KV, surviving restarts.
//! - [`ack_http`]: the signed acknowledgement link.
//! - [`inbox`]: `tandem notifications list|ack`.
//! - [`run`]: connects, creates what notify owns, and runs all of it until shutdown.

pub mod ack_http;
pub mod config;
pub mod destination;
pub mod directory;
pub mod email;
mod escalation;
mod handler;
pub mod inbox;
mod notifier;
pub mod rules;
pub mod store;
pub mod webhook;

use std::sync::Arc;

use anyhow::Context as _;
use async_nats::jetstream;
use tandem_runtime::{
    Shutdown,
    consumer::{self, ConsumerSpec, Counters},
    nats, service_api,
    tasks::Tasks,
    topology,
};

pub use config::{NotifyAgency, NotifyConfig};

/// The service's name in events, dead letters and traces.
pub const SERVICE: &str = "notify";

/// Runs notify for `config.agency` until `shutdown` fires; several instances (of each agency)
/// may run at once.
pub async fn run(config: NotifyConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let agency = config.agency;
    let name = format!("tandem-notify-{}", agency.token());
    let client = nats::connect(&config.common.nats, &name, &shutdown).await?;
    let js = jetstream::new(client.clone());
    let storage = &config.common.storage;
    let store = nats::set_up(&shutdown, || async {
        topology::ensure_streams(
            &js,
            [
                topology::events_stream(storage),
                topology::notify_stream(storage),
                topology::acks_stream(agency.token(), storage),
                topology::dlq_stream(storage),
            ],
        )
        .await?;
        // Opened (created when missing) before it is followed.
        directory::Directory::open(&js, storage).await?;
        store::Store::open(&js, storage, agency).await
    })
    .await?;
    let directory = directory::LiveDirectory::start(&js, agency, shutdown.clone());

    let (links, listener) = match &config.ack_http.addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for ack links"))?;
            let public_url = if config.ack_http.public_url.is_empty() {
                format!("http://{}", listener.local_addr()?)
            } else {
                config.ack_http.public_url.clone()
            };
            let secret = if config.ack_http.secret.is_empty() {
                tracing::warn!(
                    "ack_http.secret is not set: ack links work only while this process runs"
                );
                rand::random::<[u8; 32]>().to_vec()
            } else {
                config.ack_http.secret.as_bytes().to_vec()
            };
            (
                Some(ack_http::AckLinks::new(&public_url, &secret)),
                Some(listener),
            )
        }
        None => (None, None),
    };
    let notifier = Arc::new(notifier::Notifier::new(
        js.clone(),
        store.clone(),
        directory,
        &config,
        links.clone(),
    )?);

    let counters = Arc::new(Counters::default());
    service_api::register(
        &client,
        &format!("notify-{}", agency.token()),
        "Notifies focal points of determinations and discrepancies, and escalates",
        counters.clone(),
        shutdown.clone(),
    )
    .await?;

    let settings = config.common.consumer.clone();
    let [determined, acked] = topology::notify_durables(agency.token());
    let mut tasks = Tasks::new(&shutdown);
    let determinations = consumer::run(
        js.clone(),
        ConsumerSpec::of(determined, settings.clone()),
        Arc::new(handler::DeterminationHandler {
            notifier: notifier.clone(),
        }),
        counters.clone(),
        tasks.stop(),
    );
    tasks.spawn("determination consumer", determinations);
    let acks = consumer::run(
        js.clone(),
        ConsumerSpec::of(acked, settings),
        Arc::new(handler::AckHandler {
            notifier: notifier.clone(),
        }),
        counters.clone(),
        tasks.stop(),
    );
    tasks.spawn("acknowledgement consumer", acks);
    tasks.spawn(
        "escalation timers",
        escalation::run(store, notifier, config.timer_tick(), tasks.stop()),
    );
    if let (Some(links), Some(listener)) = (links, listener) {
        tasks.spawn(
            "acknowledgement links",
            ack_http::serve(listener, links, js.clone(), tasks.stop()),
        );
    }
    let result = tasks.run().await;
    // Acks are fire-and-forget publishes: make sure the last ones left before we go.
    let _ = client.flush().await;
    result
}
