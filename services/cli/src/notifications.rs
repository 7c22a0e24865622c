//! `tandem notifications list|ack`: what notify sent and whether it was acknowledged, from KV
//! `tandem-notify`; acknowledging sends `tandem.notify.ack.<id>` and waits for notify to record
//! it. The logic is `tandem_notify::inbox`'s; what it prints for people is in the reader's
//! language, with deadlines and acknowledgements in the reader's zone.

use std::{process::ExitCode, time::Duration};

use async_nats::{Client, jetstream};
use tandem_i18n::{Lang, local_time, local_time_rfc3339, words::word};
use tandem_notify::{
    inbox::{self, AckOutcome},
    store::{NotificationRecord, RecordState},
};

use crate::{exit, render};

/// `tandem notifications …`
#[derive(clap::Subcommand)]
pub enum NotificationsCommand {
    /// One line per notification of both agencies, oldest first.
    List {
        /// Only those still waiting for an acknowledgement.
        #[arg(long)]
        pending: bool,
        /// One JSON object per line (the notification, its state, acknowledgement and
        /// escalations) instead.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a notification (and stop its escalation).
    Ack {
        /// The notification id (`ntf-…`).
        id: String,
        /// Seconds to wait for the notify service to record it.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Your directory id, recorded as who acknowledged (else `system`).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Runs a `tandem notifications` command.
pub async fn run(client: &Client, command: NotificationsCommand) -> anyhow::Result<ExitCode> {
    let js = jetstream::new(client.clone());
    let lang = crate::lang();
    match command {
        NotificationsCommand::List { pending, json } => {
            let records = inbox::list(&js, pending).await?;
            if json {
                for record in &records {
                    println!("{}", serde_json::to_string(record)?);
                }
            } else {
                print!("{}", list(&records, lang, &render::zone()));
            }
        }
        NotificationsCommand::Ack { id, timeout, by } => {
            let wait = Duration::from_secs(timeout);
            let notification = || ("notification", id.as_str().into());
            match inbox::acknowledge_as(&js, &id, by.as_deref(), wait).await? {
                AckOutcome::Acknowledged(_) => {
                    println!("{}", lang.text_with("cli-ack-recorded", &[notification()]));
                }
                AckOutcome::AlreadyAcknowledged(record) => match record.acknowledged {
                    Some(ack) => println!(
                        "{}",
                        lang.text_with(
                            "cli-ack-already-by",
                            &[
                                notification(),
                                ("at", local_time_rfc3339(&ack.at, &render::zone()).into()),
                                ("by", ack.by.as_str().into()),
                                ("via", ack.via.as_str().into()),
                            ],
                        )
                    ),
                    None => println!("{}", lang.text_with("cli-ack-already", &[notification()])),
                },
                AckOutcome::Unknown => {
                    let text = lang.text_with("cli-ack-unknown", &[notification()]);
                    eprintln!("tandem: {text}");
                    return Ok(ExitCode::from(exit::FAILURE));
                }
                AckOutcome::Sent => {
                    let text = lang.text_with(
                        "cli-ack-not-recorded",
                        &[notification(), ("seconds", timeout.into())],
                    );
                    eprintln!("tandem: {text}");
                    return Ok(ExitCode::from(exit::TIMEOUT));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `tandem notifications list` prints: a header and one line per notification, in `lang`,
/// deadlines in zone `tz`.
fn list(records: &[NotificationRecord], lang: Lang, tz: &str) -> String {
    let header = [
        "cli-column-id",
        "cli-column-agency",
        "cli-column-recipient",
        "cli-column-kind",
        "cli-column-situation",
        "cli-column-tier",
        "cli-column-state",
        "cli-column-acknowledge-by",
    ]
    .map(|id| lang.text(id));
    let mut rows = vec![header.to_vec()];
    for record in records {
        let n = &record.notification;
        let state = match record.state {
            RecordState::Pending => "pending",
            RecordState::Acknowledged => "acknowledged",
            RecordState::Escalated => "escalated",
            RecordState::Expired => "expired",
        };
        rows.push(vec![
            n.notification_id.clone(),
            word(lang, n.recipient_agency()),
            n.recipient_id.clone(),
            word(lang, n.kind()),
            n.situation_id.clone(),
            n.escalation_tier.to_string(),
            lang.text_with("cli-notification-state", &[("state", state.into())]),
            n.acknowledge_by
                .as_ref()
                .map(|t| local_time(t.seconds, tz))
                .unwrap_or_default(),
        ]);
    }
    render::table(&rows)
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{Agency, Notification, NotificationKind};

    use super::*;

    #[test]
    fn the_list_reads_in_the_readers_language_with_deadlines_in_their_zone() {
        let record = NotificationRecord {
            notification: Notification {
                notification_id: "iom.ntf-1".into(),
                recipient_agency: Agency::Iom as i32,
                recipient_id: "col-iom-cc".into(),
                kind: NotificationKind::Discrepancy as i32,
                situation_id: "COL-VEN-2026".into(),
                escalation_tier: 1,
                // 2026-11-18T11:36:40Z.
                acknowledge_by: Some(tandem_proto::Timestamp {
                    seconds: 1_795_001_800,
                    nanos: 0,
                }),
                ..Default::default()
            },
            state: RecordState::Pending,
            escalate_at_ms: 0,
            acknowledged: None,
            escalated_to: Vec::new(),
        };
        let records = [record];
        assert_eq!(
            list(&records, Lang::En, "America/Bogota"),
            "ID        AGENCY RECIPIENT  KIND             SITUATION    TIER STATE   ACKNOWLEDGE BY\n\
             iom.ntf-1 IOM    col-iom-cc figures disagree COL-VEN-2026 1    pending 2026-11-18 06:36 UTC-05:00 (America/Bogota)\n"
        );
        let spanish = list(&records, Lang::Es, "America/Bogota");
        let lines: Vec<&str> = spanish.lines().collect();
        assert!(
            lines[0].starts_with("ID        ORGANISMO DESTINATARIO TIPO "),
            "{spanish}"
        );
        assert!(
            lines[1]
                .starts_with("iom.ntf-1 OIM       col-iom-cc   cifras discrepantes COL-VEN-2026"),
            "{spanish}"
        );
        assert!(lines[1].contains(" pendiente "), "{spanish}");
        let french = list(&records, Lang::Fr, "Europe/Paris");
        for words in [
            "DESTINATAIRE",
            "ACCUSER RÉCEPTION AVANT",
            "chiffres divergents",
            "en attente",
            "2026-11-18 12:36 UTC+01:00 (Europe/Paris)",
        ] {
            assert!(french.contains(words), "{words:?} in:\n{french}");
        }
        for other in [&french, &spanish] {
            for english in ["RECIPIENT", "ACKNOWLEDGE BY", "figures disagree", "pending"] {
                assert!(!other.contains(english), "{english:?} in:\n{other}");
            }
        }
    }
}
