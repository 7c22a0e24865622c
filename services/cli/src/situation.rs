//! `tandem situation get|list`: the current determinations, from KV `tandem-leadership`;
//! `endorse|contest`: a review request on `tandem.review.<agency>`, answered by the agency's
//! notify service; `history`: from the data service's `/v1/situations/{id}/history`.

use std::process::ExitCode;

use anyhow::Context as _;
use async_nats::{Client, jetstream};
use futures::TryStreamExt as _;
use prost::Message as _;
use std::time::Duration;

use tandem_i18n::words::word;
use tandem_leadership::{situations::record_key, words};
use tandem_notify::NotifyAgency;
use tandem_proto::{
    subjects,
    v1::{DeterminationReview, LeadershipRecord, ReviewReply, ReviewRequest, ReviewVerdict},
};
use tandem_runtime::{kv_key, topology};

use crate::trace;

/// `tandem situation …`
#[derive(clap::Subcommand)]
pub enum SituationCommand {
    /// Who leads one situation and why.
    Get {
        /// The situation id.
        id: String,
        /// Print the LeadershipDetermination in the JSON mapping.
        #[arg(long)]
        json: bool,
    },
    /// One line per situation: id, country, classification, leads.
    List,
    /// Endorse a situation's current determination for your agency (exit 1 when refused).
    Endorse(ReviewArgs),
    /// Contest a situation's current determination for your agency, with the reason (exit 1
    /// when refused).
    Contest(ReviewArgs),
    /// Every determination of a situation, oldest first, with its reviews and the
    /// notifications sent (from the data service).
    History {
        /// The situation id.
        id: String,
        /// One JSON array instead of words.
        #[arg(long)]
        json: bool,
        /// The data service's address.
        #[arg(long, env = "TANDEM_PUBLISH_ADDR", default_value = "127.0.0.1:8470")]
        url: String,
    },
}

/// Who reviews which situation, and what they say.
#[derive(clap::Args)]
pub struct ReviewArgs {
    /// The situation id.
    id: String,
    /// The agency you review for: iom or unhcr (with its NATS credentials, the only one you can).
    #[arg(long)]
    agency: String,
    /// Your id in the coordinator directory.
    #[arg(long)]
    by: String,
    /// Why (required to contest; no personal data).
    #[arg(long, default_value = "")]
    comment: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
}

