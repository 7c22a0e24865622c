//! The notify service's configuration: which agency an instance serves, the acknowledgement
//! deadlines per role, and how webhooks, e-mail and the ack link behave.
//!
//! Every setting has a working default, so `NotifyConfig::default()` runs against a local NATS
//! with the NATS channel and webhooks; e-mail needs `smtp.host`, the ack link `ack_http.addr`.
//! Environment: `TANDEM_AGENCY=unhcr`, `TANDEM_SLA__HQ_SECS=3600`, `TANDEM_SMTP__HOST=…`.

use std::{path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};
use tandem_proto::{
    roster, subjects,
    v1::{Agency, Role},
};
use tandem_runtime::config::CommonConfig;

/// The agency an instance notifies for; each agency runs (and scales) its own instances.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum NotifyAgency {
    /// International Organization for Migration.
    #[default]
    Iom,
    /// UN High Commissioner for Refugees.
    Unhcr,
}

impl NotifyAgency {
    /// Both agencies.
    pub const ALL: [NotifyAgency; 2] = [NotifyAgency::Iom, NotifyAgency::Unhcr];

    /// The subject token and KV key prefix: `iom` or `unhcr`.
    pub fn token(self) -> &'static str {
        // Both agencies have a token: `agency_token` is `None` only for partners.
        subjects::agency_token(self.proto()).unwrap_or_default()
    }

    /// Its notifier in the roster of services.
    pub fn service(self) -> roster::Service {
        match self {
            NotifyAgency::Iom => roster::NOTIFY_IOM,
            NotifyAgency::Unhcr => roster::NOTIFY_UNHCR,
        }
    }

    /// The contract's enum value.
    pub fn proto(self) -> Agency {
        match self {
            NotifyAgency::Iom => Agency::Iom,
            NotifyAgency::Unhcr => Agency::Unhcr,
        }
    }

    /// The name as the contract spells it: `IOM` or `UNHCR` (in a reader's language:
    /// `tandem_i18n::words::word`).
    pub fn label(self) -> &'static str {
        self.proto().as_str_name().trim_start_matches("AGENCY_")
    }

    /// The agency of a contract value; `None` for partners and unspecified.
    pub fn from_proto(agency: Agency) -> Option<Self> {
        match agency {
            Agency::Iom => Some(NotifyAgency::Iom),
            Agency::Unhcr => Some(NotifyAgency::Unhcr),
            _ => None,
        }
    }
}

/// Seconds a recipient of each role has to acknowledge before the notification escalates.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct SlaConfig {
    /// Country coordinators.
    pub country_coordinator_secs: u64,
    /// Data focal points.
    pub data_focal_point_secs: u64,
    /// Regional coordinators.
    pub regional_coordinator_secs: u64,
    /// Headquarters (the last tier: nothing escalates past it).
    pub hq_secs: u64,
}

impl Default for SlaConfig {
    fn default() -> Self {
        Self {
            country_coordinator_secs: 30 * 60,
            data_focal_point_secs: 30 * 60,
            regional_coordinator_secs: 30 * 60,
            hq_secs: 30 * 60,
        }
    }
}

impl SlaConfig {
    /// Every role with the same deadline.
    pub fn uniform(secs: u64) -> Self {
        Self {
            country_coordinator_secs: secs,
            data_focal_point_secs: secs,
            regional_coordinator_secs: secs,
            hq_secs: secs,
        }
    }

    /// The deadline of `role`.
    pub fn for_role(&self, role: Role) -> Duration {
        let secs = match role {
            Role::CountryCoordinator => self.country_coordinator_secs,
            Role::DataFocalPoint => self.data_focal_point_secs,
            Role::RegionalCoordinator => self.regional_coordinator_secs,
            Role::Hq | Role::Unspecified => self.hq_secs,
        };
        Duration::from_secs(secs.max(1))
    }
}

/// Webhook delivery, and where webhooks may go (see [`crate::destination`]).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct WebhookConfig {
    /// Whole-request timeout of one attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts before a delivery is reported failed.
    pub max_attempts: u32,
    /// The first retry delay; it doubles per attempt (with jitter), up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    /// The longest wait between attempts, also for a receiver's `Retry-After`.
    pub backoff_max_ms: u64,
    /// Whether webhooks may go to loopback addresses, over plain `http://` too: for
    /// development and tests only (`tandem up` sets it). `TANDEM_WEBHOOK__ALLOW_LOOPBACK`.
    pub allow_loopback: bool,
    /// Host names (or IP addresses) inside the operator's network that webhooks may reach
    /// although they are not public, e.g. `receiver.tandem.svc`; still over `https://`.
    pub allowed_internal_hosts: Vec<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            max_attempts: 6,
            backoff_base_ms: 1_000,
            backoff_max_ms: 60_000,
            allow_loopback: false,
            allowed_internal_hosts: Vec::new(),
        }
    }
}

impl WebhookConfig {
    /// Whether the operator allowed `host` (a name or an IP address, any case, with or
    /// without the root's trailing dot or an IPv6 address's brackets).
    pub fn allows_internal_host(&self, host: &str) -> bool {
        let canonical = |h: &str| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .trim_end_matches('.')
                .to_ascii_lowercase()
        };
        let host = canonical(host);
        self.allowed_internal_hosts
            .iter()
            .any(|allowed| canonical(allowed) == host)
    }

    /// The delay before attempt `attempt + 1` (`attempt` ≥ 1): exponential with full jitter in
    /// its upper half, so many notifiers retrying one endpoint spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .backoff_base_ms
            .saturating_mul(1u64 << exponent)
            .min(self.backoff_max_ms)
            .max(1);
        let jittered = rand::random_range(ceiling / 2..=ceiling);
        Duration::from_millis(jittered)
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Upgrade with STARTTLS (port 587), refusing servers that do not offer it.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    None,
}

