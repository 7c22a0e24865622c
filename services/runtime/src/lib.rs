//! What every tandem service shares, so that each uses the bus the same way.
//!
//! - [`config`]: layered configuration (defaults, optional file, `TANDEM_*` environment, flags).
//! - [`nats`]: connecting to NATS (URL, credentials file, TLS), retrying until it answers.
//! - [`topology`]: the names, subjects and settings of every stream and bucket, and their
//!   idempotent creation.
//! - [`envelope`]: CloudEvents binary-mode headers and W3C trace-context propagation.
//! - [`http`]: serving HTTP until shutdown, with a bound on the drain.
//! - [`consumer`]: the durable pull-consumer loop: ack after effects, finite redelivery with
//!   backoff, dead letters, re-creation on stream errors.
//! - [`dead_letter`]: publishing poison messages to `TANDEM_DLQ`.
//! - [`setup`]: every stream, bucket, object store and durable of a deployment, made once by
//!   the admin (`tandem setup`), since service users may create none.
//! - [`service`]: a service from start to stop: the body of every binary's `main`, and
//!   [`service::Service`], which connects, sets up (looking up what `tandem setup` made),
//!   wires, registers, runs and flushes.
//! - [`service_api`]: registration with the NATS service API (`$SRV.PING/INFO/STATS`).
//! - [`shutdown`]: graceful shutdown on SIGTERM/SIGINT.
//! - [`tasks`]: a service's long-lived tasks under one failure policy: the first to stop ends
//!   the service, logged with its name and why.
//! - [`telemetry`]: the tracing subscriber, with an OTLP exporter when `OTEL_*` asks for one.
//! - [`tls`]: the process-wide TLS crypto provider every HTTP client needs.
//! - [`kv_key`]: turning identifiers into valid KV keys.
//! - [`kv_scan`]: reading and following part of a bucket without a consumer (direct gets and
//!   a core subscription), as the least-privilege users may.
//! - [`records`]: protobuf records in a bucket, compare-and-set against the revision an
//!   instance remembers, so a write needs no read before it.
//! - [`metrics`]: the services' metrics, over OTLP and on a Prometheus `/metrics` endpoint.

pub mod config;
pub mod consumer;
pub mod dead_letter;
pub mod envelope;
pub mod http;
pub mod kv_key;
pub mod kv_scan;
pub mod metrics;
pub mod nats;
pub mod records;
pub mod service;
pub mod service_api;
pub mod setup;
pub mod shutdown;
pub mod tasks;
pub mod telemetry;
pub mod tls;
pub mod topology;

#[doc(hidden)]
pub use mimalloc;
pub use shutdown::Shutdown;

/// Makes mimalloc the process's allocator; every binary's `main.rs` says `global_allocator!();`.
/// In the profile of `tandem bench`, glibc's `malloc`, `free` and `malloc_consolidate` were the
/// services' largest cost after the network itself. (Declared by the binaries rather than here,
/// so that fuzz targets built under AddressSanitizer keep its allocator.)
#[macro_export]
macro_rules! global_allocator {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::mimalloc::MiMalloc = $crate::mimalloc::MiMalloc;
    };
}
