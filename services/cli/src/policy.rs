//! `tandem policy check|replay|apply`: try a policy file against every current situation (and
//! list its overrides that match none), replay every accepted report through it, and have the
//! running leadership service re-determine everything after a policy change. What they print
//! for people is in the reader's language; `replay --json` is the same in every language.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use async_nats::{Client, jetstream};
use futures::StreamExt as _;
use prost::Message as _;
use tandem_i18n::{Lang, words::word};
use tandem_leadership::{
    REEVALUATE_SUBJECT, ReevaluateReply,
    policy::{Policy, determine, same_outcome},
    record::{self, Change},
    words,
};
use tandem_proto::{
    timestamp,
    v1::{Classification, LeadershipDetermination, LeadershipRecord, SituationAccepted},
};
use tandem_runtime::topology;

use crate::{exit, situation};

/// `tandem policy …`
#[derive(clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and show what it would change for every current situation
    /// (a dry run: nothing is written).
    Check {
        /// The policy file (TOML), e.g. deploy/policy/leadership-v1.toml.
        file: PathBuf,
    },
    /// Fold every accepted report on the event stream through a candidate policy, in the order
    /// intake accepted them, and show where its classifications would have differed from the
    /// determinations stored on the stream (made under whatever policy ran then).
    Replay {
        /// The candidate policy file (TOML).
        file: PathBuf,
        /// Only list differences after reports accepted on or after this date (YYYY-MM-DD, UTC);
        /// earlier reports are still folded, so the state they built counts.
        #[arg(long)]
        since: Option<String>,
        /// One JSON object per line per differing situation.
        #[arg(long)]
        json: bool,
    },
    /// Ask the running leadership service to re-determine every situation with the policy it
    /// runs; determinations are published only where the outcome changed.
    Apply {
        /// Refuse unless the answering instance runs this policy version (guards against an old
        /// instance answering mid-rollout).
        #[arg(long)]
        expect_version: Option<String>,
        /// Seconds to wait for the service's answer.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
}

pub async fn run(client: &Client, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { file } => check(client, &file).await,
        PolicyCommand::Replay { file, since, json } => {
            replay(client, &file, since.as_deref(), json).await
        }
        PolicyCommand::Apply {
            expect_version,
            timeout,
        } => apply(client, expect_version, timeout).await,
    }
}

async fn check(client: &Client, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let lang = crate::lang();
    let Some(policy) = read(file, lang)? else {
        return Ok(ExitCode::from(exit::FAILURE));
    };
    let file_arg = || ("file", file.display().to_string().into());
    println!(
        "{}",
        lang.text_with(
            "cli-policy-valid",
            &[file_arg(), ("version", policy.version().into())]
        )
    );
    for missing in policy.untranslated() {
        let warning = lang.text_with(
            "cli-policy-untranslated",
            &[
                ("language", missing.text("language-name").into()),
                ("code", missing.code().into()),
            ],
        );
        println!("  {warning}");
    }
    let Ok(records) = jetstream::new(client.clone())
        .get_key_value(topology::LEADERSHIP_BUCKET)
        .await
    else {
        println!("{}", lang.text("cli-policy-nothing-determined"));
        unmatched_overrides(&policy, &[], lang);
        return Ok(ExitCode::SUCCESS);
    };
    let (mut changed, mut total) = (0, 0);
    let mut situations = Vec::new();
    for (id, record) in situation::all(&records).await? {
        let Some(current) = &record.determination else {
            continue;
        };
        situations.push(current.situation_id.clone());
        total += 1;
        let proposed = determine(&policy, &record.reports, Some(current), timestamp::now());
        let situation = || ("situation", id.as_str().into());
        if same_outcome(current, &proposed) {
            println!(
                "  {}",
                lang.text_with("cli-policy-unchanged", &[situation()])
            );
        } else {
            changed += 1;
            println!("  {}", lang.text_with("cli-policy-changes", &[situation()]));
            for (message, determination) in
                [("cli-policy-now", current), ("cli-policy-would", &proposed)]
            {
                let headline = words::headline(determination, lang);
                let line = lang.text_with(message, &[("headline", headline.into())]);
                println!("             {line}");
            }
        }
    }
    println!(
        "{}",
        lang.text_with(
            "cli-policy-summary",
            &[
                ("changed", changed.into()),
                ("total", total.into()),
                ("version", policy.version().into()),
            ],
        )
    );
    unmatched_overrides(&policy, &situations, lang);
    Ok(ExitCode::SUCCESS)
}