pub async fn run(client: &Client, command: SituationCommand) -> anyhow::Result<ExitCode> {
    let command = match command {
        SituationCommand::Endorse(args) => {
            return review(client, args, ReviewVerdict::Endorse).await;
        }
        SituationCommand::Contest(args) => {
            return review(client, args, ReviewVerdict::Contest).await;
        }
        SituationCommand::History { id, json, url } => return history(&url, &id, json).await,
        command => command,
    };
    let records = jetstream::new(client.clone())
        .get_key_value(topology::LEADERSHIP_BUCKET)
        .await
        .context("no determinations yet (bucket tandem-leadership is missing: is the leadership service running?)")?;
    match command {
        SituationCommand::Get { id, json } => {
            let Some(record) = load(&records, &record_key(&id)).await? else {
                let text = crate::lang()
                    .text_with("cli-no-determination", &[("situation", id.as_str().into())]);
                eprintln!("tandem: {text}");
                return Ok(ExitCode::from(crate::exit::FAILURE));
            };
            let determination = record.determination.unwrap_or_default();
            if json {
                println!("{}", determination_json(&determination)?);
            } else {
                print!("{}", words::summary(&determination, crate::lang()));
                let js = jetstream::new(client.clone());
                let trace_id = trace::of_determination(&js, &determination).await?;
                println!("  {}", trace::describe(trace_id.as_deref()));
            }
        }
        SituationCommand::Endorse(_)
        | SituationCommand::Contest(_)
        | SituationCommand::History { .. } => {}
        SituationCommand::List => {
            let mut keys: Vec<String> = records.keys().await?.try_collect().await?;
            keys.sort();
            for key in keys {
                let Some(determination) = load(&records, &key).await?.and_then(|r| r.determination)
                else {
                    continue;
                };
                println!("{}", words::headline(&determination, crate::lang()));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A determination in the JSON mapping, always with `"operations"` (empty for a
/// single-country situation) so that a script reads the same shape for every situation.
pub fn determination_json(
    determination: &tandem_proto::v1::LeadershipDetermination,
) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(determination)?;
    if let Some(fields) = value.as_object_mut() {
        fields
            .entry("operations")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    }
    Ok(value.to_string())
}

/// Asks the agency's notify service to record a review (over `tandem.review.<agency>`, which an
/// agency's own account can reach), and says what became of it: exit 0 when recorded, 1 when
/// refused or not answered (with another agency's credentials the server refuses the subject,
/// so nothing answers).
async fn review(
    client: &Client,
    args: ReviewArgs,
    verdict: ReviewVerdict,
) -> anyhow::Result<ExitCode> {
    let lang = crate::lang();
    let Some(agency) = tandem_notify::directory::parse_agency(&args.agency) else {
        let quoted = format!("{:?}", args.agency);
        let text = lang.text_with("cli-review-bad-agency", &[("agency", quoted.into())]);
        eprintln!("tandem: {text}");
        return Ok(ExitCode::from(crate::exit::FAILURE));
    };
    let request = ReviewRequest {
        situation_id: args.id.clone(),
        determination_id: String::new(),
        by: args.by,
        verdict: verdict as i32,
        comment: args.comment,
    };
    let wait = Duration::from_secs(args.timeout);
    match request_review(client, agency, request, wait).await {
        Ok(reply) => match reply.review.filter(|_| reply.recorded) {
            Some(recorded) => {
                println!("{}", describe_review(&recorded));
                Ok(ExitCode::SUCCESS)
            }
            None => {
                let text =
                    lang.text_with("cli-review-refused", &[("reason", reply.refused.into())]);
                eprintln!("tandem: {text}");
                Ok(ExitCode::from(crate::exit::REFUSED))
            }
        },
        Err(error) => {
            let error = format!("{error:#}");
            let text = lang.text_with("cli-review-not-recorded", &[("error", error.into())]);
            eprintln!("tandem: {text}");
            Ok(ExitCode::from(crate::exit::REFUSED))
        }
    }
}

/// Sends review `request` for `agency` and waits up to `wait` for the answer.
pub async fn request_review(
    client: &Client,
    agency: NotifyAgency,
    request: ReviewRequest,
    wait: Duration,
) -> anyhow::Result<ReviewReply> {
    let asked = client.request(
        subjects::review_subject(agency.token()),
        request.encode_to_vec().into(),
    );
    let answer = tokio::time::timeout(wait, asked)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no answer on {} within {} s: is {}'s notify service running, and are these {} credentials?",
                subjects::review_subject(agency.token()),
                wait.as_secs(),
                agency.label(),
                agency.label()
            )
        })?
        .map_err(|error| {
            anyhow::anyhow!(
                "the review request was not answered ({error}): is {}'s notify service running?",
                agency.label()
            )
        })?;
    ReviewReply::decode(answer.payload).context("the answer is not a ReviewReply")
}

/// A recorded review in words, in the reader's language.
pub fn describe_review(review: &DeterminationReview) -> String {
    let lang = crate::lang();
    let verdict = match review.verdict() {
        ReviewVerdict::Contest => "contest",
        _ => "endorse",
    };
    lang.text_with(
        "cli-review-recorded",
        &[
            ("agency", word(lang, review.agency()).into()),
            ("by", review.by.as_str().into()),
            ("verdict", verdict.into()),
            ("determination", review.determination_id.as_str().into()),
            ("status", word(lang, review.status()).into()),
        ],
    )
}

/// Prints the history of situation `id` from the data service at `url`.
async fn history(url: &str, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let Some(entries) = tandem_publish::client::history(url, id).await? else {
        let text = crate::lang().text_with("cli-no-determination", &[("situation", id.into())]);
        eprintln!("tandem: {text}");
        return Ok(ExitCode::from(crate::exit::FAILURE));
    };
    if json {
        println!("{}", serde_json::to_string(&entries)?);
    } else {
        print!(
            "{}",
            tandem_publish::history::render(&entries, crate::lang(), &crate::render::zone())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The record under `key`, if any.
pub async fn load(
    records: &jetstream::kv::Store,
    key: &str,
) -> anyhow::Result<Option<LeadershipRecord>> {
    let Some(bytes) = records.get(key).await? else {
        return Ok(None);
    };
    let record = LeadershipRecord::decode(bytes).with_context(|| {
        format!(
            "the record of {} is corrupt",
            kv_key::unsegment(key).unwrap_or_default()
        )
    })?;
    Ok(Some(record))
}

/// Every record, with its situation id, sorted by id.
pub async fn all(
    records: &jetstream::kv::Store,
) -> anyhow::Result<Vec<(String, LeadershipRecord)>> {
    let keys: Vec<String> = records.keys().await?.try_collect().await?;
    let mut all = Vec::new();
    for key in keys {
        if let (Some(id), Some(record)) = (kv_key::unsegment(&key), load(records, &key).await?) {
            all.push((id, record));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(all)
}
