//! Review requests of one agency's coordinators (docs/design.md, "Joint review"), on
//! `tandem.review.<agency>`: the CLI, the agency's own systems through its account's import and
//! the review buttons of the notification page all come this way. Notify answers them because
//! it holds the agency's half of the directory: it checks that the reviewer is a coordinator of
//! the agency who covers the situation's country ([`check`], pure), then asks leadership to
//! record the review against the current determination and relays its answer.
//!
//! The agency is the subject's: each agency's account can use only its own subject, so one
//! agency never reviews in the other's name.

use std::{sync::Arc, time::Duration};

use prost::Message as _;
use tandem_proto::{
    subjects,
    v1::{
        DeterminationReview, DeterminationStatus, LeadershipRecord, ReviewReply, ReviewRequest,
        ReviewVerdict, Role,
    },
};
use tandem_runtime::{Shutdown, kv_key, service_api, topology};
use tokio::sync::OnceCell;

use crate::{config::NotifyAgency, directory::DirectoryEntry};

/// At most this many characters in a review's comment.
pub const MAX_COMMENT_CHARS: usize = 1_000;

/// How long leadership has to answer.
const RECORD_WAIT: Duration = Duration::from_secs(10);

/// The determination of `situation_id` as review `request` of `agency`'s coordinator (who is
/// looked for in `directory`, the agency's half) would have leadership record it, or why the
/// request is refused. `record` is the situation's record in `tandem-leadership`.
pub fn check(
    agency: NotifyAgency,
    request: &ReviewRequest,
    directory: &[DirectoryEntry],
    record: Option<&LeadershipRecord>,
) -> Result<DeterminationReview, String> {
    let label = agency.label();
    let Some(entry) = directory.iter().find(|e| e.id == request.by) else {
        return Err(format!(
            "{:?} is not in {label}'s directory: reviews are made by directory id (--by)",
            cut(&request.by)
        ));
    };
    if !matches!(
        entry.role.0,
        Role::CountryCoordinator | Role::RegionalCoordinator | Role::Hq
    ) {
        return Err(format!(
            "{} is {label}'s {}: only country coordinators, regional coordinators and HQ review determinations",
            entry.id,
            entry
                .role
                .0
                .as_str_name()
                .trim_start_matches("ROLE_")
                .to_lowercase()
                .replace('_', " ")
        ));
    }
    match ReviewVerdict::try_from(request.verdict) {
        Ok(ReviewVerdict::Endorse | ReviewVerdict::Contest) => {}
        _ => return Err("a review either endorses or contests the determination".into()),
    }
    let comment = request.comment.trim();
    if request.verdict() == ReviewVerdict::Contest && comment.is_empty() {
        return Err("a contest needs a comment: the reason, which both agencies' regional coordinators are told".into());
    }
    let chars = comment.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(format!(
            "the comment is {chars} characters; at most {MAX_COMMENT_CHARS} are allowed"
        ));
    }
    if let Some(kind) = tandem_intake::validate::personal_data(comment) {
        return Err(format!(
            "the comment holds {kind}; personal data must not be sent to tandem"
        ));
    }
    let Some(determination) = record.and_then(|r| r.determination.as_ref()) else {
        return Err(format!(
            "situation {:?} has no determination to review",
            cut(&request.situation_id)
        ));
    };
    if !entry.covers(&determination.country) {
        return Err(format!(
            "{} does not cover {}, the country of situation {}",
            entry.id, determination.country, determination.situation_id
        ));
    }
    Ok(DeterminationReview {
        determination_id: request.determination_id.clone(),
        situation_id: determination.situation_id.clone(),
        country: determination.country.clone(),
        agency: agency.proto() as i32,
        by: entry.id.clone(),
        verdict: request.verdict,
        comment: comment.to_string(),
        ..Default::default()
    })
}

/// A value of the request repeated in an answer, cut to 64 characters.
fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}

/// The situations' records in KV `tandem-leadership`, read (never written) to learn a
/// situation's country and whether it is still contested. The bucket is opened on first use:
/// leadership creates it.
#[derive(Clone)]
pub(crate) struct Determinations {
    js: async_nats::jetstream::Context,
    bucket: Arc<OnceCell<async_nats::jetstream::kv::Store>>,
}

impl Determinations {
    pub(crate) fn new(js: async_nats::jetstream::Context) -> Self {
        Self {
            js,
            bucket: Arc::default(),
        }
    }

    /// The record of `situation_id`, if any.
    pub(crate) async fn record(
        &self,
        situation_id: &str,
    ) -> anyhow::Result<Option<LeadershipRecord>> {
        let bucket = self
            .bucket
            .get_or_try_init(|| async {
                self.js
                    .get_key_value(topology::LEADERSHIP_BUCKET)
                    .await
                    .map_err(|error| anyhow::anyhow!("no determinations yet ({error})"))
            })
            .await?;
        // The key leadership stores the record under.
        let Some(bytes) = bucket.get(kv_key::segment(situation_id)).await? else {
            return Ok(None);
        };
        Ok(Some(LeadershipRecord::decode(bytes)?))
    }

    /// Whether the current determination of `situation_id` is contested.
    pub(crate) async fn contested(&self, situation_id: &str) -> anyhow::Result<bool> {
        Ok(self
            .record(situation_id)
            .await?
            .and_then(|r| r.determination)
            .is_some_and(|d| d.status() == DeterminationStatus::Contested))
    }
}

/// A refusal, for the reviewer.
fn refused(why: impl Into<String>) -> ReviewReply {
    ReviewReply {
        recorded: false,
        refused: why.into(),
        review: None,
    }
}

