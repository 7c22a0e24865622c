//! The history of each situation (docs/design.md, "History"), pure: every determination in
//! order, the reviews of each (who, when, what, and the status it left), and the notifications
//! sent about it with who acknowledged them, when and how. Built from the determinations and
//! reviews on `TANDEM_EVENTS` and the notification statuses on `TANDEM_NOTIFY`; the two streams
//! are read independently, so each part is kept by the determination id it names and they are
//! put together when asked. Applying is idempotent, like the dataset's state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tandem_i18n::{Lang, local_time, local_time_rfc3339, words::word};
use tandem_proto::{
    timestamp,
    v1::{
        Agency, DeterminationReview, LeadershipDetermination, NotificationKind, NotificationState,
        NotificationStatus,
    },
};

use crate::snapshot::{
    HistoriesMessage, NotificationMessage, NotificationsMessage, ReviewsMessage,
    SituationHistoryMessage,
};

/// At most this many notifications are kept per determination (a determination notifies a
/// handful of coordinators, then escalates a tier or two).
const MAX_NOTIFICATIONS: usize = 256;
/// At most this many reviews are kept per determination.
const MAX_REVIEWS: usize = 256;
/// At most this many determinations of one situation are kept in memory, the oldest dropped
/// first with their reviews and notifications (`TANDEM_EVENTS` keeps them all).
pub const MAX_DETERMINATIONS: usize = 1_000;
/// At most this many determinations of one situation may have reviews or notifications kept;
/// more than [`MAX_DETERMINATIONS`], since the statuses stream is read apart from the events and
/// may run ahead of them.
const MAX_DETERMINATIONS_WITH_PARTS: usize = 2 * MAX_DETERMINATIONS;

/// One determination as `tandem situation get --json` shows it (its reviews, and the status
/// they left), with the notifications sent about it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The determination, its status and reviews.
    #[serde(flatten)]
    pub determination: LeadershipDetermination,
    /// The notifications sent about it, by notification id.
    #[serde(default)]
    pub notifications: Vec<NotificationEntry>,
    /// The trace (32 hex digits) the determination's event continued, from its `traceparent`;
    /// absent when the event carried none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// A notification and who acknowledged it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationEntry {
    /// Its id.
    pub notification_id: String,
    /// The recipient's directory id.
    pub recipient_id: String,
    /// `AGENCY_IOM` or `AGENCY_UNHCR`.
    pub recipient_agency: String,
    /// `NOTIFICATION_KIND_…`.
    pub kind: String,
    /// When it was first delivered or failed (RFC 3339).
    pub sent_at: Option<String>,
    /// Who acknowledged it: a directory id, or `system`.
    pub acknowledged_by: Option<String>,
    /// Through which channel: `cli`, `link` or `nats`.
    pub acknowledged_via: Option<String>,
    /// When (RFC 3339).
    pub acknowledged_at: Option<String>,
    /// The notifications it escalated to, unacknowledged.
    #[serde(default)]
    pub escalated_to: Vec<String>,
}

/// Every situation's history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histories {
    situations: BTreeMap<String, SituationHistory>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct SituationHistory {
    /// By sequence.
    determinations: BTreeMap<u64, LeadershipDetermination>,
    /// The trace of each determination that had one, by sequence (dropped with it).
    trace_ids: BTreeMap<u64, String>,
    /// By determination id, in the order recorded.
    reviews: BTreeMap<String, Vec<DeterminationReview>>,
    /// By determination id, then notification id.
    notifications: BTreeMap<String, BTreeMap<String, NotificationEntry>>,
}

impl Histories {
    /// The history of situation `id`, made when it has none; `None` for an event that names
    /// no situation.
    fn situation(&mut self, id: &str) -> Option<&mut SituationHistory> {
        if id.is_empty() {
            return None;
        }
        Some(self.situations.entry(id.to_string()).or_default())
    }

