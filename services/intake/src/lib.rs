//! The intake service: every situation report an agency system publishes is validated against
//! the contract and answered, exactly once, with `SituationAccepted` (on
//! `tandem.situation.accepted.<ISO3>`) or `SituationRejected` listing every reason (on
//! `tandem.situation.rejected.<agency>`).
//!
//! - [`validate`]: decoding and the stateless rules, pure.
//! - [`state`]: revision order and one country per situation, pure.
//! - `handler`: the consumer handler tying them to KV `tandem-intake` and the event stream.
//! - [`run`] (in `service`): connects, creates what intake owns, and consumes `tandem.intake.>`
//!   until shutdown.
//!
//! The service parts come with the default feature `service`; without it the crate is only
//! the pure rules, which the fuzz targets build with coverage instrumentation in minutes
//! rather than instrumenting NATS, tokio and OpenTelemetry too.

#[cfg(feature = "service")]
mod handler;
#[cfg(feature = "service")]
mod service;
pub mod state;
pub mod validate;

#[cfg(feature = "service")]
pub use service::{IntakeConfig, SERVICE, run};
