//! A service from connection to stop (`tandem_runtime::service::Service`) against a real
//! nats-server: set up and registered before it answers a ping, ended by a failing task with
//! that task's name and error, ended by a wiring that fails, and stopped while NATS is not
//! reachable, cleanly or by a task that failed meanwhile.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::anyhow;
use async_nats::jetstream::stream;
use tandem_proto::roster;
use tandem_runtime::{Shutdown, config::NatsConfig, service::Service, service_api, topology};
use tandem_testkit::NatsServer;

/// The service under test.
const KIT: roster::Service = roster::Service {
    name: "kit",
    connection: "tandem-kit",
    inbox_prefix: None,
    durables: &[],
};

/// Every test's bound on the service's run.
const BOUND: Duration = Duration::from_secs(20);

fn nats(url: String) -> NatsConfig {
    NatsConfig {
        url,
        ..NatsConfig::default()
    }
}

/// A loopback port nothing listens on: NATS there never answers.
fn unreachable_nats() -> NatsConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    nats(format!("nats://127.0.0.1:{port}"))
}

/// Runs `service`, whose NATS never answers, to its end: it must end without being wired.
async fn run_without_nats(service: Service) -> anyhow::Result<()> {
    let run = service.run(
        |_js| async { Ok(()) },
        |_service, ()| panic!("never wired: NATS never answered"),
    );
    tokio::time::timeout(BOUND, run)
        .await
        .expect("the service ends although NATS never answers")
}

/// A task that runs until told to stop, and says whether it was.
async fn until_stopped(stop: Shutdown, stopped: Arc<AtomicBool>) -> anyhow::Result<()> {
    stop.triggered().await;
    stopped.store(true, Ordering::SeqCst);
    Ok(())
}

#[tokio::test]
async fn a_service_is_set_up_before_it_answers_and_a_failing_task_ends_it_with_its_name_and_error()
{
    let server = NatsServer::start();
    let client = server.client().await;
    let shutdown = Shutdown::new();
    let (fail, failed) = tokio::sync::oneshot::channel::<()>();
    let stopped = Arc::new(AtomicBool::new(false));
    let other = stopped.clone();
    let service = Service::new(KIT, "A test service", &nats(server.url()), &shutdown);
    let running = tokio::spawn(service.run(
        |js| async move {
            let config = stream::Config {
                name: "KIT".into(),
                subjects: vec!["kit.>".into()],
                ..Default::default()
            };
            topology::ensure_stream(&js, config).await?;
            Ok("the stream")
        },
        move |service, owned| {
            assert_eq!(owned, "the stream", "wire gets what set-up made");
            service.spawn("worker", until_stopped(service.stop(), other));
            service.spawn("webhook sender", async move {
                let _ = failed.await;
                Err(anyhow!("no route to the receiver"))
            });
            Ok(())
        },
    ));

    service_api::wait_for_services(&client, &[KIT.name], BOUND)
        .await
        .expect("the service registers");
    async_nats::jetstream::new(client.clone())
        .get_stream("KIT")
        .await
        .expect("set-up ran before registration");
    fail.send(()).expect("the task waits");
    let error = tokio::time::timeout(BOUND, running)
        .await
        .expect("the service ends")
        .expect("its run did not panic")
        .expect_err("a task failed");

    let text = format!("{error:#}");
    assert!(text.contains("webhook sender failed"), "{text}");
    assert!(text.contains("no route to the receiver"), "{text}");
    assert!(stopped.load(Ordering::SeqCst), "the other task was stopped");
    assert!(
        !shutdown.is_triggered(),
        "the caller's other services (tandem up) keep running"
    );
}

#[tokio::test]
async fn a_wiring_that_fails_stops_what_it_spawned_and_is_the_services_error() {
    let server = NatsServer::start();
    let shutdown = Shutdown::new();
    let stopped = Arc::new(AtomicBool::new(false));
    let other = stopped.clone();
    let service = Service::new(KIT, "A test service", &nats(server.url()), &shutdown);

    let result = tokio::time::timeout(
        BOUND,
        service.run(
            |_js| async { Ok(()) },
            move |service, ()| {
                service.spawn("worker", until_stopped(service.stop(), other));
                Err(anyhow!("the webhook client cannot be built"))
            },
        ),
    )
    .await
    .expect("the service ends");

    let text = format!("{:#}", result.expect_err("the wiring failed"));
    assert!(
        text.contains("the webhook client cannot be built"),
        "{text}"
    );
    assert!(
        stopped.load(Ordering::SeqCst),
        "the spawned task was stopped"
    );
}

#[tokio::test]
async fn a_task_spawned_before_nats_answers_that_fails_ends_the_service_with_its_error() {
    let shutdown = Shutdown::new();
    let service = Service::new(KIT, "A test service", &unreachable_nats(), &shutdown)
        .starting_with("HTTP API", |_stop| async {
            Err(anyhow!("address already in use"))
        });

    let result = run_without_nats(service).await;

    let text = format!("{:#}", result.expect_err("a task failed"));
    assert!(text.contains("HTTP API failed"), "{text}");
    assert!(text.contains("address already in use"), "{text}");
}

#[tokio::test]
async fn a_stop_asked_for_before_nats_answers_ends_the_service_cleanly() {
    let shutdown = Shutdown::new();
    let stopped = Arc::new(AtomicBool::new(false));
    let service = Service::new(KIT, "A test service", &unreachable_nats(), &shutdown)
        .starting_with("HTTP API", |stop| until_stopped(stop, stopped.clone()));
    shutdown.trigger();

    let result = run_without_nats(service).await;

    result.expect("a stop is not a failure");
    assert!(stopped.load(Ordering::SeqCst), "the HTTP API was stopped");
}
