//! The recipient rules of docs/design.md, pure: who of one agency's directory is told about a
//! determination, what each notification says, and who is next when nobody acknowledges.
//!
//! - A changed determination → the agency's country coordinators for the country.
//! - A new discrepancy → the agency's data focal points for the country.
//! - A regional situation: the two rules above per country operation ([`operation_view`]),
//!   with the operation's country, classification and discrepancies; a change of the situation
//!   as a whole → the agency's regional coordinators covering any of its countries
//!   ([`regional_recipients`]).
//! - A contest (by either agency) → the agency's regional coordinators covering the country.
//! - Nobody in that role for the country → the regional coordinators covering it, else HQ.
//! - Escalation goes one tier up from the role of the recipient who did not acknowledge:
//!   country coordinator or data focal point → regional → HQ → nobody.

use std::time::SystemTime;

use sha2::{Digest as _, Sha256};
use tandem_proto::{
    timestamp,
    v1::{
        Agency, DeterminationReview, Discrepancy, LeadershipDetermination, Notification,
        NotificationKind, OperationDetermination, Role,
    },
};

use crate::{config::NotifyAgency, directory::DirectoryEntry};
use tandem_i18n::{
    FluentValue, Lang,
    words::{rationale_source, rationale_text, word},
};

/// The tier of a role: 0 for the first line, 1 regional, 2 HQ.
pub fn tier(role: Role) -> u32 {
    match role {
        Role::CountryCoordinator | Role::DataFocalPoint | Role::Unspecified => 0,
        Role::RegionalCoordinator => 1,
        Role::Hq => 2,
    }
}

/// The entries of `directory` who receive a notification addressed to `role` for `country`:
/// those with that role covering the country, else the regional coordinators covering it,
/// else HQ. Sorted by id.
pub fn recipients<'a>(
    directory: &'a [DirectoryEntry],
    role: Role,
    country: &str,
) -> Vec<&'a DirectoryEntry> {
    let chain: &[Role] = match role {
        Role::RegionalCoordinator => &[Role::RegionalCoordinator, Role::Hq],
        Role::Hq => &[Role::Hq],
        _ => &[role, Role::RegionalCoordinator, Role::Hq],
    };
    for candidate in chain {
        let mut found: Vec<&DirectoryEntry> = directory
            .iter()
            .filter(|e| e.role.0 == *candidate && e.covers(country))
            .collect();
        if !found.is_empty() {
            found.sort_by(|a, b| a.id.cmp(&b.id));
            return found;
        }
    }
    Vec::new()
}

/// The regional coordinators of a regional situation: those covering any of its countries
/// (for a country nobody regional covers, HQ), each once, sorted by id.
pub fn regional_recipients<'a>(
    directory: &'a [DirectoryEntry],
    determination: &LeadershipDetermination,
) -> Vec<&'a DirectoryEntry> {
    let countries = std::iter::once(determination.country.as_str())
        .chain(determination.operations.iter().map(|o| o.country.as_str()));
    let mut found: Vec<&DirectoryEntry> = countries
        .flat_map(|country| recipients(directory, Role::RegionalCoordinator, country))
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found.dedup_by(|a, b| a.id == b.id);
    found
}

/// One country operation of a regional determination, as the determination its country's
/// coordinators are told of: the operation's country, outcome, figures and discrepancies
/// under the situation's id and determination.
pub fn operation_view(
    determination: &LeadershipDetermination,
    operation: &OperationDetermination,
) -> LeadershipDetermination {
    LeadershipDetermination {
        country: operation.country.clone(),
        classification: operation.classification,
        arrangement: operation.arrangement,
        lead_agencies: operation.lead_agencies.clone(),
        functions: operation.functions.clone(),
        figures: operation.figures.clone(),
        protection_share: operation.protection_share,
        discrepancies: operation.discrepancies.clone(),
        rationale: operation.rationale.clone(),
        changed: operation.changed,
        previous_classification: operation.previous_classification,
        based_on: operation.based_on.clone(),
        operations: Vec::new(),
        ..determination.clone()
    }
}

