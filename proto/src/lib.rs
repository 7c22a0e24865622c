//! The `tandem.v1` event contract (docs/design.md, "Event contract").
//!
//! - [`v1`]: the prost messages generated from `proto/tandem/v1/*.proto`, with serde impls giving
//!   the proto3 JSON mapping: proto field names (snake_case) out, snake_case or lowerCamelCase in,
//!   enums by their full names, timestamps as RFC 3339.
//! - [`json`]: moving between JSON and messages.
//! - [`timestamp`]: conversions between protobuf timestamps and `SystemTime`.
//! - [`partial`]: decoders of the one or two fields consumers order messages by.
//! - [`roster`]: the services: names, NATS users and connections, durable consumers.
//! - [`words`]: the population groups a report carries (their words: `tandem_i18n::words`).
//! - [`subjects`]: the NATS subjects the messages travel on (docs/design.md, "Subjects,
//!   streams, buckets").

/// Generated messages of package `tandem.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/tandem.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/tandem.v1.serde.rs"));
}

pub use pbjson_types::Timestamp;
pub use prost::Message;

pub mod partial;
pub mod roster;
pub mod subjects;
pub mod words;

/// JSON in docs/design.md's mapping.
pub mod json {
    use serde::{Serialize, de::DeserializeOwned};

    /// Parses a message from JSON (snake_case or lowerCamelCase field names).
    pub fn from_str<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
        serde_json::from_str(text)
    }

    /// Renders a message as one line of JSON with proto field names.
    pub fn to_string<T: Serialize>(message: &T) -> String {
        // Generated serde impls only fail on non-string map keys, which tandem.v1 does not have.
        serde_json::to_string(message).unwrap_or_default()
    }
}

/// Protobuf timestamps.
pub mod timestamp {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use pbjson_types::Timestamp;

    /// The timestamp of `time`.
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp {
            seconds: i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX),
            // Below 10⁹, so it always fits.
            nanos: i32::try_from(since_epoch.subsec_nanos()).unwrap_or(999_999_999),
        }
    }

    /// Now, as a timestamp.
    pub fn now() -> Timestamp {
        from_system_time(SystemTime::now())
    }

    /// The time of `timestamp`; `None` when it lies before 1970 or has out-of-range nanos.
    pub fn to_system_time(timestamp: &Timestamp) -> Option<SystemTime> {
        let seconds = u64::try_from(timestamp.seconds).ok()?;
        let nanos = u32::try_from(timestamp.nanos)
            .ok()
            .filter(|n| *n < 1_000_000_000)?;
        UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
    }
}