    /// Applies a determination as announced, with the trace its event continued (if any).
    pub fn apply_determination(
        &mut self,
        determination: &LeadershipDetermination,
        trace_id: Option<String>,
    ) {
        let Some(situation) = self.situation(&determination.situation_id) else {
            return;
        };
        if let Some(trace_id) = trace_id {
            situation
                .trace_ids
                .entry(determination.sequence)
                .or_insert(trace_id);
        }
        situation
            .determinations
            .entry(determination.sequence)
            .or_insert_with(|| LeadershipDetermination {
                // Each review is an event of its own: they are added from those.
                reviews: Vec::new(),
                ..determination.clone()
            });
        if situation.determinations.len() > MAX_DETERMINATIONS
            && let Some((_, dropped)) = situation.determinations.pop_first()
        {
            situation.trace_ids.remove(&dropped.sequence);
            situation.reviews.remove(&dropped.determination_id);
            situation.notifications.remove(&dropped.determination_id);
        }
    }

    /// Applies a review.
    pub fn apply_review(&mut self, review: &DeterminationReview) {
        let Some(situation) = self.situation(&review.situation_id) else {
            return;
        };
        let Some(reviews) = part_of(&mut situation.reviews, &review.determination_id) else {
            return;
        };
        if reviews.len() < MAX_REVIEWS && !reviews.iter().any(|r| r.review_id == review.review_id) {
            reviews.push(review.clone());
        }
    }