/// Who gets the escalation of a notification sent to someone of `role`: the next tier that has
/// anyone covering `country`. Empty past HQ.
pub fn escalation_recipients<'a>(
    directory: &'a [DirectoryEntry],
    role: Role,
    country: &str,
) -> Vec<&'a DirectoryEntry> {
    match tier(role) {
        0 => recipients(directory, Role::RegionalCoordinator, country),
        1 => recipients(directory, Role::Hq, country),
        _ => Vec::new(),
    }
}

/// A notification id: `<agency>.ntf-<hash>`, stable for the same inputs (so every redelivery
/// and instance computes the same one). The agency token makes the ack subject
/// `tandem.notify.ack.<agency>.ntf-…`, so NATS permissions can let an agency acknowledge only
/// its own notifications.
pub fn notification_id(agency: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    format!("{agency}.ntf-{}", hex::encode(&digest[..10]))
}

/// Whether `id` has the form of a notification id (`<agency>.<token>`).
pub fn is_notification_id(id: &str) -> bool {
    matches!(id.split_once('.'), Some((agency, rest)) if ["iom", "unhcr"].contains(&agency) && crate::directory::is_valid_id(rest))
}

/// The first notification of `kind` about `determination` to `recipient`; `operation` is the
/// country when `determination` is a country operation's view ([`operation_view`]), else
/// empty.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one fact of the notification"
)]
pub fn first_notification(
    determination: &LeadershipDetermination,
    operation: &str,
    kind: NotificationKind,
    discrepancies: &[&Discrepancy],
    recipient: &DirectoryEntry,
    trace_id: &str,
    now: SystemTime,
    acknowledge_within: std::time::Duration,
) -> Notification {
    let mut parts = vec![
        determination.determination_id.as_str(),
        kind.as_str_name(),
        recipient.agency.token(),
        &recipient.id,
    ];
    // One notification per operation: a regional coordinator standing in for the country
    // coordinators of several countries is told of each.
    if !operation.is_empty() {
        parts.push(operation);
    }
    let id = notification_id(recipient.agency.token(), &parts);
    let agency = recipient.agency.proto();
    let mut notification = Notification {
        notification_id: id,
        kind: kind as i32,
        situation_id: determination.situation_id.clone(),
        country: determination.country.clone(),
        recipient_agency: agency as i32,
        recipient_id: recipient.id.clone(),
        recipient_role: recipient.role.0 as i32,
        agency_leads: determination.lead_agencies.contains(&(agency as i32)),
        classification: determination.classification,
        arrangement: determination.arrangement,
        lead_agencies: determination.lead_agencies.clone(),
        functions: determination.functions.clone(),
        rationale: determination.rationale.clone(),
        discrepancies: discrepancies.iter().map(|d| **d).collect(),
        determination_id: determination.determination_id.clone(),
        summary: String::new(),
        trace_id: trace_id.to_string(),
        created_at: Some(timestamp::from_system_time(now)),
        acknowledge_by: Some(timestamp::from_system_time(now + acknowledge_within)),
        escalation_tier: 0,
        escalates_notification_id: String::new(),
        contest: None,
        operation_country: operation.to_string(),
        ..Default::default()
    };
    notification.summary = summary(&notification, recipient.lang());
    notification
}

/// The notification of contest `review` to `recipient` (a regional coordinator, or HQ where no
/// regional coordinator covers the country): the contested determination as it stands in
/// `determination`, with the contest and its reason.
pub fn contest_notification(
    review: &DeterminationReview,
    determination: &LeadershipDetermination,
    recipient: &DirectoryEntry,
    trace_id: &str,
    now: SystemTime,
    acknowledge_within: std::time::Duration,
) -> Notification {
    let mut notification = first_notification(
        determination,
        "",
        NotificationKind::Contested,
        &[],
        recipient,
        trace_id,
        now,
        acknowledge_within,
    );
    // One per contest (a determination may be contested more than once).
    notification.notification_id = notification_id(
        recipient.agency.token(),
        &[
            &review.review_id,
            NotificationKind::Contested.as_str_name(),
            recipient.agency.token(),
            &recipient.id,
        ],
    );
    notification.contest = Some(review.clone());
    notification.summary = summary(&notification, recipient.lang());
    notification
}

