//! The publish service starting from a snapshot of its state: it reads only the events after
//! the snapshot, and serves what a rebuild from the whole stream serves; a snapshot it cannot
//! use makes it rebuild from the start instead.
//!
//! What the service read is counted from outside: every `STREAM.MSG.GET` request it sends is
//! seen by a core subscription of the test on the same subject.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream;
use bytes::Bytes;
use common::*;
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::v1::{Agency, NotificationState, NotificationStatus, PopulationGroup};
use tandem_runtime::{envelope::Envelope, topology};

const FAST: Duration = Duration::from_millis(300);

/// The snapshot's key in `tandem-data`, as docs/operating.md names it.
const SNAPSHOT_KEY: &str = "snapshots/publish-state";

/// The sequences of the messages of `stream` requested with `STREAM.MSG.GET`, as seen on the
/// wire.
struct Reads(Arc<Mutex<Vec<u64>>>);

impl Reads {
    async fn watch(js: &jetstream::Context, stream: &str) -> Self {
        let client = js.client();
        let mut requests = client
            .subscribe(format!("$JS.API.STREAM.MSG.GET.{stream}"))
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let body: serde_json::Value =
                    serde_json::from_slice(&request.payload).expect("a JSON request");
                let sequence = body["seq"].as_u64().expect("a sequence");
                sink.lock().expect("lock").push(sequence);
            }
        });
        Self(seen)
    }

    /// The lowest sequence requested so far.
    fn first(&self) -> Option<u64> {
        self.0.lock().expect("lock").iter().copied().min()
    }
}

/// Situation `n` reported by IOM and determined (its determination `sequence`) with `count`
/// IDPs.
async fn situation(js: &jetstream::Context, n: u64, sequence: u64, count: u64) -> u64 {
    let id = format!("COL-{n:03}");
    accept(
        js,
        &report(&format!("r-{n}-{sequence}"), &id, Agency::Iom, 1),
        &format!("o-{n}-{sequence}"),
    )
    .await;
    determine(
        js,
        &determination(&id, sequence, &[(PopulationGroup::Idp, count)]),
    )
    .await
}

/// An acknowledgement of the notification about situation `n`'s first determination.
async fn acknowledged(js: &jetstream::Context, n: u64) {
    let status = NotificationStatus {
        notification_id: format!("iom.ntf-{n}"),
        recipient_agency: Agency::Iom as i32,
        recipient_id: "iom-cc".into(),
        state: NotificationState::Acknowledged as i32,
        situation_id: format!("COL-{n:03}"),
        determination_id: format!("COL-{n:03}/1"),
        acknowledged_by: "iom-cc".into(),
        acknowledged_via: "link".into(),
        at: Some(tandem_proto::timestamp::now()),
        ..Default::default()
    };
    Envelope {
        service: "notify",
        event: "notification.status",
        subject: &status.situation_id,
        id: &format!("status:{}", status.notification_id),
    }
    .publish(
        js,
        topology::notify_status_subject("iom"),
        Bytes::from(status.encode_to_vec()),
    )
    .await
    .expect("status stored");
}

/// The `TANDEM_EVENTS` sequence the stored snapshot covers, if there is one.
async fn snapshot_through(js: &jetstream::Context) -> Option<u64> {
    let store = js
        .get_object_store(topology::DATA_OBJECT_STORE)
        .await
        .ok()?;
    let info = store.info(SNAPSHOT_KEY).await.ok()?;
    info.metadata.get("events_through")?.parse().ok()
}

async fn last_event(js: &jetstream::Context) -> u64 {
    let mut stream = js
        .get_stream(topology::EVENTS_STREAM)
        .await
        .expect("stream");
    stream.info().await.expect("info").state.last_sequence
}

/// What a client sees of the dataset and the histories, ETags included.
async fn everything(publish: &Publish) -> Vec<(String, Option<String>)> {
    let mut seen = Vec::new();
    for path in [
        "/v1/situations.csv",
        "/v1/situations",
        "/v1/datasets",
        "/v1/situations/COL-001/history",
        "/v1/situations/COL-012/history",
    ] {
        let (status, headers, body) = publish.get(path).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{path}: {body}");
        let etag = headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        seen.push((body, etag));
    }
    seen
}

