//! The NATS subjects of the contract: where each message is published, and how an intake
//! subject names the organisation that submitted on it.

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
/// Every determination.
pub const DETERMINED_FILTER: &str = "tandem.leadership.determined.>";
/// Dataset announcements.
pub const DATA_PUBLISHED_SUBJECT: &str = "tandem.data.published";

/// The subject tokens naming a reporting organisation: `iom`, `unhcr` or `partner.<org>`.
/// `None` for an unspecified agency or a partner without a usable name.
pub fn organisation_token(agency: Agency, reporter_org: &str) -> Option<String> {
    match agency {
        Agency::Iom => Some("iom".into()),
        Agency::Unhcr => Some("unhcr".into()),
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
