//! Joint review of determinations (docs/design.md, "Joint review"): what a review does to a
//! situation's record, pure, and the `tandem.svc.leadership.review` requests through which
//! notify, having checked the reviewer in its agency's directory, asks for one to be recorded.
//!
//! - A determination that changes the outcome is PROVISIONAL; one that changes nothing carries
//!   the reviews (and so the status) of the one before.
//! - The status follows from the latest review of each agency: CONTESTED when either's is a
//!   contest, AGREED when both endorsed, else PROVISIONAL. A later endorsement by the agency
//!   that contested withdraws its contest.
//! - Only the situation's current determination can be reviewed, so nobody agrees to (or
//!   contests) an outcome that no longer applies.

use std::sync::Arc;

use prost::Message as _;
use tandem_i18n::{Lang, words::word};
use tandem_proto::{
    Timestamp,
    subjects::RECORD_REVIEW_SUBJECT,
    v1::{
        Agency, DeterminationReview, DeterminationStatus, LeadershipDetermination,
        LeadershipRecord, ReviewReply, ReviewVerdict,
    },
};
use tandem_runtime::{Shutdown, service_api};
use tracing::Instrument as _;

use crate::situations::Situations;

/// What a review request comes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Reviewed {
    /// A new review, in the record to write.
    Recorded(Box<LeadershipRecord>, DeterminationReview),
    /// The same reviewer already said the same of the same determination (a repeated request):
    /// that review.
    Repeated(DeterminationReview),
}

/// The status the reviews `reviews` give a determination.
pub fn status(reviews: &[DeterminationReview]) -> DeterminationStatus {
    let latest = |agency: Agency| {
        reviews
            .iter()
            .rev()
            .find(|r| r.agency() == agency)
            .map(DeterminationReview::verdict)
    };
    let (iom, unhcr) = (latest(Agency::Iom), latest(Agency::Unhcr));
    let contest = Some(ReviewVerdict::Contest);
    let endorse = Some(ReviewVerdict::Endorse);
    if iom == contest || unhcr == contest {
        DeterminationStatus::Contested
    } else if iom == endorse && unhcr == endorse {
        DeterminationStatus::Agreed
    } else {
        DeterminationStatus::Provisional
    }
}

/// Gives a new determination its reviews and status: none and PROVISIONAL when it changed the
/// outcome (or is the first), of the situation or of any of its country operations, else those
/// of `previous`.
pub fn carry_over(
    determination: &mut LeadershipDetermination,
    previous: Option<&LeadershipDetermination>,
) {
    let changed = determination.changed || determination.operations.iter().any(|o| o.changed);
    match previous.filter(|_| !changed) {
        Some(previous) => {
            determination.reviews = previous.reviews.clone();
            determination.status = status(&determination.reviews) as i32;
        }
        None => {
            determination.reviews.clear();
            determination.status = DeterminationStatus::Provisional as i32;
        }
    }
}

/// What review `asked` (its agency, reviewer, verdict and comment checked by notify; an empty
/// `determination_id` meaning the current one) does to `record`, at `now`; `Err` says why it
/// is refused, in a sentence for the reviewer.
pub fn review(
    record: Option<&LeadershipRecord>,
    asked: &DeterminationReview,
    now: Timestamp,
) -> Result<Reviewed, String> {
    let Some(current) = record.and_then(|r| r.determination.as_ref()) else {
        return Err(format!(
            "situation {} has no determination to review",
            asked.situation_id
        ));
    };
    if !matches!(asked.agency(), Agency::Iom | Agency::Unhcr) {
        return Err("only IOM and UNHCR review determinations".into());
    }
    if asked.verdict() == ReviewVerdict::Unspecified {
        return Err("a review endorses or contests".into());
    }
    if !asked.determination_id.is_empty() && asked.determination_id != current.determination_id {
        return Err(format!(
            "determination {} is no longer current: situation {} is now at determination {} ({}); review that one",
            asked.determination_id,
            current.situation_id,
            current.determination_id,
            word(Lang::En, current.classification())
        ));
    }
    let mine = current
        .reviews
        .iter()
        .filter(|r| r.determination_id == current.determination_id);
    if let Some(last) = mine
        .clone()
        .rfind(|r| r.agency == asked.agency && r.by == asked.by)
        && last.verdict == asked.verdict
        && last.comment == asked.comment
    {
        return Ok(Reviewed::Repeated(last.clone()));
    }
    let number = mine.count() + 1;
    let mut determination = current.clone();
    let mut recorded = DeterminationReview {
        review_id: format!("{}/review/{number}", current.determination_id),
        determination_id: current.determination_id.clone(),
        situation_id: current.situation_id.clone(),
        country: current.country.clone(),
        at: Some(now),
        ..asked.clone()
    };
    determination.reviews.push(recorded.clone());
    let status = status(&determination.reviews);
    determination.status = status as i32;
    recorded.status = status as i32;
    if let Some(last) = determination.reviews.last_mut() {
        last.status = status as i32;
    }
    let mut next = record.cloned().unwrap_or_default();
    next.determination = Some(determination);
    next.unpublished_reviews.push(recorded.clone());
    Ok(Reviewed::Recorded(Box::new(next), recorded))
}

/// Answers review requests until `shutdown`; instances share the work in a queue group.
pub(crate) async fn serve(
    client: async_nats::Client,
    situations: Arc<Situations>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    service_api::answer_requests(
        client,
        RECORD_REVIEW_SUBJECT.into(),
        "tandem-leadership".into(),
        "review requests",
        shutdown,
        |payload| {
            let situations = situations.clone();
            async move {
                let reply = match DeterminationReview::decode(payload) {
                    Ok(asked) => {
                        let span = tracing::info_span!("review", situation.id = %asked.situation_id, agency = asked.agency().as_str_name());
                        match situations.review(&asked).instrument(span).await {
                            Ok(reply) => reply,
                            Err(error) => {
                                tracing::warn!(%error, "review not recorded");
                                refused(format!(
                                    "the review could not be recorded now ({error}); try again"
                                ))
                            }
                        }
                    }
                    Err(error) => refused(format!("not a DeterminationReview: {error}")),
                };
                reply.encode_to_vec().into()
            }
        },
    )
    .await
}

