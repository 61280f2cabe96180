//! The harness file: one declarative TOML document that configures the
//! runtime and the four layers, identified by a content hash.
//!
//! The id is the sha256 of the canonical JSON form of the parsed file, so
//! formatting and comments do not change it but any setting does.

pub mod compiled;
pub mod expr;
pub mod harness;
pub mod lazy;
pub mod spec;

pub use compiled::{CallInput, CompiledHarness, PastCall, Violation, parse_result};
pub use harness::{FORMAT_VERSION, Harness, HarnessError, Lineage, Provenance, RuntimeSettings};
