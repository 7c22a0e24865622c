//! A `nats-server` child process started from a configuration file, with its log kept.
//!
//! The configured servers of this harness ([`crate::cluster::NatsCluster`],
//! [`crate::secure::SecureServer`]) are built on it. The log is kept in memory because tests
//! read it: permission violations are only visible there, and a node that does not come up
//! says why there.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use crate::nats_server_bin;

/// How long a server may take to print "Server is ready".
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running nats-server started with `-c <config>`; killed on drop.
pub struct ServerProcess {
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `nats-server -c config` (plus `extra_args`) and waits until it says it is ready.
    /// `label` prefixes its log lines under `TEST_LOG`.
    ///
    /// # Panics
    /// When the server cannot be started or is not ready within 30 s; the panic message holds
    /// the server's last log lines.
    pub fn start(config: &Path, extra_args: &[&str], label: &str) -> Self {
        Self::start_binary(&nats_server_bin(), config, extra_args, label)
    }

    /// [`ServerProcess::start`] with the server binary `binary`.
    pub fn start_binary(binary: &Path, config: &Path, extra_args: &[&str], label: &str) -> Self {
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(config)
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start nats-server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready, ready_seen) = mpsc::channel();
        let (sink, label) = (log.clone(), label.to_string());
        // The reader keeps draining the log, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("nats-server {label}: {line}");
                }
                let is_ready = line.contains("Server is ready");
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                if is_ready && let Some(sender) = ready.take() {
                    let _ = sender.send(());
                }
            }
        });
        if ready_seen.recv_timeout(READY_TIMEOUT).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            let tail = log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .rev()
                .take(20)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "nats-server {} was not ready within {READY_TIMEOUT:?}:\n{tail}",
                config.display()
            );
        }
        Self {
            child: Some(child),
            log,
        }
    }

    /// The log lines printed so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the process is running (not yet killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server at once (SIGKILL): what a crash looks like to clients and peers.
    pub fn kill(&mut self) {
        crate::kill_child(&mut self.child);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `count` TCP ports on 127.0.0.1 that were free a moment ago.
///
/// Configuration files need ports before the server starts (routes name their peers), so they
/// cannot use `-p -1`. The ports come from below the kernel's ephemeral range: a port the kernel
/// handed out with `bind(0)` may be handed out again to any test's outgoing connection before
/// the server binds it, which failed whole runs with "address already in use". Below that
/// range only another test choosing the same random port at the same moment can take it. The
/// listeners are all held until every port is chosen, so the ports are distinct.
pub fn free_ports(count: usize) -> Vec<u16> {
    let below = ephemeral_range_start().unwrap_or(32768);
    let candidates = FIRST_CHOSEN_PORT..below.max(FIRST_CHOSEN_PORT + 1);
    let mut listeners: Vec<TcpListener> = Vec::with_capacity(count);
    for _ in 0..count * 1000 {
        if listeners.len() == count {
            break;
        }
        let port = rand::random_range(candidates.clone());
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            listeners.push(listener);
        }
    }
    assert_eq!(
        listeners.len(),
        count,
        "no {count} free ports between {FIRST_CHOSEN_PORT} and {below}"
    );
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("bound address").port())
        .collect()
}

/// The lowest port [`free_ports`] chooses: above the ports services commonly listen on.
const FIRST_CHOSEN_PORT: u16 = 10_000;

/// The first port of Linux's ephemeral range (`ip_local_port_range`), where outgoing
/// connections take their local ports.
fn ephemeral_range_start() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
