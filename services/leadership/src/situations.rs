//! The situations' records in KV `tandem-leadership` and the determinations on the event
//! stream, kept in step.
//!
//! Each change runs: load the record (the copy this instance remembers, see
//! `tandem_runtime::records`) → [`record::next`] → compare-and-set write (a lost race
//! with another instance reloads and tries again, so two updates of one situation never
//! interleave) → publish the determination → mark the record published. A crash between the
//! write and the mark leaves `published = false`; whoever touches the situation next publishes
//! it first, under the same `Nats-Msg-Id` (`determination:<situation>/<sequence>`), so the
//! stream holds every sequence step once and in order. A review (docs/design.md, "Joint
//! review") is recorded the same way: written with the record as unpublished, published under
//! `review:<review id>`, then marked; the next change publishes whatever is left first.

use std::{sync::Arc, time::Duration};

use anyhow::anyhow;
use async_nats::jetstream;
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::{
    subjects, timestamp,
    v1::{DeterminationReview, LeadershipDetermination, LeadershipRecord, ReviewReply},
};
use tandem_runtime::{
    consumer::HandlerError,
    envelope::Envelope,
    kv_key,
    records::{Decision, Records, Updated},
    topology,
};

use crate::{
    SERVICE,
    policy::Policy,
    record::{self, Change, Gap},
    review::{self, Reviewed},
};

/// What applying a change did.
#[derive(Debug)]
pub(crate) enum Applied {
    /// A new determination, stored and published.
    Determined(Box<LeadershipDetermination>),
    /// Nothing new to determine.
    Nothing,
    /// An earlier accepted report of the situation has not been reflected yet.
    Waiting(Gap),
}

/// What a decision that writes nothing found, before its effects. (One that writes tells the
/// sequence of the determination it replaced.)
enum Step {
    /// An earlier accepted report has not been reflected yet.
    Waiting(Gap),
    /// Nothing new; `repaired` is the record whose stored determination was just published,
    /// to be marked so.
    Nothing {
        repaired: Option<Arc<LeadershipRecord>>,
    },
}

/// Whether `record` holds a determination or reviews not yet known to be on the stream.
fn has_unpublished(record: &LeadershipRecord) -> bool {
    !record.published || !record.unpublished_reviews.is_empty()
}

/// The KV key of a situation's record.
pub fn record_key(situation_id: &str) -> String {
    kv_key::segment(situation_id)
}

/// The `ce-id` and `Nats-Msg-Id` of the event announcing determination `determination_id`:
/// fixed by the determination, so a republication is deduplicated and a reader can find it.
pub fn determination_event_id(determination_id: &str) -> String {
    format!("determination:{determination_id}")
}

/// Records and determinations of every situation.
pub(crate) struct Situations {
    pub(crate) js: jetstream::Context,
    pub(crate) records: Records<LeadershipRecord>,
    pub(crate) policy: Arc<Policy>,
}

impl Situations {
    /// Applies `change` to situation `situation_id`.
    pub(crate) async fn apply(
        &self,
        situation_id: &str,
        change: Change<'_>,
    ) -> Result<Applied, HandlerError> {
        let key = record_key(situation_id);
        let updated = self
            .records
            .update(&key, |mut record| async move {
                let repaired = self.repair(&mut record).await?;
                let held_sequence = record
                    .as_ref()
                    .and_then(|r| r.determination.as_ref())
                    .map_or(0, |d| d.sequence);
                let now = timestamp::now();
                Ok::<_, HandlerError>(
                    match record::next(&self.policy, record.as_deref(), change, now) {
                        Err(gap) => Decision::Keep(Step::Waiting(gap)),
                        Ok(None) => Decision::Keep(Step::Nothing {
                            repaired: record.filter(|_| repaired),
                        }),
                        Ok(Some(next)) => Decision::Write(next, held_sequence),
                    },
                )
            })
            .await?;
        match updated {
            Updated::Kept {
                answer: Step::Waiting(gap),
                ..
            } => Ok(Applied::Waiting(gap)),
            Updated::Kept {
                answer: Step::Nothing { repaired },
                revision,
            } => {
                if let Some(record) = repaired {
                    self.mark_published(&key, record, revision).await;
                }
                Ok(Applied::Nothing)
            }
            Updated::Written {
                answer: held_sequence,
                record: next,
                revision,
            } => {
                let new_determination = next
                    .determination
                    .clone()
                    .filter(|d| d.sequence > held_sequence);
                let Some(determination) = new_determination else {
                    // Only `accepted_through` moved on.
                    return Ok(Applied::Nothing);
                };
                self.publish(&next).await?;
                self.mark_published(&key, next, revision).await;
                Ok(Applied::Determined(Box::new(determination)))
            }
        }
    }

