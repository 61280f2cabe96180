//! What the runtime does when a budget runs out or a layer fails: the
//! policies a harness file chooses and the runtime applies (one type each,
//! shared by the file format and the episode loop).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens when the per-step budget of blocked actions is spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockPolicy {
    /// The next blocked action reaches the environment anyway.
    #[default]
    PassThrough,
    /// The episode ends with exit status `budget`.
    Abort,
}

/// What happens when a layer fails internally (a rule that cannot be
/// evaluated, a broken schema): a fault is never shown to the model as its
/// own error and never counts against the block budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultPolicy {
    /// End the episode at once with exit `error` and failure `harness_fault`
    /// (fail closed: the unchecked action never runs).
    #[default]
    EndEpisode,
    /// Let the action through unchecked by the failing layer (the other
    /// layers still judge it) and record that it ran unchecked.
    AllowUnchecked,
}
