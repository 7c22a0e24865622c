//! The test harness: every test gets its own real `nats-server`, never a mock bus.
//!
//! - [`stack`]: the one test world: a server with the services a test asks for as child
//!   processes, and typed clients ([`clients`]): submit, outcomes, determinations, the
//!   dataset, notifications.
//! - [`NatsServer`]: one server with JetStream on a random port and its own store directory,
//!   killed and removed on drop; it can be killed and restarted on the same port and store to
//!   test what survives a server restart.
//! - [`nats_server_bin`]: where the server binary comes from (`NATS_SERVER_BIN`, `PATH`,
//!   `/usr/sbin/nats-server`), failing with a clear message when there is none.
//! - [`stream_messages`], [`outcome_messages`], [`wait_until_consumed`]: reading what a
//!   stream holds (and intake's outcomes, which two streams hold), and waiting
//!   (on the server's own counters, not on a clock) until a service has handled everything.
//! - [`eventually`]: the one way a test waits: a condition polled until it holds, with a
//!   bounded timeout and a message that says what did not happen.
//! - [`init_test_log`]: tracing output for a test, only when `TEST_LOG` is set.
//! - [`http_get`]: one plain HTTP request to a service's endpoint (`/metrics`, the data API).
//! - [`browser`]: headless Chromium through chromedriver, axe-core's accessibility check, and
//!   English left untranslated in a page.
//! - [`certs`]: throwaway TLS certificates, for servers run with the shipped TLS settings.
//! - [`process`]: a nats-server started from a configuration file, with its log kept.
//! - [`cluster`]: a 3-node JetStream cluster on loopback; one node can be killed and restarted.
//! - [`secure`]: a server running `deploy/nats/accounts.conf` (accounts, users, permissions) on a
//!   free port, with its permission-violation log lines.
//! - [`reports`]: the one report builder, and announcing a report as accepted the way intake
//!   does.
//! - [`spans`]: this process's spans captured in memory, for tests of what a service traces.
//! - [`services`]: the service binaries run as child processes, killable (SIGKILL) and
//!   restartable, with their logs kept.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use tempfile::TempDir;

pub use eventually::{Condition, DEADLINE, eventually};
pub use stack::TestStack;

pub mod browser;
pub mod certs;
pub mod clients;
pub mod cluster;
mod eventually;
pub mod process;
pub mod reports;
pub mod secure;
pub mod services;
pub mod spans;
pub mod stack;

/// The nats-server binary (see `tandem_runtime::nats::server_binary`), or a panic that says
/// how to get one.
pub fn nats_server_bin() -> PathBuf {
    tandem_runtime::nats::server_binary().expect(
        "no nats-server found: set NATS_SERVER_BIN, put nats-server on PATH, or install it \
         (Debian/Ubuntu: sudo apt-get install nats-server)",
    )
}

/// A nats-server with JetStream, private to one test.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: TempDir,
}

impl NatsServer {
    /// Starts a server on a random port with a fresh store directory, and waits until it
    /// accepts clients.
    pub fn start() -> Self {
        Self::start_with(true)
    }

    /// Starts a server as [`NatsServer::start`] does but without JetStream, as a service finds
    /// one that is still starting; [`NatsServer::restart`] brings it back with JetStream.
    pub fn start_without_jetstream() -> Self {
        Self::start_with(false)
    }

    fn start_with(jetstream: bool) -> Self {
        let store = tempfile::tempdir().expect("cannot make a JetStream store directory");
        let (child, port) = spawn(&store, None, jetstream);
        Self {
            child: Some(child),
            port,
            store,
        }
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A plain client connection.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("cannot connect to the test nats-server")
    }

    /// A JetStream context on a new connection.
    pub async fn jetstream(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client().await)
    }

    /// Kills the server at once (SIGKILL): what a crash looks like to clients.
    pub fn kill(&mut self) {
        crate::kill_child(&mut self.child);
    }

    /// Starts the server again, with JetStream, on the same port and store after
    /// [`NatsServer::kill`].
    pub fn restart(&mut self) {
        self.kill();
        let (child, _) = spawn(&self.store, Some(self.port), true);
        self.child = Some(child);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILLs the child process, if any, and reaps it: what a crash looks like to its peers.
pub(crate) fn kill_child(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Spawns nats-server and returns it with the port it listens on, read from its log.
fn spawn(store: &TempDir, port: Option<u16>, jetstream: bool) -> (Child, u16) {
    let port_arg = port.map_or("-1".to_string(), |p| p.to_string());
    let mut command = Command::new(nats_server_bin());
    command.args(["-a", "127.0.0.1", "-p", &port_arg]);
    if jetstream {
        command.arg("-js").arg("-sd").arg(store.path());
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start nats-server");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (found_port, port_seen) = mpsc::channel();
    // The reader keeps draining the log, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut port = None;
        let mut found_port = Some(found_port);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if std::env::var_os("TEST_LOG").is_some() {
                eprintln!("nats-server: {line}");
            }
            if let Some(address) = line.split("Listening for client connections on ").nth(1) {
                port = address
                    .trim()
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
            }
            if line.contains("Server is ready")
                && let (Some(sender), Some(port)) = (found_port.take(), port)
            {
                let _ = sender.send(port);
            }
        }
    });
    match port_seen.recv_timeout(Duration::from_secs(20)) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            panic!("nats-server did not become ready within 20 s");
        }
    }
}