    /// Publishes what `record` holds but may not be on the stream yet (a predecessor stored it
    /// and may have died before publishing: determination n and its reviews go on the stream
    /// before anything after them), and marks it so in the copy. Whether there was any.
    async fn repair(
        &self,
        record: &mut Option<Arc<LeadershipRecord>>,
    ) -> Result<bool, HandlerError> {
        let Some(pending) = record.as_mut().filter(|r| has_unpublished(r)) else {
            return Ok(false);
        };
        self.publish(pending).await?;
        let pending = Arc::make_mut(pending);
        pending.published = true;
        pending.unpublished_reviews.clear();
        Ok(true)
    }

    /// Records review `asked` of a determination of `asked.situation_id` (docs/design.md, "Joint
    /// review"), publishes it on `tandem.leadership.reviewed.<ISO3>`, and answers the reviewer.
    pub(crate) async fn review(
        &self,
        asked: &DeterminationReview,
    ) -> Result<ReviewReply, HandlerError> {
        let key = record_key(&asked.situation_id);
        let updated = self
            .records
            .update(&key, |mut record| async move {
                let repaired = self.repair(&mut record).await?;
                Ok::<_, HandlerError>(
                    match review::review(record.as_deref(), asked, timestamp::now()) {
                        Ok(Reviewed::Recorded(next, recorded)) => Decision::Write(*next, recorded),
                        Ok(Reviewed::Repeated(recorded)) => Decision::Keep((
                            ReviewReply {
                                recorded: true,
                                refused: String::new(),
                                review: Some(recorded),
                            },
                            record.filter(|_| repaired),
                        )),
                        Err(why) => {
                            Decision::Keep((review::refused(why), record.filter(|_| repaired)))
                        }
                    },
                )
            })
            .await?;
        match updated {
            Updated::Kept {
                answer: (reply, repaired),
                revision,
            } => {
                if let Some(record) = repaired {
                    self.mark_published(&key, record, revision).await;
                }
                Ok(reply)
            }
            Updated::Written {
                answer: recorded,
                record,
                revision,
            } => {
                self.publish(&record).await?;
                self.mark_published(&key, record, revision).await;
                tracing::info!(
                    review.id = %recorded.review_id,
                    verdict = recorded.verdict().as_str_name(),
                    status = recorded.status().as_str_name(),
                    "review recorded"
                );
                Ok(ReviewReply {
                    recorded: true,
                    refused: String::new(),
                    review: Some(recorded),
                })
            }
        }
    }

    /// Whether the record of `situation_id` reflects its accepted reports up to `number`, as
    /// the bucket holds it now (another instance may be the one reflecting them).
    async fn reflects(&self, situation_id: &str, number: u64) -> Result<bool, HandlerError> {
        let loaded = self.records.load_fresh(&record_key(situation_id)).await?;
        Ok(loaded.value.is_some_and(|r| r.accepted_through >= number))
    }

