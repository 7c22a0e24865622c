//! Events in words, for `tandem watch` and `tandem up --demo`.

use async_nats::HeaderMap;
use prost::Message as _;
use tandem_i18n::words::word;
use tandem_leadership::words;
use tandem_proto::v1::{
    Agency, DeadLetter, LeadershipDetermination, Notification, NotificationStatus,
    SituationAccepted, SituationRejected, SituationReport,
};
use tandem_runtime::envelope;

use crate::trace;

/// One line (plus one per reason) describing the event on `subject`, or `None` for subjects
/// that are not tandem events. A determination's line ends with its trace, from `headers`.
pub fn event(subject: &str, headers: Option<&HeaderMap>, payload: &[u8]) -> Option<String> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let text = match tokens.as_slice() {
        ["tandem", "intake", ..] => match SituationReport::decode(payload) {
            Ok(report) => format!(
                "report     {} rev {} of {} from {}",
                report.report_id,
                report.revision,
                report.situation_id,
                organisation(report.reporting_agency, &report.reporter_org)
            ),
            Err(_) => format!(
                "report     ({} undecodable bytes on {subject})",
                payload.len()
            ),
        },
        ["tandem", "situation", "accepted", country] => {
            let report = SituationAccepted::decode(payload)
                .ok()?
                .report
                .unwrap_or_default();
            format!(
                "accepted   {} rev {} of {} in {country} from {}",
                report.report_id,
                report.revision,
                report.situation_id,
                organisation(report.reporting_agency, &report.reporter_org)
            )
        }
        ["tandem", "situation", "rejected", ..] => {
            let rejected = SituationRejected::decode(payload).ok()?;
            let mut text = format!(
                "rejected   {} of {} from {}: {} reason(s)",
                or_dash(&rejected.report_id),
                or_dash(&rejected.situation_id),
                organisation(rejected.reporting_agency, &rejected.reporter_org),
                rejected.reasons.len()
            );
            for reason in &rejected.reasons {
                let field = if reason.field.is_empty() {
                    "report"
                } else {
                    &reason.field
                };
                text.push_str(&format!(
                    "\n             - {field}: {} — {}",
                    reason.code, reason.message
                ));
            }
            text
        }
        ["tandem", "leadership", "determined", _] => {
            let determination = LeadershipDetermination::decode(payload).ok()?;
            let lang = crate::lang();
            let line = lang.text_with(
                "cli-determined",
                &[
                    ("headline", words::headline(&determination, lang).into()),
                    ("sequence", determination.sequence.into()),
                    (
                        "change",
                        if determination.changed {
                            "changed"
                        } else {
                            "unchanged"
                        }
                        .into(),
                    ),
                ],
            );
            match envelope::trace_id(headers) {
                Some(trace_id) => format!("{line} {}", trace::words(&trace_id)),
                None => line,
            }
        }
        ["tandem", "notify", "out", agency, recipient] => {
            let notification = Notification::decode(payload).ok()?;
            let role = if notification.agency_leads {
                "leads"
            } else {
                "partners"
            };
            format!(
                "notified   {recipient} ({agency}, {}) about {}: {} — {agency} {role}{}",
                notification
                    .recipient_role()
                    .as_str_name()
                    .trim_start_matches("ROLE_")
                    .to_lowercase(),
                notification.situation_id,
                notification
                    .kind()
                    .as_str_name()
                    .trim_start_matches("NOTIFICATION_KIND_")
                    .to_lowercase()
                    .replace('_', " "),
                if notification.escalation_tier > 0 {
                    format!(" (escalation, tier {})", notification.escalation_tier)
                } else {
                    String::new()
                }
            )
        }
        ["tandem", "notify", "status", _] => {
            let status = NotificationStatus::decode(payload).ok()?;
            format!(
                "status     {} {}{}",
                status.notification_id,
                status
                    .state()
                    .as_str_name()
                    .trim_start_matches("NOTIFICATION_STATE_")
                    .to_lowercase(),
                if status.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", status.reason)
                }
            )
        }
        ["tandem", "data", "published"] => {
            let published = tandem_proto::v1::DatasetPublished::decode(payload).ok()?;
            format!(
                "dataset    {} version {}: {} rows, sha256 {}",
                published.dataset, published.version, published.rows, published.sha256
            )
        }
        ["tandem", "dlq", service] => {
            let letter = DeadLetter::decode(payload).ok()?;
            format!(
                "DEAD LETTER {service}: message on {} after {} deliveries: {}",
                letter.subject, letter.deliveries, letter.error
            )
        }
        ["tandem", ..] => format!("event      {subject} ({} bytes)", payload.len()),
        _ => return None,
    };
    Some(text)
}

/// `IOM`, `UNHCR` or the partner's name, in the reader's language (`OIM`, `ACNUR`).
pub fn organisation(agency: i32, reporter_org: &str) -> String {
    let lang = crate::lang();
    match Agency::try_from(agency).unwrap_or_default() {
        Agency::Partner => format!("{} {reporter_org}", word(lang, Agency::Partner)),
        agency => word(lang, agency),
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}
