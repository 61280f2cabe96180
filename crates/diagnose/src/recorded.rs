//! One recorded episode, flattened to the actions that were proposed and
//! what became of them: the common input of replay, audit and diagnosis
//! (from a stored trajectory, or from a task's reference solution).

use lifeharness_core::{
    Action, LayerEvent, ModelError, Observation, Task, Trajectory, VerdictKind,
};

/// One proposed action and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedAction {
    /// The step (model turn) it belongs to.
    pub step: usize,
    /// The action as proposed.
    pub proposed: Action,
    /// What reached the environment (`None`: blocked, or never executed).
    pub executed: Option<Action>,
    /// The environment's recorded response.
    pub observation: Option<Observation>,
    /// The correction shown to the model when it was blocked.
    pub correction: Option<String>,
    /// The block event that kept it from the environment, if any.
    pub block: Option<LayerEvent>,
}

/// One recorded step's facts that are not actions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordedStep {
    /// The format error of the model's turn, if its text was not an action.
    pub format_error: Option<String>,
    /// The backend failure of the step, if any.
    pub model_error: Option<ModelError>,
    /// Every layer event of the step.
    pub events: Vec<LayerEvent>,
}

/// A recorded episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The run it belongs to.
    pub run_id: String,
    /// The episode id.
    pub episode_id: String,
    /// The task.
    pub task: Task,
    /// The trial.
    pub trial: u32,
    /// The seed the environment was reset with.
    pub seed: u64,
    /// The actions, in order.
    pub actions: Vec<RecordedAction>,
    /// The steps' other facts, by step index.
    pub steps: Vec<RecordedStep>,
    /// Whether the episode succeeded (`None`: not known, e.g. unfinished).
    pub success: Option<bool>,
    /// The recorded reward.
    pub reward: Option<f64>,
    /// The exit status label, when finished.
    pub exit: Option<String>,
    /// The failure label the runtime recorded, when any.
    pub exit_failure: Option<lifeharness_core::FailureKind>,
    /// The exit reason, when finished.
    pub exit_reason: Option<String>,
    /// Where an imported episode came from (`None`: run here).
    pub source: Option<String>,
}

impl Recorded {
    /// Flattens a stored trajectory.
    pub fn from_trajectory(t: &Trajectory) -> Self {
        let mut actions = Vec::new();
        let mut steps = Vec::with_capacity(t.steps.len());
        for step in &t.steps {
            let mut blocks = step
                .events
                .iter()
                .filter(|e| e.verdict == VerdictKind::Block && !e.observe_only);
            for record in &step.actions {
                let block = if record.executed.is_none() && record.correction.is_some() {
                    blocks.next().cloned()
                } else {
                    None
                };
                actions.push(RecordedAction {
                    step: step.index,
                    proposed: record.proposed.clone(),
                    executed: record.executed.clone(),
                    observation: record.observation.clone(),
                    correction: record.correction.clone(),
                    block,
                });
            }
            steps.push(RecordedStep {
                format_error: step.turn.as_ref().and_then(|t| t.format_error.clone()),
                model_error: step.model_error.clone(),
                events: step.events.clone(),
            });
        }
        let end = t.end.as_ref();
        let model = &t.header.model;
        let source = (model.backend == "imported").then(|| {
            let src = &model.config["source"];
            format!(
                "{} {} ({})",
                src["format"].as_str().unwrap_or("?"),
                src["file"].as_str().unwrap_or("?"),
                src["record"].as_str().unwrap_or("?")
            )
        });
        Self {
            run_id: t.header.run_id.clone(),
            episode_id: t.header.episode_id.clone(),
            task: t.header.task.clone(),
            trial: t.header.trial,
            seed: t.header.seed,
            actions,
            steps,
            success: end.map(|e| e.reward.as_ref().is_some_and(|r| r.is_success())),
            reward: end.and_then(|e| e.reward.as_ref()).and_then(|r| r.value),
            exit: end.map(|e| e.exit.as_str().to_string()),
            exit_failure: end.and_then(|e| e.failure),
            exit_reason: end.and_then(|e| e.reason.clone()),
            source,
        }
    }

    /// A task's reference solution as a (successful) recorded episode, one
    /// action per step, nothing observed yet.
    pub fn reference(task: &Task, actions: Vec<Action>) -> Self {
        let n = actions.len();
        Self {
            run_id: "reference".to_string(),
            episode_id: task.id.clone(),
            task: task.clone(),
            trial: 0,
            seed: 0,
            actions: actions
                .into_iter()
                .enumerate()
                .map(|(step, action)| RecordedAction {
                    step,
                    proposed: action.clone(),
                    executed: Some(action),
                    observation: None,
                    correction: None,
                    block: None,
                })
                .collect(),
            steps: vec![RecordedStep::default(); n],
            success: Some(true),
            reward: Some(1.0),
            exit: Some("success".to_string()),
            exit_failure: None,
            exit_reason: None,
            source: Some("reference solution".to_string()),
        }
    }

    /// The number of steps (model turns).
    pub fn step_count(&self) -> usize {
        self.steps.len()
    }

    /// A short context for error messages.
    pub fn context(&self) -> String {
        format!(
            "run {} episode {} (task {})",
            self.run_id, self.episode_id, self.task.id
        )
    }
}
