//! What can go wrong in an evolution.

use lifeharness_diagnose::DiagnoseError;
use lifeharness_rules::HarnessError;

/// An evolution that could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    /// The input named a split or tasks held out for evaluation.
    #[error("refused as evolution input: {0}")]
    HeldOut(String),
    /// The input is unusable (no episodes, unknown tasks, ...).
    #[error("bad evolution input: {0}")]
    Input(String),
    /// Replay or diagnosis failed.
    #[error(transparent)]
    Diagnose(#[from] DiagnoseError),
    /// The starting harness is invalid.
    #[error(transparent)]
    Harness(#[from] HarnessError),
    /// An evaluation (model re-run) failed as a whole.
    #[error("evaluation failed: {0}")]
    Evaluation(String),
    /// Saving the evolution's state failed.
    #[error("checkpoint failed: {0}")]
    Checkpoint(String),
}
