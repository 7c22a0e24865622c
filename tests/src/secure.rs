//! A server running the deployment's secure configuration, `deploy/nats/accounts.conf` and the
//! accounts it includes, `deploy/nats/tenants.conf` (TANDEM, IOM, UNHCR, PARTNERS, SYS), their
//! users, exports, imports and permissions, exactly as shipped, with only its port and JetStream store moved into the test's own space.
//!
//! The server's log is kept: a permission violation is refused silently on the wire (the
//! message is dropped, the client gets an asynchronous `-ERR`), and the log line
//! (`Publish Violation - User "iom", Subject "..."`) is the reliable witness.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use tempfile::TempDir;

use crate::process::{ServerProcess, free_ports};

/// The shipped configuration file.
pub fn accounts_conf_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/accounts.conf")
}

/// The accounts the shipped configurations include.
pub fn tenants_conf_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/tenants.conf")
}

pub use tandem_runtime::nats::localise_config as localise;

fn read_shipped(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A nats-server running `deploy/nats/accounts.conf` on a free port; killed on drop.
pub struct SecureServer {
    process: ServerProcess,
    port: u16,
    leaf_port: u16,
    _dir: TempDir,
}

impl SecureServer {
    /// Starts the server and waits until it accepts clients.
    ///
    /// # Panics
    /// When the configuration cannot be read or localised, or the server does not start.
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Starts the server with `extra` appended to the configuration, e.g.
    /// `no_auth_user: intake`, which makes a connection without credentials that user: how
    /// the tests run a service as its own user while tandem-runtime cannot send a user and
    /// password (async-nats 0.51 ignores credentials in the URL).
    ///
    /// # Panics
    /// As [`SecureServer::start`].
    pub fn start_with(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("cannot make a directory for the server");
        let ports = free_ports(2);
        let (port, leaf_port) = (ports[0], ports[1]);
        let config = read_shipped(&accounts_conf_path())
            .and_then(|text| {
                let tenants = read_shipped(&tenants_conf_path())?;
                tandem_runtime::nats::write_local_config(
                    dir.path(),
                    "accounts.conf",
                    &(text + extra + "\n"),
                    &tenants,
                    (port, leaf_port),
                    &dir.path().join("jetstream"),
                )
            })
            .expect("cannot prepare accounts.conf");
        let process = ServerProcess::start(&config, &[], "secure");
        Self {
            process,
            port,
            leaf_port,
            _dir: dir,
        }
    }

    /// Makes every stream, bucket, object store and durable as the admin, as `tandem setup`
    /// does before a deployment's services start (they may create none).
    ///
    /// # Panics
    /// When the admin cannot connect or set-up fails.
    pub async fn set_up(&self) -> Vec<tandem_runtime::setup::Step> {
        let admin = self.connect("admin", "admin-dev-password", None).await;
        tandem_runtime::setup::run(
            &async_nats::jetstream::new(admin),
            &Default::default(),
            &Default::default(),
        )
        .await
        .expect("tandem setup as the admin")
        .steps
    }

    /// The client URL without credentials.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port agencies' leaf nodes connect to.
    pub fn leaf_port(&self) -> u16 {
        self.leaf_port
    }

    /// The client URL with `user`'s credentials in it (the form services take in `NATS_URL`).
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!("nats://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// A connection as `user`, with replies on `inbox_prefix` (users whose permissions name
    /// their own inbox prefix need it).
    pub async fn connect(
        &self,
        user: &str,
        password: &str,
        inbox_prefix: Option<&str>,
    ) -> async_nats::Client {
        let mut options = async_nats::ConnectOptions::with_user_and_password(
            user.to_string(),
            password.to_string(),
        )
        .request_timeout(Some(Duration::from_secs(3)));
        if let Some(prefix) = inbox_prefix {
            options = options.custom_inbox_prefix(prefix);
        }
        options
            .connect(self.url())
            .await
            .unwrap_or_else(|error| panic!("cannot connect as {user}: {error}"))
    }

    /// The server's whole log so far.
    pub fn log(&self) -> Vec<String> {
        self.process.log()
    }

    /// Every permission-violation line the server logged so far.
    pub fn violations(&self) -> Vec<String> {
        self.process
            .log()
            .into_iter()
            .filter(|line| line.contains("Violation"))
            .collect()
    }

    /// The permission-violation lines of `user` so far.
    pub fn violations_by(&self, user: &str) -> Vec<String> {
        // nats-server 2.9 names the user `User "intake"`, later releases `"<account>/user:intake"`.
        let names = [format!("User \"{user}\""), format!("/user:{user}\"")];
        self.violations()
            .into_iter()
            .filter(|line| names.iter().any(|name| line.contains(name)))
            .collect()
    }

    /// Waits until the server logs a violation by `user` on exactly `subject`; returns the line.
    ///
    /// # Panics
    /// After `timeout` without one.
    pub async fn wait_for_violation(&self, user: &str, subject: &str, timeout: Duration) -> String {
        let subject = format!("Subject \"{subject}\"");
        let what = format!("a violation by user {user} on {subject} logged");
        crate::eventually(what, timeout, || {
            let found = self
                .violations_by(user)
                .into_iter()
                .find(|line| line.contains(&subject))
                .ok_or_else(|| format!("violations: {:#?}", self.violations()));
            std::future::ready(found)
        })
        .await
    }
}
