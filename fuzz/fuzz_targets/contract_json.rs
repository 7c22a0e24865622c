//! Fuzz target `contract_json`: the JSON mapping of the other contract messages that leave
//! tandem as JSON (`LeadershipDetermination` from `tandem situation`, `Notification` to
//! webhooks) or are read back (`SituationAccepted`, `SituationRejected`, `NotificationStatus`).
//! The first byte picks the message; the rest is JSON text. Nothing may panic, and whatever
//! parses must come back equal through `to_string` → `from_str` and through protobuf, but for
//! the one known issue that [`round_trip`] tolerates.

#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use tandem_proto::{
    Message, json,
    v1::{
        LeadershipDetermination, Notification, NotificationStatus, SituationAccepted,
        SituationRejected,
    },
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 5 {
        0 => round_trip::<LeadershipDetermination>(text),
        1 => round_trip::<Notification>(text),
        2 => round_trip::<SituationAccepted>(text),
        3 => round_trip::<SituationRejected>(text),
        _ => round_trip::<NotificationStatus>(text),
    }
});

/// The known issue of the mapping, tolerated here so that the target keeps looking for others
/// (seed `known-nan.seed` reproduces it): doubles given as "NaN" or "Infinity" are accepted,
/// then rendered as `null` (serde_json's rendering of a non-finite number), which `from_str`
/// refuses. No tandem service produces one. (Seed `known-float-drift.seed` reproduces the
/// other issue this target found, now fixed: serde_json parsed some decimals one bit off
/// until its `float_roundtrip` feature was turned on.)
fn round_trip<M>(text: &str)
where
    M: Message + Default + PartialEq + Debug + Serialize + DeserializeOwned,
{
    let Ok(message) = json::from_str::<M>(text) else {
        return;
    };
    // Compared as bytes: a NaN is not equal to itself.
    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).expect("own encoding decodes");
    assert_eq!(
        decoded.encode_to_vec(),
        bytes,
        "protobuf round trip changed the message: {message:?}"
    );

    let rendered = json::to_string(&message);
    let tree: Value = serde_json::from_str(&rendered)
        .unwrap_or_else(|e| panic!("to_string rendered {rendered:?}, not JSON: {e}"));
    if has_null(&tree) {
        return; // The known issue: a non-finite double.
    }
    let back: M = json::from_str(&rendered)
        .unwrap_or_else(|e| panic!("rendered JSON {rendered:?} does not parse: {e}"));
    assert!(
        back == message,
        "JSON round trip changed the message: {rendered}\n  before: {message:?}\n  after:  {back:?}"
    );
}

fn has_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(has_null),
        Value::Object(fields) => fields.values().any(has_null),
        _ => false,
    }
}