/// Tracing output for the current test when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
pub fn init_test_log() {
    if let Ok(level) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(if level.is_empty() {
                "info".into()
            } else {
                level
            }))
            .with_test_writer()
            .try_init();
    }
}

/// Every message `stream` holds, in order. Fails the test when a message cannot be read or
/// fewer are read than the stream holds, so that "nothing stored" or "nothing leaked" cannot
/// pass on a failed read.
pub async fn stream_messages(
    js: &async_nats::jetstream::Context,
    stream: &str,
) -> Vec<async_nats::jetstream::message::StreamMessage> {
    use async_nats::jetstream::stream::LastRawMessageErrorKind;
    let mut handle = js.get_stream(stream).await.expect("stream exists");
    let state = handle.info().await.expect("stream info").state.clone();
    let mut messages = Vec::new();
    if state.messages == 0 {
        return messages;
    }
    for sequence in state.first_sequence..=state.last_sequence {
        match handle.get_raw_message(sequence).await {
            Ok(message) => messages.push(message),
            // A deleted sequence (none in tandem's streams unless a test deletes one).
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {}
            Err(error) => panic!("reading {stream} #{sequence} failed: {error}"),
        }
    }
    assert_eq!(
        messages.len() as u64,
        state.messages,
        "{stream} holds {} messages, {} were read",
        state.messages,
        messages.len()
    );
    messages
}

/// Every outcome intake stored: the acceptances on `TANDEM_EVENTS` and the rejections on
/// `TANDEM_REJECTIONS`, in the order they were stored. Other events of `TANDEM_EVENTS` are left
/// out.
pub async fn outcome_messages(
    js: &async_nats::jetstream::Context,
) -> Vec<async_nats::jetstream::message::StreamMessage> {
    use tandem_runtime::topology;
    let mut outcomes: Vec<_> = stream_messages(js, topology::EVENTS_STREAM)
        .await
        .into_iter()
        .filter(|message| topology::is_accepted_subject(&message.subject))
        .collect();
    outcomes.extend(stream_messages(js, topology::REJECTIONS_STREAM).await);
    // Stable: two outcomes stored in the same nanosecond keep their streams' order.
    outcomes.sort_by_key(|message| message.time);
    outcomes
}

/// The server's view of durable `consumer` of `stream`; fails the test when it cannot be read.
/// A crash test reads `num_ack_pending` right after the kill: deliveries to the dead process
/// that it never acknowledged prove the crash hit work in flight.
pub async fn consumer_info(
    js: &async_nats::jetstream::Context,
    stream: &str,
    consumer: &str,
) -> async_nats::jetstream::consumer::Info {
    js.get_stream(stream)
        .await
        .unwrap_or_else(|error| panic!("stream {stream}: {error}"))
        .consumer_info(consumer)
        .await
        .unwrap_or_else(|error| panic!("consumer {consumer} on {stream}: {error}"))
        .clone()
}

/// Waits until durable `consumer` of `stream` has no message left to deliver and none
/// unacknowledged, i.e. the service has finished everything stored so far.
/// Panics after `timeout`.
pub async fn wait_until_consumed(
    js: &async_nats::jetstream::Context,
    stream: &str,
    consumer: &str,
    timeout: Duration,
) {
    eventually(
        format_args!("consumer {consumer} on {stream} to finish"),
        timeout,
        || async {
            let handle = js.get_stream(stream).await.ok()?;
            let info = handle.consumer_info(consumer).await.ok()?;
            (info.num_ack_pending == 0 && info.num_pending == 0).then_some(())
        },
    )
    .await;
}

/// Waits until each of `services` answers `$SRV.PING` on `client`: a service registers once
/// its streams, buckets and consumers exist, so after this it takes what is sent to it.
pub async fn wait_registered(client: &async_nats::Client, services: &[&str]) {
    for service in services {
        eventually(format!("{service} registers"), DEADLINE, || async {
            client
                .request(format!("$SRV.PING.{service}"), "".into())
                .await
                .is_ok()
        })
        .await;
    }
}

/// `GET path` on `127.0.0.1:port` over HTTP/1.0: the whole response, status line and headers
/// included.
pub async fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}
