//! `tandem submit`: JSON reports to protobuf on `tandem.intake.<agency>.report`, as an agency
//! system would publish them, and (with `--wait`) the outcome back: accepted or rejected with
//! every reason, and for an accepted report the determination it led to.

use std::{io::Read as _, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use async_nats::{
    Client, HeaderMap,
    jetstream::{self, message::PublishMessage},
};
use futures::StreamExt as _;
use prost::Message as _;
use serde_json::json;
use tandem_leadership::words;
use tandem_proto::v1::{
    Agency, LeadershipDetermination, Reason, SituationRejected, SituationReport,
};
use tandem_runtime::{envelope, topology};
use tracing::Instrument as _;

use crate::{exit, trace};

/// Arguments of `tandem submit`.
#[derive(clap::Args)]
pub struct SubmitArgs {
    /// The JSON file, or - for standard input.
    file: PathBuf,
    /// Wait for each report's outcome (accepted or rejected, with every reason) and, when
    /// accepted, for the determination of who leads.
    #[arg(long)]
    wait: bool,
    /// Print one JSON object per report instead of text.
    #[arg(long)]
    json: bool,
    /// Seconds to wait for an outcome with --wait.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// What became of one report.
#[derive(Debug)]
pub struct Submission {
    /// The report's id (empty when the input was not a report).
    pub report_id: String,
    /// The report's situation.
    pub situation_id: String,
    /// Who submitted it: `iom`, `unhcr`, `partner.<org>`.
    pub organisation: String,
    /// What happened.
    pub status: Status,
    /// Why it was rejected.
    pub reasons: Vec<Reason>,
    /// The determination the accepted report led to (with --wait).
    pub determination: Option<LeadershipDetermination>,
    /// The trace of the report's journey: that of intake's outcome event (with --wait).
    pub trace_id: Option<String>,
}

/// The status of a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Stored in the organisation's intake stream; the outcome was not awaited.
    Submitted,
    /// Intake accepted it.
    Accepted,
    /// Rejected, by intake or already here (not JSON, no agency).
    Rejected,
    /// The same `Nats-Msg-Id` was stored before: nothing new happens.
    Duplicate,
    /// No outcome arrived in time.
    TimedOut,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Accepted => "ACCEPTED",
            Status::Rejected => "REJECTED",
            Status::Duplicate => "DUPLICATE",
            Status::TimedOut => "TIMED_OUT",
        }
    }
}

pub async fn run(client: &Client, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let submitter = Submitter::new(client.clone());
    let timeout = args.wait.then(|| Duration::from_secs(args.timeout));
    let mut worst = ExitCode::SUCCESS;
    for parsed in parse_reports(&text) {
        let submission = match parsed {
            Ok(report) => submitter.submit(report, timeout).await?,
            Err(problem) => Submission {
                report_id: String::new(),
                situation_id: String::new(),
                organisation: String::new(),
                status: Status::Rejected,
                reasons: vec![problem],
                determination: None,
                trace_id: None,
            },
        };
        if args.json {
            println!("{}", to_json(&submission));
        } else {
            print!("{}", describe(&submission));
        }
        match submission.status {
            Status::Rejected => worst = ExitCode::from(exit::REJECTED),
            Status::TimedOut if worst == ExitCode::SUCCESS => worst = ExitCode::from(exit::TIMEOUT),
            _ => {}
        }
    }
    Ok(worst)
}

/// Reports in `text`: one JSON object, an array of them, or several objects one after another.
/// Each element that is not a report becomes a reason, so the others still go through.
pub fn parse_reports(text: &str) -> Vec<Result<SituationReport, Reason>> {
    let values: Vec<Result<serde_json::Value, serde_json::Error>> =
        if text.trim_start().starts_with('[') {
            match serde_json::from_str::<Vec<serde_json::Value>>(text) {
                Ok(values) => values.into_iter().map(Ok).collect(),
                Err(error) => vec![Err(error)],
            }
        } else {
            serde_json::Deserializer::from_str(text)
                .into_iter()
                .collect()
        };
    values
        .into_iter()
        .map(|value| {
            let value =
                value.map_err(|error| not_a_report(format!("the input is not JSON: {error}")))?;
            serde_json::from_value::<SituationReport>(value)
                .map_err(|error| not_a_report(format!("not a tandem.v1.SituationReport: {error}")))
        })
        .collect()
}

