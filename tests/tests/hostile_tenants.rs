//! Tenants as hostile tenants would act, against a real nats-server running the shipped accounts
//! (`deploy/nats/accounts.conf`): each attack is refused or harmless. `scripts/test` runs it on
//! the default server (Debian's 2.9.10) and again on the current release it uses for clusters
//! (`NATS_CLUSTER_SERVER_BIN` as `NATS_SERVER_BIN`).
//!
//! JetStream deduplicates by `Nats-Msg-Id` per stream, so a tenant that could write to a stream
//! another tenant (or tandem) writes to could make the other's message a "duplicate" that is
//! never stored. Each tenant account therefore writes to streams of its own.

use std::time::Duration;

use async_nats::{HeaderMap, jetstream, jetstream::publish::PublishAck};
use prost::Message as _;
use tandem_proto::v1::{Agency, SituationReport};
use tandem_runtime::topology;
use tandem_testkit::{
    DEADLINE, eventually, init_test_log, reports::Report, secure::SecureServer, stream_messages,
};

fn msg_id(id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    headers
}

/// Publishes `payload` on `subject` with `Nats-Msg-Id: id` and returns the stream's
/// acknowledgement.
async fn publish(js: &jetstream::Context, subject: &str, id: &str, payload: Vec<u8>) -> PublishAck {
    js.publish_with_headers(subject.to_string(), msg_id(id), payload.into())
        .await
        .expect("publish")
        .await
        .unwrap_or_else(|error| panic!("no acknowledgement on {subject}: {error}"))
}

fn report(agency: Agency, report_id: &str) -> Vec<u8> {
    let report: SituationReport =
        tandem_testkit::reports::valid_report(agency, report_id, "HOSTILE-1", 1);
    report.encode_to_vec()
}

/// The shipped server with every stream, bucket, object store and durable of tandem, made by
/// the operator's `tandem setup`: the state of a deployment.
async fn server_with_everything() -> (SecureServer, jetstream::Context) {
    let server = SecureServer::start();
    server.set_up().await;
    let admin = server.connect("admin", "admin-dev-password", None).await;
    (server, jetstream::new(admin))
}

#[tokio::test]
async fn iom_cannot_make_a_unhcr_report_a_duplicate() {
    init_test_log();
    let (server, admin_js) = server_with_everything().await;
    let iom = jetstream::new(server.connect("iom", "iom-dev-password", None).await);
    let unhcr = jetstream::new(server.connect("unhcr", "unhcr-dev-password", None).await);

    // IOM squats the id UNHCR's systems will use for their next report.
    let squat = publish(
        &iom,
        "tandem.intake.iom.report",
        "unhcr:r-1",
        b"junk".to_vec(),
    )
    .await;
    assert_eq!(squat.stream, topology::INTAKE_IOM_STREAM);

    let unhcr_report = report(Agency::Unhcr, "r-1");
    let real = publish(
        &unhcr,
        "tandem.intake.unhcr.report",
        "unhcr:r-1",
        unhcr_report.clone(),
    )
    .await;
    assert_eq!(real.stream, topology::INTAKE_UNHCR_STREAM);
    assert!(!real.duplicate, "UNHCR's report was taken for IOM's squat");
    let stored = stream_messages(&admin_js, topology::INTAKE_UNHCR_STREAM).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].payload.as_ref(), unhcr_report.as_slice());

    // UNHCR's own retry is still recognised as a duplicate: deduplication works within a tenant.
    let retry = publish(
        &unhcr,
        "tandem.intake.unhcr.report",
        "unhcr:r-1",
        unhcr_report,
    )
    .await;
    assert!(retry.duplicate);
}

#[tokio::test]
async fn a_partner_cannot_squat_another_partners_unguessable_id() {
    init_test_log();
    let (server, admin_js) = server_with_everything().await;
    let nrc = jetstream::new(
        server
            .connect("nrc", "nrc-dev-password", Some("_INBOX_NRC"))
            .await,
    );
    let drc = jetstream::new(
        server
            .connect("drc", "drc-dev-password", Some("_INBOX_DRC"))
            .await,
    );
    // Partners share TANDEM_INTAKE_PARTNERS; docs/agency-systems.md tells each to use a
    // random Nats-Msg-Id kept with the report. DRC squats every id it can guess.
    for guess in ["partner.nrc:r-1", "nrc:r-1", "r-1"] {
        publish(
            &drc,
            "tandem.intake.partner.drc.report",
            guess,
            b"junk".to_vec(),
        )
        .await;
    }
    let id = format!("partner.nrc:r-1:{:032x}", rand::random::<u128>());
    let real = publish(
        &nrc,
        "tandem.intake.partner.nrc.report",
        &id,
        report(Agency::Partner, "r-1"),
    )
    .await;
    assert_eq!(real.stream, topology::INTAKE_PARTNERS_STREAM);
    assert!(!real.duplicate, "NRC's report was taken for DRC's squat");
    let stored = stream_messages(&admin_js, topology::INTAKE_PARTNERS_STREAM).await;
    assert_eq!(stored.len(), 4, "three squats and NRC's report");
    assert_eq!(
        stored[3].subject.as_str(),
        "tandem.intake.partner.nrc.report"
    );
    let retry = publish(
        &nrc,
        "tandem.intake.partner.nrc.report",
        &id,
        report(Agency::Partner, "r-1"),
    )
    .await;
    assert!(retry.duplicate, "NRC's own retry is stored once");
}

