//! Events in words, for `tandem watch` and `tandem up --demo`; the reader's time zone
//! ([`zone`]) and aligned columns ([`table`]) for the commands that print times and tables.

use async_nats::HeaderMap;
use prost::Message as _;
use tandem_i18n::{Lang, words::word};
use tandem_leadership::words;
use tandem_proto::v1::{
    Agency, DeadLetter, LeadershipDetermination, Notification, NotificationStatus,
    SituationAccepted, SituationRejected, SituationReport,
};
use tandem_runtime::envelope;

use crate::trace;

/// One line (plus one per reason) describing the event on `subject`, or `None` for subjects
/// that are not tandem events, in the reader's language. A determination's line ends with its
/// trace, from `headers`.
pub fn event(
    lang: Lang,
    subject: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Option<String> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let text = match tokens.as_slice() {
        ["tandem", "intake", ..] => match SituationReport::decode(payload) {
            Ok(report) => lang.text_with(
                "cli-event-report",
                &[
                    ("report", report.report_id.as_str().into()),
                    ("revision", report.revision.into()),
                    ("situation", report.situation_id.as_str().into()),
                    (
                        "organisation",
                        organisation(lang, report.reporting_agency, &report.reporter_org).into(),
                    ),
                ],
            ),
            Err(_) => lang.text_with(
                "cli-event-undecodable",
                &[("bytes", payload.len().into()), ("subject", subject.into())],
            ),
        },
        ["tandem", "situation", "accepted", country] => {
            let report = SituationAccepted::decode(payload)
                .ok()?
                .report
                .unwrap_or_default();
            lang.text_with(
                "cli-event-accepted",
                &[
                    ("report", report.report_id.as_str().into()),
                    ("revision", report.revision.into()),
                    ("situation", report.situation_id.as_str().into()),
                    ("country", (*country).into()),
                    (
                        "organisation",
                        organisation(lang, report.reporting_agency, &report.reporter_org).into(),
                    ),
                ],
            )
        }
        ["tandem", "situation", "rejected", ..] => {
            let rejected = SituationRejected::decode(payload).ok()?;
            let mut text = lang.text_with(
                "cli-event-rejected",
                &[
                    ("report", or_dash(&rejected.report_id).into()),
                    ("situation", or_dash(&rejected.situation_id).into()),
                    (
                        "organisation",
                        organisation(lang, rejected.reporting_agency, &rejected.reporter_org)
                            .into(),
                    ),
                    ("reasons", rejected.reasons.len().into()),
                ],
            );
            for reason in &rejected.reasons {
                // Field paths and codes are the contract's; messages are intake's, in English.
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
            let mut text = lang.text_with(
                "cli-event-notified",
                &[
                    ("recipient", (*recipient).into()),
                    ("agency", (*agency).into()),
                    ("role", word(lang, notification.recipient_role()).into()),
                    ("situation", notification.situation_id.as_str().into()),
                    ("kind", word(lang, notification.kind()).into()),
                    (
                        "position",
                        if notification.agency_leads {
                            "leads"
                        } else {
                            "partners"
                        }
                        .into(),
                    ),
                ],
            );
            if notification.escalation_tier > 0 {
                text.push(' ');
                text.push_str(&lang.text_with(
                    "cli-event-escalation",
                    &[("tier", notification.escalation_tier.into())],
                ));
            }
            text
        }
        ["tandem", "notify", "status", _] => {
            let status = NotificationStatus::decode(payload).ok()?;
            // The state's name as the contract spells it (`delivered`, `acknowledged`).
            let state = status
                .state()
                .as_str_name()
                .trim_start_matches("NOTIFICATION_STATE_")
                .to_lowercase();
            let mut text = lang.text_with(
                "cli-event-status",
                &[
                    ("notification", status.notification_id.as_str().into()),
                    ("state", state.into()),
                ],
            );
            if !status.reason.is_empty() {
                text.push_str(&format!(": {}", status.reason));
            }
            text
        }
        ["tandem", "data", "published"] => {
            let published = tandem_proto::v1::DatasetPublished::decode(payload).ok()?;
            lang.text_with(
                "cli-event-dataset",
                &[
                    ("dataset", published.dataset.as_str().into()),
                    ("version", published.version.into()),
                    ("rows", published.rows.into()),
                    ("sha256", published.sha256.as_str().into()),
                ],
            )
        }
        ["tandem", "dlq", service] => {
            let letter = DeadLetter::decode(payload).ok()?;
            lang.text_with(
                "cli-event-dead-letter",
                &[
                    ("service", (*service).into()),
                    ("subject", letter.subject.as_str().into()),
                    ("deliveries", letter.deliveries.into()),
                    ("error", letter.error.as_str().into()),
                ],
            )
        }
        ["tandem", ..] => lang.text_with(
            "cli-event-other",
            &[("subject", subject.into()), ("bytes", payload.len().into())],
        ),
        _ => return None,
    };
    Some(text)
}

/// `IOM`, `UNHCR` or the partner's name, in the reader's language (`OIM`, `ACNUR`).
pub fn organisation(lang: Lang, agency: i32, reporter_org: &str) -> String {
    match Agency::try_from(agency).unwrap_or_default() {
        Agency::Partner => format!("{} {reporter_org}", word(lang, Agency::Partner)),
        agency => word(lang, agency),
    }
}

/// The reader's time zone: the IANA zone `TZ` names (`America/Bogota`); UTC when `TZ` is unset
/// or names no zone (tandem_i18n's times fall back to UTC for such a name).
pub fn zone() -> String {
    std::env::var("TZ").unwrap_or_default()
}

/// `rows` (the first the header) as lines of columns, each as wide as its widest cell in
/// characters, so that translated headers and words of any length stay aligned.
pub fn table(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(column) {
                Some(widest) => *widest = (*widest).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join(" ").trim_end());
        out.push('\n');
    }
    out
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{Arrangement, Classification, NotificationKind, RationaleEntry, Role};

    use super::*;

    /// Each `## CLI` message of the English file by id, up to its first placeholder: what a line
    /// of it starts with.
    fn fragments(file: &str) -> std::collections::BTreeMap<String, String> {
        let section = file.split("\n## CLI").nth(1).expect("a ## CLI section");
        section
            .lines()
            .filter_map(|line| line.split_once(" = "))
            .map(|(id, text)| {
                let start = text.split('{').next().unwrap_or_default().trim();
                (id.to_owned(), start.to_owned())
            })
            .collect()
    }

    /// Whether `text` has `fragment` as whole words (`event` is not in `evento`).
    fn has_words(text: &str, fragment: &str) -> bool {
        text.match_indices(fragment).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + fragment.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    }

    #[test]
    fn watch_lines_read_in_the_readers_language() {
        let determination = LeadershipDetermination {
            situation_id: "COL-VEN-2026".into(),
            country: "COL".into(),
            classification: Classification::MixedMovement as i32,
            arrangement: Arrangement::JointPlatform as i32,
            lead_agencies: vec![Agency::Iom as i32, Agency::Unhcr as i32],
            sequence: 3,
            changed: true,
            rationale: vec![RationaleEntry::default()],
            ..Default::default()
        };
        let notification = Notification {
            situation_id: "COL-VEN-2026".into(),
            recipient_role: Role::CountryCoordinator as i32,
            kind: NotificationKind::DeterminationChanged as i32,
            agency_leads: true,
            escalation_tier: 1,
            ..Default::default()
        };
        let report = SituationReport {
            report_id: "r-1".into(),
            situation_id: "COL-VEN-2026".into(),
            reporting_agency: Agency::Partner as i32,
            reporter_org: "nrc".into(),
            ..Default::default()
        };
        let lines = |lang| {
            [
                (
                    "tandem.leadership.determined.COL",
                    determination.encode_to_vec(),
                ),
                (
                    "tandem.notify.out.iom.col-iom-cc",
                    notification.encode_to_vec(),
                ),
                ("tandem.intake.partner.nrc", report.encode_to_vec()),
                ("tandem.other", vec![1, 2, 3]),
            ]
            .map(|(subject, payload)| event(lang, subject, None, &payload).expect("a line"))
        };
        assert_eq!(
            lines(Lang::En),
            [
                "determined COL-VEN-2026 (COL): mixed movement — IOM and UNHCR lead (joint platform) (#3, changed)",
                "notified   col-iom-cc (iom, country coordinator) about COL-VEN-2026: leadership changed — iom leads (escalation, tier 1)",
                "report     r-1 rev 0 of COL-VEN-2026 from partner nrc",
                "event      tandem.other (3 bytes)",
            ]
        );
        let spanish = lines(Lang::Es);
        assert_eq!(
            spanish[0],
            "determinación COL-VEN-2026 (COL): movimiento mixto — OIM y ACNUR dirigen (plataforma conjunta) (n.º 3, cambió)"
        );
        let english = fragments(include_str!("../../i18n/locales/en/tandem.ftl"));
        for lang in [Lang::Fr, Lang::Es] {
            let text = lines(lang).join("\n");
            for (id, fragment) in &english {
                // French writes `trace` as English does.
                let shared = lang == Lang::Fr && id == "cli-trace";
                if fragment.len() < 4 || shared {
                    continue;
                }
                assert!(
                    !has_words(&text, fragment),
                    "{fragment:?} in {}:\n{text}",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn a_table_aligns_columns_by_characters_and_ends_lines_without_padding() {
        let rows = [
            vec!["ÉTAT".to_owned(), "ID".to_owned(), "X".to_owned()],
            vec!["reçu".to_owned(), "iom.ntf-1".to_owned(), String::new()],
        ];
        assert_eq!(table(&rows), "ÉTAT ID        X\nreçu iom.ntf-1\n");
    }
}