    /// Applies what became of a notification.
    pub fn apply_status(&mut self, status: &NotificationStatus) {
        if status.determination_id.is_empty() {
            return;
        }
        let Some(situation) = self.situation(&status.situation_id) else {
            return;
        };
        let Some(notifications) = part_of(&mut situation.notifications, &status.determination_id)
        else {
            return;
        };
        if notifications.len() >= MAX_NOTIFICATIONS
            && !notifications.contains_key(&status.notification_id)
        {
            return;
        }
        let at = status
            .at
            .as_ref()
            .and_then(timestamp::to_system_time)
            .and_then(|t| {
                time::OffsetDateTime::from(t)
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
        let entry = notifications
            .entry(status.notification_id.clone())
            .or_insert_with(|| NotificationEntry {
                notification_id: status.notification_id.clone(),
                recipient_id: status.recipient_id.clone(),
                recipient_agency: status.recipient_agency().as_str_name().to_string(),
                kind: NotificationKind::try_from(status.kind)
                    .unwrap_or_default()
                    .as_str_name()
                    .to_string(),
                ..Default::default()
            });
        match status.state() {
            NotificationState::Delivered | NotificationState::Failed => {
                entry.sent_at = entry.sent_at.take().or(at);
            }
            NotificationState::Acknowledged if entry.acknowledged_at.is_none() => {
                entry.acknowledged_by = Some(status.acknowledged_by.clone());
                entry.acknowledged_via = Some(status.acknowledged_via.clone());
                entry.acknowledged_at = at;
            }
            NotificationState::Escalated => {
                let to = &status.escalated_to_notification_id;
                if !to.is_empty() && !entry.escalated_to.contains(to) {
                    entry.escalated_to.push(to.clone());
                }
            }
            _ => {}
        }
    }

    /// The history of `situation_id`, oldest determination first; `None` when it has none.
    pub fn history(&self, situation_id: &str) -> Option<Vec<HistoryEntry>> {
        let situation = self.situations.get(situation_id)?;
        if situation.determinations.is_empty() {
            return None;
        }
        Some(
            situation
                .determinations
                .values()
                .map(|determination| {
                    let id = &determination.determination_id;
                    let mut determination = determination.clone();
                    if let Some(reviews) = situation.reviews.get(id) {
                        determination.reviews = reviews.clone();
                        if let Some(last) = reviews.last() {
                            determination.status = last.status;
                        }
                    }
                    HistoryEntry {
                        notifications: situation
                            .notifications
                            .get(id)
                            .map(|n| n.values().cloned().collect())
                            .unwrap_or_default(),
                        trace_id: situation.trace_ids.get(&determination.sequence).cloned(),
                        determination,
                    }
                })
                .collect(),
        )
    }
}

impl Histories {
    /// The histories as a snapshot's message ([`crate::snapshot`]).
    pub(crate) fn to_message(&self) -> HistoriesMessage {
        let situations =
            self.situations.iter().map(|(id, situation)| {
                let notifications = situation.notifications.iter().map(|(determination_id, n)| {
                    NotificationsMessage {
                        determination_id: determination_id.clone(),
                        notifications: n.values().map(NotificationMessage::from).collect(),
                    }
                });
                SituationHistoryMessage {
                    id: id.clone(),
                    determinations: situation.determinations.values().cloned().collect(),
                    trace_ids: situation.trace_ids.clone(),
                    reviews: situation
                        .reviews
                        .iter()
                        .map(|(determination_id, reviews)| ReviewsMessage {
                            determination_id: determination_id.clone(),
                            reviews: reviews.clone(),
                        })
                        .collect(),
                    notifications: notifications.collect(),
                }
            });
        HistoriesMessage {
            situations: situations.collect(),
        }
    }

    /// The histories of `message`.
    pub(crate) fn from_message(message: HistoriesMessage) -> Self {
        let situations = message.situations.into_iter().map(|situation| {
            let history = SituationHistory {
                determinations: situation
                    .determinations
                    .into_iter()
                    .map(|d| (d.sequence, d))
                    .collect(),
                trace_ids: situation.trace_ids,
                reviews: situation
                    .reviews
                    .into_iter()
                    .map(|r| (r.determination_id, r.reviews))
                    .collect(),
                notifications: situation
                    .notifications
                    .into_iter()
                    .map(|n| {
                        let entries = n.notifications.into_iter().map(|entry| {
                            (
                                entry.notification_id.clone(),
                                NotificationEntry::from(entry),
                            )
                        });
                        (n.determination_id, entries.collect())
                    })
                    .collect(),
            };
            (situation.id, history)
        });
        Self {
            situations: situations.collect(),
        }
    }
}

/// A history in words, for `tandem situation history`: in `lang`, with times in zone `tz`
/// (an IANA name; UTC when it names none). Ids and directory ids stay as recorded.
pub fn render(entries: &[HistoryEntry], lang: Lang, tz: &str) -> String {
    let at = |seconds: Option<i64>| {
        seconds
            .map(|seconds| local_time(seconds, tz))
            .unwrap_or_default()
    };
    let mut out = String::new();
    for entry in entries {
        let d = &entry.determination;
        out.push_str(&lang.text_with(
            "cli-history-determination",
            &[
                ("determination", d.determination_id.as_str().into()),
                ("at", at(d.determined_at.as_ref().map(|t| t.seconds)).into()),
                ("classification", word(lang, d.classification()).into()),
                ("arrangement", word(lang, d.arrangement()).into()),
                ("status", word(lang, d.status()).into()),
                ("changed", if d.changed { "yes" } else { "no" }.into()),
            ],
        ));
        out.push('\n');
        for review in &d.reviews {
            let comment = if review.comment.is_empty() {
                String::new()
            } else {
                format!(": {:?}", review.comment)
            };
            out.push_str("  ");
            out.push_str(&lang.text_with(
                "cli-history-review",
                &[
                    ("agency", word(lang, review.agency()).into()),
                    ("by", review.by.as_str().into()),
                    ("verdict", word(lang, review.verdict()).into()),
                    ("at", at(review.at.as_ref().map(|t| t.seconds)).into()),
                    ("comment", comment.into()),
                    ("status", word(lang, review.status()).into()),
                ],
            ));
            out.push('\n');
        }
        for n in &entry.notifications {
            let acknowledged = match (&n.acknowledged_by, &n.acknowledged_at) {
                (Some(by), Some(at)) => lang.text_with(
                    "cli-history-acknowledged",
                    &[
                        ("by", by.as_str().into()),
                        ("at", local_time_rfc3339(at, tz).into()),
                        ("via", n.acknowledged_via.as_deref().unwrap_or("?").into()),
                    ],
                ),
                _ => lang.text("cli-history-not-acknowledged"),
            };
            let agency = Agency::from_str_name(&n.recipient_agency).unwrap_or_default();
            let kind = NotificationKind::from_str_name(&n.kind).unwrap_or_default();
            out.push_str("  ");
            out.push_str(&lang.text_with(
                "cli-history-notified",
                &[
                    ("agency", word(lang, agency).into()),
                    ("recipient", n.recipient_id.as_str().into()),
                    ("kind", word(lang, kind).into()),
                    ("acknowledged", acknowledged.into()),
                ],
            ));
            out.push('\n');
        }
    }
    out
}

/// The reviews or notifications of `determination_id` in `parts`; `None` when it has none yet
/// and the situation already has parts for [`MAX_DETERMINATIONS_WITH_PARTS`] determinations.
fn part_of<'a, T: Default>(
    parts: &'a mut BTreeMap<String, T>,
    determination_id: &str,
) -> Option<&'a mut T> {
    if parts.len() >= MAX_DETERMINATIONS_WITH_PARTS && !parts.contains_key(determination_id) {
        return None;
    }
    Some(parts.entry(determination_id.to_string()).or_default())
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{Agency, DeterminationStatus, ReviewVerdict};

