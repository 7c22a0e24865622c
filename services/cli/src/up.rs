//! `tandem up`: every service in this process, the way a developer or a small office runs
//! tandem on one machine. Production runs each service's own binary instead.

use std::{future::Future, path::PathBuf, time::Duration};

use anyhow::Context as _;
use async_nats::jetstream;
use tandem_intake::IntakeConfig;
use tandem_leadership::LeadershipConfig;
use tandem_notify::{NotifyAgency, NotifyConfig};
use tandem_proto::roster;
use tandem_publish::PublishConfig;
use tandem_runtime::{
    Shutdown,
    config::{self, CommonArgs, CommonConfig, NatsConfig},
    metrics, nats, service_api, setup, telemetry,
};
use tokio::task::JoinSet;

use crate::{demo, local_nats};

/// Arguments of `tandem up`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// Submit the bundled example reports (deploy/demo) and print what happens.
    #[arg(long)]
    demo: bool,
    /// Run with the NATS accounts of deploy/nats/accounts.conf: a local server started with them
    /// on NATS_URL's port, each service as its own least-privilege user, with the development
    /// passwords of deploy/nats/README.md.
    #[arg(long)]
    secure: bool,
    /// Where a nats-server started by tandem keeps its data
    /// (default: $XDG_STATE_HOME/tandem or ~/.local/state/tandem).
    #[arg(long, env = "TANDEM_STATE_DIR")]
    state_dir: Option<PathBuf>,
}

