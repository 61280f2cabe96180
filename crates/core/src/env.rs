//! The environment extension point: a deterministic tool-use task world.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{Action, StepOutcome};
use crate::message::Message;
use crate::tool::ToolSpec;

/// One task of an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The task id, unique within its environment.
    pub id: String,
    /// The environment name, e.g. `tau2-retail`.
    pub environment: String,
    /// A human-readable statement of the task (also the skills query).
    pub instruction: String,
    /// Environment-specific data (initial state, gold actions, ...).
    #[serde(default)]
    pub data: Value,
}

/// One component of a reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardComponent {
    /// The component name, e.g. `DB`, `COMMUNICATE`.
    pub name: String,
    /// Its score, or `None` when it could not be evaluated.
    pub score: Option<f64>,
    /// Details (what matched, what did not).
    #[serde(default)]
    pub detail: Value,
}

/// The score of an episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reward {
    /// The reward, or `None` when a needed component could not be evaluated.
    pub value: Option<f64>,
    /// The components the reward is made of.
    #[serde(default)]
    pub breakdown: Vec<RewardComponent>,
}

impl Reward {
    /// A plain reward without components.
    pub fn simple(value: f64) -> Self {
        Self {
            value: Some(value),
            breakdown: Vec::new(),
        }
    }

    /// Whether the reward counts as success (1.0 within rounding).
    pub fn is_success(&self) -> bool {
        self.value.is_some_and(|v| (v - 1.0).abs() < 1e-6)
    }
}

/// Describes an environment for trajectories and reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvInfo {
    /// The environment name.
    pub name: String,
    /// Its implementation version.
    pub version: String,
    /// Settings that change its behaviour (user mode, ...).
    #[serde(default)]
    pub config: Value,
}

/// An environment failure that is not a tool error (those are observations).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    /// The task is unknown or its data is malformed.
    #[error("bad task: {0}")]
    BadTask(String),
    /// `step` or `score` was called before `reset`, or after the end.
    #[error("environment used out of order: {0}")]
    State(String),
    /// The environment needs something it does not have (a user model, a sandbox).
    #[error("environment unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("environment failure: {0}")]
    Internal(String),
}

/// Read-only access to an environment's state by path (e.g. `["orders", "#W1"]`).
///
/// Rules look up only what they need, so a large state is never copied whole.
pub trait StateView {
    /// The JSON value at `path`, or `None` when there is nothing there.
    fn lookup(&self, path: &[&str]) -> Option<Value>;
}

/// A [`StateView`] over a JSON snapshot (for environments without a faster lookup, and tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonState(pub Value);

impl StateView for JsonState {
    fn lookup(&self, path: &[&str]) -> Option<Value> {
        let mut node = &self.0;
        for segment in path {
            node = match node {
                Value::Object(map) => map.get(*segment)?,
                Value::Array(list) => list.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node.clone())
    }
}

/// One episode's world. Made fresh by an [`EnvironmentFactory`] for each episode.
#[async_trait]
pub trait Environment: Send {
    /// The tools offered to the agent.
    fn tools(&self) -> Vec<ToolSpec>;

    /// The system text (policy) shown to the agent.
    fn system_text(&self) -> String;

    /// Starts `task`; returns the opening messages of the conversation (after the system text).
    async fn reset(&mut self, task: &Task, seed: u64) -> Result<Vec<Message>, EnvError>;

    /// Executes one action.
    async fn step(&mut self, action: &Action) -> Result<StepOutcome, EnvError>;

    /// Scores the episode so far.
    async fn score(&mut self) -> Result<Reward, EnvError>;

    /// The whole state as JSON, where offered (for reports and audits; may be slow).
    fn state_view(&self) -> Option<Value> {
        None
    }

    /// A read-only, lazy view of the state for harness rules, where offered.
    fn state(&self) -> Option<&dyn StateView> {
        None
    }

    /// A cheap counter that changes whenever the state changes, where offered
    /// (used by regulation to detect steps that change nothing).
    fn state_version(&self) -> Option<u64> {
        None
    }
}

/// Makes environments of one kind and lists their tasks.
pub trait EnvironmentFactory: Send + Sync {
    /// Describes the environment.
    fn info(&self) -> EnvInfo;

    /// The split names, e.g. `train`, `test`.
    fn splits(&self) -> Vec<String>;

    /// The tasks of a split (`all` for every task).
    fn tasks(&self, split: &str) -> Result<Vec<Task>, EnvError>;

    /// A fresh environment for one episode.
    fn create(&self) -> Result<Box<dyn Environment>, EnvError>;
}