    use super::*;

    fn determination(sequence: u64) -> LeadershipDetermination {
        LeadershipDetermination {
            situation_id: "S".into(),
            sequence,
            determination_id: format!("S/{sequence}"),
            status: DeterminationStatus::Provisional as i32,
            changed: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_situation_keeps_its_newest_determinations_with_their_parts() {
        let mut histories = Histories::default();
        let review_of = |sequence: u64| DeterminationReview {
            review_id: format!("S/{sequence}/review/1"),
            determination_id: format!("S/{sequence}"),
            situation_id: "S".into(),
            ..Default::default()
        };
        histories.apply_review(&review_of(1));
        for sequence in 1..=u64::try_from(MAX_DETERMINATIONS).expect("fits") + 1 {
            histories
                .apply_determination(&determination(sequence), Some(format!("{sequence:032x}")));
        }
        histories.apply_review(&review_of(2));
        let history = histories.history("S").expect("a history");
        assert_eq!(history.len(), MAX_DETERMINATIONS);
        assert_eq!(history[0].determination.determination_id, "S/2");
        assert_eq!(history[0].determination.reviews, vec![review_of(2)]);
        assert_eq!(history[0].trace_id, Some(format!("{:032x}", 2)));
        assert!(!histories.situations["S"].reviews.contains_key("S/1"));
        assert_eq!(
            histories.situations["S"].trace_ids.len(),
            MAX_DETERMINATIONS
        );
        // Parts of determinations not (yet) read are bounded too.
        for sequence in 0..MAX_DETERMINATIONS_WITH_PARTS as u64 {
            histories.apply_review(&review_of(10_000 + sequence));
        }
        assert_eq!(
            histories.situations["S"].reviews.len(),
            MAX_DETERMINATIONS_WITH_PARTS
        );
    }

    #[test]
    fn parts_from_either_stream_meet_under_their_determination_in_any_order() {
        let mut histories = Histories::default();
        let ack = NotificationStatus {
            notification_id: "iom.ntf-1".into(),
            recipient_agency: Agency::Iom as i32,
            recipient_id: "iom-cc".into(),
            state: NotificationState::Acknowledged as i32,
            situation_id: "S".into(),
            determination_id: "S/1".into(),
            acknowledged_by: "iom-cc".into(),
            acknowledged_via: "link".into(),
            at: Some(timestamp::now()),
            ..Default::default()
        };
        histories.apply_status(&ack);
        assert_eq!(histories.history("S"), None, "no determination yet");
        histories.apply_determination(&determination(2), None);
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736".to_string();
        histories.apply_determination(&determination(1), Some(trace.clone()));
        let review = DeterminationReview {
            review_id: "S/1/review/1".into(),
            determination_id: "S/1".into(),
            situation_id: "S".into(),
            agency: Agency::Unhcr as i32,
            by: "unhcr-cc".into(),
            verdict: ReviewVerdict::Contest as i32,
            comment: "figures are old".into(),
            status: DeterminationStatus::Contested as i32,
            ..Default::default()
        };
        histories.apply_review(&review);
        histories.apply_review(&review);
        let history = histories.history("S").expect("a history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].determination.determination_id, "S/1");
        assert_eq!(
            history[0].determination.status(),
            DeterminationStatus::Contested
        );
        assert_eq!(history[0].determination.reviews, vec![review]);
        assert_eq!(
            history[0].notifications[0].acknowledged_by.as_deref(),
            Some("iom-cc")
        );
        assert_eq!(
            history[1].determination.status(),
            DeterminationStatus::Provisional
        );
        assert!(history[1].notifications.is_empty());
        let json = serde_json::to_value(&history[0]).expect("json");
        assert_eq!(json["status"], "DETERMINATION_STATUS_CONTESTED");
        assert_eq!(json["reviews"][0]["by"], "unhcr-cc");
        assert_eq!(json["notifications"][0]["acknowledged_via"], "link");
        assert_eq!(json["trace_id"], trace.as_str());
        let untraced = serde_json::to_value(&history[1]).expect("json");
        assert!(untraced.get("trace_id").is_none(), "no trace: no field");
        let back: HistoryEntry = serde_json::from_value(json).expect("read back");
        assert_eq!(back, history[0]);
    }

    #[test]
    fn a_history_reads_in_the_readers_language_with_times_in_their_zone() {
        // 2026-11-18T11:36:40Z.
        let at = tandem_proto::Timestamp {
            seconds: 1_795_001_800,
            nanos: 0,
        };
        let entry = HistoryEntry {
            determination: LeadershipDetermination {
                determination_id: "COL/2".into(),
                determined_at: Some(at),
                classification: tandem_proto::v1::Classification::MixedMovement as i32,
                arrangement: tandem_proto::v1::Arrangement::JointPlatform as i32,
                status: DeterminationStatus::Contested as i32,
                changed: false,
                reviews: vec![DeterminationReview {
                    agency: Agency::Unhcr as i32,
                    by: "unhcr-cc".into(),
                    verdict: ReviewVerdict::Contest as i32,
                    comment: "figures are old".into(),
                    status: DeterminationStatus::Contested as i32,
                    at: Some(at),
                    ..Default::default()
                }],
                ..Default::default()
            },
            notifications: vec![
                NotificationEntry {
                    notification_id: "iom.ntf-1".into(),
                    recipient_id: "iom-cc".into(),
                    recipient_agency: "AGENCY_IOM".into(),
                    kind: "NOTIFICATION_KIND_CONTESTED".into(),
                    acknowledged_by: Some("iom-cc".into()),
                    acknowledged_via: Some("link".into()),
                    acknowledged_at: Some("2026-11-18T12:00:00Z".into()),
                    ..Default::default()
                },
                NotificationEntry {
                    notification_id: "unhcr.ntf-2".into(),
                    recipient_id: "unhcr-cc".into(),
                    recipient_agency: "AGENCY_UNHCR".into(),
                    kind: "NOTIFICATION_KIND_CONTESTED".into(),
                    ..Default::default()
                },
            ],
            trace_id: None,
        };
        let entries = [entry];
        assert_eq!(
            render(&entries, Lang::En, "America/Bogota"),
            "COL/2 2026-11-18 06:36 UTC-05:00 (America/Bogota): mixed movement (joint platform), contested (outcome unchanged)\n\
             \x20 review: UNHCR unhcr-cc contested at 2026-11-18 06:36 UTC-05:00 (America/Bogota): \"figures are old\" -> contested\n\
             \x20 notified: IOM iom-cc (determination contested), acknowledged by iom-cc at 2026-11-18 07:00 UTC-05:00 (America/Bogota) via link\n\
             \x20 notified: UNHCR unhcr-cc (determination contested), not acknowledged\n"
        );
        let french = render(&entries, Lang::Fr, "Europe/Paris");
        for words in [
            "COL/2 2026-11-18 12:36 UTC+01:00 (Europe/Paris) : mouvement mixte",
            "contestée (résultat inchangé)",
            "avis : HCR unhcr-cc contestée le 2026-11-18 12:36",
            "notifié : OIM iom-cc (décision contestée), réception accusée par iom-cc le 2026-11-18 13:00",
            "réception non accusée",
        ] {
            assert!(french.contains(words), "{words:?} in:\n{french}");
        }
        let spanish = render(&entries, Lang::Es, "America/Bogota");
        for words in [
            "movimiento mixto",
            "(resultado sin cambios)",
            "revisión: ACNUR unhcr-cc impugnada el 2026-11-18 06:36",
            "notificado: OIM iom-cc (determinación impugnada), recepción confirmada por iom-cc el",
            "recepción no confirmada",
        ] {
            assert!(spanish.contains(words), "{words:?} in:\n{spanish}");
        }
        for other in [&french, &spanish] {
            for english in [
                "review:",
                "notified:",
                "outcome unchanged",
                "acknowledged",
                " at ",
                "mixed movement",
            ] {
                assert!(!other.contains(english), "{english:?} in:\n{other}");
            }
        }
    }
}
