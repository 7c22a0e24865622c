//! Remembered records (`tandem_runtime::records`) against a real nats-server: two instances
//! sharing a bucket never overwrite each other's writes, whatever each remembers.

use std::{future::ready, sync::Mutex};

use prost::Message as _;
use tandem_proto::v1::IntakeSituation;
use tandem_runtime::{
    config::StorageConfig,
    consumer::HandlerError,
    records::{Decision, Loaded, Records, RecordsError, Updated},
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
        matches!(error, RecordsError::Corrupt { ref key, .. } if key == "bad"),
        "{error}"
    );
    // A handler meeting it dead-letters the message: no redelivery will make it decode.
    let handled = HandlerError::from(error);
    assert!(
        matches!(handled, HandlerError::DeadLetter(ref e) if e.to_string().contains("corrupt")),
        "{handled}"
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

#[tokio::test]
async fn an_update_that_loses_to_a_writer_between_its_read_and_its_write_decides_again_on_that_write()
 {
    let server = NatsServer::start();
    let (a, b) = (instance(&server).await, instance(&server).await);
    a.write("s1", record(1), 0).await.expect("create");

    // Each decision of `a` adds one to the count it sees; before the first is written, `b`
    // writes the record.
    let seen = Mutex::new(Vec::new());
    let updated = a
        .update("s1", |current| {
            let count = current.map_or(0, |r| r.accepted_count);
            let first = seen.lock().expect("lock").is_empty();
            seen.lock().expect("lock").push(count);
            let b = &b;
            async move {
                if first {
                    let at = b.load_fresh("s1").await?;
                    b.write("s1", record(5), at.revision)
                        .await?
                        .expect("b's write is not raced");
                }
                Ok::<_, RecordsError>(Decision::<_, _, ()>::Write(record(count + 1), count))
            }
        })
        .await
        .expect("update");

    assert_eq!(
        *seen.lock().expect("lock"),
        [1, 5],
        "decided again on b's record"
    );
    match updated {
        Updated::Written { answer, record, .. } => {
            assert_eq!(answer, 5);
            assert_eq!(record.accepted_count, 6);
        }
        Updated::Kept { .. } => panic!("the decision writes"),
    }
    assert_eq!(count(&b.load_fresh("s1").await.expect("load")), Some(6));
}

#[tokio::test]
async fn a_decision_to_write_nothing_on_a_stale_remembered_record_is_made_again_on_a_fresh_one() {
    let server = NatsServer::start();
    let (a, b) = (instance(&server).await, instance(&server).await);
    a.write("s1", record(1), 0).await.expect("create");
    // `b` moves the record on; `a` still remembers count 1.
    let at = b.load_fresh("s1").await.expect("load");
    b.write("s1", record(2), at.revision)
        .await
        .expect("update")
        .expect("not raced");
    assert_eq!(count(&a.load("s1")), Some(1), "a remembers the stale copy");

    // A decision that writes nothing: no compare-and-set would catch that it was stale.
    let seen = Mutex::new(Vec::new());
    let updated = a
        .update("s1", |current| {
            let count = current.map_or(0, |r| r.accepted_count);
            seen.lock().expect("lock").push(count);
            ready(Ok::<_, RecordsError>(
                Decision::<IntakeSituation, (), _>::Keep(count),
            ))
        })
        .await
        .expect("update");

    assert_eq!(*seen.lock().expect("lock"), [1, 2]);
    match updated {
        Updated::Kept { answer, revision } => {
            assert_eq!(
                answer, 2,
                "the answer is the one made on the bucket's record"
            );
            assert_eq!(revision, 2);
        }
        Updated::Written { .. } => panic!("the decision writes nothing"),
    }
}

#[tokio::test]
async fn an_update_that_keeps_losing_gives_up_with_the_key() {
    let server = NatsServer::start();
    let (a, b) = (instance(&server).await, instance(&server).await);
    a.write("s1", record(1), 0).await.expect("create");
    let b = &b;
    let result = a
        .update("s1", |current| {
            let count = current.map_or(0, |r| r.accepted_count);
            async move {
                // Another writer gets in before every write of `a`.
                let at = b.load_fresh("s1").await?;
                b.write("s1", record(count + 100), at.revision).await?;
                Ok::<_, RecordsError>(Decision::<_, (), ()>::Write(record(count + 1), ()))
            }
        })
        .await;
    match result {
        Err(RecordsError::KeptChanging { key }) => assert_eq!(key, "s1"),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("an update that loses every race cannot succeed"),
    }
}
