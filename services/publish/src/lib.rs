//! The data publication service: the agencies' joint picture of every situation (figures and
//! who leads) as a disclosure-controlled dataset, served over HTTP as HXL-tagged CSV and JSON,
//! and stored as versioned snapshots in object store `tandem-data`, each announced with
//! `DatasetPublished` on `tandem.data.published` (docs/design.md, "Data publication").
//!
//! - [`config`]: [`PublishConfig`]: the HTTP address, the version interval and cache.
//! - [`disclosure`]: the one small-count suppression rule every output goes through, pure.
//! - [`dataset`]: the situations' rows, their CSV and JSON renderings, pure.
//! - [`chunks`]: how a version is stored: its CSV cut into content-defined chunks named by
//!   their SHA-256 and a manifest listing them, pure.
//! - [`tables`]: every published table's columns (types, HXL hashtags) and the analyst tables
//!   (operations, figures, solutions, series) with the disclosure of a whole situation, pure.
//! - [`datapackage`]: `/v1/datapackage.json`, the tables as a Frictionless Data Package.
//! - [`state`]: the situations as `TANDEM_EVENTS` describes them, applied idempotently, pure.
//! - [`history`]: each situation's determinations with their reviews and notifications, pure.
//! - `snapshot`: the state and histories stored now and then with the stream positions they
//!   cover, so that a start reads the latest snapshot and the events after it.
//! - `follow`: rebuilds the state and the histories from the latest snapshot and the events
//!   after it on `TANDEM_EVENTS` (and the notification statuses of `TANDEM_NOTIFY`), or from
//!   their start without one, and keeps them current.
//! - `versions`: stores and announces a new version at most once per interval, writing only
//!   the chunks that changed, and deletes the versions no longer kept.
//! - `http`: the HTTP API (axum), with ETags, JSON errors and the stored versions cached;
//!   `openapi.json` describes it.
//! - `board`: the public situation board, HTML pages at `/` and `/situations/{id}` made
//!   from the published rows and the history (the pages kit `tandem_web`).
//! - [`client`]: fetching the dataset over HTTP, for `tandem data get`.
//! - [`run`] / [`serve`]: ties them together until shutdown.

mod board;
pub mod chunks;
pub mod client;
pub mod config;
pub mod datapackage;
pub mod dataset;
pub mod disclosure;
mod follow;
pub mod history;
mod http;
mod snapshot;
pub mod state;
pub mod tables;
mod versions;

use std::{
    sync::{Arc, OnceLock, RwLock, atomic::AtomicU64},
    time::Duration,
};

use anyhow::Context as _;
use state::State;
use tandem_proto::roster;
use tandem_runtime::{Shutdown, service::Service, topology};
use tokio::sync::watch;

pub use config::{DataPackageConfig, PublishConfig, SnapshotConfig};
pub use snapshot::KEY as SNAPSHOT_KEY;

/// The service's name in subjects, envelopes and traces.
pub const SERVICE: &str = "publish";

/// The OpenAPI 3 description of the HTTP API, as served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What the service's tasks share.
struct Shared {
    /// The state rebuilt from the stream. A std lock: it is never held across an await.
    state: RwLock<State>,
    /// True once the state has caught up with the stream as it was at start-up.
    ready: watch::Sender<bool>,
    /// The state's version, bumped on every change, for the version publisher.
    changed: watch::Sender<u64>,
    /// Object store `tandem-data`, once NATS was reached.
    store: OnceLock<versions::DataStore>,
    /// Each situation's history (not part of the dataset, so it has no version).
    histories: RwLock<history::Histories>,
    /// What the followers applied of each stream; `None` until the start's snapshot, if any,
    /// is restored.
    applied: watch::Sender<Option<snapshot::Applied>>,
    /// Set once at start: the positions of the snapshot the state started from, `None` when it
    /// was rebuilt from the start of the streams.
    started: OnceLock<Option<snapshot::Applied>>,
    /// Events of `TANDEM_EVENTS` read before the state was ready.
    replayed: AtomicU64,
}

impl Shared {
    /// Reads the state. A poisoned lock is read anyway: the state's methods do not panic, and
    /// serving slightly stale data beats refusing every request.
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        let guard = self.state.read().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    /// Updates the state.
    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Reads the histories (a poisoned lock is read anyway, as for the state).
    fn read_histories<T>(&self, f: impl FnOnce(&history::Histories) -> T) -> T {
        let guard = self.histories.read().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    /// Updates the histories.
    fn write_histories<T>(&self, f: impl FnOnce(&mut history::Histories) -> T) -> T {
        let mut guard = self.histories.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// The sequence of the snapshot the state started from, if any.
    fn started_from_snapshot(&self) -> Option<u64> {
        self.started
            .get()
            .copied()
            .flatten()
            .map(|a| a.events.through)
    }
}

/// Binds `config.publish_addr` and runs the service until `shutdown` fires (see [`serve`]).
pub async fn run(config: PublishConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.publish_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.publish_addr))?;
    serve(config, listener, shutdown).await
}

/// Runs the service on `listener` until `shutdown` fires; several instances may run at once,
/// each serving the same data. The HTTP API answers at once, even before NATS is reachable
/// (`/healthz` is 503 until the state is rebuilt), so probes see a starting service rather
/// than a hanging one. If any part fails, the others stop and the error is returned.
pub async fn serve(
    config: PublishConfig,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        state: RwLock::new(State::keeping_versions(config.versions_kept)),
        ready: watch::Sender::new(false),
        changed: watch::Sender::new(0),
        store: OnceLock::new(),
        histories: RwLock::default(),
        applied: watch::Sender::new(None),
        started: OnceLock::new(),
        replayed: AtomicU64::new(0),
    });
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "data API listening");
    }
    let storage = &config.common.storage;
    let description = "Publishes the joint situation dataset over HTTP and as versioned snapshots";
    let api = http::Api::new(
        shared.clone(),
        config.version_cache_bytes,
        config.data_package.clone(),
    );
    Service::new(roster::PUBLISH, description, &config.common.nats, &shutdown)
        .starting_with("the HTTP API", |stop| http::serve(listener, api, stop))
        .run(
            |js| async move {
                topology::ensure_stream(&js, topology::events_stream(storage)).await?;
                topology::ensure_stream(&js, topology::notify_stream(storage)).await?;
                let objects =
                    topology::ensure_object_store(&js, topology::DATA_OBJECT_STORE, storage)
                        .await?;
                versions::DataStore::new(&js, objects).await
            },
            |service, store| {
                let _ = shared.store.set(store);
                let js = service.js().clone();
                service.spawn(
                    "following TANDEM_EVENTS",
                    follow::run(
                        js.clone(),
                        shared.clone(),
                        service.counters(),
                        service.stop(),
                    ),
                );
                service.spawn(
                    "following the notification statuses",
                    follow::run_statuses(
                        js.clone(),
                        shared.clone(),
                        service.counters(),
                        service.stop(),
                    ),
                );
                service.spawn(
                    "storing snapshots",
                    snapshot::run(shared.clone(), config.snapshots, service.stop()),
                );
                let interval = Duration::from_millis(config.publish_interval_ms.max(1));
                service.spawn(
                    "publishing versions",
                    versions::run(js, shared, interval, service.stop()),
                );
                Ok(())
            },
        )
        .await
}