/// The escalation of `original` (unacknowledged) to `recipient`, one tier up.
pub fn escalation(
    original: &Notification,
    recipient: &DirectoryEntry,
    now: SystemTime,
    acknowledge_within: std::time::Duration,
) -> Notification {
    let tier = original.escalation_tier + 1;
    let id = notification_id(
        recipient.agency.token(),
        &[
            &original.notification_id,
            "escalation",
            recipient.agency.token(),
            &recipient.id,
        ],
    );
    let agency = recipient.agency.proto();
    let mut notification = Notification {
        notification_id: id,
        recipient_agency: agency as i32,
        recipient_id: recipient.id.clone(),
        recipient_role: recipient.role.0 as i32,
        agency_leads: original.lead_agencies.contains(&(agency as i32)),
        created_at: Some(timestamp::from_system_time(now)),
        acknowledge_by: Some(timestamp::from_system_time(now + acknowledge_within)),
        escalation_tier: tier,
        escalates_notification_id: original.notification_id.clone(),
        ..original.clone()
    };
    notification.summary = summary(&notification, recipient.lang());
    notification
}

/// The notification in words, for people, in `lang`: what happened, what it means for the
/// recipient's agency, the functions, the rationale and where to find the trace.
pub fn summary(n: &Notification, lang: Lang) -> String {
    let text = |id: &str, args: &[(&'static str, FluentValue<'_>)]| lang.text_with(id, args);
    let agency = NotifyAgency::from_proto(n.recipient_agency())
        .map(|a| word(lang, a.proto()))
        .unwrap_or_else(|| lang.text("summary-your-agency"));
    let situation = || ("situation", FluentValue::from(n.situation_id.as_str()));
    let country = || ("country", FluentValue::from(n.country.as_str()));
    let classification = || {
        (
            "classification",
            FluentValue::from(word(lang, n.classification())),
        )
    };
    let arrangement = || {
        (
            "arrangement",
            FluentValue::from(word(lang, n.arrangement())),
        )
    };
    let leads = agencies(&n.lead_agencies, lang);
    let mut lines = Vec::new();
    if n.escalation_tier > 0 {
        lines.push(text(
            "summary-escalation",
            &[
                ("tier", n.escalation_tier.into()),
                ("notification", n.escalates_notification_id.as_str().into()),
            ],
        ));
    }
    match n.kind() {
        NotificationKind::Discrepancy => {
            lines.push(text("summary-discrepancy", &[situation(), country()]));
            for d in &n.discrepancies {
                let line = text(
                    "summary-discrepancy-line",
                    &[
                        ("group", word(lang, d.group()).into()),
                        ("iom", d.iom_count.to_string().into()),
                        ("unhcr", d.unhcr_count.to_string().into()),
                        (
                            "percent",
                            format!("{:.0}", d.relative_difference * 100.0).into(),
                        ),
                    ],
                );
                lines.push(format!("- {line}"));
            }
            lines.push(lang.text("summary-discrepancy-ask"));
        }
        NotificationKind::Contested => {
            let contest = n.contest.clone().unwrap_or_default();
            let by = match contest.agency() {
                agency @ (Agency::Iom | Agency::Unhcr) => word(lang, agency),
                _ => lang.text("summary-an-agency"),
            };
            lines.push(text(
                "summary-contested",
                &[
                    ("agency", by.into()),
                    ("by", contest.by.as_str().into()),
                    ("determination", n.determination_id.as_str().into()),
                    situation(),
                    country(),
                    classification(),
                    arrangement(),
                    ("leads", leads.as_str().into()),
                ],
            ));
            lines.push(text(
                "summary-contest-reason",
                &[("reason", contest.comment.as_str().into())],
            ));
            lines.push(lang.text("summary-contest-stands"));
        }
        _ => {
            let (id, place) = if n.operation_country.is_empty() {
                ("summary-determined", country())
            } else {
                (
                    "summary-determined-operation",
                    ("country", n.operation_country.as_str().into()),
                )
            };
            lines.push(text(
                id,
                &[
                    situation(),
                    place,
                    classification(),
                    arrangement(),
                    ("leads", leads.as_str().into()),
                ],
            ));
            let role = if !n.agency_leads {
                "summary-agency-partners"
            } else if n.lead_agencies.len() > 1 {
                "summary-agency-co-leads"
            } else {
                "summary-agency-leads"
            };
            lines.push(text(role, &[("agency", agency.as_str().into())]));
        }
    }
    if !n.functions.is_empty() {
        lines.push(lang.text("summary-functions"));
        for f in &n.functions {
            lines.push(format!(
                "- {}: {}",
                word(lang, f.function()),
                agencies(&f.agencies, lang)
            ));
        }
    }
    if !n.rationale.is_empty() {
        lines.push(lang.text("summary-why"));
        for r in &n.rationale {
            lines.push(format!(
                "- {} ({})",
                rationale_text(lang, r),
                rationale_source(lang, r)
            ));
        }
    }
    let mut last = text(
        "summary-determination",
        &[("determination", n.determination_id.as_str().into())],
    );
    if !n.trace_id.is_empty() {
        last.push_str("; ");
        last.push_str(&text(
            "summary-trace",
            &[("trace", n.trace_id.as_str().into())],
        ));
    }
    lines.push(last);
    let mut summary = lines.join("\n");
    summary.push('\n');
    summary
}

