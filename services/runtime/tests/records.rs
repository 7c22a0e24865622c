//! Remembered records (`tandem_runtime::records`) against a real nats-server: two instances
//! sharing a bucket never overwrite each other's writes, whatever each remembers.

use prost::Message as _;
use tandem_proto::v1::IntakeSituation;
use tandem_runtime::{
    config::StorageConfig,
    records::{Loaded, Records},
    topology,
};
use tandem_testkit::NatsServer;

async fn instance(server: &NatsServer) -> Records<IntakeSituation> {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let store = topology::ensure_bucket(
        &js,
        topology::bucket("test-records", "test", 1, &StorageConfig::default()),
        topology::Reads::Leader,
    )
    .await
    .expect("bucket");
    Records::new(store)
}

fn record(accepted_count: u64) -> IntakeSituation {
    IntakeSituation {
        country: "COL".into(),
        accepted_count,
        ..Default::default()
    }
}

fn count(loaded: &Loaded<IntakeSituation>) -> Option<u64> {
    loaded.value.as_ref().map(|r| r.accepted_count)
}

#[tokio::test]
async fn a_write_against_a_stale_copy_loses_and_the_bucket_keeps_the_other_instances_write() {
    let server = NatsServer::start();
    let (a, b) = (instance(&server).await, instance(&server).await);

    let first = a.write("s1", record(1), 0).await.expect("create");
    assert!(first.is_some(), "the first create succeeds");
    // `b` has not seen the record: it presumes none, and a create on that presumption loses.
    let presumed_by_b = b.load("s1");
    assert!(!presumed_by_b.fresh && presumed_by_b.value.is_none());
    let lost = b.write("s1", record(9), presumed_by_b.revision).await;
    assert_eq!(lost.expect("a lost race is not an error"), None);
    // Read from the bucket, it holds a's record at revision 1.
    let seen_by_b = b.load_fresh("s1").await.expect("load");
    assert!(seen_by_b.fresh);
    assert_eq!(count(&seen_by_b), Some(1));

    // `b` moves the record on; `a` still remembers revision 1.
    let by_b = b
        .write("s1", record(2), seen_by_b.revision)
        .await
        .expect("update");
    assert!(by_b.is_some());
    let remembered_by_a = a.load("s1");
    assert!(!remembered_by_a.fresh, "a's own write is remembered");
    assert_eq!(count(&remembered_by_a), Some(1));

    // Its compare-and-set against that copy loses, and does not overwrite b's record.
    let lost = a
        .write("s1", record(3), remembered_by_a.revision)
        .await
        .expect("a lost race is not an error");
    assert_eq!(lost, None);
    assert_eq!(
        count(&a.load("s1")),
        None,
        "a lost race forgets the remembered copy"
    );
    assert_eq!(count(&a.load_fresh("s1").await.expect("load")), Some(2));
}

#[tokio::test]
async fn a_corrupt_record_is_a_dead_letter_not_a_retry() {
    let server = NatsServer::start();
    let records = instance(&server).await;
    records
        .store()
        .put("bad", vec![0xff, 0xff, 0xff].into())
        .await
        .expect("put");
    let error = match records.load_fresh("bad").await {
        Ok(_) => panic!("a record that does not decode was loaded"),
        Err(error) => error,
    };
    assert!(
        matches!(
            error,
            tandem_runtime::consumer::HandlerError::DeadLetter(ref e) if e.to_string().contains("corrupt")
        ),
        "{error}"
    );
    // A good record still round-trips through the bucket.
    let fine = record(4);
    records
        .write("good", fine.clone(), 0)
        .await
        .expect("create");
    let entry = records
        .store()
        .get("good")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(IntakeSituation::decode(entry).expect("decode"), fine);
}

#[tokio::test]
async fn a_changed_record_is_written_with_compare_and_set_like_any_other() {
    let server = NatsServer::start();
    let (a, b) = (instance(&server).await, instance(&server).await);
    let (revision, written) = a
        .write("s1", record(1), 0)
        .await
        .expect("create")
        .expect("not raced");

    let (changed_revision, changed) = a
        .write_changed("s1", written, revision, |r| r.accepted_count = 2)
        .await
        .expect("write")
        .expect("not raced");
    assert_eq!(changed.accepted_count, 2);
    assert_eq!(count(&b.load_fresh("s1").await.expect("load")), Some(2));
    assert_eq!(count(&a.load("s1")), Some(2), "remembered");

    // Against a revision that moved on, it loses and the bucket keeps the newer record.
    b.write("s1", record(3), changed_revision)
        .await
        .expect("update")
        .expect("not raced");
    let lost = a
        .write_changed("s1", changed, changed_revision, |r| r.accepted_count = 9)
        .await
        .expect("a lost race is not an error");
    assert_eq!(lost, None);
    assert_eq!(count(&a.load_fresh("s1").await.expect("load")), Some(3));
}