/// The policy in `file`; `None`, with every problem printed, when it is refused.
fn read(file: &std::path::Path, lang: Lang) -> anyhow::Result<Option<Policy>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match Policy::from_toml(&text) {
        Ok(policy) => Ok(Some(policy)),
        Err(error) => {
            let refused = lang.text_with(
                "cli-policy-refused",
                &[("file", file.display().to_string().into())],
            );
            eprintln!("{refused}\n{error}");
            Ok(None)
        }
    }
}

/// Lists the policy's overrides whose situation is not among `situations`: most often a typo
/// in the situation id, which would otherwise leave the override silently unused.
fn unmatched_overrides(policy: &Policy, situations: &[String], lang: Lang) {
    for (situation, reference) in policy.overrides() {
        if !situations.iter().any(|known| known == situation) {
            let line = lang.text_with(
                "cli-policy-unmatched-override",
                &[
                    ("situation", situation.into()),
                    ("reference", reference.into()),
                ],
            );
            println!("  {line}");
        }
    }
}

async fn apply(
    client: &Client,
    expect_version: Option<String>,
    timeout: u64,
) -> anyhow::Result<ExitCode> {
    let body = expect_version.unwrap_or_default();
    let request = client.request(REEVALUATE_SUBJECT, body.into());
    let answer = tokio::time::timeout(Duration::from_secs(timeout), request)
        .await
        .context("the leadership service did not answer in time")?
        .context("no leadership service answered (is it running?)")?;
    let reply: ReevaluateReply =
        serde_json::from_slice(&answer.payload).context("unexpected answer")?;
    let lang = crate::lang();
    let list = if reply.changed.is_empty() {
        String::new()
    } else {
        format!(": {}", reply.changed.join(", "))
    };
    println!(
        "{}",
        lang.text_with(
            "cli-policy-applied",
            &[
                ("version", reply.policy_version.as_str().into()),
                ("situations", reply.situations.into()),
                ("changed", reply.changed.len().into()),
                ("list", list.into()),
            ],
        )
    );
    for failure in &reply.failed {
        let line = lang.text_with(
            "cli-policy-apply-failed",
            &[("failure", failure.as_str().into())],
        );
        eprintln!("  {line}");
    }
    Ok(if reply.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    })
}

/// One report of a situation, folded through the candidate policy.
struct Step {
    report_id: String,
    accepted_at: i64,
    /// The candidate's classification after it.
    candidate: Classification,
    /// The classification of the first stored determination that reflected it, or of a later
    /// report (a determination reflects every report before the newest it rests on).
    determined: Option<Classification>,
}

/// One situation: the candidate's record, and its reports in the order intake accepted them.
#[derive(Default)]
struct Timeline {
    candidate: Option<LeadershipRecord>,
    steps: Vec<Step>,
    /// Each report no stored determination has reflected yet, by (agency, organisation, report
    /// id, revision), with its step.
    waiting: std::collections::HashMap<(i32, String, String, u32), usize>,
}

impl Timeline {
    /// Determination `determined` is stored: it settles the newest report it rests on and every
    /// earlier one still waiting.
    fn determined(&mut self, determined: &LeadershipDetermination) {
        let newest = determined
            .based_on
            .iter()
            .filter_map(|reference| {
                self.waiting.get(&(
                    reference.reporting_agency,
                    reference.reporter_org.clone(),
                    reference.report_id.clone(),
                    reference.revision,
                ))
            })
            .max()
            .copied();
        let Some(newest) = newest else {
            return;
        };
        let classification = determined.classification();
        for step in &mut self.steps[..=newest] {
            step.determined.get_or_insert(classification);
        }
        self.waiting.retain(|_, step| *step > newest);
    }
}