/// A refusal, for the reviewer.
pub fn refused(why: impl Into<String>) -> ReviewReply {
    ReviewReply {
        recorded: false,
        refused: why.into(),
        review: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(id: &str, reviews: Vec<DeterminationReview>) -> LeadershipRecord {
        LeadershipRecord {
            determination: Some(LeadershipDetermination {
                situation_id: "S".into(),
                determination_id: id.into(),
                country: "COL".into(),
                changed: true,
                status: status(&reviews) as i32,
                reviews,
                ..Default::default()
            }),
            published: true,
            ..Default::default()
        }
    }

    fn asked(
        agency: Agency,
        verdict: ReviewVerdict,
        determination_id: &str,
    ) -> DeterminationReview {
        DeterminationReview {
            situation_id: "S".into(),
            determination_id: determination_id.into(),
            agency: agency as i32,
            by: format!("{}-cc", agency.as_str_name()),
            verdict: verdict as i32,
            comment: "reason".into(),
            ..Default::default()
        }
    }

    fn apply(record: &LeadershipRecord, review_asked: DeterminationReview) -> LeadershipRecord {
        match review(Some(record), &review_asked, Timestamp::default()) {
            Ok(Reviewed::Recorded(next, _)) => *next,
            other => panic!("not recorded: {other:?}"),
        }
    }

    fn status_of(record: &LeadershipRecord) -> DeterminationStatus {
        record
            .determination
            .as_ref()
            .map_or(DeterminationStatus::Unspecified, |d| d.status())
    }

    #[test]
    fn agreed_takes_both_agencies_and_a_contest_wins_until_withdrawn() {
        let record = current("S/1", vec![]);
        let one = apply(&record, asked(Agency::Iom, ReviewVerdict::Endorse, ""));
        assert_eq!(status_of(&one), DeterminationStatus::Provisional);
        let both = apply(&one, asked(Agency::Unhcr, ReviewVerdict::Endorse, "S/1"));
        assert_eq!(status_of(&both), DeterminationStatus::Agreed);
        let contested = apply(&both, asked(Agency::Unhcr, ReviewVerdict::Contest, ""));
        assert_eq!(status_of(&contested), DeterminationStatus::Contested);
        assert_eq!(contested.unpublished_reviews.len(), 3);
        let withdrawn = apply(&contested, asked(Agency::Unhcr, ReviewVerdict::Endorse, ""));
        assert_eq!(status_of(&withdrawn), DeterminationStatus::Agreed);
        let ids: Vec<_> = withdrawn
            .determination
            .iter()
            .flat_map(|d| &d.reviews)
            .map(|r| r.review_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "S/1/review/1",
                "S/1/review/2",
                "S/1/review/3",
                "S/1/review/4"
            ]
        );
    }

    #[test]
    fn a_superseded_determination_is_refused_and_a_repeat_is_recognised() {
        let record = current("S/2", vec![]);
        let refused = review(
            Some(&record),
            &asked(Agency::Iom, ReviewVerdict::Endorse, "S/1"),
            Timestamp::default(),
        );
        assert!(
            matches!(&refused, Err(why) if why.contains("S/1 is no longer current") && why.contains("S/2")),
            "{refused:?}"
        );
        let once = apply(&record, asked(Agency::Iom, ReviewVerdict::Endorse, ""));
        assert!(matches!(
            review(Some(&once), &asked(Agency::Iom, ReviewVerdict::Endorse, "S/2"), Timestamp::default()),
            Ok(Reviewed::Repeated(r)) if r.review_id == "S/2/review/1"
        ));
        assert!(
            review(
                None,
                &asked(Agency::Iom, ReviewVerdict::Endorse, ""),
                Timestamp::default()
            )
            .is_err()
        );
        assert!(
            review(
                Some(&record),
                &asked(Agency::Partner, ReviewVerdict::Endorse, ""),
                Timestamp::default()
            )
            .is_err()
        );
    }

    #[test]
    fn an_unchanged_determination_keeps_the_status_and_a_changed_one_starts_provisional() {
        let agreed = apply(
            &apply(
                &current("S/1", vec![]),
                asked(Agency::Iom, ReviewVerdict::Endorse, ""),
            ),
            asked(Agency::Unhcr, ReviewVerdict::Endorse, ""),
        );
        let previous = agreed.determination.as_ref();
        let mut same = LeadershipDetermination {
            changed: false,
            ..Default::default()
        };
        carry_over(&mut same, previous);
        assert_eq!(
            (same.status(), same.reviews.len()),
            (DeterminationStatus::Agreed, 2)
        );
        let mut changed = LeadershipDetermination {
            changed: true,
            ..Default::default()
        };
        carry_over(&mut changed, previous);
        assert_eq!(
            (changed.status(), changed.reviews.len()),
            (DeterminationStatus::Provisional, 0)
        );
        // A regional situation whose whole stands but one of whose operations changed.
        let mut operation_changed = LeadershipDetermination {
            changed: false,
            regional: true,
            operations: vec![tandem_proto::v1::OperationDetermination {
                country: "PER".into(),
                changed: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        carry_over(&mut operation_changed, previous);
        assert_eq!(operation_changed.status(), DeterminationStatus::Provisional);
    }
}