    /// Waits up to `timeout` until the record of `situation_id` reflects its accepted reports up
    /// to `number` — usually another instance is reflecting the missing one at that moment —
    /// woken by each write of the record rather than by polling it: a core subscription to the
    /// record's subject, which every write is published on (no consumer: docs/security.md).
    /// Whether it does.
    pub(crate) async fn wait_until_reflected(
        &self,
        situation_id: &str,
        number: u64,
        timeout: Duration,
    ) -> Result<bool, HandlerError> {
        // Subscribe before reading, so that a write between the two is not missed.
        let client = self.js.client();
        let mut writes = client
            .subscribe(format!(
                "$KV.{}.{}",
                topology::LEADERSHIP_BUCKET,
                record_key(situation_id)
            ))
            .await
            .map_err(|error| anyhow!("cannot watch the record of {situation_id}: {error}"))?;
        client
            .flush()
            .await
            .map_err(|error| anyhow!("cannot watch the record of {situation_id}: {error}"))?;
        let wait = async {
            while !self.reflects(situation_id, number).await? {
                if writes.next().await.is_none() {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Ok(false))
    }

    /// Publishes the record's determination unless it is marked published, then its
    /// unpublished reviews, each under an id fixed by what it is.
    async fn publish(&self, record: &LeadershipRecord) -> Result<(), HandlerError> {
        if let Some(determination) = record.determination.as_ref().filter(|_| !record.published) {
            // As announced: without the reviews, which are events of their own.
            let announced = LeadershipDetermination {
                reviews: Vec::new(),
                ..determination.clone()
            };
            let id = determination_event_id(&determination.determination_id);
            Envelope {
                service: SERVICE,
                event: "leadership.determined",
                subject: &determination.situation_id,
                id: &id,
            }
            .publish(
                &self.js,
                topology::determined_subject(&determination.country),
                announced.encode_to_vec().into(),
            )
            .await?;
        }
        for review in &record.unpublished_reviews {
            let id = format!("review:{}", review.review_id);
            Envelope {
                service: SERVICE,
                event: "leadership.reviewed",
                subject: &review.situation_id,
                id: &id,
            }
            .publish(
                &self.js,
                subjects::reviewed_subject(&review.country),
                review.encode_to_vec().into(),
            )
            .await?;
        }
        Ok(())
    }

    /// Records that the determination and its reviews are on the stream. A lost race is fine:
    /// whoever won has seen them unpublished and published them first.
    async fn mark_published(&self, key: &str, record: Arc<LeadershipRecord>, revision: u64) {
        let marked = self.records.write_changed(key, record, revision, |record| {
            record.published = true;
            record.unpublished_reviews.clear();
        });
        if let Err(error) = marked.await {
            tracing::warn!(%error, "could not mark the determination published; the next change republishes it under the same id");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt as _;
    use tandem_proto::v1::Agency;
    use tandem_runtime::{records::Records, topology};
    use tandem_testkit::{NatsServer, reports::valid_report};

    use super::*;

    /// One leadership instance's view of the shared bucket.
    async fn instance(server: &NatsServer) -> Situations {
        let js = server.jetstream().await;
        let storage = Default::default();
        topology::ensure_stream(&js, topology::events_stream(&storage))
            .await
            .expect("events stream");
        let bucket = topology::ensure_bucket(
            &js,
            topology::bucket(topology::LEADERSHIP_BUCKET, "test", 5, &storage),
            topology::Reads::Leader,
        )
        .await
        .expect("leadership bucket");
        Situations {
            js,
            records: Records::new(bucket),
            policy: Arc::new(Policy::default_v1()),
        }
    }

    #[tokio::test]
    async fn a_waiting_report_wakes_when_another_instance_reflects_its_predecessor() {
        let server = NatsServer::start();
        let (waiting, other) = (instance(&server).await, instance(&server).await);
        let first = valid_report(Agency::Iom, "r1", "S-1", 1);
        let second = valid_report(Agency::Unhcr, "r2", "S-1", 1);
        let numbered = |report, number| Change::Report {
            report,
            situation_sequence: number,
            skip_gap: false,
        };
        assert!(matches!(
            waiting.apply("S-1", numbered(&second, 2)).await,
            Ok(Applied::Waiting(_))
        ));
        // The record's reads, as the server receives them.
        let client = server.client().await;
        let mut reads = client
            .subscribe("$JS.API.STREAM.MSG.GET.KV_tandem-leadership")
            .await
            .expect("subscribe");
        // A round trip on the same connection, so the server has the subscription before the
        // wait reads (`flush` only empties the client's buffer).
        async_nats::jetstream::new(client.clone())
            .get_stream(topology::EVENTS_STREAM)
            .await
            .expect("stream info");
        // A timeout far longer than the test may take: only the other instance's write, seen
        // through the watch, can end the wait in time.
        let wait = waiting.wait_until_reflected("S-1", 1, Duration::from_secs(30));
        let reflect_after_the_first_read = async {
            // The wait watches the record, then reads it once: after that read only a
            // watched write can wake it.
            reads.next().await.expect("the wait reads the record");
            other.apply("S-1", numbered(&first, 1)).await
        };
        let (reflected, applied) = tokio::join!(wait, reflect_after_the_first_read);
        assert!(matches!(applied, Ok(Applied::Determined(_))));
        assert!(matches!(reflected, Ok(true)));
        assert!(matches!(
            waiting.apply("S-1", numbered(&second, 2)).await,
            Ok(Applied::Determined(_))
        ));
    }

    #[tokio::test]
    async fn a_wait_for_a_predecessor_nobody_reflects_ends_at_its_timeout() {
        let server = NatsServer::start();
        let waiting = instance(&server).await;
        let reflected = waiting
            .wait_until_reflected("S-2", 1, Duration::from_millis(300))
            .await;
        assert!(matches!(reflected, Ok(false)));
    }
}