#[tokio::test]
async fn an_agency_cannot_pre_empt_tandems_ids_or_the_other_agencys_acks() {
    init_test_log();
    let (server, admin_js) = server_with_everything().await;
    let iom = jetstream::new(server.connect("iom", "iom-dev-password", None).await);
    let unhcr = server.connect("unhcr", "unhcr-dev-password", None).await;
    let notify_unhcr = jetstream::new(
        server
            .connect(
                "notify-unhcr",
                "notify-unhcr-dev-password",
                Some("_INBOX_NOTIFY_UNHCR"),
            )
            .await,
    );

    // IOM writes acknowledgements under the ids UNHCR's ack link and UNHCR's systems use:
    // they land in IOM's own stream.
    for id in ["ack:unhcr.n-1:link", "unhcr:ack:unhcr.n-1"] {
        let squat = publish(&iom, "tandem.notify.ack.iom.n-1", id, b"junk".to_vec()).await;
        assert_eq!(squat.stream, topology::ACKS_IOM_STREAM);
    }
    // UNHCR's ack link (notify-unhcr's own user, as in secure mode) stores its ack.
    let link = publish(
        &notify_unhcr,
        "tandem.notify.ack.unhcr.n-1",
        "ack:unhcr.n-1:link",
        b"link".to_vec(),
    )
    .await;
    assert_eq!(link.stream, topology::ACKS_UNHCR_STREAM);
    assert!(!link.duplicate, "the ack link's id was pre-empted by IOM");
    // And so does UNHCR's own system.
    let own = jetstream::new(unhcr)
        .publish_with_headers(
            "tandem.notify.ack.unhcr.n-1",
            msg_id("unhcr:ack:unhcr.n-1"),
            "ack".into(),
        )
        .await
        .expect("publish")
        .await
        .expect("UNHCR's ack is stored");
    assert!(!own.duplicate);
    assert_eq!(
        stream_messages(&admin_js, topology::ACKS_UNHCR_STREAM)
            .await
            .len(),
        2
    );

    // Tenants write to no stream of tandem's own (notifications, status): their ids are
    // tandem's alone.
    let client = iom.client();
    for subject in ["tandem.notify.out.iom.x", "tandem.notify.status.iom"] {
        client
            .publish(subject, "forged".into())
            .await
            .expect("sent; the server refuses");
        client.flush().await.expect("flush");
        server
            .wait_for_violation("iom", subject, Duration::from_secs(5))
            .await;
    }
    // A notify user acknowledges its own agency's notifications only.
    let cross = notify_unhcr.client();
    cross
        .publish("tandem.notify.ack.iom.n-1", "forged".into())
        .await
        .expect("sent; the server refuses");
    cross.flush().await.expect("flush");
    server
        .wait_for_violation(
            "notify-unhcr",
            "tandem.notify.ack.iom.n-1",
            Duration::from_secs(5),
        )
        .await;
    assert!(
        stream_messages(&admin_js, topology::NOTIFY_STREAM)
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_filling_its_stream_is_told_so_and_the_others_go_on() {
    init_test_log();
    let server = SecureServer::start_with("no_auth_user: intake");
    let admin = server.connect("admin", "admin-dev-password", None).await;
    let admin_js = jetstream::new(admin);
    // The operator's limit, small enough to reach in a test.
    let storage = tandem_runtime::config::StorageConfig {
        intake_max_bytes: 256 * 1024,
        ..Default::default()
    };
    tandem_runtime::setup::run(&admin_js, &storage, &Default::default())
        .await
        .expect("tandem setup");
    let mut config = tandem_intake::IntakeConfig::default();
    config.common.nats.url = server.url();
    config.common.storage = storage;
    let shutdown = tandem_runtime::Shutdown::new();
    let intake = tokio::spawn(tandem_intake::run(config, shutdown.clone()));

    let iom = jetstream::new(server.connect("iom", "iom-dev-password", None).await);
    let mut refusal = None;
    for attempt in 0..64 {
        let stored = async {
            iom.publish_with_headers(
                "tandem.intake.iom.report",
                msg_id(&format!("iom:flood-{attempt}")),
                vec![b'x'; 32 * 1024].into(),
            )
            .await?
            .await
            .map_err(anyhow::Error::from)
        }
        .await;
        if let Err(error) = stored {
            refusal = Some(format!("{error:#}"));
            break;
        }
    }
    let refusal = refusal.expect("IOM's stream never filled up");
    assert!(
        refusal.contains("maximum bytes exceeded"),
        "IOM is told its stream is full: {refusal}"
    );

    // UNHCR's report is stored and answered meanwhile.
    let unhcr = jetstream::new(server.connect("unhcr", "unhcr-dev-password", None).await);
    let ack = publish(
        &unhcr,
        "tandem.intake.unhcr.report",
        "unhcr:after-flood",
        report(Agency::Unhcr, "after-flood"),
    )
    .await;
    let expected = topology::intake_outcome_id(&ack.stream, ack.sequence);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answered = match admin_js.get_stream(topology::EVENTS_STREAM).await {
            Ok(_) => stream_messages(&admin_js, topology::EVENTS_STREAM)
                .await
                .iter()
                .any(|m| {
                    m.subject.as_str() == "tandem.situation.accepted.COL"
                        && m.headers.get("Nats-Msg-Id").map(|v| v.as_str())
                            == Some(expected.as_str())
                }),
            Err(_) => false,
        };
        if answered {
            break;
        }
        assert!(!intake.is_finished(), "intake stopped");
        assert!(
            std::time::Instant::now() < deadline,
            "UNHCR's report was not accepted while IOM's stream was full"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.trigger();
    intake.await.expect("task").expect("intake stops cleanly");
}

/// `tandem submit --wait --json` of `report` with the credentials of `user`, as an agency
/// system's operator would run it: the JSON line it prints.
async fn submit_as(
    server: &SecureServer,
    user: &str,
    inbox_prefix: Option<&str>,
    report: &SituationReport,
) -> serde_json::Value {
    let mut command = tokio::process::Command::new(tandem_testkit::services::binary("tandem"));
    command
        .args(["submit", "--wait", "--json", "--timeout", "20", "-"])
        .env("NATS_URL", server.url())
        .env("NATS_USER", user)
        .env("NATS_PASSWORD", format!("{user}-dev-password"))
        .env_remove("NATS_INBOX_PREFIX")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(prefix) = inbox_prefix {
        command.env("NATS_INBOX_PREFIX", prefix);
    }
    let mut child = command.spawn().expect("tandem runs");
    let json = serde_json::to_string(report).expect("report as JSON");
    tokio::io::AsyncWriteExt::write_all(&mut child.stdin.take().expect("stdin"), json.as_bytes())
        .await
        .expect("write the report");
    let output = child.wait_with_output().await.expect("tandem ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "{user}: no JSON line: {stdout} / {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_organisation_hears_its_own_outcomes_on_its_own_credentials() {
    init_test_log();
    let server = SecureServer::start();
    server.set_up().await;
    let shutdown = tandem_runtime::Shutdown::new();
    let mut intake = tandem_intake::IntakeConfig::default();
    intake.common.nats.url = server.url();
    intake.common.nats.user = Some("intake".into());
    intake.common.nats.password = Some("intake-dev-password".into());
    let mut leadership = tandem_leadership::LeadershipConfig::default();
    leadership.common.nats.url = server.url();
    leadership.common.nats.user = Some("leadership".into());
    leadership.common.nats.password = Some("leadership-dev-password".into());
    let intake = tokio::spawn(tandem_intake::run(intake, shutdown.clone()));
    let leadership = tokio::spawn(tandem_leadership::run(leadership, shutdown.clone()));

    // Snoops, each on an outcome subject that is not its own: refused.
    let unhcr = server.connect("unhcr", "unhcr-dev-password", None).await;
    let drc = server
        .connect("drc", "drc-dev-password", Some("_INBOX_DRC"))
        .await;
    for (client, user, subject) in [
        (&unhcr, "unhcr", "tandem.outcome.iom"),
        (&drc, "drc", "tandem.outcome.partner.nrc"),
        (&drc, "drc", "tandem.leadership.determined.COL"),
    ] {
        let _refused = client.subscribe(subject).await.expect("sent");
        server
            .wait_for_violation(user, subject, Duration::from_secs(5))
            .await;
    }

    // A partner's report is NRC's.
    let valid =
        |agency, id: &str| tandem_testkit::reports::valid_report(agency, id, "OUTCOME-1", 1);
    let iom = submit_as(&server, "iom", None, &valid(Agency::Iom, "o-iom")).await;
    assert_eq!(iom["status"], "ACCEPTED", "{iom}");
    assert!(
        iom["determination"].is_object(),
        "IOM hears the determination: {iom}"
    );
    let unhcr_answer = submit_as(&server, "unhcr", None, &valid(Agency::Unhcr, "o-unhcr")).await;
    assert_eq!(unhcr_answer["status"], "ACCEPTED", "{unhcr_answer}");
    assert!(unhcr_answer["determination"].is_object(), "{unhcr_answer}");
    let nrc = submit_as(
        &server,
        "nrc",
        Some("_INBOX_NRC"),
        &valid(Agency::Partner, "o-nrc"),
    )
    .await;
    assert_eq!(nrc["status"], "ACCEPTED", "{nrc}");
    let mut stale = valid(Agency::Unhcr, "o-unhcr-stale");
    stale.revision = 1;
    let rejected = submit_as(&server, "unhcr", None, &stale).await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(
        rejected["reasons"][0]["code"], "STALE_REVISION",
        "{rejected}"
    );

    // The snoops heard nothing, and no tenant was refused while doing its own work.
    for user in ["iom", "nrc"] {
        assert!(
            server.violations_by(user).is_empty(),
            "{user}: {:#?}",
            server.violations_by(user)
        );
    }
    shutdown.trigger();
    intake.await.expect("task").expect("intake");
    leadership.await.expect("task").expect("leadership");
}

/// Intake in this process as its own user of the shipped accounts, until `shutdown`.
fn run_intake(
    server: &SecureServer,
    shutdown: &tandem_runtime::Shutdown,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let mut intake = tandem_intake::IntakeConfig::default();
    intake.common.nats.url = server.url();
    intake.common.nats.user = Some("intake".into());
    intake.common.nats.password = Some("intake-dev-password".into());
    tokio::spawn(tandem_intake::run(intake, shutdown.clone()))
}

/// A valid report of partner `org`, on a situation of its own report id.
fn partner_report(org: &str, report_id: &str) -> SituationReport {
    let situation = format!("PARTNERS-{report_id}");
    Report::new(Agency::Partner, report_id, &situation, 1)
        .org(org)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_can_neither_read_another_partners_outcomes_nor_speak_for_it() {
    init_test_log();
    let server = SecureServer::start();
    server.set_up().await;
    let shutdown = tandem_runtime::Shutdown::new();
    let intake = run_intake(&server, &shutdown);
    let nrc = server
        .connect("nrc", "nrc-dev-password", Some("_INBOX_NRC"))
        .await;
    let drc = server
        .connect("drc", "drc-dev-password", Some("_INBOX_DRC"))
        .await;

    // DRC snoops on everything NRC hears: its replies, its outcomes, its rejections, and every
    // partner's outcomes at once. Each subscription is refused.
    for subject in [
        "_INBOX_NRC.>",
        "tandem.outcome.partner.nrc",
        "tandem.outcome.partner.>",
        "tandem.situation.rejected.partner.nrc",
        "tandem.situation.rejected.partner.>",
    ] {
        let _refused = drc.subscribe(subject).await.expect("sent");
        server
            .wait_for_violation("drc", subject, Duration::from_secs(5))
            .await;
    }
    // DRC publishes on NRC's intake subject: refused, nothing reaches intake.
    drc.publish("tandem.intake.partner.nrc.report", "forged".into())
        .await
        .expect("sent; the server refuses");
    drc.flush().await.expect("flush");
    server
        .wait_for_violation(
            "drc",
            "tandem.intake.partner.nrc.report",
            Duration::from_secs(5),
        )
        .await;

    // What each partner hears on its own outcome subject, from here on.
    let mut nrc_outcomes = nrc
        .subscribe("tandem.outcome.partner.nrc")
        .await
        .expect("NRC hears its outcomes");
    let mut drc_outcomes = drc
        .subscribe("tandem.outcome.partner.drc")
        .await
        .expect("DRC hears its outcomes");
    nrc.flush().await.expect("flush");
    drc.flush().await.expect("flush");

    // DRC squats the report id NRC will use, on its own subject and as itself: accepted, but
    // as DRC's report, not NRC's.
    let squat = submit_as(
        &server,
        "drc",
        Some("_INBOX_DRC"),
        &partner_report("drc", "p-1"),
    )
    .await;
    assert_eq!(squat["status"], "ACCEPTED", "{squat}");
    // DRC speaks for NRC on its own subject (the CLI would take NRC's subject from the report,
    // which DRC may not publish on): rejected, since the subject names the organisation.
    let forged = publish(
        &jetstream::new(drc.clone()),
        "tandem.intake.partner.drc.report",
        &format!("partner.drc:p-2:{:032x}", rand::random::<u128>()),
        partner_report("nrc", "p-2").encode_to_vec(),
    )
    .await;
    assert_eq!(forged.stream, topology::INTAKE_PARTNERS_STREAM);
    // NRC's own report with the squatted id: its first revision, accepted as NRC's.
    let own = submit_as(
        &server,
        "nrc",
        Some("_INBOX_NRC"),
        &partner_report("nrc", "p-1"),
    )
    .await;
    assert_eq!(own["status"], "ACCEPTED", "{own}");

    // Each heard exactly its own outcomes: NRC its one report (no trace of DRC's squat or
    // forgery, which came before it), DRC its two.
    let heard = outcome(&mut nrc_outcomes).await;
    assert_eq!(
        (heard.0.as_str(), heard.1.as_str(), heard.2),
        ("p-1", "nrc", true)
    );
    let heard = outcome(&mut drc_outcomes).await;
    assert_eq!(
        (heard.0.as_str(), heard.1.as_str(), heard.2),
        ("p-1", "drc", true)
    );
    let rejection = outcome(&mut drc_outcomes).await;
    assert_eq!(
        (rejection.0.as_str(), rejection.1.as_str(), rejection.2),
        ("p-2", "drc", false),
        "the forgery's rejection goes to DRC, who sent it, and names DRC"
    );
    assert_eq!(
        rejection.3,
        ["CONFLICT"],
        "the subject names the organisation"
    );
    assert!(
        server.violations_by("nrc").is_empty(),
        "NRC was refused while doing its own work: {:#?}",
        server.violations_by("nrc")
    );
    shutdown.trigger();
    intake.await.expect("task").expect("intake stops cleanly");
}

/// The next outcome on `subscriber`: report id, the organisation it is recorded for, whether it
/// was accepted, and the codes of a rejection's reasons.
async fn outcome(subscriber: &mut async_nats::Subscriber) -> (String, String, bool, Vec<String>) {
    let message = tokio::time::timeout(
        Duration::from_secs(20),
        futures::StreamExt::next(subscriber),
    )
    .await
    .expect("an outcome within 20 s")
    .expect("subscription open");
    let accepted = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get("ce-type"))
        .map(|value| value.as_str())
        == Some("org.tandem.situation.accepted.v1");
    if accepted {
        let report = tandem_proto::v1::SituationAccepted::decode(message.payload)
            .expect("a SituationAccepted")
            .report
            .expect("the report");
        (report.report_id, report.reporter_org, true, Vec::new())
    } else {
        let rejected = tandem_proto::v1::SituationRejected::decode(message.payload)
            .expect("a SituationRejected");
        let codes = rejected.reasons.iter().map(|r| r.code.clone()).collect();
        (rejected.report_id, rejected.reporter_org, false, codes)
    }
}

/// Every service user, with the inbox prefix its permissions name.
const SERVICE_USERS: [(&str, Option<&str>); 5] = [
    ("intake", None),
    ("leadership", None),
    ("publish", None),
    ("notify-iom", Some("_INBOX_NOTIFY_IOM")),
    ("notify-unhcr", Some("_INBOX_NOTIFY_UNHCR")),
];

/// The services' durables: (stream, name, filter, the user that consumes it).
const DURABLES: [(&str, &str, &str, &str); 10] = [
    (
        "TANDEM_INTAKE_IOM",
        "tandem-intake-iom",
        "tandem.intake.iom.report",
        "intake",
    ),
    (
        "TANDEM_INTAKE_UNHCR",
        "tandem-intake-unhcr",
        "tandem.intake.unhcr.report",
        "intake",
    ),
    (
        "TANDEM_INTAKE_PARTNERS",
        "tandem-intake-partners",
        "tandem.intake.partner.*.report",
        "intake",
    ),
    (
        "TANDEM_EVENTS",
        "tandem-leadership",
        "tandem.situation.accepted.>",
        "leadership",
    ),
    (
        "TANDEM_EVENTS",
        "tandem-notify-iom",
        "tandem.leadership.determined.>",
        "notify-iom",
    ),
    (
        "TANDEM_EVENTS",
        "tandem-notify-unhcr",
        "tandem.leadership.determined.>",
        "notify-unhcr",
    ),
    (
        "TANDEM_EVENTS",
        "tandem-notify-iom-reviews",
        "tandem.leadership.reviewed.>",
        "notify-iom",
    ),
    (
        "TANDEM_EVENTS",
        "tandem-notify-unhcr-reviews",
        "tandem.leadership.reviewed.>",
        "notify-unhcr",
    ),
    (
        "TANDEM_ACKS_IOM",
        "tandem-notify-iom-acks",
        "tandem.notify.ack.iom.>",
        "notify-iom",
    ),
    (
        "TANDEM_ACKS_UNHCR",
        "tandem-notify-unhcr-acks",
        "tandem.notify.ack.unhcr.>",
        "notify-unhcr",
    ),
];

/// A subject inside TANDEM that a push consumer must never be made to feed: IOM's intake
/// stream stores it, so JetStream would file every message it delivered as an IOM report.
const STOLEN_DELIVERY: &str = "tandem.intake.iom.report";

/// A push consumer's creation request, delivering to [`STOLEN_DELIVERY`]; `name` empty for an
/// ephemeral one.
fn push(stream: &str, name: &str, filter: &str) -> serde_json::Value {
    let mut config = serde_json::json!({
        "filter_subject": filter, "deliver_subject": STOLEN_DELIVERY, "ack_policy": "none",
    });
    if !name.is_empty() {
        config["name"] = name.into();
        config["durable_name"] = name.into();
    }
    serde_json::json!({"stream_name": stream, "config": config})
}

/// Every stream of a running deployment.
async fn stream_names(admin_js: &jetstream::Context) -> Vec<String> {
    use futures::TryStreamExt as _;
    let mut names: Vec<String> = admin_js
        .stream_names()
        .try_collect()
        .await
        .expect("stream names");
    names.sort();
    assert!(names.len() >= 12, "{names:?}");
    names
}

/// What the server did with a JetStream API request.
#[derive(Debug)]
enum Attempt {
    /// Refused by the user's permissions: the server logged a violation and sent no answer.
    Refused,
    /// Answered by JetStream (an error or not: the caller looks).
    Answered(serde_json::Value),
}

impl Attempt {
    /// Refused, or answered with a JetStream error.
    fn failed(&self) -> bool {
        match self {
            Attempt::Refused => true,
            Attempt::Answered(answer) => answer.get("error").is_some(),
        }
    }
}

/// Sends `body` on `subject` as `user` and waits for the answer or the violation.
async fn attempt(
    server: &SecureServer,
    client: &async_nats::Client,
    user: &str,
    subject: &str,
    body: &serde_json::Value,
) -> Attempt {
    use futures::StreamExt as _;
    let logged = format!("Subject \"{subject}\"");
    let violations = || {
        server
            .violations_by(user)
            .into_iter()
            .filter(|line| line.contains(&logged))
            .count()
    };
    let before = violations();
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish_with_reply(subject.to_string(), inbox, body.to_string().into())
        .await
        .expect("sent");
    client.flush().await.expect("flush");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if violations() > before {
            return Attempt::Refused;
        }
        if let Ok(Some(answer)) =
            tokio::time::timeout(Duration::from_millis(20), replies.next()).await
        {
            return Attempt::Answered(
                serde_json::from_slice(&answer.payload).unwrap_or(serde_json::Value::Null),
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user} on {subject}: neither answered nor refused"
        );
    }
}

/// No service user can create a consumer that delivers to a subject of its choosing (the
/// server checks no permission on a deliver subject, so that would let JetStream publish a
/// stream wherever the user asks), nor a consumer named after another service's durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_service_may_create_a_push_consumer_or_take_another_services_durable() {
    init_test_log();
    let (server, admin_js) = server_with_everything().await;
    let streams = stream_names(&admin_js).await;
    for (user, inbox_prefix) in SERVICE_USERS {
        let client = server
            .connect(user, &format!("{user}-dev-password"), inbox_prefix)
            .await;
        let mut tries: Vec<(String, serde_json::Value)> = Vec::new();
        // (a) a push consumer, every way of asking for one, on every stream: a name of its
        // own choosing, free or in the subject, with and without a filter there...
        for stream in &streams {
            tries.push((
                format!("$JS.API.CONSUMER.CREATE.{stream}"),
                push(stream, "", ""),
            ));
            for subject in [
                format!("$JS.API.CONSUMER.CREATE.{stream}.evil"),
                format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.evil"),
            ] {
                tries.push((subject, push(stream, "evil", "")));
            }
            tries.push((
                format!("$JS.API.CONSUMER.CREATE.{stream}.evil.>"),
                push(stream, "evil", ">"),
            ));
        }
        for filter in [
            "$KV.tandem-leadership.>",
            "$KV.tandem-directory.iom.>",
            "$KV.tandem-directory.unhcr.>",
            "$KV.tandem-notify.iom.>",
            "$KV.tandem-notify.unhcr.>",
        ] {
            let stream = format!("KV_{}", filter.split('.').nth(1).expect("bucket"));
            tries.push((
                format!("$JS.API.CONSUMER.CREATE.{stream}.evil.{filter}"),
                push(&stream, "evil", filter),
            ));
        }
        tries.push((
            "$JS.API.CONSUMER.CREATE.OBJ_tandem-data.evil.$O.tandem-data.C.x".into(),
            push("OBJ_tandem-data", "evil", "$O.tandem-data.C.x"),
        ));
        // ... and every durable, its own included, turned into a push consumer.
        for (stream, durable, filter, _) in DURABLES {
            tries.push((
                format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}.{filter}"),
                push(stream, durable, filter),
            ));
            tries.push((
                format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}"),
                push(stream, durable, filter),
            ));
        }
        // (b) a pull consumer under another service's durable name, as it would consume it.
        for (stream, durable, filter, owner) in DURABLES {
            if owner != user {
                tries.push((
                    format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}.{filter}"),
                    serde_json::json!({
                        "stream_name": stream,
                        "config": {"durable_name": durable, "filter_subject": filter,
                                   "ack_policy": "explicit"}
                    }),
                ));
            }
        }
        for (subject, body) in &tries {
            let outcome = attempt(&server, &client, user, subject, body).await;
            assert!(outcome.failed(), "{user} on {subject}: {outcome:?}");
        }
        // The pull consumers of other services are refused by the permissions themselves.
        for (stream, durable, filter, owner) in DURABLES {
            if owner != user {
                let subject = format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}.{filter}");
                assert!(
                    server
                        .violations_by(user)
                        .iter()
                        .any(|line| line.contains(&format!("Subject \"{subject}\""))),
                    "{user} was not refused {subject} by its permissions"
                );
            }
        }
    }
    // Nothing changed: every consumer is a durable the operator made, unchanged, and pull.
    use futures::TryStreamExt as _;
    for name in &streams {
        let stream = admin_js.get_stream(name).await.expect("stream");
        let consumers: Vec<jetstream::consumer::Info> =
            stream.consumers().try_collect().await.expect("consumers");
        for consumer in consumers {
            let made = DURABLES
                .iter()
                .find(|(s, d, _, _)| s == name && *d == consumer.name);
            let Some((_, _, filter, _)) = made else {
                panic!("a consumer appeared on {name}: {consumer:?}");
            };
            assert_eq!(consumer.config.deliver_subject, None, "{consumer:?}");
            assert_eq!(consumer.config.filter_subject, *filter, "{consumer:?}");
        }
    }
}