/// `tandem policy replay`: folds the accepted reports on `TANDEM_EVENTS`, in the order intake
/// accepted them, through the candidate policy, and prints, per situation, each report after
/// which the candidate's classification differs from what was determined: the determination
/// stored on `TANDEM_EVENTS` that reflected it, under whatever policy was running then.
/// Reports no determination reflects yet are left out.
async fn replay(
    client: &Client,
    file: &std::path::Path,
    since: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let lang = crate::lang();
    let Some(candidate) = read(file, lang)? else {
        return Ok(ExitCode::from(exit::FAILURE));
    };
    let since = match since {
        None => i64::MIN,
        Some(date) => match parse_date(date) {
            Some(date) => date.midnight().assume_utc().unix_timestamp(),
            None => {
                let quoted = format!("{date:?}");
                eprintln!(
                    "{}",
                    lang.text_with("cli-policy-since-invalid", &[("date", quoted.into())])
                );
                return Ok(ExitCode::from(exit::FAILURE));
            }
        },
    };

    let js = jetstream::new(client.clone());
    let stream = js
        .get_stream(topology::EVENTS_STREAM)
        .await
        .context("cannot open the event stream")?;
    // Every event, in stream order: reports and the determinations that reflect them
    // interleave, and a server before 2.10 takes one filter per consumer.
    let consumer = stream
        .create_consumer(jetstream::consumer::push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            ..Default::default()
        })
        .await
        .context("cannot read the event stream")?;
    // The events stored now; later ones are not part of this replay.
    let mut remaining = consumer.cached_info().num_pending;
    let mut messages = consumer.messages().await?;
    let mut situations: std::collections::BTreeMap<String, Timeline> = Default::default();
    while remaining > 0 {
        let Some(message) = messages.next().await else {
            break;
        };
        let message = message.context("reading the event stream")?;
        remaining = message.info().map_or(0, |info| info.pending);
        if topology::is_determined_subject(&message.subject) {
            if let Ok(determined) = LeadershipDetermination::decode(message.payload.clone())
                && let Some(timeline) = situations.get_mut(&determined.situation_id)
            {
                timeline.determined(&determined);
            }
            continue;
        }
        if !topology::is_accepted_subject(&message.subject) {
            continue;
        }
        let Ok(accepted) = SituationAccepted::decode(message.payload.clone()) else {
            continue;
        };
        let Some(report) = accepted.report.as_ref() else {
            continue;
        };
        let at = accepted.accepted_at.unwrap_or_default();
        let change = Change::Report {
            report,
            situation_sequence: accepted.situation_sequence,
            skip_gap: true,
        };
        let timeline = situations.entry(report.situation_id.clone()).or_default();
        if let Ok(Some(next)) = record::next(&candidate, timeline.candidate.as_ref(), change, at) {
            timeline.candidate = Some(next);
        }
        let would = timeline
            .candidate
            .as_ref()
            .and_then(|r| r.determination.as_ref())
            .map_or(Classification::Unspecified, |d| d.classification());
        timeline.waiting.insert(
            (
                report.reporting_agency,
                report.reporter_org.clone(),
                report.report_id.clone(),
                report.revision,
            ),
            timeline.steps.len(),
        );
        timeline.steps.push(Step {
            report_id: report.report_id.clone(),
            accepted_at: at.seconds,
            candidate: would,
            determined: None,
        });
    }
    let mut differing = 0;
    for (situation_id, timeline) in &situations {
        let differences: Vec<serde_json::Value> = timeline
            .steps
            .iter()
            .filter(|step| step.accepted_at >= since)
            .filter_map(|step| {
                let determined = step.determined?;
                (determined != step.candidate).then(|| {
                    serde_json::json!({
                        "report_id": step.report_id,
                        "current": determined.as_str_name(),
                        "candidate": step.candidate.as_str_name(),
                    })
                })
            })
            .collect();
        if differences.is_empty() {
            continue;
        }
        differing += 1;
        if json {
            println!(
                "{}",
                serde_json::json!({"situation_id": situation_id, "differences": differences})
            );
        } else {
            println!("{situation_id}");
            for difference in &differences {
                let classification = |field: &str| {
                    let name = difference[field].as_str().unwrap_or_default();
                    word(
                        lang,
                        Classification::from_str_name(name).unwrap_or_default(),
                    )
                };
                let line = lang.text_with(
                    "cli-policy-replay-difference",
                    &[
                        (
                            "report",
                            difference["report_id"].as_str().unwrap_or_default().into(),
                        ),
                        ("current", classification("current").into()),
                        ("candidate", classification("candidate").into()),
                        ("version", candidate.version().into()),
                    ],
                );
                println!("  {line}");
            }
        }
    }
    if !json {
        println!(
            "{}",
            lang.text_with(
                "cli-policy-replay-summary",
                &[
                    ("differing", differing.into()),
                    ("total", situations.len().into()),
                    ("version", candidate.version().into()),
                ],
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A `YYYY-MM-DD` date.
fn parse_date(text: &str) -> Option<time::Date> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}
