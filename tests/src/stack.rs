//! One test world, after zero2prod's `spawn_app`: [`TestStack`] is a nats-server of the test's
//! own with the service binaries the test asks for running on it as child processes (see
//! [`crate::services`]), each answering on the service API before the test goes on, and the
//! typed clients of [`crate::clients`] on it.
//!
//! ```ignore
//! let stack = TestStack::builder().intake().leadership().start().await;
//! let outcome = stack.submit("iom", &report).await;
//! ```

use std::time::Duration;

use async_nats::jetstream::{self, publish::PublishAck};
use tandem_proto::v1::{LeadershipDetermination, LeadershipRecord, Notification, SituationReport};

use crate::{
    DEADLINE, NatsServer,
    clients::{self, Dataset, Outcome},
    eventually,
    services::{ServiceCommand, ServiceProcess},
};

/// How many of each service's last log lines a failing test prints.
const LOG_TAIL: usize = 40;

/// How long the services may take to come up: a cold start on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One service a stack starts.
struct Asked {
    binary: &'static str,
    /// Its name in the service API.
    name: &'static str,
    /// Its own environment.
    env: &'static [(&'static str, &'static str)],
}

/// What [`TestStack`] starts: services and the environment they share.
#[derive(Default)]
pub struct StackBuilder {
    services: Vec<Asked>,
    env: Vec<(String, String)>,
    directory: Option<String>,
    metrics: bool,
}

impl StackBuilder {
    /// Intake.
    pub fn intake(self) -> Self {
        self.service("tandem-intake", "intake", &[])
    }

    /// Leadership.
    pub fn leadership(self) -> Self {
        self.service("tandem-leadership", "leadership", &[])
    }

    /// IOM's notify service (`TANDEM_AGENCY=iom`).
    pub fn notify_iom(self) -> Self {
        self.service("tandem-notify", "notify-iom", &[("TANDEM_AGENCY", "iom")])
    }

    /// UNHCR's notify service (`TANDEM_AGENCY=unhcr`).
    pub fn notify_unhcr(self) -> Self {
        self.service(
            "tandem-notify",
            "notify-unhcr",
            &[("TANDEM_AGENCY", "unhcr")],
        )
    }

    /// The data service, on a free port ([`TestStack::dataset`]).
    pub fn publish(self) -> Self {
        self.service("tandem-publish", "publish", &[])
    }

    /// Intake, leadership, IOM's notify service and publish.
    pub fn all(self) -> Self {
        self.intake().leadership().notify_iom().publish()
    }

    fn service(
        mut self,
        binary: &'static str,
        name: &'static str,
        env: &'static [(&'static str, &'static str)],
    ) -> Self {
        self.services.push(Asked { binary, name, env });
        self
    }

    /// Sets an environment variable for every service.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Imports this coordinator directory (JSON or YAML) before the services start.
    pub fn directory(mut self, document: &str) -> Self {
        self.directory = Some(document.into());
        self
    }

    /// Serves each service's `/metrics` on a free port ([`TestStack::metrics_ports`]).
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// Starts the server and the services, and waits until every service answers on the
    /// service API (its streams and buckets are set up).
    ///
    /// # Panics
    /// When a service is not built, does not start, or does not answer within 60 s.
    pub async fn start(self) -> TestStack {
        crate::init_test_log();
        let server = NatsServer::start();
        let client = server.client().await;
        let js = jetstream::new(client.clone());
        if let Some(directory) = &self.directory {
            tandem_notify::directory::import_document(&js, directory)
                .await
                .expect("directory imported");
        }
        let ports = crate::process::free_ports(2 * self.services.len());
        let mut stack = TestStack {
            env: self.env,
            server,
            js,
            services: Vec::new(),
            publish_addr: None,
            metrics_ports: Vec::new(),
        };
        for (Asked { binary, name, env }, ports) in self.services.iter().zip(ports.chunks(2)) {
            let mut command = stack.command(binary).label(*name);
            for (key, value) in *env {
                command = command.env(*key, *value);
            }
            if self.metrics {
                command = command.env("TANDEM_METRICS_ADDR", format!("127.0.0.1:{}", ports[0]));
                stack.metrics_ports.push(ports[0]);
            }
            if *name == "publish" {
                let addr = format!("127.0.0.1:{}", ports[1]);
                command = command.env("TANDEM_PUBLISH_ADDR", &addr);
                stack.publish_addr = Some(addr);
            }
            stack.services.push(command.spawn());
        }
        let names: Vec<&str> = self.services.iter().map(|asked| asked.name).collect();
        if let Err(error) =
            tandem_runtime::service_api::wait_for_services(&client, &names, START_TIMEOUT).await
        {
            panic!("{error}; logs:\n{}", stack.logs(LOG_TAIL));
        }
        stack
    }
}

