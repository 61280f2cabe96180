//! The environment extension point: a deterministic tool-use task world.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{Action, StepOutcome};
use crate::failure::FailureKind;
use crate::message::Message;
use crate::tool::{ToolCall, ToolSpec};

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

    /// The commands that do something now, in the environment's own order,
    /// where the environment has such a list (text worlds).
    fn admissible_actions(&self) -> Option<Vec<String>> {
        None
    }
}

/// What one of an environment's error texts means, for diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMeaning {
    /// The taxonomy label of the failure the text reports.
    pub kind: FailureKind,
    /// A short stable name of the error pattern, e.g. `entity_not_found`.
    pub pattern: String,
    /// What the error means, in words a harness author can act on.
    pub meaning: String,
}

impl ErrorMeaning {
    /// A meaning with `kind`, `pattern` and `meaning`.
    pub fn new(kind: FailureKind, pattern: &str, meaning: &str) -> Self {
        Self {
            kind,
            pattern: pattern.to_string(),
            meaning: meaning.to_string(),
        }
    }
}

/// A task as another benchmark's trajectory file describes it (e.g. a
/// τ-bench v1 record), to be matched with one of this environment's tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ForeignTask {
    /// Where the description comes from, e.g. `tau-bench`.
    pub source: String,
    /// The task's id there.
    pub id: String,
    /// The user the task is about, if the source names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The task's instruction text there.
    #[serde(default)]
    pub instruction: String,
    /// The source's reference actions.
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// How well a [`ForeignTask`] matched a task of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchQuality {
    /// Same user and the same reference actions.
    Exact,
    /// Same user and instruction, but the reference actions differ (the
    /// task was revised): rewards recorded there were graded differently.
    Revised,
    /// Another task of ours fits as well; the one chosen is named.
    Ambiguous,
    /// No task of ours corresponds.
    Unmapped,
}

/// The result of matching a [`ForeignTask`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMatch {
    /// Our task id, unless unmapped.
    pub task_id: Option<String>,
    /// How it matched.
    pub quality: MatchQuality,
    /// How the match was decided (or why there is none).
    pub note: String,
}

impl TaskMatch {
    /// No match, with the reason.
    pub fn unmapped(note: impl Into<String>) -> Self {
        Self {
            task_id: None,
            quality: MatchQuality::Unmapped,
            note: note.into(),
        }
    }
}

/// Replays an environment's reference solutions (or given actions) without
/// a model and reports each task's outcome, in the environment's own report
/// shape (`lifeharness replay` prints these).
#[async_trait]
pub trait ReferenceReplay: Send + Sync {
    /// Replays the reference solution of every task of `split`.
    async fn replay_reference(&self, split: &str) -> Result<Vec<Value>, EnvError>;

    /// Replays given actions: JSONL lines `{"task_id", "actions": [{"name", "arguments"}]}`.
    async fn replay_actions(&self, _jsonl: &str) -> Result<Vec<Value>, EnvError> {
        Err(EnvError::Unavailable(
            "this environment replays only its reference solutions".to_string(),
        ))
    }
}

/// Makes environments of one kind and lists their tasks.
///
/// Besides making environments, a factory declares what replay and
/// diagnosis need to know (reference actions, which tools write, what error
/// texts mean); every such method has a default that says "not known".
pub trait EnvironmentFactory: Send + Sync {
    /// Describes the environment.
    fn info(&self) -> EnvInfo;

    /// The split names, e.g. `train`, `test`.
    fn splits(&self) -> Vec<String>;

    /// The tasks of a split (`all` for every task).
    fn tasks(&self, split: &str) -> Result<Vec<Task>, EnvError>;

    /// A fresh environment for one episode.
    fn create(&self) -> Result<Box<dyn Environment>, EnvError>;

    /// The task with this id, from any split.
    fn task(&self, id: &str) -> Result<Task, EnvError> {
        self.tasks("all")?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| EnvError::BadTask(format!("{} has no task '{id}'", self.info().name)))
    }

    /// A fresh environment that replays recorded actions: it needs no model
    /// (a user simulator is replaced by fixed replies). Defaults to [`Self::create`].
    fn create_replay(&self) -> Result<Box<dyn Environment>, EnvError> {
        self.create()
    }

    /// The task's reference solution as actions, where the benchmark has one
    /// (`None`: it has none, e.g. its checks are scripts).
    fn reference_actions(&self, _task: &Task) -> Result<Option<Vec<Action>>, EnvError> {
        Ok(None)
    }

    /// The tool call an action stands for: the call itself, or what a
    /// text-protocol reply means (`None`: it calls nothing).
    fn interpret_action(&self, action: &Action) -> Option<ToolCall> {
        action.as_tool_call().cloned()
    }

    /// What is wrong with an action as this environment reads it, before it
    /// runs (e.g. a text reply that is no valid action of its protocol);
    /// `None`: nothing the environment can tell.
    fn action_problem(&self, _action: &Action) -> Option<ErrorMeaning> {
        None
    }

    /// Whether a tool changes the state (`None`: not known).
    fn writes_state(&self, _tool: &str) -> Option<bool> {
        None
    }

    /// Whether calling this tool hands the conversation over and so ends
    /// the agent's part (e.g. a transfer to a human agent).
    fn is_handoff(&self, _tool: &str) -> bool {
        false
    }

    /// What an error text returned by `tool` means (`None`: not known).
    fn explain_error(&self, _tool: &str, _text: &str) -> Option<ErrorMeaning> {
        None
    }

    /// The splits held out for evaluation: evolution refuses them (and any
    /// split sharing a task with them) as input. Defaults to `test`.
    fn held_out_splits(&self) -> Vec<String> {
        self.splits().into_iter().filter(|s| s == "test").collect()
    }

    /// The state collections whose records an argument's value can name:
    /// `orders` when `StateView::lookup(["orders", args.order_id])` finds
    /// the order (empty: none, or no state view).
    fn state_collections(&self) -> Vec<String> {
        Vec::new()
    }

    /// The replayer of reference solutions, where the environment has one.
    fn reference_replay(&self) -> Option<&dyn ReferenceReplay> {
        None
    }

    /// Matches another benchmark's descriptions of tasks with ours (all
    /// at once, so that each of ours is matched at most once).
    fn match_foreign_tasks(&self, foreign: &[ForeignTask]) -> Vec<TaskMatch> {
        foreign
            .iter()
            .map(|f| {
                TaskMatch::unmapped(format!(
                    "{} cannot match tasks from {}",
                    self.info().name,
                    f.source
                ))
            })
            .collect()
    }
}
