//! Connecting to NATS: [`connect`] (waits until the server answers, warns once when its
//! release is one tandem's chaos test showed losing writes), [`retry`] (what a service needs
//! at start, retried with backoff; [`set_up`] for its streams and buckets), where the `nats-server` binary is ([`server_binary`]), and a
//! shipped server configuration made to run locally ([`localise_config`], written with the
//! accounts it includes by [`write_local_config`]).

use std::{
    future::Future,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::Context as _;
use async_nats::{Client, ConnectOptions};

use crate::{config::NatsConfig, shutdown::Shutdown};

/// Connects with `config`, naming the connection `name` (shown by `nats server report
/// connections`). Waits, retrying with backoff, until the server answers or `shutdown` fires,
/// so services can start before NATS does.
pub async fn connect(
    config: &NatsConfig,
    name: &str,
    shutdown: &Shutdown,
) -> anyhow::Result<Client> {
    let client = retry(shutdown, "NATS not reachable", || try_connect(config, name)).await?;
    warn_once_if_known_faulty(&client.server_info().version);
    Ok(client)
}

/// [`retry`] for a service's set-up: the streams and buckets it needs, which JetStream may not
/// serve yet (a server starting, a cluster electing its leader).
pub async fn set_up<T, F, Fut>(shutdown: &Shutdown, step: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    retry(shutdown, "cannot set up streams and buckets", step).await
}

/// Runs `step` until it succeeds, with backoff (0.1 s doubling to 5 s), or until `shutdown`
/// fires. For what a service needs before it can work — the connection, its streams and
/// buckets — which fails for a few seconds while a server restarts or a cluster elects its
/// JetStream leader: exiting then would leave it to the supervisor's restart backoff (minutes
/// under Kubernetes) to bring the service back.
pub async fn retry<T, F, Fut>(shutdown: &Shutdown, failing: &str, mut step: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match step().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), retry_in = ?delay, "{failing}");
                if !shutdown.sleep(delay).await {
                    return Err(error.context(format!("shut down while {failing}")));
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// One connection attempt.
pub async fn try_connect(config: &NatsConfig, name: &str) -> anyhow::Result<Client> {
    let mut options = match &config.creds {
        Some(path) => ConnectOptions::with_credentials_file(path)
            .await
            .with_context(|| format!("cannot read NATS credentials {}", path.display()))?,
        None => ConnectOptions::new(),
    };
    match (&config.user, &config.password) {
        (Some(user), Some(password)) => {
            options = options.user_and_password(user.clone(), password.clone());
        }
        (None, None) => {}
        _ => anyhow::bail!("nats.user and nats.password must be set together"),
    }
    if let Some(prefix) = &config.inbox_prefix {
        options = options.custom_inbox_prefix(prefix.clone());
    }
    options = options
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .require_tls(config.require_tls)
        .event_callback(|event| async move {
            tracing::info!(%event, "NATS connection event");
        });
    if let Some(ca) = &config.tls_ca {
        options = options.add_root_certificates(ca.clone());
    }
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            options = options.add_client_certificate(cert.clone(), key.clone())
        }
        (None, None) => {}
        _ => anyhow::bail!("nats.tls_cert and nats.tls_key must be set together"),
    }
    // Several servers of a cluster may be given, comma-separated; the client moves between them.
    let servers = config
        .url
        .split(',')
        .map(|url| url.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid NATS URL {}", without_userinfo(&config.url)))?;
    options.connect(servers).await.with_context(|| {
        format!(
            "cannot connect to NATS at {}",
            without_userinfo(&config.url)
        )
    })
}

/// The `nats-server` binary: `$NATS_SERVER_BIN`, else `nats-server` on `PATH`, else Debian's
/// `/usr/sbin/nats-server`. `None` when none of them exists.
pub fn server_binary() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(path.into());
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|candidate| candidate.is_file())
        })
        .or_else(|| Some(std::path::PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.is_file()))
}

