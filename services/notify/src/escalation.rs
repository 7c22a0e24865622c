//! Escalation timers: every instance watches its agency's `<agency>.timer.*` keys (so timers
//! set before a restart, or by another instance, are known) and, each tick, escalates what is
//! due. Compare-and-set on the notification's record makes one instance win each escalation.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream::kv::Operation;
use tandem_runtime::{Shutdown, kv_scan};

use crate::{
    notifier::Notifier,
    store::{self, Store},
};

/// Due times (milliseconds since the epoch) of pending notifications, by id.
type Timers = Arc<Mutex<BTreeMap<String, u64>>>;

/// Runs the timers until `shutdown`.
pub(crate) async fn run(
    store: Store,
    notifier: Arc<Notifier>,
    tick: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let timers: Timers = Arc::default();
    let watcher = tokio::spawn(watch(store, timers.clone(), shutdown.clone()));
    while shutdown.sleep(tick).await {
        let now = store::now_ms();
        let due: Vec<String> = match timers.lock() {
            Ok(timers) => timers
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(id, _)| id.clone())
                .collect(),
            Err(_) => anyhow::bail!("timer table poisoned"),
        };
        // All at once: one slow webhook one tier up must not hold back the other escalations.
        let results = futures::future::join_all(due.iter().map(|id| notifier.escalate(id))).await;
        for (id, result) in due.iter().zip(results) {
            let Ok(mut timers) = timers.lock() else {
                anyhow::bail!("timer table poisoned");
            };
            // Only if the watch did not bring a newer value meanwhile.
            let unchanged = timers.get(id).is_some_and(|at| *at <= now);
            match result {
                // Forget it at once rather than when the deletion comes back through the watch.
                Ok(None) if unchanged => {
                    timers.remove(id);
                }
                Ok(Some(later)) if unchanged => {
                    let later = u64::try_from(later.as_millis()).unwrap_or(u64::MAX);
                    timers.insert(id.clone(), now.saturating_add(later));
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(notification.id = %id, error = format!("{error:#}"), "escalation failed; retrying next tick")
                }
            }
        }
    }
    let _ = watcher.await;
    Ok(())
}

/// Mirrors the timer keys into `timers`.
async fn watch(store: Store, timers: Timers, shutdown: Shutdown) {
    store
        .follow_timers(&shutdown, |event| {
            let kv_scan::Followed::Entry { entry, .. } = event else {
                return;
            };
            let Some(id) = store.timer_id(&entry.key) else {
                return;
            };
            let mut timers = timers.lock().unwrap_or_else(|e| e.into_inner());
            match entry.operation {
                Operation::Put => {
                    let at = std::str::from_utf8(&entry.value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                    timers.insert(id.to_string(), at);
                }
                Operation::Delete | Operation::Purge => {
                    timers.remove(id);
                }
            }
        })
        .await;
}