/// The agencies of `values` in words, joined with `+` (`IOM + UNHCR`).
pub fn agencies(values: &[i32], lang: Lang) -> String {
    let names: Vec<String> = values
        .iter()
        .map(|v| word(lang, Agency::try_from(*v).unwrap_or_default()))
        .collect();
    if names.is_empty() {
        lang.text("summary-nobody")
    } else {
        names.join(" + ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{ChannelSpec, RoleName};

    fn entry(id: &str, role: Role, countries: &[&str]) -> DirectoryEntry {
        DirectoryEntry {
            id: id.into(),
            name: id.into(),
            agency: NotifyAgency::Iom,
            role: RoleName(role),
            countries: countries.iter().map(|c| c.to_string()).collect(),
            channels: vec![ChannelSpec::Nats {}],
            lang: "en".into(),
            tz: "UTC".into(),
        }
    }

    #[test]
    fn falls_back_to_regional_then_hq() {
        let directory = vec![
            entry("cc-col", Role::CountryCoordinator, &["COL"]),
            entry("rc-americas", Role::RegionalCoordinator, &["COL", "PER"]),
            entry("hq", Role::Hq, &[]),
        ];
        let ids =
            |found: Vec<&DirectoryEntry>| found.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(recipients(&directory, Role::CountryCoordinator, "COL")),
            ["cc-col"]
        );
        assert_eq!(
            ids(recipients(&directory, Role::CountryCoordinator, "PER")),
            ["rc-americas"]
        );
        assert_eq!(
            ids(recipients(&directory, Role::CountryCoordinator, "UKR")),
            ["hq"]
        );
        assert_eq!(
            ids(recipients(&directory, Role::DataFocalPoint, "COL")),
            ["rc-americas"]
        );
        assert_eq!(
            ids(escalation_recipients(
                &directory,
                Role::CountryCoordinator,
                "COL"
            )),
            ["rc-americas"]
        );
        assert_eq!(
            ids(escalation_recipients(
                &directory,
                Role::RegionalCoordinator,
                "COL"
            )),
            ["hq"]
        );
        assert!(escalation_recipients(&directory, Role::Hq, "COL").is_empty());
    }

    #[test]
    fn ids_are_stable_subject_tokens() {
        let a = notification_id("iom", &["SIT.1:x/3", "K", "iom", "cc"]);
        assert_eq!(a, notification_id("iom", &["SIT.1:x/3", "K", "iom", "cc"]));
        assert_ne!(a, notification_id("iom", &["SIT.1:x/3", "K", "iom", "cd"]));
        assert!(a.starts_with("iom.ntf-"));
        assert!(is_notification_id(&a));
    }

    #[test]
    fn a_summary_names_arrangements_and_functions_as_the_cli_does() {
        use tandem_proto::v1::{
            Arrangement, Classification, FunctionAssignment, LeadershipFunction,
        };
        let notification = Notification {
            kind: NotificationKind::DeterminationChanged as i32,
            situation_id: "S-1".into(),
            country: "SDN".into(),
            recipient_agency: Agency::Iom as i32,
            agency_leads: true,
            classification: Classification::IdpSituation as i32,
            arrangement: Arrangement::ClusterSystem as i32,
            lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
            functions: vec![FunctionAssignment {
                function: LeadershipFunction::ResourceMobilization as i32,
                agencies: vec![Agency::Iom as i32],
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = summary(&notification, Lang::En);
        assert!(
            text.contains("classified as IDP situation, coordinated as IASC cluster system"),
            "{text}"
        );
        assert!(text.contains("- resource mobilisation: IOM"), "{text}");
        let french = summary(&notification, Lang::Fr);
        assert!(
            french.contains("désormais qualifiée de situation de déplacement interne"),
            "{french}"
        );
        assert!(french.contains("OIM codirige cette réponse."), "{french}");
        let spanish = summary(&notification, Lang::Es);
        assert!(
            spanish.contains("OIM codirige esta respuesta."),
            "{spanish}"
        );
    }

    #[test]
    fn a_regional_situation_reaches_each_operation_and_the_region() {
        use tandem_proto::v1::Classification;
        let directory = vec![
            entry("cc-ecu", Role::CountryCoordinator, &["ECU"]),
            entry("rc-andes", Role::RegionalCoordinator, &["COL", "ECU"]),
            entry("rc-south", Role::RegionalCoordinator, &["PER"]),
            entry("rc-europe", Role::RegionalCoordinator, &["ESP"]),
        ];
        let operation = |country: &str, classification: Classification| OperationDetermination {
            country: country.into(),
            classification: classification as i32,
            changed: true,
            ..Default::default()
        };
        let determination = LeadershipDetermination {
            situation_id: "R4V".into(),
            determination_id: "R4V/3".into(),
            country: "COL".into(),
            regional: true,
            classification: Classification::MixedMovement as i32,
            operations: vec![
                operation("COL", Classification::MigrantSituation),
                operation("ECU", Classification::RefugeeSituation),
                operation("PER", Classification::MixedMovement),
            ],
            ..Default::default()
        };
        let ids =
            |found: Vec<&DirectoryEntry>| found.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(regional_recipients(&directory, &determination)),
            ["rc-andes", "rc-south"]
        );

        let ecuador = operation_view(&determination, &determination.operations[1]);
        assert_eq!(
            (ecuador.country.as_str(), ecuador.classification()),
            ("ECU", Classification::RefugeeSituation)
        );
        assert!(ecuador.operations.is_empty());
        let at = SystemTime::UNIX_EPOCH;
        let wait = std::time::Duration::from_secs(60);
        let told = first_notification(
            &ecuador,
            "ECU",
            NotificationKind::DeterminationChanged,
            &[],
            &directory[0],
            "",
            at,
            wait,
        );
        assert_eq!(told.operation_country, "ECU");
        assert!(
            told.summary.starts_with(
                "The ECU operation of regional situation R4V is now classified as refugee situation"
            ),
            "{}",
            told.summary
        );
        // The regional coordinator standing in for Colombia's country coordinators is told of
        // Colombia's operation and of the whole, in two notifications.
        let colombia = operation_view(&determination, &determination.operations[0]);
        let of_colombia = first_notification(
            &colombia,
            "COL",
            NotificationKind::DeterminationChanged,
            &[],
            &directory[1],
            "",
            at,
            wait,
        );
        let of_whole = first_notification(
            &determination,
            "",
            NotificationKind::DeterminationChanged,
            &[],
            &directory[1],
            "",
            at,
            wait,
        );
        assert_ne!(of_colombia.notification_id, of_whole.notification_id);
        assert_eq!(of_whole.operation_country, "");
    }
}
