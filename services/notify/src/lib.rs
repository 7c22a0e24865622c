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
//! - [`review`]: the agency's review requests (`tandem.review.<agency>`): the reviewer checked
//!   in the directory, the review recorded by leadership.
//! - [`links`]: the one HMAC scheme of the listener's links: ack links, inbox links bound to a
//!   recipient and expiring, and the inbox forms' CSRF tokens.
//! - [`ack_http`]: the signed notification page: acknowledge, endorse, contest.
//! - [`inbox_http`]: the coordinator's inbox on the same listener: the notifications waiting
//!   for one coordinator and the situation as it stands, in their language and time zone.
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
pub mod inbox_http;
pub mod links;
mod notifier;
pub mod review;
pub mod rules;
pub mod store;
pub mod webhook;

use std::sync::Arc;

use anyhow::Context as _;
use tandem_runtime::{Shutdown, consumer::ConsumerSpec, service::Service, topology};

pub use config::{NotifyAgency, NotifyConfig};

/// The service's name in events, dead letters and traces.
pub const SERVICE: &str = "notify";

/// Runs notify for `config.agency` until `shutdown` fires; several instances (of each agency)
/// may run at once.
pub async fn run(config: NotifyConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let listener = match &config.ack_http.addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for ack links"))?,
        ),
        None => None,
    };
    run_on(config, listener, shutdown).await
}

/// [`run`], serving the ack links and the inbox on `listener`, bound already (`ack_http.addr`
/// is then not read): `tandem up` binds its inbox ports itself, so that a busy preferred port
/// falls back to a free one without another process taking it in between.
pub async fn run_on(
    config: NotifyConfig,
    listener: Option<tokio::net::TcpListener>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let agency = config.agency;
    let (links, listener) = match listener {
        Some(listener) => {
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
                Some(links::Links::new(&public_url, &secret)),
                Some(listener),
            )
        }
        None => (None, None),
    };

    let proxy = inbox_http::TrustedProxy::new(&config.inbox)?;
    let member = agency.service();
    let storage = &config.common.storage;
    let description = "Notifies focal points of determinations and discrepancies, and escalates";
    Service::new(member, description, &config.common.nats, &shutdown)
        .run(
            |js| async move {
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
            },
            |service, store| {
                let js = service.js().clone();
                let directory = directory::LiveDirectory::start(&js, agency, service.stop());
                let records = review::Determinations::new(js.clone());
                let notifier = Arc::new(notifier::Notifier::new(
                    js.clone(),
                    store.clone(),
                    directory.clone(),
                    &config,
                    links.clone(),
                    records.clone(),
                )?);
                let settings = &config.common.consumer;
                let [determined, acked, reviewed] = topology::notify_durables(agency.token());
                let determinations = ConsumerSpec::of(determined, settings.clone());
                let handler = handler::DeterminationHandler {
                    notifier: notifier.clone(),
                };
                service.consume("determination consumer", determinations, Arc::new(handler));
                let acks = ConsumerSpec::of(acked, settings.clone());
                let handler = handler::AckHandler {
                    notifier: notifier.clone(),
                };
                service.consume("acknowledgement consumer", acks, Arc::new(handler));
                let reviews = ConsumerSpec::of(reviewed, settings.clone());
                let handler = handler::ReviewHandler {
                    notifier: notifier.clone(),
                };
                service.consume("review consumer", reviews, Arc::new(handler));
                service.spawn(
                    "review requests",
                    review::serve(
                        service.client().clone(),
                        agency,
                        directory.clone(),
                        records.clone(),
                        service.stop(),
                    ),
                );
                service.spawn(
                    "escalation timers",
                    escalation::run(store.clone(), notifier, config.timer_tick(), service.stop()),
                );
                if let (Some(links), Some(listener)) = (links, listener) {
                    let client = service.client().clone();
                    let inbox = inbox_http::Inbox {
                        links: links.clone(),
                        client: client.clone(),
                        store: store.clone(),
                        agency,
                        directory,
                        determinations: records,
                        proxy,
                    };
                    let app = ack_http::router(inbox.clone()).merge(inbox_http::router(inbox));
                    let stop = service.stop();
                    service.spawn("acknowledgement links and inbox", async move {
                        Ok(tandem_runtime::http::serve(listener, app, stop).await?)
                    });
                }
                Ok(())
            },
        )
        .await
}
