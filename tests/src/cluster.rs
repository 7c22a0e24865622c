//! A 3-node (or n-node) JetStream cluster on loopback, private to one test.
//!
//! Each node has its own `server_name`, client port, route port and store directory; all share
//! one cluster name and list every node's route, the way `deploy/nats/cluster-node*.conf` do.
//! A node can be killed (SIGKILL) and restarted on the same ports and store, to test what the
//! system does while a node is lost and after it rejoins.

use std::{path::PathBuf, time::Duration};

use async_nats::ServerAddr;
use tempfile::TempDir;

use crate::process::{ServerProcess, free_ports};

/// The server binary of cluster nodes: `NATS_CLUSTER_SERVER_BIN` when set, else the one every
/// test uses. `scripts/test` sets it to a current release, since Debian's 2.9.10 loses
/// acknowledged writes when a cluster node dies (docs/reliability.md) and would fail the
/// cluster tests now and then for its own reason.
fn cluster_server_bin() -> PathBuf {
    std::env::var_os("NATS_CLUSTER_SERVER_BIN").map_or_else(crate::nats_server_bin, PathBuf::from)
}

/// The cluster name every node joins.
pub const CLUSTER_NAME: &str = "tandem-test";

struct Node {
    name: String,
    client_port: u16,
    config: PathBuf,
    process: Option<ServerProcess>,
}

/// A routed cluster of nats-servers with JetStream; every node is killed on drop.
pub struct NatsCluster {
    nodes: Vec<Node>,
    // Held for its lifetime: the stores and configurations live in it.
    _dir: TempDir,
}

impl NatsCluster {
    /// Starts `size` nodes (3 for R3 streams) and waits until each accepts clients.
    /// Call [`NatsCluster::wait_for_jetstream`] before using JetStream: the nodes elect a
    /// meta leader only after they have found each other.
    ///
    /// # Panics
    /// When a node cannot start (the panic holds its log).
    pub fn start(size: usize) -> Self {
        let dir = tempfile::tempdir().expect("cannot make the cluster directory");
        let ports = free_ports(size * 2);
        let (client_ports, route_ports) = ports.split_at(size);
        let routes = route_ports
            .iter()
            .map(|port| format!("\"nats-route://127.0.0.1:{port}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::with_capacity(size);
        for index in 0..size {
            let name = format!("n{}", index + 1);
            let store = dir.path().join(format!("{name}-store"));
            let config = dir.path().join(format!("{name}.conf"));
            // The file store admits tandem's default stream and bucket limits (about 6 GiB,
            // reserved, not written); the tests store little.
            let text = format!(
                "server_name: \"{name}\"\n\
                 listen: \"127.0.0.1:{client}\"\n\
                 jetstream {{\n  store_dir: \"{store}\"\n  max_memory_store: 64MB\n  max_file_store: 8GB\n}}\n\
                 cluster {{\n  name: \"{CLUSTER_NAME}\"\n  listen: \"127.0.0.1:{route}\"\n  routes: [{routes}]\n}}\n",
                client = client_ports[index],
                store = store.display(),
                route = route_ports[index],
            );
            std::fs::write(&config, text).expect("cannot write a node configuration");
            nodes.push(Node {
                name,
                client_port: client_ports[index],
                config,
                process: None,
            });
        }
        let mut cluster = Self { nodes, _dir: dir };
        for index in 0..size {
            cluster.start_node(index);
        }
        cluster
    }

    fn start_node(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        let binary = cluster_server_bin();
        node.process = Some(ServerProcess::start_binary(
            &binary,
            &node.config,
            &[],
            &node.name,
        ));
    }

    /// How many nodes the cluster has (running or not).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Node `index`'s `server_name` (`n1`, `n2`, …).
    pub fn name(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// Node `index`'s client URL.
    pub fn url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[index].client_port)
    }

    /// Every node's client URL, comma-separated (the form of `NATS_URL` for a cluster).
    pub fn urls(&self) -> String {
        (0..self.size())
            .map(|index| self.url(index))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every node's address, for `async_nats::connect`.
    pub fn server_addrs(&self) -> Vec<ServerAddr> {
        (0..self.size())
            .filter_map(|index| self.url(index).parse().ok())
            .collect()
    }

    /// A client that knows every node, so it fails over when one is lost.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(self.server_addrs())
            .await
            .expect("cannot connect to the test cluster")
    }

    /// Node `index`'s log so far (empty while it is down).
    pub fn log(&self, index: usize) -> Vec<String> {
        self.nodes[index]
            .process
            .as_ref()
            .map(ServerProcess::log)
            .unwrap_or_default()
    }

    /// Kills node `index` at once (SIGKILL).
    pub fn kill(&mut self, index: usize) {
        if let Some(mut process) = self.nodes[index].process.take() {
            process.kill();
        }
    }

    /// Starts node `index` again on its ports and store after [`NatsCluster::kill`].
    pub fn restart(&mut self, index: usize) {
        self.kill(index);
        self.start_node(index);
    }

    /// Waits until every running node answers JetStream API requests, i.e. the cluster has a
    /// meta leader and each node knows it.
    ///
    /// # Panics
    /// After `timeout`.
    pub async fn wait_for_jetstream(&self, timeout: Duration) {
        for index in 0..self.size() {
            if self.nodes[index].process.is_none() {
                continue;
            }
            let client = async_nats::connect(self.url(index))
                .await
                .expect("cannot connect to a cluster node");
            let what = format!("JetStream on node {} available", self.nodes[index].name);
            crate::eventually(what, timeout, || async {
                // `$JS.API.INFO` answers with an error (or not at all) until there is a meta
                // leader. The raw request is used because async-nats 0.51 cannot parse 2.9's
                // account info.
                let answer = tokio::time::timeout(
                    Duration::from_secs(2),
                    client.request("$JS.API.INFO", "".into()),
                )
                .await;
                matches!(answer, Ok(Ok(message))
                    if serde_json::from_slice::<serde_json::Value>(&message.payload)
                        .is_ok_and(|v| v.get("error").is_none()))
            })
            .await;
        }
    }
}
