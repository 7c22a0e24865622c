//! Intake's configuration: only what every service has (NATS, storage, consumer settings,
//! logging), so `IntakeConfig::default()` runs against a local NATS.

use serde::{Deserialize, Serialize};
use tandem_runtime::config::CommonConfig;

/// Intake's configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct IntakeConfig {
    /// NATS, storage and consumer settings.
    #[serde(flatten)]
    pub common: CommonConfig,
}

impl tandem_runtime::service::ServiceConfig for IntakeConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}
