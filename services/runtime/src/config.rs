//! Layered configuration: defaults, then an optional TOML or YAML file, then the environment,
//! then command-line flags, each overriding the one before.
//!
//! Environment: `NATS_URL`, `NATS_CREDS`, `NATS_USER`, `NATS_PASSWORD` and
//! `NATS_INBOX_PREFIX` (the names NATS tools use), and `TANDEM_*`
//! for everything else, with `__` between nested keys: `TANDEM_CONSUMER__MAX_DELIVER=5` sets
//! `consumer.max_deliver`, `TANDEM_PUBLISH_ADDR` sets the top-level `publish_addr`. The
//! OpenTelemetry variables (`OTEL_*`) are read by [`crate::telemetry`].

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml, Yaml},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// How to reach NATS.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated. `NATS_URL`.
    pub url: String,
    /// A credentials file (JWT + NKey seed). `NATS_CREDS`.
    pub creds: Option<PathBuf>,
    /// User name, for servers with users in their configuration. `NATS_USER`.
    pub user: Option<String>,
    /// Password of `user`. `NATS_PASSWORD`.
    pub password: Option<String>,
    /// Prefix of reply inboxes (default `_INBOX`): users whose replies must not be readable by
    /// others get their own (see deploy/nats/tenants.conf). `NATS_INBOX_PREFIX`.
    pub inbox_prefix: Option<String>,
    /// A PEM file of CA certificates to trust for TLS.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub tls_cert: Option<PathBuf>,
    /// The key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Refuse to connect without TLS.
    pub require_tls: bool,
}

/// Never shows the password: configurations end up in logs.
impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &self.url)
            .field("creds", &self.creds)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("inbox_prefix", &self.inbox_prefix)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("require_tls", &self.require_tls)
            .finish()
    }
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            creds: None,
            user: None,
            password: None,
            inbox_prefix: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
        }
    }
}

/// How streams and buckets are created when a service finds them missing.
///
/// Every stream and bucket has a size limit, so no tenant can fill JetStream and stop the
/// others: a full stream refuses new messages (the publisher gets the server's "maximum bytes
/// exceeded") and keeps what it holds. Limits apply when a stream is created, and `tandem setup`
/// brings existing streams to them. The server reserves each limit in full, so
/// their sum (about 6 GiB with the defaults) must fit the server's `max_file_store`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct StorageConfig {
    /// Replicas of every stream and bucket: 1 on a single server, 3 on a cluster.
    pub replicas: usize,
    /// Bytes each tenant account's intake stream may hold (default 256 MiB).
    pub intake_max_bytes: i64,
    /// Bytes `TANDEM_EVENTS` may hold (default 2 GiB).
    pub events_max_bytes: i64,
    /// Bytes `TANDEM_NOTIFY` and each agency's acknowledgement stream may hold (default 256 MiB).
    pub notify_max_bytes: i64,
    /// Days `TANDEM_NOTIFY` and the acknowledgement streams keep notifications, their status
    /// and acknowledgements; 0 (the default) keeps them as long as the determinations they are
    /// about, which `TANDEM_EVENTS` keeps for ever, so every situation's history stays whole.
    pub notify_max_age_days: u64,
    /// Bytes `TANDEM_DLQ` may hold (default 256 MiB).
    pub dlq_max_bytes: i64,
    /// Bytes each key-value bucket may hold (default 256 MiB).
    pub bucket_max_bytes: i64,
    /// Bytes the dataset object store may hold (default 1 GiB).
    pub data_max_bytes: i64,
    /// Days each intake stream keeps a submission (default 90): reports are answered within
    /// moments, and partners' submissions should not be kept for ever.
    pub intake_max_age_days: u64,
    /// Days `TANDEM_REJECTIONS` keeps a rejection (default 90): it answered its report at once
    /// on the organisation's outcome subject, and a hostile tenant's rejections should not be
    /// kept for ever.
    pub rejections_max_age_days: u64,
    /// Bytes `TANDEM_REJECTIONS` may hold (default 256 MiB).
    pub rejections_max_bytes: i64,
}

const MIB: i64 = 1024 * 1024;

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            replicas: 1,
            intake_max_bytes: 256 * MIB,
            events_max_bytes: 2048 * MIB,
            notify_max_bytes: 256 * MIB,
            notify_max_age_days: 0,
            dlq_max_bytes: 256 * MIB,
            bucket_max_bytes: 256 * MIB,
            data_max_bytes: 1024 * MIB,
            intake_max_age_days: 90,
            rejections_max_age_days: 90,
            rejections_max_bytes: 256 * MIB,
        }
    }
}

/// How a service's durable consumer delivers and redelivers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct ConsumerConfig {
    /// Deliveries before a failing message goes to the dead-letter stream.
    pub max_deliver: i64,
    /// Seconds a delivered message may stay unacknowledged before it is redelivered. Only a
    /// crashed or cut-off instance lets it run out (the consumer loop reports progress on what
    /// it holds), so it is how long such an instance's messages wait to be taken up again.
    pub ack_wait_secs: u64,
    /// The first redelivery delay in milliseconds; it doubles per delivery, up to `ack_wait`.
    pub retry_base_ms: u64,
    /// Most messages handled at once by one instance.
    pub batch: usize,
    /// Most payload bytes in hand at once, and asked for in one pull, so that a stream of large
    /// messages (intake stores reports up to 1 MiB) does not fill an instance's memory. A pull
    /// always has room for the stream's largest message.
    pub batch_bytes: usize,
    /// Seconds one handling of a message may take before it is abandoned and the message
    /// retried: far beyond any handler's own bounded work (notify's webhook retries take up to
    /// about 6 minutes), so only a handler stuck for ever reaches it.
    pub handler_timeout_secs: u64,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            max_deliver: 5,
            ack_wait_secs: 10,
            retry_base_ms: 500,
            batch: 256,
            batch_bytes: 2 * 1024 * 1024,
            handler_timeout_secs: 900,
        }
    }
}

