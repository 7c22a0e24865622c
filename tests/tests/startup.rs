//! A service started before JetStream is available — a server still starting, a cluster still
//! electing its JetStream leader — waits for it, saying so, instead of exiting; once JetStream
//! is there it sets up its streams and buckets and works. Every service started before the
//! server itself waits for it the same way, and a service told to stop (SIGTERM) finishes the
//! messages in hand before it exits, and exits even when the server has gone.

use std::time::Duration;

use async_nats::jetstream;
use prost::Message as _;
use tandem_proto::v1::Agency;
use tandem_runtime::topology;
use tandem_testkit::{
    DEADLINE, NatsServer, TestStack,
    clients::{self, Outcome},
    eventually,
    reports::valid_report,
    services::{ServiceCommand, ServiceProcess},
};

/// How many failed set-ups the service must have logged while it kept running.
const FAILED_SETUPS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_started_before_jetstream_waits_for_it_then_works() {
    let mut server = NatsServer::start_without_jetstream();
    let intake = ServiceCommand::new("tandem-intake", &server.url())
        .label("intake")
        // Info, for the line that says set-up is done and the service consumes.
        .env("RUST_LOG", "info")
        .spawn();

    // Without JetStream every attempt to set up fails at once; the service logs each one and
    // tries again instead of exiting.
    intake
        .wait_for_log("several failed set-ups", Duration::from_secs(30), |lines| {
            let failed = lines
                .iter()
                .filter(|line| line.contains("cannot set up streams and buckets"))
                .count();
            (failed >= FAILED_SETUPS).then_some(())
        })
        .await;
    assert!(
        intake.is_running(),
        "intake exited instead of waiting for JetStream:\n{}",
        intake.log().join("\n")
    );

    // JetStream arrives (same port): the service sets up, then consumes — by then every stream
    // it needs exists — and handles a report.
    server.restart();
    intake.wait_until_consuming(Duration::from_secs(30)).await;
    let js = server.jetstream().await;
    let report = valid_report(Agency::Iom, "r-startup", "S-STARTUP", 1);
    clients::submit(&js, "iom", &report).await;
    let outcome = eventually("an outcome", DEADLINE, || async {
        clients::outcomes(&js).await.into_iter().next()
    })
    .await;
    assert!(matches!(outcome, Outcome::Accepted(..)), "{outcome:?}");
    assert_eq!(outcome.report_id(), report.report_id);
}

/// Intake, leadership, notify (IOM's) and publish (its API on port `api`), as child processes
/// of `server`'s address, logging at info.
fn every_service(server: &NatsServer, api: u16) -> Vec<ServiceProcess> {
    [
        "tandem-intake",
        "tandem-leadership",
        "tandem-notify",
        "tandem-publish",
    ]
    .into_iter()
    .map(|binary| {
        ServiceCommand::new(binary, &server.url())
            .env("RUST_LOG", "info")
            .env("TANDEM_AGENCY", "iom")
            .env("TANDEM_PUBLISH_ADDR", format!("127.0.0.1:{api}"))
            .spawn()
    })
    .collect()
}

