//! `tandem up --demo`: submits the example reports bundled from `deploy/demo`, prints what
//! becomes of each, then has the agencies endorse one determination (both) and contest another.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tandem_notify::NotifyAgency;
use tandem_proto::{
    timestamp,
    v1::{ReviewRequest, ReviewVerdict, SituationReport},
};
use tandem_runtime::{Shutdown, config::NatsConfig, nats, service_api};

use futures::StreamExt as _;

use crate::{
    render, situation,
    submit::{self, Status, Submitter},
};

/// The demo's focal points (fictional), imported before the reports go out.
const DIRECTORY: &str = include_str!("../../../deploy/demo/directory.yaml");

/// The example reports, in the order they are submitted.
const REPORTS: [(&str, &str); 12] = [
    (
        "01-iom-colombia.json",
        include_str!("../../../deploy/demo/01-iom-colombia.json"),
    ),
    (
        "02-unhcr-colombia.json",
        include_str!("../../../deploy/demo/02-unhcr-colombia.json"),
    ),
    (
        "03-unhcr-bangladesh.json",
        include_str!("../../../deploy/demo/03-unhcr-bangladesh.json"),
    ),
    (
        "04-iom-libya.json",
        include_str!("../../../deploy/demo/04-iom-libya.json"),
    ),
    (
        "05-iom-mozambique.json",
        include_str!("../../../deploy/demo/05-iom-mozambique.json"),
    ),
    (
        "06-iom-pakistan.json",
        include_str!("../../../deploy/demo/06-iom-pakistan.json"),
    ),
    (
        "07-partner-ukraine.json",
        include_str!("../../../deploy/demo/07-partner-ukraine.json"),
    ),
    (
        "08-partner-bad.json",
        include_str!("../../../deploy/demo/08-partner-bad.json"),
    ),
    (
        "09-iom-panama-darien.json",
        include_str!("../../../deploy/demo/09-iom-panama-darien.json"),
    ),
    (
        "10-unhcr-costa-rica-darien.json",
        include_str!("../../../deploy/demo/10-unhcr-costa-rica-darien.json"),
    ),
    (
        "11-iom-colombia-darien.json",
        include_str!("../../../deploy/demo/11-iom-colombia-darien.json"),
    ),
    (
        "12-iom-iraq-solutions.json",
        include_str!("../../../deploy/demo/12-iom-iraq-solutions.json"),
    ),
];

/// The demo's reviews: (situation, agency, reviewer, verdict, comment).
const REVIEWS: [(&str, NotifyAgency, &str, ReviewVerdict, &str); 3] = [
    (
        "COL-VEN-2026",
        NotifyAgency::Iom,
        "col-iom-cc",
        ReviewVerdict::Endorse,
        "",
    ),
    (
        "COL-VEN-2026",
        NotifyAgency::Unhcr,
        "col-unhcr-cc",
        ReviewVerdict::Endorse,
        "",
    ),
    (
        "BGD-ROHINGYA",
        NotifyAgency::Iom,
        "iom-regional-asia",
        ReviewVerdict::Contest,
        "IOM counts 40,000 Bangladeshi migrants in the camps' host areas; a joint assessment first",
    ),
];

pub async fn run(
    config: &NatsConfig,
    services: &[&str],
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let client = nats::connect(config, "tandem-demo", shutdown).await?;
    // Reports go out once the services that answer them are up.
    service_api::wait_for_services(&client, services, Duration::from_secs(60)).await?;
    // Coordinators to notify, and a view of what they are told.
    tandem_notify::directory::import_document(
        &async_nats::jetstream::new(client.clone()),
        DIRECTORY,
    )
    .await?;
    let mut notifications = client
        .subscribe(tandem_proto::subjects::NOTIFY_OUT_FILTER)
        .await?;
    let submitter = Submitter::new(client.clone());
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    println!(
        "\n== demo: submitting {} example reports (deploy/demo) ==\n",
        REPORTS.len()
    );
    let (mut accepted, mut rejected) = (0, 0);
    for (file, text) in REPORTS {
        let report: SituationReport = serde_json::from_str(text)
            .with_context(|| format!("bundled {file} is not a report"))?;
        let submission = submitter
            .submit(fresh(report, run), Some(Duration::from_secs(30)))
            .await?;
        match submission.status {
            Status::Accepted => accepted += 1,
            Status::Rejected => rejected += 1,
            _ => {}
        }
        println!("{file}\n{}", indent(&submit::describe(&submission)));
        // Notifications follow a determination within milliseconds; show what has come.
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(300), notifications.next()).await
        {
            if let Some(line) = render::event(
                crate::lang(),
                &message.subject,
                message.headers.as_ref(),
                &message.payload,
            ) {
                println!("    {line}");
            }
        }
    }
    // The agencies review: Colombia's mixed movement is endorsed by both (agreed); IOM's
    // regional coordinator contests the Rohingya determination, which tells both agencies'
    // regional coordinators (HQ where there is none).
    println!("== demo: the agencies review two determinations ==\n");
    for (situation, agency, by, verdict, comment) in REVIEWS {
        let request = ReviewRequest {
            situation_id: situation.into(),
            determination_id: String::new(),
            by: by.into(),
            verdict: verdict as i32,
            comment: comment.into(),
        };
        let reply =
            situation::request_review(&client, agency, request, Duration::from_secs(30)).await?;
        match reply.review.filter(|_| reply.recorded) {
            Some(review) => println!("{situation}\n    {}", situation::describe_review(&review)),
            None => println!("{situation}\n    refused: {}", reply.refused),
        }
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(300), notifications.next()).await
        {
            if let Some(line) = render::event(
                crate::lang(),
                &message.subject,
                message.headers.as_ref(),
                &message.payload,
            ) {
                println!("    {line}");
            }
        }
    }
    println!(
        "== demo done: {accepted} accepted, {rejected} rejected. The stack keeps running: try `tandem watch` \
         and `tandem submit deploy/demo/01-iom-colombia.json --wait` in another terminal ==\n"
    );
    Ok(())
}

/// Makes a bundled report new for this run, so a second demo against the same NATS is a new
/// revision rather than a duplicate: a run suffix on the id, the run's revision, now as the time.
fn fresh(mut report: SituationReport, run: u64) -> SituationReport {
    report.report_id = format!("{}-{run}", report.report_id);
    if report.revision > 0 {
        // Seconds since 2026-01-01, four revisions a second: increases with every run, leaves
        // room for a file's own later revisions of a situation (`revision` 2, 3), and fits a
        // u32 for thirty years.
        let since_2026 = u32::try_from(run.saturating_sub(1_767_225_600)).unwrap_or(u32::MAX);
        report.revision = since_2026.saturating_mul(4).saturating_add(report.revision);
    }
    report.reported_at = Some(timestamp::now());
    report
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}
