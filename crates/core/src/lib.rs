//! Core types and traits of lifeharness.
//!
//! Everything that flows through an episode is defined here: messages, tool
//! specs and calls, the model's turn, actions and observations, steps,
//! trajectories and the typed failure taxonomy. Each extension point is one
//! trait: [`Model`], [`Environment`] (made by an [`EnvironmentFactory`]),
//! [`Layer`] and [`TrajectorySink`]. This crate performs no I/O and does not
//! depend on an async runtime.

pub mod action;
pub mod conformance;
pub mod decoding;
pub mod env;
pub mod failure;
pub mod hash;
pub mod json;
pub mod layer;
pub mod message;
pub mod model;
pub mod policy;
pub mod py;
pub mod sink;
pub mod stats;
pub mod tool;
pub mod trajectory;

pub use action::{Action, Observation, ObservationSource, StepOutcome};
pub use decoding::{ArgGuide, ContextBudget, ContextPolicy, ContextWindow, DecodingGuide};
pub use env::{
    EnvError, EnvInfo, Environment, EnvironmentFactory, ErrorMeaning, ForeignTask, JsonState,
    MatchQuality, ReferenceReplay, Reward, RewardComponent, StateView, Task, TaskMatch,
};
pub use failure::FailureKind;
pub use json::same_json;
pub use layer::{
    ActionVerdict, EpisodeSetup, EpisodeView, FeedbackVerdict, HistoryEntry, HookPoint, Layer,
    LayerError, LayerEvent, TaskConditioning, VerdictKind,
};
pub use message::{Message, Role};
pub use model::{ChatRequest, Model, ModelError, ModelErrorKind, ModelInfo, ModelTurn, Usage};
pub use policy::{BlockPolicy, FaultPolicy};
pub use sink::{SinkError, TrajectorySink};
pub use stats::ActionStats;
pub use tool::{ParsedArgs, ToolCall, ToolSpec};
pub use trajectory::{
    ActionRecord, EpisodeEnd, EpisodeHeader, ExitStatus, HarnessInfo, Step, TRAJECTORY_FORMAT,
    TRAJECTORY_VERSION, Trajectory,
};
