//! An agency's own server attached as a leaf node (`deploy/nats/leafnode-agency.conf`) to the
//! secure hub (`deploy/nats/accounts.conf`): the agency's systems, connected only to their
//! local server, publish reports and get the JetStream acknowledgement from the hub, and
//! receive their own rejections; the leaf carries nothing else of tandem.

use std::time::{Duration, Instant};

use async_nats::{HeaderMap, jetstream};
use futures::StreamExt as _;
use tandem_runtime::topology;
use tandem_testkit::{
    init_test_log,
    process::{ServerProcess, free_ports},
    secure::SecureServer,
    stream_messages,
};

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_leaf_node_carries_only_the_agency_subjects() {
    init_test_log();
    // The hub listens for leaf nodes over TLS, with a certificate of a throwaway CA.
    let dir = tempfile::tempdir().expect("dir");
    tandem_testkit::certs::throwaway(dir.path());
    let tls = dir.path().display();
    let hub_leaf_port = free_ports(1)[0];
    // (The later `leafnodes` block replaces the configuration's own.)
    let hub = SecureServer::start_with(&format!(
        r#"leafnodes {{
  listen: "127.0.0.1:{hub_leaf_port}"
  tls {{ cert_file: "{tls}/server.crt", key_file: "{tls}/server.key" }}
}}"#
    ));
    let admin = hub.connect("admin", "admin-dev-password", None).await;
    let admin_js = jetstream::new(admin.clone());
    topology::ensure_streams(&admin_js, topology::intake_streams(&Default::default()))
        .await
        .expect("intake streams");
    topology::ensure_stream(&admin_js, topology::events_stream(&Default::default()))
        .await
        .expect("TANDEM_EVENTS");

    // The shipped leaf configuration, pointed at this hub, the throwaway CA and a free local
    // port.
    let local_port = free_ports(1)[0];
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/nats/leafnode-agency.conf"),
    )
    .expect("leafnode-agency.conf");
    assert!(
        shipped.contains("listen: 127.0.0.1:4222")
            && shipped.contains("\"tls://iom:")
            && shipped.contains("@tandem-hub:7422")
            && shipped.contains("tls: { ca_file: \"/etc/nats/tls/ca.crt\" }")
            && !shipped.contains("insecure"),
        "the leaf checks the hub's certificate against tandem's CA"
    );
    let config = shipped
        .replace(
            "listen: 127.0.0.1:4222",
            &format!("listen: 127.0.0.1:{local_port}"),
        )
        .replace("@tandem-hub:7422", &format!("@127.0.0.1:{hub_leaf_port}"))
        .replace("/etc/nats/tls/", &format!("{tls}/"));
    let path = dir.path().join("leaf.conf");
    std::fs::write(&path, config).expect("write");
    let _leaf = ServerProcess::start(&path, &[], "iom-leaf");

    // IOM's system talks to its own server only.
    let local = async_nats::connect(format!("nats://127.0.0.1:{local_port}"))
        .await
        .expect("connect to the leaf");
    let local_js = jetstream::new(local.clone());
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "iom:leaf-1");
    // The leaf connection comes up asynchronously: publish until the hub acknowledges (the
    // same Nats-Msg-Id each time, so retries store it once).
    let deadline = Instant::now() + DEADLINE;
    let ack = loop {
        let attempt = async {
            local_js
                .publish_with_headers(
                    topology::intake_subject("iom"),
                    headers.clone(),
                    "report".into(),
                )
                .await?
                .await
                .map_err(anyhow::Error::from)
        }
        .await;
        match attempt {
            Ok(ack) => break ack,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "no ack through the leaf: {error:#}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(ack.stream, topology::INTAKE_IOM_STREAM);

    // Posing as UNHCR through the leaf is refused by the hub.
    let posed = async {
        local_js
            .publish(topology::intake_subject("unhcr"), "posed".into())
            .await?
            .await
            .map_err(anyhow::Error::from)
    }
    .await;
    assert!(posed.is_err(), "IOM's leaf must not reach UNHCR's intake");
    assert_eq!(
        stream_messages(&admin_js, topology::INTAKE_IOM_STREAM)
            .await
            .len()
            + stream_messages(&admin_js, topology::INTAKE_UNHCR_STREAM)
                .await
                .len(),
        1
    );

    // Own rejections arrive; UNHCR's, published before the next own one, never do.
    let mut rejections = local
        .subscribe("tandem.situation.rejected.>")
        .await
        .expect("subscribe");
    local.flush().await.expect("flush");
    let deadline = Instant::now() + DEADLINE;
    loop {
        admin
            .publish("tandem.situation.rejected.iom", "first".into())
            .await
            .expect("publish");
        admin.flush().await.expect("flush");
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(200), rejections.next()).await
        {
            assert_eq!(message.subject.as_str(), "tandem.situation.rejected.iom");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "IOM's rejections do not reach the leaf"
        );
    }
    admin
        .publish("tandem.situation.rejected.unhcr", "not for IOM".into())
        .await
        .expect("publish");
    admin
        .publish("tandem.situation.rejected.iom", "last".into())
        .await
        .expect("publish");
    admin.flush().await.expect("flush");
    loop {
        let message = tokio::time::timeout(DEADLINE, rejections.next())
            .await
            .expect("IOM's last rejection arrives")
            .expect("open");
        assert_eq!(message.subject.as_str(), "tandem.situation.rejected.iom");
        if message.payload.as_ref() == b"last" {
            break;
        }
    }
}
