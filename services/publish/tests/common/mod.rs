//! Helpers shared by the publish service's tests over a real nats-server: starting the
//! service on a random port, publishing the events intake and leadership would, and waiting on
//! what the service shows rather than on a clock.
#![allow(dead_code)] // each test binary uses its own subset

use std::time::{Duration, SystemTime};

use async_nats::jetstream;
use bytes::Bytes;
use prost::Message as _;
use reqwest::{StatusCode, header::HeaderMap};
use tandem_proto::{
    timestamp,
    v1::{
        Agency, Arrangement, Classification, DatasetPublished, LeadershipDetermination,
        PopulationGroup, ReconciledFigure, SituationReport,
    },
};
use tandem_publish::PublishConfig;
use tandem_runtime::{Shutdown, config::CommonConfig, envelope::Envelope, topology};
pub use tandem_testkit::{DEADLINE, eventually};
use tandem_testkit::{NatsServer, reports::Report};

/// The publish service running in this process.
pub struct Publish {
    pub base: String,
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Publish {
    /// Starts an instance on a random port, publishing at most one version per `interval`,
    /// and waits until it is ready.
    pub async fn start(server: &NatsServer, interval: Duration) -> Self {
        Self::start_configured(server, interval, |_| {}).await
    }

    /// [`Publish::start`] with the configuration changed by `configure`.
    pub async fn start_configured(
        server: &NatsServer,
        interval: Duration,
        configure: impl FnOnce(&mut PublishConfig),
    ) -> Self {
        let publish = Self::spawn_configured(server, interval, configure).await;
        publish.wait_ready().await;
        publish
    }

    /// Starts an instance without waiting for it to be ready.
    pub async fn spawn(server: &NatsServer, interval: Duration) -> Self {
        Self::spawn_configured(server, interval, |_| {}).await
    }

    async fn spawn_configured(
        server: &NatsServer,
        interval: Duration,
        configure: impl FnOnce(&mut PublishConfig),
    ) -> Self {
        let mut common = CommonConfig::default();
        common.nats.url = server.url();
        let mut config = PublishConfig {
            common,
            publish_addr: "127.0.0.1:0".into(),
            publish_interval_ms: interval.as_millis() as u64,
            ..PublishConfig::default()
        };
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let shutdown = Shutdown::new();
        let task = tokio::spawn(tandem_publish::serve(config, listener, shutdown.clone()));
        Self {
            base,
            shutdown,
            task,
        }
    }

    /// Stops the instance and checks it ran cleanly.
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.task
            .await
            .expect("publish task")
            .expect("publish ran cleanly");
    }

    /// GET `path`: status, headers, body.
    pub async fn get(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        self.get_with(path, &[]).await
    }

    /// GET `path` with extra request headers.
    pub async fn get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        tandem_runtime::tls::install_crypto_provider();
        let client = reqwest::Client::new();
        let mut request = client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        (status, headers, body)
    }

    /// The body of a GET that must succeed.
    pub async fn body(&self, path: &str) -> String {
        let (status, _, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The JSON of a GET that must succeed.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.body(path).await).expect("JSON body")
    }

    /// Waits until `/healthz` says ready.
    pub async fn wait_ready(&self) {
        eventually("the service to be ready", DEADLINE, || async {
            let (status, _, _) = self.get("/healthz").await;
            status == StatusCode::OK
        })
        .await;
    }

    /// Waits until the service has applied the state-changing event stored at `sequence`.
    pub async fn wait_applied(&self, sequence: u64) {
        eventually("the event to be applied", DEADLINE, || async {
            let health = self.json("/healthz").await;
            health["version"].as_u64().unwrap_or(0) >= sequence
        })
        .await;
    }
}

/// A test's nats-server with the event stream, and a JetStream context on it.
pub async fn server_with_events() -> (NatsServer, jetstream::Context) {
    tandem_testkit::init_test_log();
    let server = NatsServer::start();
    let js = server.jetstream().await;
    ensure_events_stream(&js).await;
    (server, js)
}

/// `TANDEM_EVENTS` exists, as intake or leadership would have created it.
pub async fn ensure_events_stream(js: &jetstream::Context) {
    topology::ensure_stream(js, topology::events_stream(&Default::default()))
        .await
        .expect("events stream");
}

/// An accepted report as intake announces it (with notes and internal ids that must never be
/// published).
pub fn report(
    report_id: &str,
    situation_id: &str,
    agency: Agency,
    revision: u32,
) -> SituationReport {
    Report::new(agency, report_id, situation_id, revision)
        .reported_at(
            SystemTime::UNIX_EPOCH
                + Duration::from_secs(1_767_225_600 + 3600 * u64::from(revision)),
        )
        .pcodes("CO05", "CO05001")
        .figures("2026-01-01", "DTM", &[(PopulationGroup::Migrant, 1200)])
        .build()
}

