//! The harness layer extension point: hooks at the four lifecycle points,
//! each returning a typed verdict.
//!
//! Lifecycle: `before_episode` (contract: may rewrite tool specs and the
//! system text) -> `condition_task` (skills: may add to the system prompt) ->
//! for every model turn, `after_turn` (realization: allow, rewrite, block or
//! abort) -> environment -> `after_observation` (regulation: continue,
//! annotate, nudge, directive or stop).

use serde::{Deserialize, Serialize};

use crate::action::{Action, Observation};
use crate::decoding::{ContextPolicy, DecodingGuide};
use crate::env::{StateView, Task};
use crate::failure::FailureKind;
use crate::model::ModelTurn;
use crate::tool::ToolSpec;

/// What a layer may change before an episode starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSetup {
    /// The task.
    pub task: Task,
    /// The system text (policy) the model will see.
    pub system_text: String,
    /// The tools the model will see.
    pub tools: Vec<ToolSpec>,
}

/// An addition to the system prompt made for one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskConditioning {
    /// The rule (skill) ids that produced the text.
    pub rule_ids: Vec<String>,
    /// The text appended to the system prompt.
    pub text: String,
}

/// One earlier action of the episode and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The step (model turn) index.
    pub step: usize,
    /// The action.
    pub action: Action,
    /// What the environment returned, or `None` when the action was blocked.
    pub observation: Option<Observation>,
    /// The environment's state version after the action, if offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<u64>,
}

/// A read-only view of the episode for layers.
#[derive(Clone, Copy)]
pub struct EpisodeView<'a> {
    /// The task.
    pub task: &'a Task,
    /// The tools the model sees.
    pub tools: &'a [ToolSpec],
    /// Earlier actions, oldest first.
    pub history: &'a [HistoryEntry],
    /// Events recorded so far in this episode, oldest first.
    pub events: &'a [LayerEvent],
    /// The current step index (0-based).
    pub step: usize,
    /// The step budget.
    pub max_steps: usize,
    /// The environment's state, if it offers a view.
    pub state: Option<&'a dyn StateView>,
    /// The environment's state version now, if it offers one.
    pub state_version: Option<u64>,
    /// The commands admissible now, where the environment lists them.
    pub admissible: Option<&'a [String]>,
}

/// The verdict on an action, after the model speaks and before the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum ActionVerdict {
    /// Let it through unchanged.
    Allow,
    /// Replace it with another action.
    Rewrite {
        /// The rule that rewrote it.
        rule_id: String,
        /// The replacement.
        action: Action,
        /// Why, for the record.
        message: String,
    },
    /// Keep it from the environment and tell the model what to fix.
    Block {
        /// The rule that blocked it.
        rule_id: String,
        /// The taxonomy label of the fault.
        kind: FailureKind,
        /// The targeted correction the model receives.
        correction: String,
    },
    /// End the episode.
    Abort {
        /// The rule that aborted.
        rule_id: String,
        /// The taxonomy label.
        kind: FailureKind,
        /// Why.
        reason: String,
    },
}

/// The verdict after the environment responded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum FeedbackVerdict {
    /// Nothing to add.
    Continue,
    /// Append a note to the tool result itself.
    Annotate {
        /// The rule.
        rule_id: String,
        /// The note.
        note: String,
    },
    /// A soft recovery message to the model.
    Nudge {
        /// The rule.
        rule_id: String,
        /// The message.
        message: String,
    },
    /// A hard recovery directive to the model.
    Directive {
        /// The rule.
        rule_id: String,
        /// The message.
        message: String,
    },
    /// End the episode as failed.
    Stop {
        /// The rule.
        rule_id: String,
        /// The taxonomy label (usually `loop` or `stagnation`).
        kind: FailureKind,
        /// Why.
        reason: String,
    },
}

/// Where in the lifecycle an event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    /// Before the episode (contract).
    BeforeEpisode,
    /// Task conditioning (skills).
    ConditionTask,
    /// After the model's turn, before the environment (realization).
    AfterTurn,
    /// After the environment's response (regulation).
    AfterObservation,
    /// The runtime itself (budgets).
    Runtime,
}

/// The kind of a recorded verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Tool specs or system text were rewritten before the episode.
    Setup,
    /// Text was added to the system prompt.
    Condition,
    /// The action was allowed.
    Allow,
    /// The action was rewritten.
    Rewrite,
    /// The action was blocked.
    Block,
    /// The episode was aborted.
    Abort,
    /// Nothing to add after the observation.
    Continue,
    /// A note was appended to the observation.
    Annotate,
    /// A soft nudge was injected.
    Nudge,
    /// A hard directive was injected.
    Directive,
    /// The episode was stopped.
    Stop,
    /// A layer failed internally.
    Fault,
    /// The block budget was spent and the action was passed through.
    PassThrough,
    /// A layer could not check the action and the harness's fault policy
    /// (`allow_unchecked`) let it run anyway.
    Unchecked,
    /// Decoding was guided (the message says how); recorded when the guide changes.
    Guide,
    /// Older turns were abbreviated to keep the prompt inside the context budget.
    Trim,
}

