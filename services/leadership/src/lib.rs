//! Who leads a response: the leadership decision of the IOM/UNHCR Framework of Engagement
//! (DESIGN.md, "Leadership policy v1"; issue 3).
//!
//! - [`policy`]: the policy engine, a pure library (no I/O, no async). It reconciles the latest
//!   report of each organisation on a situation and applies a versioned policy file
//!   (`deploy/policy/leadership-v1.toml`) to produce a `LeadershipDetermination` that says who
//!   leads, which functions each agency holds, and why.
//!
//! The service that consumes accepted reports, keeps state in KV and publishes determinations is
//! built on top of [`policy`].

pub mod policy;