/// A nats-server and tandem's services on it, killed on drop (printing the end of each
/// service's log when the test failed); see the module doc.
pub struct TestStack {
    env: Vec<(String, String)>,
    /// The test's own server.
    pub server: NatsServer,
    /// A JetStream context on it, with every right.
    pub js: jetstream::Context,
    services: Vec<ServiceProcess>,
    publish_addr: Option<String>,
    metrics_ports: Vec<u16>,
}

impl TestStack {
    /// What to start.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// How to start `binary` on this stack: the server's URL, the stack's environment, and
    /// logging at `info` (kept in memory; see [`ServiceProcess::wait_until_consuming`]).
    pub fn command(&self, binary: &str) -> ServiceCommand {
        let mut command = ServiceCommand::new(binary, &self.server.url());
        if std::env::var_os("TEST_LOG").is_none() {
            command = command.env("RUST_LOG", "info");
        }
        for (key, value) in &self.env {
            command = command.env(key, value);
        }
        command
    }

    /// Starts another instance (see [`TestStack::command`]) and waits until it consumes.
    pub async fn add(&mut self, command: ServiceCommand) -> &mut ServiceProcess {
        let process = command.spawn();
        process.wait_until_consuming(START_TIMEOUT).await;
        self.services.push(process);
        self.services.last_mut().expect("just added")
    }

    /// The running service labelled `label` (its service API name, e.g. `notify-iom`, unless
    /// the test labelled it).
    ///
    /// # Panics
    /// When there is none.
    pub fn service(&mut self, label: &str) -> &mut ServiceProcess {
        self.services
            .iter_mut()
            .find(|service| service.label() == label)
            .unwrap_or_else(|| panic!("no service {label} in this stack"))
    }

    /// The last `lines` lines of every service's log, for a failure message.
    pub fn logs(&self, lines: usize) -> String {
        self.services
            .iter()
            .map(|service| {
                let log = service.log();
                let tail = &log[log.len().saturating_sub(lines)..];
                format!("--- {}\n{}", service.label(), tail.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The ports of the services' `/metrics`, in the order they were asked for
    /// ([`StackBuilder::metrics`]).
    pub fn metrics_ports(&self) -> &[u16] {
        &self.metrics_ports
    }

    /// Submits `report` as `org`'s system does ([`clients::submit`]) and waits for intake's
    /// outcome of it.
    pub async fn submit(&self, org: &str, report: &SituationReport) -> Outcome {
        clients::submit(&self.js, org, report).await;
        self.outcome(&report.report_id).await
    }

    /// Publishes bytes on `org`'s intake subject ([`clients::submit_bytes`]).
    pub async fn submit_bytes(&self, org: &str, msg_id: &str, payload: Vec<u8>) -> PublishAck {
        clients::submit_bytes(&self.js, org, msg_id, payload, None).await
    }

    /// Intake's outcome of report `report_id`, once there is one.
    pub async fn outcome(&self, report_id: &str) -> Outcome {
        eventually(
            format!("an outcome of report {report_id}"),
            DEADLINE,
            || async {
                let mut outcomes = self.outcomes().await;
                outcomes
                    .iter()
                    .position(|outcome| outcome.report_id() == report_id)
                    .map(|index| outcomes.swap_remove(index))
            },
        )
        .await
    }

    /// Every outcome so far ([`clients::outcomes`]).
    pub async fn outcomes(&self) -> Vec<Outcome> {
        clients::outcomes(&self.js).await
    }

    /// Every determination so far ([`clients::determinations`]).
    pub async fn determinations(&self) -> Vec<LeadershipDetermination> {
        clients::determinations(&self.js).await
    }

    /// Leadership's record of `situation` ([`clients::leadership_record`]).
    pub async fn record(&self, situation: &str) -> Option<LeadershipRecord> {
        clients::leadership_record(&self.js, situation).await
    }

    /// Every notification so far ([`clients::notifications`]).
    pub async fn notifications(&self) -> Vec<(String, Notification)> {
        clients::notifications(&self.js).await
    }

    /// The data service.
    ///
    /// # Panics
    /// When the stack runs no publish service.
    pub fn dataset(&self) -> Dataset {
        Dataset {
            addr: self
                .publish_addr
                .clone()
                .expect("the stack runs publish (StackBuilder::publish)"),
        }
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the services' last log lines:\n{}", self.logs(LOG_TAIL));
        }
    }
}
