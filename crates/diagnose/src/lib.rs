//! Replay with state, harness audits, failure diagnosis and trajectory
//! import.
//!
//! * [`replay`]: recorded actions through a fresh environment from the
//!   task's initial state, so harness rules see the state the agent saw;
//!   where a replayed observation differs from the recorded one the step is
//!   flagged and the replay goes on with the replayed state.
//! * [`audit`]: what a harness would have blocked, rewritten, nudged or
//!   annotated, per rule, separately for successful and failed episodes (a
//!   block in a successful episode is a false positive).
//! * [`diagnose`](mod@diagnose): every failed episode labelled with its
//!   bottleneck (action realization, environment contract, trajectory
//!   degeneration, residual reasoning), its first critical step and the
//!   evidence, from deterministic signals; [`judge`] adds an LLM's label.
//! * [`report`]: the failure mix per environment beside the paper's, the
//!   top failure signatures, wasted steps and what successes did.
//! * [`import`]: tau2-bench results, τ-bench (v1) trajectory files and our
//!   own JSONL as trajectories.
//!
//! Everything an environment must tell diagnosis (reference actions, which
//! tools write, what its error texts mean) comes through
//! [`EnvironmentFactory`](lifeharness_core::EnvironmentFactory); nothing
//! here knows an environment by name.

pub mod audit;
pub mod diagnose;
mod error;
pub mod import;
pub mod judge;
pub mod recorded;
pub mod replay;
pub mod report;
pub mod signature;

pub use audit::{AuditReport, Auditor};
pub use diagnose::{Category, Diagnosis, Divergence, DivergenceKind, Evidence, diagnose};
pub use error::DiagnoseError;
pub use recorded::{Recorded, RecordedAction};
pub use replay::{DivergenceClass, Replayer, StepDivergence};
pub use report::{EnvironmentReport, Report};
