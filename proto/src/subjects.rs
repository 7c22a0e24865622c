//! The NATS subjects of the contract, built and parsed here and nowhere else: where each
//! message is published, how an intake subject names the organisation that submitted on it, and
//! how an acknowledgement subject names its notification.

use crate::v1::Agency;

/// Subjects of the intake streams: one per agency, and one per partner organisation.
pub const INTAKE_SUBJECTS: [&str; 3] = [
    "tandem.intake.iom.report",
    "tandem.intake.unhcr.report",
    "tandem.intake.partner.*.report",
];
/// What the intake service consumes.
pub const INTAKE_FILTER: &str = "tandem.intake.>";
/// What the leadership service consumes.
pub const ACCEPTED_FILTER: &str = "tandem.situation.accepted.>";
/// Every rejection, whatever the organisation.
pub const REJECTED_FILTER: &str = "tandem.situation.rejected.>";
/// Every determination.
pub const DETERMINED_FILTER: &str = "tandem.leadership.determined.>";
/// Dataset announcements.
pub const DATA_PUBLISHED_SUBJECT: &str = "tandem.data.published";

/// IOM's or UNHCR's token in subjects, stream and key names (`iom`, `unhcr`); `None` for a
/// partner (whose token is `partner.<org>`) and for an unspecified agency.
pub fn agency_token(agency: Agency) -> Option<&'static str> {
    match agency {
        Agency::Iom => Some("iom"),
        Agency::Unhcr => Some("unhcr"),
        Agency::Partner | Agency::Unspecified => None,
    }
}

/// The subject tokens naming a reporting organisation: `iom`, `unhcr` or `partner.<org>`.
/// `None` for an unspecified agency or a partner without a usable name.
pub fn organisation_token(agency: Agency, reporter_org: &str) -> Option<String> {
    match agency {
        Agency::Iom | Agency::Unhcr => agency_token(agency).map(String::from),
        Agency::Partner if is_subject_token(reporter_org) => {
            Some(format!("partner.{reporter_org}"))
        }
        _ => None,
    }
}

/// The organisation an intake subject belongs to: (agency, partner name).
pub fn organisation_of_intake_subject(subject: &str) -> Option<(Agency, String)> {
    let rest = subject
        .strip_prefix("tandem.intake.")?
        .strip_suffix(".report")?;
    match rest {
        "iom" => Some((Agency::Iom, String::new())),
        "unhcr" => Some((Agency::Unhcr, String::new())),
        _ => {
            let org = rest.strip_prefix("partner.")?;
            is_subject_token(org).then(|| (Agency::Partner, org.to_string()))
        }
    }
}

/// Whether `token` can stand as one subject token naming an organisation.
pub fn is_subject_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where an organisation submits reports.
pub fn intake_subject(organisation: &str) -> String {
    format!("tandem.intake.{organisation}.report")
}

/// Where an accepted report of `country` is announced.
pub fn accepted_subject(country: &str) -> String {
    format!("tandem.situation.accepted.{country}")
}

/// Where a rejection is sent back to the reporting organisation.
pub fn rejected_subject(organisation: &str) -> String {
    format!("tandem.situation.rejected.{organisation}")
}

/// Where the reporting organisation (its subject token) hears the outcome of each of its
/// reports, accepted or rejected (`ce-type` tells which), on its own credentials.
pub fn outcome_subject(organisation: &str) -> String {
    format!("tandem.outcome.{organisation}")
}

/// Where a determination of a situation in `country` is announced.
pub fn determined_subject(country: &str) -> String {
    format!("tandem.leadership.determined.{country}")
}

/// Where `service` dead-letters what it cannot process.
pub fn dlq_subject(service: &str) -> String {
    format!("tandem.dlq.{service}")
}

/// Whether `subject` announces an accepted report.
pub fn is_accepted_subject(subject: &str) -> bool {
    subject.starts_with(ACCEPTED_PREFIX)
}

/// Whether `subject` announces a determination.
pub fn is_determined_subject(subject: &str) -> bool {
    subject.starts_with(DETERMINED_PREFIX)
}

const ACCEPTED_PREFIX: &str = "tandem.situation.accepted.";
const DETERMINED_PREFIX: &str = "tandem.leadership.determined.";
const NOTIFY_ACK_PREFIX: &str = "tandem.notify.ack.";

/// Where notifications to `recipient` of `agency` (its subject token: `iom`, `unhcr`) are
/// published, for the agency's own systems.
pub fn notify_out_subject(agency: &str, recipient: &str) -> String {
    format!("tandem.notify.out.{agency}.{recipient}")
}

/// Every notification of every agency.
pub const NOTIFY_OUT_FILTER: &str = "tandem.notify.out.>";

/// What became of every notification.
pub const NOTIFY_STATUS_FILTER: &str = "tandem.notify.status.>";

/// Whether `subject` announces what became of a notification.
pub fn is_notify_status_subject(subject: &str) -> bool {
    subject.starts_with(NOTIFY_STATUS_FILTER.trim_end_matches('>'))
}