/// No service user can create (or change) a stream that copies another stream (`mirror`,
/// `sources`) or republishes what it stores elsewhere (`republish`, and on servers that know
/// them, subject transforms): every name a service may create exists once tandem runs, and
/// the server refuses another configuration under it; no other name is allowed at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_service_may_create_a_stream_that_copies_or_republishes_another() {
    init_test_log();
    let (server, admin_js) = server_with_everything().await;
    let mut names = stream_names(&admin_js).await;
    let before: Vec<jetstream::stream::Config> = {
        let mut configs = Vec::new();
        for name in &names {
            let mut stream = admin_js.get_stream(name).await.expect("stream");
            configs.push(stream.info().await.expect("info").config.clone());
        }
        configs
    };
    names.push("EVIL".into());
    let attacks = |name: &str| {
        let own = format!("evil.{}", name.to_lowercase());
        [
            serde_json::json!({"name": name, "subjects": [own],
                "republish": {"src": ">", "dest": STOLEN_DELIVERY}}),
            serde_json::json!({"name": name, "sources": [{"name": "TANDEM_EVENTS"}]}),
            serde_json::json!({"name": name, "mirror": {"name": "TANDEM_EVENTS"}}),
            serde_json::json!({"name": name, "subjects": [own],
                "subject_transform": {"src": ">", "dest": STOLEN_DELIVERY}}),
        ]
    };
    for (user, inbox_prefix) in SERVICE_USERS {
        let client = server
            .connect(user, &format!("{user}-dev-password"), inbox_prefix)
            .await;
        for name in &names {
            for body in attacks(name) {
                for verb in ["CREATE", "UPDATE"] {
                    let subject = format!("$JS.API.STREAM.{verb}.{name}");
                    let outcome = attempt(&server, &client, user, &subject, &body).await;
                    assert!(outcome.failed(), "{user} on {subject} {body}: {outcome:?}");
                }
            }
        }
    }
    assert_eq!(stream_names(&admin_js).await, names[..names.len() - 1]);
    for config in before {
        let mut stream = admin_js.get_stream(&config.name).await.expect("stream");
        let now = stream.info().await.expect("info").config.clone();
        assert_eq!(now, config, "{} changed", config.name);
        assert!(now.republish.is_none() && now.mirror.is_none() && now.sources.is_none());
    }
}