impl ConsumerConfig {
    /// `ack_wait` as a duration.
    pub fn ack_wait(&self) -> Duration {
        Duration::from_secs(self.ack_wait_secs.max(1))
    }

    /// `handler_timeout` as a duration.
    pub fn handler_timeout(&self) -> Duration {
        Duration::from_secs(self.handler_timeout_secs.max(1))
    }

    /// The delay before delivery number `delivered + 1`: exponential from `retry_base_ms`,
    /// never longer than `ack_wait`.
    pub fn retry_delay(&self, delivered: i64) -> Duration {
        let exponent = u32::try_from(delivered.saturating_sub(1))
            .unwrap_or(0)
            .min(16);
        let delay = Duration::from_millis(self.retry_base_ms.saturating_mul(1 << exponent));
        delay.min(self.ack_wait())
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The settings every service has.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct CommonConfig {
    /// How to reach NATS.
    pub nats: NatsConfig,
    /// Stream and bucket creation.
    pub storage: StorageConfig,
    /// Delivery and redelivery.
    pub consumer: ConsumerConfig,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Where to serve Prometheus `GET /metrics` (e.g. `0.0.0.0:9464`); not served when unset.
    pub metrics_addr: Option<String>,
}

/// Flags every service binary (and `tandem up`) accepts, flattened into its own clap parser.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct CommonArgs {
    /// A TOML or YAML configuration file.
    #[arg(long, env = "TANDEM_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// NATS server URL (overrides NATS_URL and the file).
    #[arg(long, global = true)]
    pub nats_url: Option<String>,
    /// NATS credentials file (overrides NATS_CREDS and the file).
    #[arg(long, global = true)]
    pub nats_creds: Option<PathBuf>,
}

/// Loads `T` from its defaults, the file named by `args.config`, the environment and `args`.
pub fn load<T>(args: &CommonArgs) -> anyhow::Result<T>
where
    T: Default + Serialize + DeserializeOwned,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = &args.config {
        anyhow::ensure!(
            path.exists(),
            "configuration file {} not found",
            path.display()
        );
        figment = match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => figment.merge(Yaml::file(path)),
            _ => figment.merge(Toml::file(path)),
        };
    }
    figment = figment
        .merge(Env::raw().only(&["NATS_URL"]).map(|_| "nats.url".into()))
        .merge(
            Env::raw()
                .only(&["NATS_CREDS"])
                .map(|_| "nats.creds".into()),
        )
        .merge(Env::raw().only(&["NATS_USER"]).map(|_| "nats.user".into()))
        .merge(
            Env::raw()
                .only(&["NATS_PASSWORD"])
                .map(|_| "nats.password".into()),
        )
        .merge(
            Env::raw()
                .only(&["NATS_INBOX_PREFIX"])
                .map(|_| "nats.inbox_prefix".into()),
        )
        .merge(Env::prefixed("TANDEM_").ignore(&["CONFIG"]).split("__"));
    if let Some(url) = &args.nats_url {
        figment = figment.merge(("nats.url", url));
    }
    if let Some(creds) = &args.nats_creds {
        figment = figment.merge(("nats.creds", creds));
    }
    figment.extract().context("invalid configuration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Sample {
        #[serde(flatten)]
        common: CommonConfig,
        publish_addr: Option<String>,
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error type
    fn file_then_environment_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "tandem.toml",
                "publish_addr = \"0.0.0.0:1\"\n[consumer]\nmax_deliver = 9\n[nats]\nurl = \"nats://file:4222\"\n",
            )?;
            jail.set_env("TANDEM_CONSUMER__MAX_DELIVER", "7");
            jail.set_env("NATS_URL", "nats://env:4222");
            let args = CommonArgs {
                config: Some("tandem.toml".into()),
                nats_url: None,
                nats_creds: None,
            };
            let loaded: Sample = load(&args).map_err(|e| e.to_string())?;
            assert_eq!(loaded.common.consumer.max_deliver, 7);
            assert_eq!(loaded.common.nats.url, "nats://env:4222");
            assert_eq!(loaded.publish_addr.as_deref(), Some("0.0.0.0:1"));

            let flagged = CommonArgs {
                nats_url: Some("nats://flag:4222".into()),
                ..args
            };
            let loaded: Sample = load(&flagged).map_err(|e| e.to_string())?;
            assert_eq!(loaded.common.nats.url, "nats://flag:4222");
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_an_error() {
        let args = CommonArgs {
            config: Some("/nonexistent/tandem.toml".into()),
            ..Default::default()
        };
        let error = load::<Sample>(&args).err().map(|e| e.to_string());
        assert!(error.unwrap_or_default().contains("not found"));
    }

    #[test]
    fn retry_delay_doubles_up_to_ack_wait() {
        let consumer = ConsumerConfig {
            retry_base_ms: 100,
            ack_wait_secs: 1,
            ..Default::default()
        };
        assert_eq!(consumer.retry_delay(1), Duration::from_millis(100));
        assert_eq!(consumer.retry_delay(2), Duration::from_millis(200));
        assert_eq!(consumer.retry_delay(10), Duration::from_secs(1));
    }
}
