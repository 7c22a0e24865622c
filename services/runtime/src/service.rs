//! A service from start to stop, the same for every one: [`main`] is the body of each binary's
//! `main` (configuration, telemetry, signals, run, flush), so each `main.rs` is only its flags
//! and description; [`Service`] is the body of each crate's `run` (connect, set up, wire the
//! tasks, register, run them under one failure policy, flush), so each `run` is only wiring.

use std::{future::Future, sync::Arc};

use async_nats::jetstream;
use serde::{Serialize, de::DeserializeOwned};
use tandem_proto::roster;

use crate::{
    Shutdown,
    config::{self, CommonArgs, CommonConfig, NatsConfig},
    consumer::{self, ConsumerSpec, Counters, Handler},
    metrics, nats, service_api,
    tasks::Tasks,
    telemetry,
};

/// How long a stopping service waits to hand its last publishes to the server.
const FINAL_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// A service's configuration: its own settings around the common ones.
pub trait ServiceConfig: Default + Serialize + DeserializeOwned {
    /// The settings every service has.
    fn common(&self) -> &CommonConfig;
}

/// Loads `C`, installs telemetry as `service_name`, runs `run` until SIGTERM/SIGINT, and
/// flushes traces before returning.
pub async fn main<C, F, Fut>(service_name: &str, args: &CommonArgs, run: F) -> anyhow::Result<()>
where
    C: ServiceConfig,
    F: FnOnce(C, Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config: C = config::load(args)?;
    let telemetry = telemetry::init(service_name, config.common().log_format)?;
    let shutdown = Shutdown::on_signals();
    if let Some(address) = &config.common().metrics_addr {
        let bound = metrics::serve(telemetry.registry(), address, shutdown.clone()).await?;
        tracing::info!(%bound, "metrics on /metrics");
    }
    let result = run(config, shutdown).await;
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "{service_name} stopped");
    }
    telemetry.shutdown();
    result
}

/// One running service: connect, set up what it owns, wire its tasks, register with the
/// service API, run the tasks under [`Tasks`]' failure policy, and flush, in that order, the
/// same for every service. A stop asked for before NATS answers or set-up succeeds ends the
/// service cleanly; a task that fails (even one started before connecting, such as publish's
/// HTTP API) ends it with that task's error.
///
/// `tandem_intake::run` is the smallest use: a set-up that creates intake's streams and bucket,
/// and a wiring that hands the bucket to one handler consumed from three durables.
pub struct Service {
    member: roster::Service,
    description: &'static str,
    nats: NatsConfig,
    tasks: Tasks,
}

impl Service {
    /// The service `member` of the roster, stopping when `shutdown` fires.
    pub fn new(
        member: roster::Service,
        description: &'static str,
        nats: &NatsConfig,
        shutdown: &Shutdown,
    ) -> Self {
        Self {
            member,
            description,
            nats: nats.clone(),
            tasks: Tasks::new(shutdown),
        }
    }

    /// Starts the task `name`, made by `task` from the stop it must watch, before NATS is
    /// reached: for what must answer while the service starts (publish's HTTP API, whose
    /// `/healthz` says it is not ready yet). It is one of the service's tasks from then on.
    pub fn starting_with<F>(mut self, name: &'static str, task: impl FnOnce(Shutdown) -> F) -> Self
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = self.tasks.stop();
        self.tasks.spawn(name, task(stop));
        self
    }

    /// Connects (retrying until NATS answers), runs `set_up` until it succeeds (the streams
    /// and buckets the service owns, made idempotently), hands its result to `wire` to spawn
    /// the service's tasks, registers with the service API (so a ping answering means set-up
    /// is done), and runs until shutdown or the first task's failure. Fire-and-forget
    /// publishes (acks among them) are flushed before it returns.
    pub async fn run<T, SetUp, Fut>(
        self,
        mut set_up: SetUp,
        wire: impl FnOnce(&mut Running, T) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>
    where
        SetUp: FnMut(jetstream::Context) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let Self {
            member,
            description,
            nats,
            tasks,
        } = self;
        let stop = tasks.stop();
        let started = async {
            let client = nats::connect(&nats, member.connection, &stop).await?;
            let js = jetstream::new(client.clone());
            let owned = nats::set_up(&stop, || set_up(js.clone())).await?;
            anyhow::Ok((client, js, owned))
        }
        .await;
        let (client, js, owned) = match started {
            Ok(started) => started,
            // Stopped while starting: by the caller (a clean stop) or by a failed task (whose
            // error is the service's).
            Err(_) if stop.is_triggered() => return tasks.run().await,
            Err(error) => {
                stop.trigger();
                return tasks.run().await.and(Err(error));
            }
        };
        let mut running = Running {
            client: client.clone(),
            js,
            counters: Arc::new(Counters::default()),
            tasks,
        };
        let wired = match wire(&mut running, owned) {
            Ok(()) => {
                service_api::register(
                    &client,
                    member.name,
                    description,
                    running.counters.clone(),
                    running.stop(),
                )
                .await
            }
            Err(error) => Err(error),
        };
        if wired.is_err() {
            running.tasks.stop().trigger();
        }
        let result = running.tasks.run().await;
        // Bounded: with the server gone a flush would wait for it to return, and a stopped
        // service must exit. What it could not send (acknowledgements) is redelivered to the
        // next instance, as after a crash; handlers are idempotent.
        let _ = tokio::time::timeout(FINAL_FLUSH, client.flush()).await;
        wired.and(result)
    }
}

/// A service connected and set up, while [`Service::run`]'s `wire` spawns its tasks.
pub struct Running {
    client: async_nats::Client,
    js: jetstream::Context,
    counters: Arc<Counters>,
    tasks: Tasks,
}

impl Running {
    /// The service's NATS connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// JetStream on that connection.
    pub fn js(&self) -> &jetstream::Context {
        &self.js
    }

    /// The consumer counters the service reports in `$SRV.STATS` and on its status endpoint.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// The stop every task must watch.
    pub fn stop(&self) -> Shutdown {
        self.tasks.stop()
    }

    /// Runs `task`, known in logs and errors as `name`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.tasks.spawn(name, task);
    }

    /// Runs `handler` on the durable consumer `spec`, as the task `name`.
    pub fn consume<H: Handler>(&mut self, name: &'static str, spec: ConsumerSpec, handler: Arc<H>) {
        let task = consumer::run(
            self.js.clone(),
            spec,
            handler,
            self.counters.clone(),
            self.stop(),
        );
        self.tasks.spawn(name, task);
    }
}