/// Before the durables exist (streams made, `tandem setup` not finished or never run), no
/// service user can create any durable, its own included: a grant naming the durable would not
/// stop the body from asking for a push consumer that delivers into IOM's intake stream (the
/// server checks no permission on a deliver subject), so no service has such a grant at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_service_may_create_a_durable_before_setup_made_it() {
    init_test_log();
    let (server, admin_js) = server_with_everything().await;
    for durable in topology::durables() {
        let stream = admin_js.get_stream(durable.stream).await.expect("stream");
        stream
            .delete_consumer(&durable.name)
            .await
            .expect("deleted");
    }
    for (user, inbox_prefix) in SERVICE_USERS {
        let client = server
            .connect(user, &format!("{user}-dev-password"), inbox_prefix)
            .await;
        for durable in topology::durables() {
            let (stream, name, filter) = (durable.stream, &durable.name, &durable.filter);
            let pull = serde_json::json!({
                "stream_name": stream,
                "config": {"durable_name": name, "filter_subject": filter, "ack_policy": "explicit"}
            });
            for (subject, body) in [
                (
                    format!("$JS.API.CONSUMER.CREATE.{stream}.{name}.{filter}"),
                    push(stream, name, filter),
                ),
                (
                    format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}"),
                    push(stream, name, filter),
                ),
                (
                    format!("$JS.API.CONSUMER.CREATE.{stream}.{name}.{filter}"),
                    pull,
                ),
            ] {
                let outcome = attempt(&server, &client, user, &subject, &body).await;
                assert!(
                    matches!(outcome, Attempt::Refused),
                    "{user} on {subject}: {outcome:?}"
                );
            }
        }
    }
    use futures::TryStreamExt as _;
    for name in stream_names(&admin_js).await {
        let stream = admin_js.get_stream(&name).await.expect("stream");
        let consumers: Vec<jetstream::consumer::Info> =
            stream.consumers().try_collect().await.expect("consumers");
        assert!(
            consumers.is_empty(),
            "consumers appeared on {name}: {consumers:?}"
        );
    }
}

