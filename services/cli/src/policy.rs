//! `tandem policy check|apply`: try a policy file against every current situation (and list
//! its overrides that match none), and have the running leadership service re-determine
//! everything after a policy change.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use async_nats::{Client, jetstream};
use tandem_leadership::{
    REEVALUATE_SUBJECT, ReevaluateReply,
    policy::{Policy, determine, same_outcome},
    words,
};
use tandem_proto::timestamp;
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
        PolicyCommand::Apply {
            expect_version,
            timeout,
        } => apply(client, expect_version, timeout).await,
    }
}

async fn check(client: &Client, file: &PathBuf) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let policy = match Policy::from_toml(&text) {
        Ok(policy) => policy,
        Err(error) => {
            eprintln!("{} is refused:\n{error}", file.display());
            return Ok(ExitCode::from(exit::FAILURE));
        }
    };
    println!("{}: policy {} is valid", file.display(), policy.version());
    let Ok(records) = jetstream::new(client.clone())
        .get_key_value(topology::LEADERSHIP_BUCKET)
        .await
    else {
        println!("no situations determined yet: nothing would change");
        unmatched_overrides(&policy, &[]);
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
        if same_outcome(current, &proposed) {
            println!("  unchanged  {id}");
        } else {
            changed += 1;
            println!(
                "  CHANGES    {}\n             now:   {}",
                id,
                words::headline(current)
            );
            println!("             would: {}", words::headline(&proposed));
        }
    }
    println!(
        "{changed} of {total} situation(s) would change under policy {}",
        policy.version()
    );
    unmatched_overrides(&policy, &situations);
    Ok(ExitCode::SUCCESS)
}

/// Lists the policy's overrides whose situation is not among `situations`: most often a typo
/// in the situation id, which would otherwise leave the override silently unused.
fn unmatched_overrides(policy: &Policy, situations: &[String]) {
    for (situation, reference) in policy.overrides() {
        if !situations.iter().any(|known| known == situation) {
            println!("  override for {situation} ({reference}) matches no situation");
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
    println!(
        "policy {}: {} situation(s) re-evaluated, {} changed{}",
        reply.policy_version,
        reply.situations,
        reply.changed.len(),
        if reply.changed.is_empty() {
            String::new()
        } else {
            format!(": {}", reply.changed.join(", "))
        }
    );
    for failure in &reply.failed {
        eprintln!("  failed: {failure}");
    }
    Ok(if reply.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    })
}
