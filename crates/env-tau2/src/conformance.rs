//! The shared environment conformance suite lives in `lifeharness_core`;
//! re-exported here for callers that reach it through this crate.

pub use lifeharness_core::conformance::{ConformanceReport, run_conformance};