/// Answers review request `payload` of `agency`'s coordinators.
pub(crate) async fn answer(
    client: &async_nats::Client,
    agency: NotifyAgency,
    directory: &crate::directory::LiveDirectory,
    determinations: &Determinations,
    payload: &[u8],
) -> ReviewReply {
    let request = match ReviewRequest::decode(payload) {
        Ok(request) => request,
        Err(error) => return refused(format!("not a ReviewRequest: {error}")),
    };
    let looked_up = async {
        let entries = directory.entries().await?;
        let record = determinations.record(&request.situation_id).await?;
        anyhow::Ok((entries, record))
    };
    let (entries, record) = match looked_up.await {
        Ok(found) => found,
        Err(error) => {
            return refused(format!(
                "the review could not be checked now ({error:#}); try again"
            ));
        }
    };
    let review = match check(agency, &request, &entries, record.as_ref()) {
        Ok(review) => review,
        Err(why) => return refused(why),
    };
    let asked = client.request(
        subjects::RECORD_REVIEW_SUBJECT,
        review.encode_to_vec().into(),
    );
    match tokio::time::timeout(RECORD_WAIT, asked).await {
        Ok(Ok(answer)) => ReviewReply::decode(answer.payload).unwrap_or_else(|error| {
            refused(format!("leadership's answer could not be read: {error}"))
        }),
        Ok(Err(error)) => refused(format!(
            "the leadership service did not answer ({error}); try again"
        )),
        Err(_) => refused("the leadership service did not answer in time; try again"),
    }
}

/// Serves `tandem.review.<agency>` until `shutdown`; the agency's instances share the work.
pub(crate) async fn serve(
    client: async_nats::Client,
    agency: NotifyAgency,
    directory: crate::directory::LiveDirectory,
    determinations: Determinations,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    service_api::answer_requests(
        client.clone(),
        subjects::review_subject(agency.token()),
        format!("tandem-notify-{}", agency.token()),
        "review requests",
        shutdown,
        |payload| {
            let (client, directory, determinations) =
                (client.clone(), directory.clone(), determinations.clone());
            async move {
                let reply = answer(&client, agency, &directory, &determinations, &payload).await;
                if !reply.recorded {
                    tracing::info!(refused = %reply.refused, "review refused");
                }
                reply.encode_to_vec().into()
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::LeadershipDetermination;

    use super::*;
    use crate::directory::RoleName;

    fn entry(id: &str, role: Role, countries: &[&str]) -> DirectoryEntry {
        DirectoryEntry {
            id: id.into(),
            name: "N".into(),
            agency: NotifyAgency::Iom,
            role: RoleName(role),
            countries: countries.iter().map(|c| c.to_string()).collect(),
            channels: Vec::new(),
            lang: "en".into(),
            tz: "UTC".into(),
        }
    }

    fn record() -> LeadershipRecord {
        LeadershipRecord {
            determination: Some(LeadershipDetermination {
                situation_id: "S".into(),
                determination_id: "S/1".into(),
                country: "COL".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn request(by: &str, verdict: ReviewVerdict, comment: &str) -> ReviewRequest {
        ReviewRequest {
            situation_id: "S".into(),
            by: by.into(),
            verdict: verdict as i32,
            comment: comment.into(),
            ..Default::default()
        }
    }

    #[test]
    fn coordinators_covering_the_country_review_and_nobody_else() {
        let directory = [
            entry("cc-col", Role::CountryCoordinator, &["COL"]),
            entry("cc-per", Role::CountryCoordinator, &["PER"]),
            entry("rc", Role::RegionalCoordinator, &["COL", "PER"]),
            entry("hq", Role::Hq, &[]),
            entry("data", Role::DataFocalPoint, &["COL"]),
        ];
        let record = record();
        for by in ["cc-col", "rc", "hq"] {
            let review = check(
                NotifyAgency::Iom,
                &request(by, ReviewVerdict::Endorse, ""),
                &directory,
                Some(&record),
            );
            assert!(
                matches!(&review, Ok(r) if r.by == by && r.country == "COL"),
                "{by}: {review:?}"
            );
        }
        for (by, why) in [
            ("cc-per", "does not cover COL"),
            ("data", "data focal point"),
            ("nobody", "not in IOM's directory"),
        ] {
            let refused = check(
                NotifyAgency::Iom,
                &request(by, ReviewVerdict::Endorse, ""),
                &directory,
                Some(&record),
            );
            assert!(
                matches!(&refused, Err(text) if text.contains(why)),
                "{by}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_contest_needs_a_reason_without_personal_data() {
        let directory = [entry("cc", Role::CountryCoordinator, &[])];
        let record = record();
        for (comment, why) in [
            ("", "needs a comment"),
            ("call me at +41 22 739 8111", "phone number"),
            (&"x".repeat(MAX_COMMENT_CHARS + 1), "at most 1000"),
        ] {
            let refused = check(
                NotifyAgency::Iom,
                &request("cc", ReviewVerdict::Contest, comment),
                &directory,
                Some(&record),
            );
            assert!(
                matches!(&refused, Err(text) if text.contains(why)),
                "{refused:?}"
            );
        }
        let unspecified = check(
            NotifyAgency::Iom,
            &request("cc", ReviewVerdict::Unspecified, "x"),
            &directory,
            Some(&record),
        );
        assert!(unspecified.is_err());
        let none = check(
            NotifyAgency::Iom,
            &request("cc", ReviewVerdict::Endorse, ""),
            &directory,
            None,
        );
        assert!(matches!(&none, Err(text) if text.contains("no determination")));
    }
}
