//! The data publication service: the agencies' joint picture of every situation (figures and
//! who leads) as a disclosure-controlled dataset, served over HTTP as HXL-tagged CSV and JSON,
//! and stored as versioned snapshots in object store `tandem-data`, each announced with
//! `DatasetPublished` on `tandem.data.published` (docs/design.md, "Data publication").
//!
//! - [`disclosure`]: the one small-count suppression rule every output goes through, pure.
//! - [`dataset`]: rows, columns with their HXL hashtags, CSV and JSON renderings, pure.
//! - [`state`]: the situations as `TANDEM_EVENTS` describes them, applied idempotently, pure.
//! - [`history`]: each situation's determinations with their reviews and notifications, pure.
//! - `follow`: rebuilds the state and the histories from the start of `TANDEM_EVENTS` (and
//!   the notification statuses of `TANDEM_NOTIFY`) and keeps them current.
//! - `versions`: stores and announces a new version at most once per interval.
//! - `http`: the HTTP API (axum), with ETags, JSON errors and the stored versions cached;
//!   `openapi.json` describes it.
//! - [`client`]: fetching the dataset over HTTP, for `tandem data get`.
//! - [`run`] / [`serve`]: ties them together until shutdown.

pub mod client;
pub mod dataset;
pub mod disclosure;
mod follow;
pub mod history;
mod http;
pub mod state;
mod versions;

use std::{
    sync::{Arc, OnceLock, RwLock},
    time::Duration,
};

use anyhow::Context as _;
use async_nats::jetstream;
use serde::{Deserialize, Serialize};
use state::State;
use tandem_runtime::{
    Shutdown, config::CommonConfig, consumer::Counters, nats, service::ServiceConfig, service_api,
    topology,
};
use tokio::sync::watch;

/// The service's name in subjects, envelopes and traces.
pub const SERVICE: &str = "publish";

/// The OpenAPI 3 description of the HTTP API, as served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The publish service's configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct PublishConfig {
    /// NATS, storage and logging settings.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// Where the HTTP API listens. `TANDEM_PUBLISH_ADDR`.
    pub publish_addr: String,
    /// At most one dataset version is stored and announced per this many milliseconds; changes
    /// within it are gathered into one version. `TANDEM_PUBLISH_INTERVAL_MS`.
    pub publish_interval_ms: u64,
    /// Bytes of stored dataset versions kept in memory, the least recently served dropped
    /// first, so a version is read from the object store once rather than per request.
    /// `TANDEM_VERSION_CACHE_BYTES`.
    pub version_cache_bytes: u64,
    /// Dataset versions kept in the object store and listed by the API: storing a new one
    /// deletes the oldest beyond this many, so the store does not grow without end.
    /// `TANDEM_VERSIONS_KEPT`.
    pub versions_kept: usize,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            publish_addr: "127.0.0.1:8470".into(),
            publish_interval_ms: 5_000,
            version_cache_bytes: 64 * 1024 * 1024,
            versions_kept: 100,
        }
    }
}

impl ServiceConfig for PublishConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

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
    });
    // The service's own stop: the caller's shutdown, or a failure of one of its parts (which
    // must not stop the caller's other services in `tandem up`).
    let local = Shutdown::new();
    {
        let (outer, local) = (shutdown.clone(), local.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = outer.triggered() => local.trigger(),
                // Stopped by a failure: nothing left to pass on.
                _ = local.triggered() => {}
            }
        });
    }
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "data API listening");
    }
    let stop_on_error = |result: anyhow::Result<()>| {
        if result.is_err() {
            local.trigger();
        }
        result
    };
    let (served, worked) = tokio::join!(
        async {
            let api = http::Api::new(shared.clone(), config.version_cache_bytes);
            stop_on_error(http::serve(listener, api, local.clone()).await)
        },
        async { stop_on_error(work(&config, shared.clone(), local.clone()).await) },
    );
    worked.and(served.context("the HTTP API failed"))
}

/// Connects, creates what the service uses, registers, and runs the follower and the version
/// publisher until `shutdown`.
async fn work(
    config: &PublishConfig,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let client = match nats::connect(&config.common.nats, "tandem-publish", &shutdown).await {
        Ok(client) => client,
        // Asked to stop before NATS was ever reachable: a clean stop, not a failure.
        Err(_) if shutdown.is_triggered() => return Ok(()),
        Err(error) => return Err(error),
    };
    let js = jetstream::new(client.clone());
    let storage = &config.common.storage;
    let store = nats::set_up(&shutdown, || async {
        topology::ensure_stream(&js, topology::events_stream(storage)).await?;
        topology::ensure_stream(&js, topology::notify_stream(storage)).await?;
        let objects =
            topology::ensure_object_store(&js, topology::DATA_OBJECT_STORE, storage).await?;
        versions::DataStore::new(&js, objects).await
    })
    .await?;
    let _ = shared.store.set(store);

    let counters = Arc::new(Counters::default());
    service_api::register(
        &client,
        SERVICE,
        "Publishes the joint situation dataset over HTTP and as versioned snapshots",
        counters.clone(),
        shutdown.clone(),
    )
    .await?;
    let stop_on_error = |result: anyhow::Result<()>| {
        if result.is_err() {
            shutdown.trigger();
        }
        result
    };
    let interval = Duration::from_millis(config.publish_interval_ms.max(1));
    let status_counters = counters.clone();
    let (followed, statuses, published) = tokio::join!(
        async {
            stop_on_error(follow::run(js.clone(), shared.clone(), counters, shutdown.clone()).await)
        },
        async {
            stop_on_error(
                follow::run_statuses(
                    js.clone(),
                    shared.clone(),
                    status_counters,
                    shutdown.clone(),
                )
                .await,
            )
        },
        async {
            stop_on_error(
                versions::run(js.clone(), shared.clone(), interval, shutdown.clone()).await,
            )
        },
    );
    let _ = client.flush().await;
    followed
        .context("following TANDEM_EVENTS failed")
        .and(statuses.context("following the notification statuses failed"))
        .and(published.context("publishing versions failed"))
}
