//! Waiting for what a test can observe, never for a clock: [`eventually`] polls a condition
//! until it holds and fails the test with the description (and the condition's last word on
//! why not) when it does not hold in time.

use std::{fmt::Display, future::Future, time::Duration};

/// How long a condition of an ordinary test may take: long enough for a loaded 2-core machine,
/// short enough that a hang fails the run.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a condition is checked.
const POLL: Duration = Duration::from_millis(20);

/// What a condition of [`eventually`] answers: `true`, `Some(value)` or `Ok(value)` when it
/// holds. An `Err` says why it does not hold yet, and the last one is in the failure message.
pub trait Condition {
    /// What a condition that holds gives back.
    type Value;
    /// The value when the condition holds, else why not (when it says).
    fn check(self) -> Result<Self::Value, Option<String>>;
}

impl Condition for bool {
    type Value = ();
    fn check(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Condition for Option<T> {
    type Value = T;
    fn check(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Display> Condition for Result<T, E> {
    type Value = T;
    fn check(self) -> Result<T, Option<String>> {
        self.map_err(|why| Some(why.to_string()))
    }
}

/// Checks `condition` every 20 ms until it holds and returns what it gave; fails the test after
/// `timeout` with `what` and the condition's last reason.
///
/// # Panics
/// When `condition` does not hold within `timeout`.
pub async fn eventually<C, F, Fut>(
    what: impl Display,
    timeout: Duration,
    mut condition: F,
) -> C::Value
where
    C: Condition,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let why = match condition().await.check() {
            Ok(value) => return value,
            Err(why) => why,
        };
        if tokio::time::Instant::now() >= deadline {
            match why {
                Some(why) => panic!("not within {timeout:?}: {what}\n{why}"),
                None => panic!("not within {timeout:?}: {what}"),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