fn not_a_report(message: String) -> Reason {
    Reason {
        field: String::new(),
        code: "UNDECODABLE".into(),
        message,
    }
}

/// The `Nats-Msg-Id` of a report (docs/agency-systems.md): an agency's stream is its own, so
/// `<agency>:<report_id>` cannot be taken by anyone else; partners share one stream, so their id
/// carries 128 random bits that another partner cannot guess and store first.
fn message_id(agency: Agency, organisation: &str, report_id: &str) -> String {
    match agency {
        Agency::Partner => format!("{organisation}:{report_id}:{:032x}", rand::random::<u128>()),
        _ => format!("{organisation}:{report_id}"),
    }
}

/// Publishes reports and follows them to their outcome.
pub struct Submitter {
    client: Client,
    js: jetstream::Context,
}

impl Submitter {
    pub fn new(client: Client) -> Self {
        let js = jetstream::new(client.clone());
        Self { client, js }
    }

    /// Publishes `report` on its organisation's intake subject; with `wait`, waits that long
    /// for intake's outcome.
    pub async fn submit(
        &self,
        report: SituationReport,
        wait: Option<Duration>,
    ) -> anyhow::Result<Submission> {
        let agency = Agency::try_from(report.reporting_agency).unwrap_or_default();
        let mut submission = Submission {
            report_id: report.report_id.clone(),
            situation_id: report.situation_id.clone(),
            organisation: String::new(),
            status: Status::Submitted,
            reasons: vec![],
            determination: None,
            trace_id: None,
        };
        let Some(organisation) = topology::organisation_token(agency, &report.reporter_org) else {
            // Without an organisation there is no subject to publish on.
            submission.status = Status::Rejected;
            submission.reasons.push(Reason {
                field: if agency == Agency::Partner { "reporter_org" } else { "reporting_agency" }.into(),
                code: "REQUIRED".into(),
                message: "reporting_agency (and reporter_org for a partner) decide where the report is published".into(),
            });
            return Ok(submission);
        };
        submission.organisation = organisation.clone();
        let span = tracing::info_span!("submit", otel.kind = "producer", report.id = %report.report_id, situation.id = %report.situation_id, agency = %organisation);
        async {
            // Listen before publishing, so neither outcome nor determination can slip past.
            // The organisation's own outcome subject, which its own credentials may read; the
            // determinations only for the agencies, which receive every determination.
            let (mut outcomes, mut determinations) = match wait {
                Some(_) => (
                    Some(
                        self.client
                            .subscribe(topology::outcome_subject(&organisation))
                            .await?,
                    ),
                    match agency {
                        Agency::Iom | Agency::Unhcr => {
                            Some(self.client.subscribe(topology::DETERMINED_FILTER).await?)
                        }
                        _ => None,
                    },
                ),
                None => (None, None),
            };
            let mut headers = HeaderMap::new();
            headers.insert(
                envelope::MSG_ID,
                message_id(agency, &organisation, &report.report_id).as_str(),
            );
            envelope::inject_current_context(&mut headers);
            let publish = PublishMessage::build()
                .headers(headers)
                .payload(report.encode_to_vec().into());
            let ack = self
                .js
                .send_publish(topology::intake_subject(&organisation), publish)
                .await
                .context("cannot publish the report (is intake running, or its stream created?)")?
                .await
                .context("the intake stream did not store the report")?;
            if ack.duplicate {
                submission.status = Status::Duplicate;
                return Ok(());
            }
            let (Some(outcomes), Some(wait)) = (outcomes.as_mut(), wait) else {
                return Ok(());
            };
            let deadline = tokio::time::Instant::now() + wait;
            let expected_id = topology::intake_outcome_id(&ack.stream, ack.sequence);
            let found = tokio::time::timeout_at(deadline, async {
                while let Some(message) = outcomes.next().await {
                    if envelope::header(message.headers.as_ref(), envelope::MSG_ID)
                        == Some(expected_id.as_str())
                    {
                        return Some(message);
                    }
                }
                None
            })
            .await;
            if let Ok(Some(message)) = &found {
                submission.trace_id = envelope::trace_id(message.headers.as_ref());
            }
            match found {
                Ok(Some(message))
                    if envelope::header(message.headers.as_ref(), "ce-type")
                        == Some("org.tandem.situation.accepted.v1") =>
                {
                    submission.status = Status::Accepted;
                    if let Some(determinations) = determinations.as_mut() {
                        let report_id = report.report_id.as_str();
                        let found = tokio::time::timeout_at(deadline, async {
                            while let Some(message) = determinations.next().await {
                                let Ok(determination) =
                                    LeadershipDetermination::decode(message.payload)
                                else {
                                    continue;
                                };
                                if determination.situation_id == report.situation_id
                                    && determination
                                        .based_on
                                        .iter()
                                        .any(|r| r.report_id == report_id)
                                {
                                    return Some(determination);
                                }
                            }
                            None
                        })
                        .await;
                        submission.determination = found.ok().flatten();
                    }
                }
                Ok(Some(message)) => {
                    let rejected = SituationRejected::decode(message.payload)
                        .context("undecodable rejection")?;
                    submission.status = Status::Rejected;
                    submission.reasons = rejected.reasons;
                }
                _ => submission.status = Status::TimedOut,
            }
            anyhow::Ok(())
        }
        .instrument(span)
        .await?;
        Ok(submission)
    }
}