/// Waits until publish's `path` on port `api` answers 200.
async fn answers_200(api: u16, path: &str) {
    eventually(
        format!("publish to answer {path} with 200"),
        DEADLINE,
        || async {
            let response = tandem_testkit::http_get(api, path)
                .await
                .unwrap_or_else(|error| error.to_string());
            if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
                Ok(())
            } else {
                Err(response)
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_started_before_nats_waits_for_it_then_works() {
    // A server's port, then no server on it: the services start first.
    let mut server = NatsServer::start();
    server.kill();
    let api = tandem_testkit::process::free_ports(1)[0];
    let mut services = every_service(&server, api);
    for service in &services {
        service
            .wait_for_log(
                "NATS not reachable, twice",
                Duration::from_secs(30),
                |lines| {
                    (lines
                        .iter()
                        .filter(|line| line.contains("NATS not reachable"))
                        .count()
                        >= 2)
                        .then_some(())
                },
            )
            .await;
    }
    for service in &mut services {
        assert!(
            service.exited().is_none(),
            "{} exited instead of waiting for NATS:\n{}",
            service.label(),
            service.log().join("\n")
        );
    }

    // The server arrives: each consuming service sets up and consumes (publish follows the
    // event stream instead; it shows it works by serving the situation below).
    server.restart();
    for service in &services[..3] {
        service.wait_until_consuming(Duration::from_secs(60)).await;
    }

    // And works: a report is accepted (intake), determined (leadership), notified to IOM's
    // country coordinator (notify) and served by the data API (publish).
    let js = server.jetstream().await;
    tandem_notify::directory::import_document(
        &js,
        r#"[{"id": "cc", "name": "C", "agency": "iom", "role": "COUNTRY_COORDINATOR",
             "countries": ["COL"], "channels": [{"nats": {}}]}]"#,
    )
    .await
    .expect("directory imported");
    let report = valid_report(Agency::Iom, "r-first", "S-FIRST", 1);
    clients::submit(&js, "iom", &report).await;
    let determination = eventually("a determination", DEADLINE, || async {
        clients::determinations(&js).await.into_iter().next()
    })
    .await;
    assert_eq!(determination.situation_id, "S-FIRST");
    let (subject, notification) = eventually("a notification", DEADLINE, || async {
        clients::notifications(&js).await.into_iter().next()
    })
    .await;
    assert!(subject.starts_with("tandem.notify.out.iom."), "{subject}");
    assert_eq!(notification.situation_id, "S-FIRST");
    answers_200(api, "/v1/situations/S-FIRST").await;
}

/// An operator stopping tandem during a NATS outage gets every process back: a service does
/// not wait for the server to return before it exits (what it could not send is redelivered to
/// the next instance, as after a crash).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_told_to_stop_while_nats_is_gone_exits() {
    let mut server = NatsServer::start();
    let api = tandem_testkit::process::free_ports(1)[0];
    let mut services = every_service(&server, api);
    for service in &services[..3] {
        service.wait_until_consuming(Duration::from_secs(60)).await;
    }
    answers_200(api, "/healthz").await;

    server.kill();
    for service in &services {
        let pid = service.id().expect("running").to_string();
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(signalled.success());
    }
    for service in &mut services {
        let label = service.label().to_owned();
        let status = eventually(format!("{label} to exit after SIGTERM"), DEADLINE, || {
            std::future::ready(service.exited())
        })
        .await;
        assert!(
            status.success(),
            "{label} exited with {status}:\n{}",
            service.log().join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_told_to_stop_finishes_the_messages_in_hand_then_exits() {
    let mut stack = TestStack::builder().intake().start().await;
    let js = stack.js.clone();
    let intake = stack.service("intake");

    // Enough reports, on as many situations, that the service holds several at once.
    const REPORTS: usize = 300;
    for number in 0..REPORTS {
        let report = valid_report(
            Agency::Iom,
            &format!("r-stop-{number}"),
            &format!("S-STOP-{number}"),
            1,
        );
        js.publish(
            topology::intake_subject("iom"),
            report.encode_to_vec().into(),
        )
        .await
        .expect("publish sent");
    }
    js.client().flush().await.expect("flush");

    // SIGTERM while messages are in hand (delivered, not yet acknowledged).
    let stream = js
        .get_stream(topology::INTAKE_IOM_STREAM)
        .await
        .expect("intake's stream");
    let in_hand = loop {
        let info = stream
            .consumer_info("tandem-intake-iom")
            .await
            .expect("intake's consumer");
        if info.num_ack_pending > 0 {
            break info.num_ack_pending;
        }
        assert!(
            info.num_pending > 0,
            "intake handled every report before one was seen in hand"
        );
    };
    let pid = intake.id().expect("running").to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(signalled.success());

    // It exits by itself, successfully, with nothing left unacknowledged: the messages in
    // hand at the signal were finished (each has its outcome), none left to redelivery.
    let status = eventually("intake to exit after SIGTERM", DEADLINE, || {
        std::future::ready(intake.exited())
    })
    .await;
    assert!(status.success(), "intake exited with {status}");

    // What it acknowledged it finished: one outcome per acknowledged report, none for a
    // report it gave back (pulled, never started). Each report is its own situation, so intake
    // starts them in stream order; having finished all it started and given back the rest, it
    // has acknowledged exactly the stream up to its consumer's ack floor.
    let info = stream
        .consumer_info("tandem-intake-iom")
        .await
        .expect("intake's consumer");
    let acknowledged = info.ack_floor.stream_sequence;
    let outcomes = accepted_outcomes(&js).await;
    assert_eq!(
        outcomes.len() as u64,
        acknowledged,
        "{in_hand} in hand at SIGTERM; {info:?}"
    );

    // A new instance takes what was left: every report has exactly one outcome.
    intake.restart();
    tandem_testkit::wait_until_consumed(
        &js,
        topology::INTAKE_IOM_STREAM,
        "tandem-intake-iom",
        Duration::from_secs(60),
    )
    .await;
    let mut outcomes = accepted_outcomes(&js).await;
    outcomes.sort();
    let mut expected: Vec<String> = (0..REPORTS).map(|n| format!("r-stop-{n}")).collect();
    expected.sort();
    assert_eq!(outcomes, expected, "each report accepted exactly once");
}

/// The report ids of the acceptances in the event stream, in stream order.
async fn accepted_outcomes(js: &jetstream::Context) -> Vec<String> {
    clients::outcomes(js)
        .await
        .into_iter()
        .filter(|outcome| matches!(outcome, Outcome::Accepted(..)))
        .map(|outcome| outcome.report_id().to_string())
        .collect()
}
