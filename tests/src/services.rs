//! tandem's service binaries (`tandem-intake`, `tandem-leadership`, `tandem-notify`,
//! `tandem-publish`) run as child processes, the way production runs them: each on its own,
//! configured through the environment, killable at any moment.
//!
//! - [`binary`]: where a binary is built (the target directory of the running test), failing with
//!   a clear message when it is not.
//! - [`ServiceCommand`]: what to run: the binary, its flags and its environment.
//! - [`ServiceProcess`]: a running service; [`ServiceProcess::kill`] is a SIGKILL (a crash, no
//!   graceful shutdown), [`ServiceProcess::restart`] starts the same command again. Killed on
//!   drop.
//!
//! A service's stderr is read by a thread of this process: kept in memory (the last
//! [`LOG_LINES_KEPT`] lines, for tests that read the logs and for failure messages) and echoed
//! under `TEST_LOG`, so ten services do not flood a test's output. The services log at
//! `RUST_LOG=warn` unless `TEST_LOG` names a level or the command sets `RUST_LOG` itself.

use std::{
    collections::VecDeque,
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

/// How many of a service's log lines are kept in memory, across its restarts.
pub const LOG_LINES_KEPT: usize = 5_000;

/// The path of the workspace binary `name`, built next to the running test binary
/// (`target/<profile>/<name>`).
///
/// # Panics
/// When it is not built: tests of one package do not build other packages' binaries, so the
/// message says how to build them.
pub fn binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("test binary path");
    let dir = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests for the whole workspace (cargo nextest run --workspace), \
         which builds every service binary, or build them first (cargo build --bins)",
        path.display()
    );
    path
}

/// How to start one service: binary, flags, environment.
#[derive(Clone, Debug)]
pub struct ServiceCommand {
    name: String,
    label: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl ServiceCommand {
    /// Runs binary `name` (see [`binary`]) connected to `nats_url`, logging at `RUST_LOG=warn`
    /// (or `TEST_LOG`'s level when set).
    pub fn new(name: &str, nats_url: &str) -> Self {
        let level = match std::env::var("TEST_LOG") {
            Ok(level) if !level.is_empty() => level,
            Ok(_) => "info".into(),
            Err(_) => "warn".into(),
        };
        Self {
            name: name.into(),
            label: name.into(),
            args: Vec::new(),
            env: vec![
                ("NATS_URL".into(), nats_url.into()),
                ("RUST_LOG".into(), level),
            ],
        }
    }

    /// Adds a command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable (replacing one set before, `RUST_LOG` included).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// Names the process in echoed log lines and messages (default: the binary name), e.g.
    /// `intake#2` when several instances run.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Starts the service.
    ///
    /// # Panics
    /// When the binary is not built or cannot be started.
    pub fn spawn(self) -> ServiceProcess {
        let mut process = ServiceProcess {
            command: self,
            child: None,
            log: Arc::default(),
            starts: 0,
        };
        process.start();
        process
    }
}

/// A running service binary, killed on drop.
pub struct ServiceProcess {
    command: ServiceCommand,
    child: Option<Child>,
    log: Arc<Mutex<VecDeque<String>>>,
    starts: u32,
}

impl ServiceProcess {
    fn start(&mut self) {
        let command = &self.command;
        let mut child = Command::new(binary(&command.name))
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", command.name));
        self.starts += 1;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (log, label, echo) = (
            self.log.clone(),
            format!("{} (run {})", command.label, self.starts),
            std::env::var_os("TEST_LOG").is_some(),
        );
        // Drained at once, so the service never blocks on a full pipe; ends with the process.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("{label}: {line}");
                }
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                if log.len() == LOG_LINES_KEPT {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
        self.child = Some(child);
    }

    /// The label given in [`ServiceCommand::label`].
    pub fn label(&self) -> &str {
        &self.command.label
    }

    /// Whether the process was started and not killed since. A process that exited by itself
    /// still counts as running until [`ServiceProcess::exited`] says otherwise.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The exit status if the process ended by itself (it is not expected to).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// The operating system's id of the running process, to read what `/proc` says of it.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Kills the process at once (SIGKILL): no graceful shutdown, in-flight work is lost to
    /// redelivery, as in a crash. Does nothing when it is not running.
    pub fn kill(&mut self) {
        crate::kill_child(&mut self.child);
    }

    /// Starts the same command again (killing the running process first, if any).
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    /// The log lines kept so far (every run of the process, oldest first).
    pub fn log(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Waits until the service logs that it consumes, i.e. it set up its streams and buckets
    /// and its consumers exist (it must log at `info`: `.env("RUST_LOG", "info")`).
    pub async fn wait_until_consuming(&self, timeout: Duration) {
        self.wait_for_log("consuming", timeout, |lines| {
            lines
                .iter()
                .any(|line| line.contains("consuming"))
                .then_some(())
        })
        .await;
    }

    /// Waits until `check` finds what it looks for in the log lines, polling; panics after
    /// `timeout` with the last lines.
    pub async fn wait_for_log<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[String]) -> Option<T>,
    ) -> T {
        let what = format!("{}: {what} logged", self.label());
        crate::eventually(what, timeout, || {
            let lines = self.log();
            let found = check(&lines).ok_or_else(|| {
                format!(
                    "last lines:\n{}",
                    lines[lines.len().saturating_sub(20)..].join("\n")
                )
            });
            std::future::ready(found)
        })
        .await
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