#[tokio::test]
async fn a_restart_after_a_snapshot_reads_only_the_events_after_it_and_serves_the_same_data() {
    let (server, js) = server_with_events().await;
    topology::ensure_stream(&js, topology::notify_stream(&Default::default()))
        .await
        .expect("notify stream");
    let snapshot_every = |config: &mut tandem_publish::PublishConfig| {
        config.snapshots.every_events = 20;
    };

    // Ten situations on the stream, one acknowledged; the first start reads them all and,
    // having read more than 20, stores a snapshot at once.
    for n in 1..=10 {
        situation(&js, n, 1, 100).await;
    }
    acknowledged(&js, 1).await;
    let first = Publish::start_configured(&server, FAST, snapshot_every).await;
    let loaded = last_event(&js).await;
    eventually("a snapshot of the stream as it was", DEADLINE, || async {
        snapshot_through(&js).await.is_some_and(|s| s >= loaded)
    })
    .await;
    wait_announcements(&js, 1).await;
    first.stop().await;
    let covered = snapshot_through(&js).await.expect("a snapshot");

    // While it is stopped: a situation changes, two are new, another acknowledgement.
    situation(&js, 1, 2, 5000).await;
    situation(&js, 11, 1, 300).await;
    situation(&js, 12, 1, 400).await;
    acknowledged(&js, 12).await;
    let last = last_event(&js).await;

    let reads = Reads::watch(&js, topology::EVENTS_STREAM).await;
    let restarted = Publish::start_configured(&server, FAST, snapshot_every).await;
    let health = restarted.json("/healthz").await;
    assert_eq!(health["started_from_snapshot"], covered, "{health}");
    assert_eq!(health["events_replayed"], last - covered, "{health}");
    assert_eq!(
        reads.first(),
        Some(covered + 1),
        "no event the snapshot covers is read again"
    );
    let json = restarted.json("/v1/situations").await;
    assert_eq!(json["count"], 12);
    assert_eq!(json["situations"][0]["idps"], 5000, "the change after it");
    let history = restarted.json("/v1/situations/COL-012/history").await;
    assert_eq!(
        history[0]["notifications"][0]["acknowledged_via"], "link",
        "the statuses after it"
    );
    // Its new version announced, so that a rebuild sees the same list of versions.
    wait_announcements(&js, 2).await;
    eventually("the new version to be listed", DEADLINE, || async {
        restarted.json("/v1/datasets").await["versions"]
            .as_array()
            .map(Vec::len)
            == Some(2)
    })
    .await;
    // Both versions, the one stored before the stop too, read back from the store as announced.
    for (version, _) in wait_announcements(&js, 2).await {
        let (status, _, csv) = restarted
            .get(&format!("/v1/datasets/{}.csv", version.version))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{csv}");
        assert_eq!(
            tandem_publish::dataset::sha256_hex(csv.as_bytes()),
            version.sha256
        );
    }
    let from_snapshot = everything(&restarted).await;
    restarted.stop().await;

    // A snapshot that does not decode: a full rebuild, serving the very same.
    let store = js
        .get_object_store(topology::DATA_OBJECT_STORE)
        .await
        .expect("object store");
    store
        .put(SNAPSHOT_KEY, &mut &b"\x28\xb5\x2f\xfd damaged"[..])
        .await
        .expect("damaged");
    let reads = Reads::watch(&js, topology::EVENTS_STREAM).await;
    let rebuilt = Publish::start_configured(&server, FAST, snapshot_every).await;
    let health = rebuilt.json("/healthz").await;
    assert_eq!(health["started_from_snapshot"], serde_json::Value::Null);
    assert_eq!(health["events_replayed"], last_event(&js).await, "{health}");
    assert_eq!(reads.first(), Some(1), "read from the start");
    assert_eq!(everything(&rebuilt).await, from_snapshot);
    rebuilt.stop().await;
}