/// E-mail over SMTP. Disabled while `host` is empty.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct SmtpConfig {
    /// The relay's host name; empty disables e-mail (such deliveries are reported failed).
    pub host: String,
    /// The relay's port.
    pub port: u16,
    /// STARTTLS, implicit TLS or none.
    pub security: SmtpSecurity,
    /// A PEM file of CA certificates trusted for the relay besides the system's, for a relay
    /// whose certificate a private CA signed.
    pub ca_file: Option<PathBuf>,
    /// User name for SMTP AUTH; empty for none.
    pub username: String,
    /// Password for SMTP AUTH (`TANDEM_SMTP__PASSWORD`).
    pub password: String,
    /// The sender address.
    pub from: String,
    /// Seconds one SMTP conversation may take.
    pub timeout_secs: u64,
    /// Attempts on temporary failures (connection errors, 4xx replies).
    pub max_attempts: u32,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            ca_file: None,
            username: String::new(),
            password: String::new(),
            from: "tandem <tandem@localhost>".into(),
            timeout_secs: 30,
            max_attempts: 4,
        }
    }
}

/// The HTTP acknowledgement link. Served only when `addr` is set.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct AckHttpConfig {
    /// Where to listen (`127.0.0.1:8471`); `None` serves no link.
    pub addr: Option<String>,
    /// The address people reach it at (`https://tandem.example.org`); defaults to
    /// `http://<addr>`.
    pub public_url: String,
    /// Key of the links' HMAC tokens, shared by every instance (`TANDEM_ACK_HTTP__SECRET`).
    /// Empty: a random key per process, so links die with it.
    pub secret: String,
}

/// The coordinator's inbox (`/inbox`, on the `ack_http` listener; docs/design.md,
/// "Notifications"): how long its links live, and the single sign-on proxy an agency may put in
/// front of it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct InboxConfig {
    /// Seconds an inbox link works after its notification was created.
    pub link_ttl_secs: u64,
    /// Addresses or CIDR ranges (`10.0.0.5`, `10.0.0.0/24`) of the proxies trusted to name the
    /// coordinator in `identity_header`. Empty: only signed links open the inbox.
    pub trusted_proxy: Vec<String>,
    /// The header in which a trusted proxy names the coordinator (`X-Forwarded-User`): their
    /// directory id or e-mail address. Empty: no proxy is trusted.
    pub identity_header: String,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            link_ttl_secs: 14 * 24 * 3600,
            trusted_proxy: Vec::new(),
            identity_header: String::new(),
        }
    }
}

/// Everything the notify service is configured with.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct NotifyConfig {
    /// NATS, storage and consumer settings.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// Whose recipients this instance notifies (`--agency`).
    pub agency: NotifyAgency,
    /// Acknowledgement deadlines per role.
    pub sla: SlaConfig,
    /// Webhook timeouts and retries.
    pub webhook: WebhookConfig,
    /// The SMTP relay.
    pub smtp: SmtpConfig,
    /// The HTTP listener of the ack links and the inbox.
    pub ack_http: AckHttpConfig,
    /// The inbox's links and trusted proxy.
    pub inbox: InboxConfig,
    /// The tracing dashboard's address of a trace, `{trace_id}` standing for its id
    /// (`http://localhost:16686/trace/{trace_id}`; `TANDEM_TRACE_URL`). Empty: no trace links.
    pub trace_url: String,
    /// Milliseconds between checks for notifications past their deadline.
    pub timer_tick_ms: u64,
    /// Seconds after which a delivery claimed by an instance that never finished it (it
    /// crashed) may be taken over by another.
    pub claim_lease_secs: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            agency: NotifyAgency::default(),
            sla: SlaConfig::default(),
            webhook: WebhookConfig::default(),
            smtp: SmtpConfig::default(),
            ack_http: AckHttpConfig::default(),
            inbox: InboxConfig::default(),
            trace_url: String::new(),
            timer_tick_ms: 1_000,
            // Longer than a webhook's whole retry life with the defaults.
            claim_lease_secs: 300,
        }
    }
}

impl NotifyConfig {
    /// The tick of the escalation timers.
    pub fn timer_tick(&self) -> Duration {
        Duration::from_millis(self.timer_tick_ms.max(10))
    }

    /// The claim lease.
    pub fn claim_lease(&self) -> Duration {
        Duration::from_secs(self.claim_lease_secs.max(1))
    }
}

impl tandem_runtime::service::ServiceConfig for NotifyConfig {
    fn common(&self) -> &tandem_runtime::config::CommonConfig {
        &self.common
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_agency_has_the_contracts_token_name_and_notifier() {
        let named = NotifyAgency::ALL.map(|a| (a.token(), a.label(), a.service().name));
        assert_eq!(
            named,
            [
                ("iom", "IOM", "notify-iom"),
                ("unhcr", "UNHCR", "notify-unhcr")
            ]
        );
        for agency in NotifyAgency::ALL {
            assert_eq!(NotifyAgency::from_proto(agency.proto()), Some(agency));
        }
    }
}
