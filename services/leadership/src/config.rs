//! The leadership service's configuration: the policy file it applies and how long a report
//! waits for an earlier one of its situation. Every setting has a working default (the
//! built-in policy v1). Environment: `TANDEM_POLICY_FILE=…`, `TANDEM_GAP_WAIT_MS=5000`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tandem_runtime::config::CommonConfig;

use crate::policy::Policy;

/// The leadership service's configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LeadershipConfig {
    /// NATS, storage and consumer settings.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// The policy file (`TANDEM_POLICY_FILE`); the built-in policy v1 when unset.
    pub policy_file: Option<PathBuf>,
    /// Milliseconds one delivery of a report waits for an earlier report of its situation that
    /// another instance is still handling (`TANDEM_GAP_WAIT_MS`).
    pub gap_wait_ms: u64,
}

impl Default for LeadershipConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            policy_file: None,
            gap_wait_ms: 5_000,
        }
    }
}

impl LeadershipConfig {
    /// How long a report waits for an earlier one of its situation.
    pub fn gap_wait(&self) -> Duration {
        Duration::from_millis(self.gap_wait_ms)
    }
}

impl tandem_runtime::service::ServiceConfig for LeadershipConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }
}

/// The policy `config` names, refused with every problem listed when it is not valid.
pub fn load_policy(config: &LeadershipConfig) -> anyhow::Result<Policy> {
    let Some(path) = &config.policy_file else {
        return Ok(Policy::default_v1());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {}", path.display()))?;
    Policy::from_toml(&text).with_context(|| format!("policy file {} is refused", path.display()))
}