pub async fn run(common: &CommonArgs, args: UpArgs) -> anyhow::Result<()> {
    let mut intake: IntakeConfig = config::load(common)?;
    let mut leadership: LeadershipConfig = config::load(common)?;
    let mut publish: PublishConfig = config::load(common)?;
    let mut notify: NotifyConfig = config::load(common)?;
    // A development stack on one machine: its webhook receivers are local too.
    if !args.secure {
        notify.webhook.allow_loopback = true;
    }
    let telemetry = telemetry::init_with_level("tandem", intake.common.log_format, "warn")?;
    let state_dir = args.state_dir.map_or_else(default_state_dir, Ok)?;
    let (local_nats, nats) = if args.secure {
        let admin = as_user(&intake.common.nats, "admin", None);
        if nats::try_connect(&admin, "tandem-up").await.is_ok()
            || nats::try_connect(&intake.common.nats, "tandem-up")
                .await
                .is_ok()
        {
            anyhow::bail!(
                "--secure starts its own nats-server, but {} already answers: point NATS_URL at a free local port (e.g. nats://127.0.0.1:4223)",
                admin.url
            );
        }
        let port = local_nats::local_port(&admin.url)
            .context("--secure needs a local NATS_URL (nats://127.0.0.1:PORT)")?;
        let server = local_nats::start_secure(&admin, port, &state_dir).await?;
        // The service users may create no stream or consumer: the admin makes them first, as
        // `tandem setup` does in production.
        set_up(&admin, &intake.common).await?;
        eprintln!(
            "tandem: secure mode — accounts of deploy/nats/accounts.conf, each service as its own user (development passwords: deploy/nats/README.md)"
        );
        (Some(server), admin)
    } else {
        let server = local_nats::ensure(&intake.common.nats, &state_dir).await?;
        // A server of this state directory may hold a deployment of an older tandem: bring it
        // to the current settings. A server that was already answering is someone else's.
        if server.is_some() {
            set_up(&intake.common.nats, &intake.common).await?;
        }
        (server, intake.common.nats.clone())
    };
    let user = |service: roster::Service| {
        if args.secure {
            as_user(&nats, service.name, service.inbox_prefix)
        } else {
            nats.clone()
        }
    };
    intake.common.nats = user(roster::INTAKE);
    leadership.common.nats = user(roster::LEADERSHIP);
    publish.common.nats = user(roster::PUBLISH);
    // One notifier per agency, as each agency runs its own, each serving its coordinators'
    // inbox: on loopback (IOM 8471, UNHCR 8472, or free ports when those are taken) unless
    // `ack_http.addr` is configured (then only IOM's is served there), with a key shared by
    // both and known here, for the demo's link.
    if notify.ack_http.secret.is_empty() {
        use rand::distr::{Alphanumeric, SampleString as _};
        notify.ack_http.secret = Alphanumeric.sample_string(&mut rand::rng(), 43);
    }
    let mut notify_unhcr = notify.clone();
    let (iom_inbox, unhcr_inbox) = match &notify.ack_http.addr {
        Some(addr) => {
            notify_unhcr.ack_http.addr = None;
            (Some(listen(addr).await?), None)
        }
        None => (
            Some(loopback(INBOX_PORTS[0]).await?),
            Some(loopback(INBOX_PORTS[1]).await?),
        ),
    };
    notify.ack_http.addr = iom_inbox.as_ref().map(local_addr).transpose()?;
    notify_unhcr.ack_http.addr = unhcr_inbox.as_ref().map(local_addr).transpose()?;
    let demo_inbox = demo_inbox_link(&notify);
    notify.agency = NotifyAgency::Iom;
    notify.common.nats = user(NotifyAgency::Iom.service());
    notify_unhcr.agency = NotifyAgency::Unhcr;
    notify_unhcr.common.nats = user(NotifyAgency::Unhcr.service());
    let publish_addr = publish.publish_addr.clone();
    let shutdown = Shutdown::on_signals();
    if let Some(address) = &intake.common.metrics_addr {
        let bound = metrics::serve(telemetry.registry(), address, shutdown.clone()).await?;
        eprintln!("tandem: metrics on http://{bound}/metrics");
    }

    let mut services = JoinSet::new();
    spawn(
        &mut services,
        roster::INTAKE.name,
        tandem_intake::run(intake, shutdown.clone()),
    );
    spawn(
        &mut services,
        roster::LEADERSHIP.name,
        tandem_leadership::run(leadership, shutdown.clone()),
    );
    spawn(
        &mut services,
        roster::NOTIFY_IOM.name,
        tandem_notify::run_on(notify, iom_inbox, shutdown.clone()),
    );
    spawn(
        &mut services,
        roster::NOTIFY_UNHCR.name,
        tandem_notify::run_on(notify_unhcr, unhcr_inbox, shutdown.clone()),
    );
    spawn(
        &mut services,
        roster::PUBLISH.name,
        tandem_publish::run(publish, shutdown.clone()),
    );

    // Say when the stack answers, then run the demo if asked.
    let announce = {
        let shutdown = shutdown.clone();
        async move {
            let client = nats::connect(&nats, "tandem-up", &shutdown).await?;
            service_api::wait_for_services(&client, &roster::NAMES, Duration::from_secs(60))
                .await?;
            eprintln!(
                "tandem: ready — {} answering on {}; data on http://{publish_addr}/v1/situations.csv; \
                 the situation board on http://{publish_addr}/. \
                 Ctrl-C stops (in-flight work is finished first).",
                roster::NAMES.join(", "),
                nats.url
            );
            if args.demo {
                eprintln!("tandem: the inbox of {DEMO_COORDINATOR} (IOM, Colombia): {demo_inbox}");
                demo::run(&nats, &roster::NAMES, &shutdown).await?;
            }
            anyhow::Ok(())
        }
    };
    tokio::spawn(async move {
        if let Err(error) = announce.await {
            eprintln!("tandem: {error:#}");
        }
    });

    // The first service to stop, for whatever reason, stops the others.
    let mut failed = None;
    while let Some(joined) = services.join_next().await {
        let (name, result) = joined.context("a service task panicked")?;
        match result {
            Ok(()) if shutdown.is_triggered() => {}
            Ok(()) => eprintln!("tandem: {name} stopped; stopping the others"),
            Err(error) => {
                eprintln!("tandem: {name} failed: {error:#}");
                failed.get_or_insert(error);
            }
        }
        shutdown.trigger();
    }
    drop(local_nats);
    telemetry.shutdown();
    match failed {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Where `tandem up` serves IOM's and UNHCR's inboxes when `ack_http.addr` is not set.
const INBOX_PORTS: [u16; 2] = [8471, 8472];

/// A listener on `127.0.0.1:<preferred>`, or on a free loopback port when another process
/// (another `tandem up`) holds that one; kept bound until the notifier serves on it.
async fn loopback(preferred: u16) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(("127.0.0.1", preferred)).await {
        Ok(listener) => Ok(listener),
        Err(_) => listen("127.0.0.1:0").await,
    }
}

async fn listen(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the inbox"))
}

fn local_addr(listener: &tokio::net::TcpListener) -> anyhow::Result<String> {
    Ok(listener.local_addr()?.to_string())
}

/// The demo directory's coordinator whose inbox link `tandem up --demo` prints.
const DEMO_COORDINATOR: &str = "col-iom-cc";

/// The inbox link of IOM's [`DEMO_COORDINATOR`] on IOM's notifier of `notify`, valid for the
/// configured link lifetime.
fn demo_inbox_link(notify: &NotifyConfig) -> String {
    let public_url = match (&notify.ack_http.public_url, &notify.ack_http.addr) {
        (url, _) if !url.is_empty() => url.clone(),
        (_, Some(addr)) => format!("http://{addr}"),
        (_, None) => String::new(),
    };
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_add(notify.inbox.link_ttl_secs);
    tandem_notify::links::Links::new(&public_url, notify.ack_http.secret.as_bytes()).inbox_link(
        &tandem_notify::links::Recipient {
            agency: NotifyAgency::Iom,
            id: DEMO_COORDINATOR.into(),
        },
        i64::try_from(expires).unwrap_or(i64::MAX),
    )
}

fn spawn(
    services: &mut JoinSet<(&'static str, anyhow::Result<()>)>,
    name: &'static str,
    service: impl Future<Output = anyhow::Result<()>> + Send + 'static,
) {
    services.spawn(async move { (name, service.await) });
}

/// `nats` with the development credentials of `user` (deploy/nats/README.md).
fn as_user(nats: &NatsConfig, user: &str, inbox_prefix: Option<&str>) -> NatsConfig {
    NatsConfig {
        user: Some(user.into()),
        password: Some(format!("{user}-dev-password")),
        inbox_prefix: inbox_prefix.map(str::to_string),
        ..nats.clone()
    }
}

fn default_state_dir() -> anyhow::Result<PathBuf> {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME") {
        return Ok(PathBuf::from(state).join("tandem"));
    }
    let home = std::env::var_os("HOME").context("set --state-dir (no HOME to put state in)")?;
    Ok(PathBuf::from(home).join(".local/state/tandem"))
}

/// `tandem setup` on the stack's own server, as `nats` (its admin), with what it leaves for an
/// operator on stderr.
async fn set_up(nats: &NatsConfig, common: &CommonConfig) -> anyhow::Result<()> {
    let client = nats::try_connect(nats, "tandem-setup").await?;
    let report = setup::run(&jetstream::new(client), &common.storage, &common.consumer)
        .await
        .context("cannot set up streams and consumers as the admin")?;
    for note in report.notes {
        eprintln!("tandem: {note}");
    }
    Ok(())
}
