//! A service's tasks under one failure policy (`tandem_runtime::tasks`).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::anyhow;
use tandem_runtime::{Shutdown, tasks::Tasks};

/// A task that runs until told to stop, and says whether it was.
async fn until_stopped(stop: Shutdown, stopped: Arc<AtomicBool>) -> anyhow::Result<()> {
    stop.triggered().await;
    stopped.store(true, Ordering::SeqCst);
    Ok(())
}

#[tokio::test]
async fn a_failing_task_stops_the_others_and_the_service_says_which_and_why() {
    let shutdown = Shutdown::new();
    let mut tasks = Tasks::new(&shutdown);
    let stopped = Arc::new(AtomicBool::new(false));
    tasks.spawn("consumer", until_stopped(tasks.stop(), stopped.clone()));
    tasks.spawn("http", async { Err(anyhow!("address already in use")) });

    let error = tasks.run().await.expect_err("a task failed");

    let text = format!("{error:#}");
    assert!(text.contains("http failed"), "{text}");
    assert!(text.contains("address already in use"), "{text}");
    assert!(
        stopped.load(Ordering::SeqCst),
        "the other task was told to stop"
    );
    assert!(
        !shutdown.is_triggered(),
        "the caller's other services (tandem up) keep running"
    );
}

#[tokio::test]
async fn a_task_that_ends_before_shutdown_is_a_failure_too() {
    let shutdown = Shutdown::new();
    let mut tasks = Tasks::new(&shutdown);
    let stopped = Arc::new(AtomicBool::new(false));
    tasks.spawn("consumer", until_stopped(tasks.stop(), stopped.clone()));
    tasks.spawn("requests", async { Ok(()) });

    let error = tasks.run().await.expect_err("a task ended early");

    assert!(
        format!("{error:#}").contains("requests stopped before shutdown"),
        "{error:#}"
    );
    assert!(stopped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn on_shutdown_every_task_finishes_and_the_service_ends_cleanly() {
    let shutdown = Shutdown::new();
    let mut tasks = Tasks::new(&shutdown);
    let flags: Vec<_> = (0..3).map(|_| Arc::new(AtomicBool::new(false))).collect();
    for (name, flag) in ["a", "b", "c"].into_iter().zip(&flags) {
        tasks.spawn(name, until_stopped(tasks.stop(), flag.clone()));
    }
    shutdown.trigger();

    tasks.run().await.expect("a clean stop");

    assert!(flags.iter().all(|flag| flag.load(Ordering::SeqCst)));
}
