//! The publish service's configuration: where the HTTP API listens, how often a dataset
//! version is stored, how much of the stored versions is kept in memory, and how many are kept at all. Every setting has
//! a working default. Environment: `TANDEM_PUBLISH_ADDR=0.0.0.0:8470`,
//! `TANDEM_PUBLISH_INTERVAL_MS=5000`, `TANDEM_VERSION_CACHE_BYTES=…`, `TANDEM_VERSIONS_KEPT=100`,
//! `TANDEM_SNAPSHOTS__EVERY_EVENTS=50000`, `TANDEM_SNAPSHOTS__INTERVAL_SECS=600`,
//! `TANDEM_DATA_PACKAGE__LICENCE_NAME=CC-BY-IGO-3.0` (and `__LICENCE_TITLE`, `__LICENCE_PATH`,
//! `__UPDATE_FREQUENCY`).

use serde::{Deserialize, Serialize};
use tandem_runtime::{config::CommonConfig, service::ServiceConfig};

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
    /// When snapshots of the state are stored, to start from (docs/operating.md).
    pub snapshots: SnapshotConfig,
    /// What `/v1/datapackage.json` says of the data's licence and updates.
    pub data_package: DataPackageConfig,
}

/// The licence and update frequency `/v1/datapackage.json` declares.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct DataPackageConfig {
    /// An Open Definition licence id. `TANDEM_DATA_PACKAGE__LICENCE_NAME`.
    pub licence_name: String,
    /// `TANDEM_DATA_PACKAGE__LICENCE_TITLE`.
    pub licence_title: String,
    /// The licence's text. `TANDEM_DATA_PACKAGE__LICENCE_PATH`.
    pub licence_path: String,
    /// HDX's `data_update_frequency`: days between updates, "0" for live data.
    /// `TANDEM_DATA_PACKAGE__UPDATE_FREQUENCY`.
    pub update_frequency: String,
}

impl Default for DataPackageConfig {
    /// CC BY-IGO 3.0, as HDX publishes the UN agencies' data, updated live.
    fn default() -> Self {
        Self {
            licence_name: "CC-BY-IGO-3.0".into(),
            licence_title: "Creative Commons Attribution for Intergovernmental Organisations 3.0"
                .into(),
            licence_path: "https://creativecommons.org/licenses/by/3.0/igo/legalcode".into(),
            update_frequency: "0".into(),
        }
    }
}

/// When the service stores a snapshot of its state: a start reads the latest one and the
/// events after it, so these bound how many events a start reads.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SnapshotConfig {
    /// A snapshot once this many messages were applied since the last one; 0 stores none.
    /// `TANDEM_SNAPSHOTS__EVERY_EVENTS`.
    pub every_events: u64,
    /// A snapshot at least this often (seconds) while messages are applied.
    /// `TANDEM_SNAPSHOTS__INTERVAL_SECS`.
    pub interval_secs: u64,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        Self {
            every_events: 50_000,
            interval_secs: 600,
        }
    }
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            publish_addr: "127.0.0.1:8470".into(),
            publish_interval_ms: 5_000,
            version_cache_bytes: 64 * 1024 * 1024,
            versions_kept: 100,
            snapshots: SnapshotConfig::default(),
            data_package: DataPackageConfig::default(),
        }
    }
}

impl ServiceConfig for PublishConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}