/// One recorded verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerEvent {
    /// The layer's name (`runtime` for the runtime's own decisions).
    pub layer: String,
    /// Where it happened.
    pub hook: HookPoint,
    /// The rule, if one decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// What was decided.
    pub verdict: VerdictKind,
    /// The message shown to the model or kept for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The taxonomy label, where one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
    /// True when the harness is in observe-only mode and the verdict was not applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub observe_only: bool,
}

impl LayerEvent {
    /// A new event with no rule, message or failure label.
    pub fn new(layer: impl Into<String>, hook: HookPoint, verdict: VerdictKind) -> Self {
        Self {
            layer: layer.into(),
            hook,
            rule_id: None,
            verdict,
            message: None,
            failure: None,
            observe_only: false,
        }
    }

    /// The event that records `verdict` from `layer`.
    pub fn from_action_verdict(layer: &str, verdict: &ActionVerdict) -> Self {
        let mut event = Self::new(layer, HookPoint::AfterTurn, VerdictKind::Allow);
        match verdict {
            ActionVerdict::Allow => {}
            ActionVerdict::Rewrite {
                rule_id, message, ..
            } => {
                event.verdict = VerdictKind::Rewrite;
                event.rule_id = Some(rule_id.clone());
                event.message = Some(message.clone());
            }
            ActionVerdict::Block {
                rule_id,
                kind,
                correction,
            } => {
                event.verdict = VerdictKind::Block;
                event.rule_id = Some(rule_id.clone());
                event.message = Some(correction.clone());
                event.failure = Some(*kind);
            }
            ActionVerdict::Abort {
                rule_id,
                kind,
                reason,
            } => {
                event.verdict = VerdictKind::Abort;
                event.rule_id = Some(rule_id.clone());
                event.message = Some(reason.clone());
                event.failure = Some(*kind);
            }
        }
        event
    }

    /// The event that records `verdict` from `layer`.
    pub fn from_feedback_verdict(layer: &str, verdict: &FeedbackVerdict) -> Self {
        let mut event = Self::new(layer, HookPoint::AfterObservation, VerdictKind::Continue);
        match verdict {
            FeedbackVerdict::Continue => {}
            FeedbackVerdict::Annotate { rule_id, note } => {
                event.verdict = VerdictKind::Annotate;
                event.rule_id = Some(rule_id.clone());
                event.message = Some(note.clone());
            }
            FeedbackVerdict::Nudge { rule_id, message } => {
                event.verdict = VerdictKind::Nudge;
                event.rule_id = Some(rule_id.clone());
                event.message = Some(message.clone());
            }
            FeedbackVerdict::Directive { rule_id, message } => {
                event.verdict = VerdictKind::Directive;
                event.rule_id = Some(rule_id.clone());
                event.message = Some(message.clone());
            }
            FeedbackVerdict::Stop {
                rule_id,
                kind,
                reason,
            } => {
                event.verdict = VerdictKind::Stop;
                event.rule_id = Some(rule_id.clone());
                event.message = Some(reason.clone());
                event.failure = Some(*kind);
            }
        }
        event
    }
}

/// A layer's internal failure. The runtime fails closed on it and records a fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("layer fault: {0}")]
pub struct LayerError(pub String);

/// One harness layer. Every hook has a do-nothing default.
///
/// Layers are shared by concurrent episodes, so they keep no per-episode
/// state of their own: everything an episode did is in the [`EpisodeView`].
pub trait Layer: Send + Sync {
    /// The layer's name, used in events.
    fn name(&self) -> &str;

    /// Before the episode: may rewrite the tool specs and the system text.
    /// Returns one event per change made.
    fn before_episode(&self, _setup: &mut EpisodeSetup) -> Result<Vec<LayerEvent>, LayerError> {
        Ok(Vec::new())
    }

    /// Task conditioning: may add text to the system prompt.
    fn condition_task(
        &self,
        _setup: &EpisodeSetup,
    ) -> Result<Option<TaskConditioning>, LayerError> {
        Ok(None)
    }

    /// After the model's turn and before the environment: the verdict on one action.
    fn after_turn(
        &self,
        _view: &EpisodeView<'_>,
        _turn: &ModelTurn,
        _action: &Action,
    ) -> Result<ActionVerdict, LayerError> {
        Ok(ActionVerdict::Allow)
    }

    /// Whether the model should be asked for schema-constrained tool calls.
    fn wants_constrained_decoding(&self) -> bool {
        false
    }

    /// Before a model turn: narrows what decoding may produce (see
    /// [`DecodingGuide`]). Called only when decoding is guided.
    fn guide(&self, _view: &EpisodeView<'_>, _guide: &mut DecodingGuide) -> Result<(), LayerError> {
        Ok(())
    }

    /// The context budget this layer asks for, if any (the first layer's wins).
    fn context_policy(&self) -> Option<ContextPolicy> {
        None
    }

    /// After the environment's response: zero or more verdicts (none means continue).
    fn after_observation(
        &self,
        _view: &EpisodeView<'_>,
        _action: &Action,
        _observation: &Observation,
    ) -> Result<Vec<FeedbackVerdict>, LayerError> {
        Ok(Vec::new())
    }
}