/// The JSON line of `tandem submit --json`.
pub fn to_json(submission: &Submission) -> serde_json::Value {
    json!({
        "report_id": submission.report_id,
        "status": submission.status.as_str(),
        "reasons": submission
            .reasons
            .iter()
            .map(|r| json!({"field": r.field, "code": r.code, "message": r.message}))
            .collect::<Vec<_>>(),
        "determination": submission.determination.as_ref().map(|d| serde_json::to_value(d).unwrap_or_default()),
        "trace_id": submission.trace_id,
    })
}

/// The text of `tandem submit`: a status line, then one line per reason.
pub fn describe(submission: &Submission) -> String {
    let mut text = format!(
        "{:<9} {} ({}{}){}\n",
        submission.status.as_str(),
        if submission.report_id.is_empty() {
            "-"
        } else {
            &submission.report_id
        },
        if submission.situation_id.is_empty() {
            "no situation"
        } else {
            &submission.situation_id
        },
        if submission.organisation.is_empty() {
            String::new()
        } else {
            format!(", from {}", submission.organisation)
        },
        match &submission.trace_id {
            Some(trace_id) => format!(" {}", trace::words(trace_id)),
            None => String::new(),
        },
    );
    for reason in &submission.reasons {
        let field = if reason.field.is_empty() {
            "report"
        } else {
            &reason.field
        };
        text.push_str(&format!(
            "  - {field}: {} — {}\n",
            reason.code, reason.message
        ));
    }
    if submission.status == Status::TimedOut {
        text.push_str("  no outcome in time: is the intake service running?\n");
    }
    if let Some(determination) = &submission.determination {
        for line in words::summary(determination, crate::lang()).lines() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_an_array_or_a_sequence() {
        let one = r#"{"report_id": "a", "reporting_agency": "AGENCY_IOM"}"#;
        assert_eq!(parse_reports(one).len(), 1);
        let array = r#"[{"report_id": "a"}, {"reportId": "b"}]"#;
        let parsed = parse_reports(array);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].as_ref().map(|r| r.report_id.as_str()), Ok("b"));
        let lines = "{\"report_id\": \"a\"}\n{\"report_id\": \"b\"}\n";
        assert_eq!(parse_reports(lines).len(), 2);
    }

    #[test]
    fn a_bad_element_is_a_reason_and_the_rest_go_through() {
        let parsed =
            parse_reports(r#"[{"report_id": "a"}, {"reporting_agency": "AGENCY_NOBODY"}]"#);
        assert!(parsed[0].is_ok());
        let reason = parsed[1].as_ref().err().cloned().unwrap_or_default();
        assert_eq!(reason.code, "UNDECODABLE");
        assert!(
            reason.message.contains("AGENCY_NOBODY"),
            "{}",
            reason.message
        );
    }

    #[test]
    fn an_agency_keeps_its_report_id_and_a_partner_adds_an_unguessable_part() {
        assert_eq!(message_id(Agency::Iom, "iom", "dtm-1"), "iom:dtm-1");
        let first = message_id(Agency::Partner, "partner.nrc", "r-1");
        let second = message_id(Agency::Partner, "partner.nrc", "r-1");
        let random = first.strip_prefix("partner.nrc:r-1:").expect("the prefix");
        assert_eq!(random.len(), 32);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            first, second,
            "two submissions share an id another partner could guess"
        );
    }
}