/// Whether `subject` announces a review.
pub fn is_reviewed_subject(subject: &str) -> bool {
    subject.starts_with(REVIEWED_FILTER.trim_end_matches('>'))
}

/// Where what became of `agency`'s notifications is announced.
pub fn notify_status_subject(agency: &str) -> String {
    format!("tandem.notify.status.{agency}")
}

/// Where an acknowledgement of notification `id` is sent.
pub fn notify_ack_subject(id: &str) -> String {
    format!("{NOTIFY_ACK_PREFIX}{id}")
}

/// Every acknowledgement of `agency`'s notifications (their ids start with the agency).
pub fn notify_ack_filter(agency: &str) -> String {
    format!("{NOTIFY_ACK_PREFIX}{agency}.>")
}

/// The notification id an acknowledgement subject names (unchecked: notify checks its form).
pub fn acknowledged_id(subject: &str) -> Option<&str> {
    subject.strip_prefix(NOTIFY_ACK_PREFIX)
}

/// Every review of a determination.
pub const REVIEWED_FILTER: &str = "tandem.leadership.reviewed.>";

/// Where a review of a determination of a situation in `country` is announced.
pub fn reviewed_subject(country: &str) -> String {
    format!("tandem.leadership.reviewed.{country}")
}

const REVIEW_PREFIX: &str = "tandem.review.";

/// Where coordinators of `agency` (its subject token: `iom`, `unhcr`) ask to endorse or contest
/// a determination, request/reply: the agency is the subject's, never the message's, so an
/// account that may use only its own agency's subject cannot review in the other's name.
pub fn review_subject(agency: &str) -> String {
    format!("{REVIEW_PREFIX}{agency}")
}

/// The agency token of a review subject.
pub fn agency_of_review_subject(subject: &str) -> Option<&str> {
    subject.strip_prefix(REVIEW_PREFIX)
}

/// Where notify, having checked the reviewer in the directory, asks leadership to record a
/// review (request/reply; the request is a `DeterminationReview`, the answer a `ReviewReply`).
pub const RECORD_REVIEW_SUBJECT: &str = "tandem.svc.leadership.review";

/// Where `tandem policy apply` asks leadership to re-determine every situation.
pub const REEVALUATE_SUBJECT: &str = "tandem.svc.leadership.reevaluate";

/// The NATS service API name of `service` (`tandem-intake`).
pub fn service_name(service: &str) -> String {
    format!("tandem-{service}")
}

/// The service API ping of `service`, which every running instance answers.
pub fn service_ping_subject(service: &str) -> String {
    format!("$SRV.PING.{}", service_name(service))
}

/// The status endpoint `service` adds to the service API.
pub fn service_status_subject(service: &str) -> String {
    format!("tandem.svc.{service}.status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisations_round_trip_through_intake_subjects() {
        for (agency, org) in [
            (Agency::Iom, ""),
            (Agency::Unhcr, ""),
            (Agency::Partner, "nrc"),
        ] {
            let token = organisation_token(agency, org).unwrap_or_default();
            let parsed = organisation_of_intake_subject(&intake_subject(&token));
            assert_eq!(parsed, Some((agency, org.to_string())));
        }
    }

    #[test]
    fn acknowledgements_name_their_notification_and_fall_under_their_agency() {
        let subject = notify_ack_subject("iom.ntf-1");
        assert_eq!(acknowledged_id(&subject), Some("iom.ntf-1"));
        assert_eq!(acknowledged_id("tandem.notify.out.iom.x"), None);
        let filter = notify_ack_filter("iom");
        assert_eq!(filter.strip_suffix('>'), subject.strip_suffix("ntf-1"));
    }

    #[test]
    fn event_subjects_are_told_apart() {
        assert!(is_accepted_subject(&accepted_subject("COL")));
        assert!(!is_accepted_subject(&determined_subject("COL")));
        assert!(is_determined_subject(&determined_subject("COL")));
        assert!(!is_determined_subject(DATA_PUBLISHED_SUBJECT));
        assert!(!is_determined_subject(&reviewed_subject("COL")));
        assert!(reviewed_subject("COL").starts_with(REVIEWED_FILTER.trim_end_matches('>')));
    }

    #[test]
    fn review_subjects_name_their_agency() {
        assert_eq!(
            agency_of_review_subject(&review_subject("iom")),
            Some("iom")
        );
        assert_eq!(agency_of_review_subject(RECORD_REVIEW_SUBJECT), None);
    }

    #[test]
    fn partners_need_a_usable_name() {
        assert_eq!(organisation_token(Agency::Partner, ""), None);
        assert_eq!(organisation_token(Agency::Partner, "a.b"), None);
        assert_eq!(organisation_token(Agency::Unspecified, ""), None);
        assert_eq!(
            organisation_of_intake_subject("tandem.intake.other.report"),
            None
        );
        assert_eq!(
            organisation_of_intake_subject("tandem.intake.partner.a.b.report"),
            None
        );
    }
}