#[tokio::test]
async fn a_partner_using_up_its_accounts_connections_locks_out_no_one_else() {
    let server = SecureServer::start();
    // The partners' account takes 256 connections in all (deploy/nats/tenants.conf).
    let mut held = Vec::new();
    for _ in 0..256 {
        held.push(
            server
                .connect("nrc", "nrc-dev-password", Some("_INBOX_NRC"))
                .await,
        );
    }
    let refused =
        async_nats::ConnectOptions::with_user_and_password("drc".into(), "drc-dev-password".into())
            .custom_inbox_prefix("_INBOX_DRC")
            .connect(server.url())
            .await;
    assert!(
        refused.is_err(),
        "a 257th connection to the partners' account is refused"
    );
    // The server logs why; its log is read on another thread, so a line may land just after
    // the client heard the refusal.
    let server = &server;
    let logged = |text: &'static str| {
        eventually(format!("the server to log {text:?}"), DEADLINE, move || {
            std::future::ready(server.log().iter().any(|line| line.contains(text)))
        })
    };
    logged("maximum account active connections exceeded").await;
    // The agencies and tandem's own services still connect.
    for (user, password) in [
        ("iom", "iom-dev-password"),
        ("unhcr", "unhcr-dev-password"),
        ("intake", "intake-dev-password"),
    ] {
        let client = server.connect(user, password, None).await;
        client.flush().await.expect("connected");
    }
    // A partner's message larger than its intake stream stores is refused at the connection
    // (the account's payload limit, half the server's), before it reaches tandem.
    let stored = topology::intake_streams(&Default::default())[0].max_message_size;
    let partner = jetstream::new(held.pop().expect("a partner connection"));
    let oversized = partner
        .publish(
            topology::intake_subject("partner.nrc"),
            vec![b'x'; usize::try_from(stored).expect("a size") + 1].into(),
        )
        .await;
    let stored_anyway = match oversized {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!stored_anyway, "a message over 1 MiB is refused");
    logged("maximum payload exceeded: 1048577 vs 1048576").await;
}