/// A nats-server configuration (such as `deploy/nats/accounts.conf`) made to run here: `config`
/// with its client port set to `port`, its leaf-node port to `leaf_port`, its
/// monitoring listener removed (several local servers must not contend for one port) and its
/// JetStream store moved to `store_dir`. Errors when a line to replace is missing, so the tests
/// notice when the file's layout changes. The result still includes `tenants.conf` by a relative path:
/// [`write_local_config`] writes both.
pub fn localise_config(
    config: &str,
    port: u16,
    leaf_port: u16,
    store_dir: &std::path::Path,
) -> anyhow::Result<String> {
    let mut found = (false, false, false);
    let lines: Vec<String> = config
        .lines()
        .filter(|line| {
            let trimmed = line.trim_start();
            !(trimmed.starts_with("http:") || trimmed.starts_with("http_port:"))
        })
        .map(|line| {
            let trimmed = line.trim_start();
            if line.starts_with("port:") {
                found.0 = true;
                format!("port: {port}")
            } else if line.starts_with("leafnodes {") && line.contains("listen:") {
                found.2 = true;
                format!("leafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}")
            } else if trimmed.starts_with("store_dir:") {
                found.1 = true;
                format!("  store_dir: \"{}\"", store_dir.display())
            } else {
                line.to_string()
            }
        })
        .collect();
    anyhow::ensure!(found.0, "no `port:` line in the configuration");
    anyhow::ensure!(found.1, "no `store_dir:` line in the configuration");
    anyhow::ensure!(
        found.2,
        "no one-line `leafnodes {{ listen: ... }}` in the configuration"
    );
    Ok(lines.join("\n") + "\n")
}

/// Writes `config` localised as [`localise_config`] does to `dir/file_name`, and `tenants` (the
/// accounts it includes) beside it as `dir/tenants.conf`; returns the configuration's path.
pub fn write_local_config(
    dir: &std::path::Path,
    file_name: &str,
    config: &str,
    tenants: &str,
    ports: (u16, u16),
    store_dir: &std::path::Path,
) -> anyhow::Result<std::path::PathBuf> {
    let text = localise_config(config, ports.0, ports.1, store_dir)?;
    let path = dir.join(file_name);
    let tenants_path = dir.join("tenants.conf");
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::write(&tenants_path, tenants)
        .with_context(|| format!("cannot write {}", tenants_path.display()))?;
    Ok(path)
}

/// `urls` (comma-separated) without any `user:password@`, for messages: logs hold no secrets.
fn without_userinfo(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}{}", &url[..scheme + 3], &url[at + 1..])
            }
            _ => url.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The oldest nats-server release tandem is not known to lose data on. tandem's chaos test on
/// Debian 12's nats-server 2.9.10 (docs/reliability.md) found acknowledged KV writes gone after
/// the server was SIGKILLed and restarted, and two compare-and-set writes of one key both
/// accepted while a node of a 3-node cluster restarted; the same runs on 2.15.1 lose nothing.
const OLDEST_SOUND_SERVER: semver::Version = semver::Version::new(2, 10, 0);

/// Whether `version` (as the server announces it) is a release older than
/// [`OLDEST_SOUND_SERVER`]: tandem works on it, but a crash of the server can lose messages.
fn is_known_faulty(version: &str) -> bool {
    semver::Version::parse(version.trim_start_matches('v'))
        .is_ok_and(|release| release < OLDEST_SOUND_SERVER)
}

/// Warns, once per process (`tandem up` connects every service), when the server is
/// [`is_known_faulty`].
fn warn_once_if_known_faulty(version: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if is_known_faulty(version) && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            server_version = version,
            "nats-server {version} is older than {OLDEST_SOUND_SERVER}: after a server crash it can lose acknowledged writes (see docs/reliability.md); run a current release in production"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{is_known_faulty, localise_config, without_userinfo};

    #[test]
    fn the_shipped_single_server_runs_here_without_its_monitoring_port() {
        let shipped = include_str!("../../../deploy/nats/accounts.conf");
        assert!(shipped.lines().any(|line| line.starts_with("http:")));
        let local = localise_config(shipped, 5000, 5001, std::path::Path::new("/tmp/store"))
            .expect("localised");
        let lines: Vec<&str> = local.lines().collect();
        assert!(lines.contains(&"port: 5000"));
        assert!(lines.contains(&"leafnodes { listen: \"127.0.0.1:5001\" }"));
        assert!(lines.contains(&"  store_dir: \"/tmp/store\""));
        assert!(lines.contains(&"include ./tenants.conf"));
        assert!(
            lines
                .iter()
                .all(|line| !line.starts_with("http") && !line.contains("8222")),
            "{local}"
        );
    }

    #[test]
    fn urls_in_messages_lose_their_credentials() {
        assert_eq!(
            without_userinfo("nats://intake:s3cret@a:4222, tls://b:4222,nats://tok@c"),
            "nats://a:4222, tls://b:4222,nats://c"
        );
    }

    #[test]
    fn releases_before_2_10_are_flagged_and_later_ones_or_unparseable_ones_are_not() {
        for faulty in ["2.9.10", "v2.9.25", "2.10.0-RC.1"] {
            assert!(is_known_faulty(faulty), "{faulty}");
        }
        for sound in ["2.10.0", "2.15.1", "v3.0.0", "not a version", ""] {
            assert!(!is_known_faulty(sound), "{sound}");
        }
    }
}
