//! The local NATS of `tandem up`: use the one at `NATS_URL` when it answers; otherwise, for a
//! local URL, start `nats-server` with JetStream in the state directory, installing Debian's
//! `nats-server` package first when the binary is missing.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};
use tandem_runtime::{config::NatsConfig, nats};

/// A nats-server started by `tandem up`, stopped when dropped.
pub struct LocalNats {
    child: Child,
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        // SIGTERM would be kinder, but std has no portable way; JetStream's file store is
        // crash-safe, which is what tests of server kills rely on too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes sure NATS answers at `config.url`, starting one when it does not and the URL is local.
pub async fn ensure(config: &NatsConfig, state_dir: &Path) -> anyhow::Result<Option<LocalNats>> {
    if nats::try_connect(config, "tandem-up").await.is_ok() {
        eprintln!("tandem: using NATS at {}", config.url);
        return Ok(None);
    }
    eprintln!("tandem: no NATS at {}", config.url);
    let Some(port) = local_port(&config.url) else {
        bail!(
            "NATS at {} does not answer, and it is not a local address tandem could start",
            config.url
        );
    };
    start(config, port, state_dir).await.map(Some)
}

/// Starts `nats-server` with JetStream on 127.0.0.1:`port`, its store and log in `state_dir`,
/// and waits until it answers at `config.url`.
pub async fn start(config: &NatsConfig, port: u16, state_dir: &Path) -> anyhow::Result<LocalNats> {
    let store = state_dir.join("nats");
    std::fs::create_dir_all(&store)
        .with_context(|| format!("cannot create {}", store.display()))?;
    let args = vec![
        "-a".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string().into(),
        "-js".into(),
        "-sd".into(),
        store.into_os_string(),
    ];
    spawn(args, config, state_dir).await
}

/// Starts `nats-server` with the accounts of `deploy/nats/accounts.conf` (development
/// passwords) on 127.0.0.1:`port`, its store and log in `state_dir`; waits until `admin`
/// (in `config`) can connect.
pub async fn start_secure(
    config: &NatsConfig,
    port: u16,
    state_dir: &Path,
) -> anyhow::Result<LocalNats> {
    let leaf_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let store = state_dir.join("nats-secure");
    std::fs::create_dir_all(&store)
        .with_context(|| format!("cannot create {}", store.display()))?;
    let file = nats::write_local_config(
        state_dir,
        "nats-secure.conf",
        ACCOUNTS_CONF,
        TENANTS_CONF,
        (port, leaf_port),
        &store,
    )?;
    spawn(vec!["-c".into(), file.into_os_string()], config, state_dir).await
}

/// The secure single-server configuration, as shipped.
const ACCOUNTS_CONF: &str = include_str!("../../../deploy/nats/accounts.conf");

/// The accounts `ACCOUNTS_CONF` includes, as shipped.
const TENANTS_CONF: &str = include_str!("../../../deploy/nats/tenants.conf");

async fn spawn(
    args: Vec<std::ffi::OsString>,
    config: &NatsConfig,
    state_dir: &Path,
) -> anyhow::Result<LocalNats> {
    let binary = find_or_install()?;
    let log_path = state_dir.join("nats-server.log");
    let log = std::fs::File::create(&log_path)?;
    eprintln!(
        "tandem: starting {} (log {})",
        binary.display(),
        log_path.display()
    );
    let child = Command::new(&binary)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let local = LocalNats { child };
    for _ in 0..100 {
        if nats::try_connect(config, "tandem-up").await.is_ok() {
            return Ok(local);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "the local nats-server did not answer within 10 s; see {}",
        log_path.display()
    )
}

/// The port of a `nats://127.0.0.1:PORT` or `nats://localhost:PORT` URL.
pub fn local_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("nats://").unwrap_or(url);
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "4222"));
    matches!(host, "127.0.0.1" | "localhost").then(|| port.trim_end_matches('/').parse().ok())?
}

/// `nats-server` from `NATS_SERVER_BIN`, `PATH` or `/usr/sbin`, else installed with apt-get.
fn find_or_install() -> anyhow::Result<PathBuf> {
    if let Some(found) = nats::server_binary() {
        return Ok(found);
    }
    eprintln!(
        "tandem: nats-server is not installed; installing Debian's nats-server package with apt-get"
    );
    let sudo = !is_root();
    let apt = |args: &[&str]| -> bool {
        let mut command = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            command.arg("apt-get");
        }
        command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    // Install from the package lists as they are; refresh them only if that fails.
    let installed = apt(&["install", "-y", "nats-server"])
        || (apt(&["update"]) && apt(&["install", "-y", "nats-server"]));
    if !installed {
        bail!(
            "could not install nats-server; install it (apt-get install nats-server) or set NATS_URL to a running server"
        );
    }
    nats::server_binary().context("nats-server was installed but is not on PATH or in /usr/sbin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::local_port;

    #[test]
    fn only_local_urls_are_started_here() {
        assert_eq!(local_port("nats://127.0.0.1:4222"), Some(4222));
        assert_eq!(local_port("nats://localhost:5000"), Some(5000));
        assert_eq!(local_port("nats://127.0.0.1"), Some(4222));
        assert_eq!(local_port("nats://nats.example.org:4222"), None);
    }
}
