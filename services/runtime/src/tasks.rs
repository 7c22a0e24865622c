//! A service's long-lived tasks (consumers, HTTP servers, timers, request handlers) under one
//! failure policy: the first task to stop ends the service. When it stops with an error, or
//! stops at all before shutdown was asked for, it is logged with its name and why, the other
//! tasks are told to stop (they finish what they hold, as on shutdown), and the service's run
//! returns that error. The stop is the service's own: the caller's [`Shutdown`] is not
//! triggered, so in `tandem up` one service's failure does not stop the others, and the caller
//! decides what a failed service means.

use std::future::Future;

use anyhow::anyhow;
use tokio::task::JoinSet;

use crate::shutdown::Shutdown;

/// The tasks of one service.
pub struct Tasks {
    running: JoinSet<(&'static str, anyhow::Result<()>)>,
    stop: Shutdown,
}

impl Tasks {
    /// No tasks yet; they stop when `shutdown` fires or when one of them stops.
    pub fn new(shutdown: &Shutdown) -> Self {
        Self {
            running: JoinSet::new(),
            stop: shutdown.child(),
        }
    }

    /// The stop every task must watch: the caller's shutdown, or another task's end.
    pub fn stop(&self) -> Shutdown {
        self.stop.clone()
    }

    /// Runs `task`, known in logs and errors as `name`. The moment it stops (returning,
    /// failing or panicking) the others are told to stop, even before [`Tasks::run`] is
    /// awaited: a service still connecting to NATS gives up when its HTTP API failed.
    pub fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let stop = self.stop.clone();
        self.running.spawn(async move {
            let _stop_the_others = StopOnDrop(stop.clone());
            let result = task.await;
            let ended = match result {
                Ok(()) if !stop.is_triggered() => {
                    Err(anyhow!("{name} stopped before shutdown was asked for"))
                }
                Ok(()) => Ok(()),
                Err(error) => Err(error.context(format!("{name} failed"))),
            };
            (name, ended)
        });
    }

    /// Waits until every task has stopped. The first to stop stops the others; its error (or,
    /// when it ended with no error before shutdown was asked for, the fact that it ended) is
    /// the result, named after it.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut first: Option<anyhow::Error> = None;
        while let Some(joined) = self.running.join_next().await {
            let (name, result) = match joined {
                Ok(ended) => ended,
                Err(error) => (
                    "a task",
                    Err(anyhow!("it panicked or was cancelled: {error}")),
                ),
            };
            if let Err(error) = result {
                tracing::error!(
                    task = name,
                    error = format!("{error:#}"),
                    "task stopped; stopping the service"
                );
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Triggers its stop when dropped: when its task ends, however it ends.
struct StopOnDrop(Shutdown);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.trigger();
    }
}