/// Publishes `report` as accepted, with intake's envelope. Returns the stream sequence.
pub async fn accept(js: &jetstream::Context, report: &SituationReport, msg_id: &str) -> u64 {
    tandem_testkit::reports::announce_accepted(js, report, msg_id, 0).await
}

/// A determination of `situation_id` in COL with `figures` (group, count).
pub fn determination(
    situation_id: &str,
    sequence: u64,
    figures: &[(PopulationGroup, u64)],
) -> LeadershipDetermination {
    LeadershipDetermination {
        situation_id: situation_id.into(),
        sequence,
        determination_id: format!("{situation_id}/{sequence}"),
        country: "COL".into(),
        classification: Classification::MixedMovement as i32,
        arrangement: Arrangement::JointPlatform as i32,
        lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
        figures: figures
            .iter()
            .map(|(group, count)| ReconciledFigure {
                group: *group as i32,
                count: *count,
                source_agency: Agency::Iom as i32,
                report_id: "internal-report-id".into(),
                ..Default::default()
            })
            .collect(),
        policy_version: "foe-2019.1".into(),
        changed: true,
        determined_at: Some(timestamp::from_system_time(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600 + sequence),
        )),
        ..Default::default()
    }
}

/// Publishes `determination` with leadership's envelope. Returns the stream sequence.
pub async fn determine(js: &jetstream::Context, determination: &LeadershipDetermination) -> u64 {
    let id = format!("determination:{}", determination.determination_id);
    publish_determination(js, determination, &id).await
}

/// Publishes `determination` under message id `id`.
pub async fn publish_determination(
    js: &jetstream::Context,
    determination: &LeadershipDetermination,
    id: &str,
) -> u64 {
    Envelope {
        service: "leadership",
        event: "leadership.determined",
        subject: &determination.situation_id,
        id,
    }
    .publish(
        js,
        topology::determined_subject(&determination.country),
        Bytes::from(determination.encode_to_vec()),
    )
    .await
    .expect("determination stored")
    .sequence
}

/// Every `DatasetPublished` on the stream, with its raw payload and headers as text.
pub async fn announcements(js: &jetstream::Context) -> Vec<(DatasetPublished, String)> {
    tandem_testkit::stream_messages(js, topology::EVENTS_STREAM)
        .await
        .into_iter()
        .filter(|m| m.subject.as_str() == topology::DATA_PUBLISHED_SUBJECT)
        .map(|m| {
            let event = DatasetPublished::decode(m.payload.clone()).expect("announcement decodes");
            let mut raw = String::from_utf8_lossy(&m.payload).into_owned();
            for (name, values) in m.headers.iter() {
                for value in values {
                    raw.push_str(&format!("\n{name}: {value}"));
                }
            }
            (event, raw)
        })
        .collect()
}

/// Waits until at least `count` announcements are stored, and returns them all.
pub async fn wait_announcements(
    js: &jetstream::Context,
    count: usize,
) -> Vec<(DatasetPublished, String)> {
    eventually("dataset announcements", DEADLINE, || async {
        announcements(js).await.len() >= count
    })
    .await;
    announcements(js).await
}

/// The bytes of stored object `key` in `tandem-data`.
pub async fn stored_object(js: &jetstream::Context, key: &str) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let store = js
        .get_object_store(topology::DATA_OBJECT_STORE)
        .await
        .expect("object store");
    let mut object = store.get(key).await.expect("object");
    let mut bytes = Vec::new();
    object.read_to_end(&mut bytes).await.expect("object bytes");
    bytes
}

/// The chunk keys manifest `key` (a `DatasetPublished.object_key`) lists, in order.
pub async fn manifest(js: &jetstream::Context, key: &str) -> Vec<String> {
    String::from_utf8(stored_object(js, key).await)
        .expect("UTF-8 manifest")
        .lines()
        .map(String::from)
        .collect()
}

/// The CSV of the version whose manifest is `key`, read as a reader with access to the object
/// store would: every chunk it lists, concatenated.
pub async fn stored_version(js: &jetstream::Context, key: &str) -> Vec<u8> {
    let mut csv = Vec::new();
    for chunk in manifest(js, key).await {
        csv.extend(stored_object(js, &chunk).await);
    }
    csv
}

/// Whether object `key` is stored (and not deleted) in `tandem-data`.
pub async fn is_stored(js: &jetstream::Context, key: &str) -> bool {
    let store = js
        .get_object_store(topology::DATA_OBJECT_STORE)
        .await
        .expect("object store");
    store.info(key).await.is_ok_and(|info| !info.deleted)
}

/// CSV text as records (header and hashtag rows included).
pub fn records(csv_text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv_text.as_bytes())
        .records()
        .map(|r| r.expect("CSV record").iter().map(String::from).collect())
        .collect()
}

/// The value of column `name` in data record `record` of `records`.
pub fn cell<'a>(records: &'a [Vec<String>], record: &'a [String], name: &str) -> &'a str {
    let index = records[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    &record[index]
}
