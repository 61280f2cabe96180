//! Recorded actions through a fresh environment, from the task's initial
//! state, so that whatever reads the state (harness rules, diagnosis) sees
//! the state the agent saw.
//!
//! The environment comes from
//! [`EnvironmentFactory::create_replay`](lifeharness_core::EnvironmentFactory::create_replay):
//! no model runs (a user simulator is replaced by fixed replies), so only
//! tool results are compared with the recording. Where a replayed tool
//! result differs from the recorded one the step is flagged and the replay
//! goes on with the replayed state; once the replayed environment says the
//! episode is over, later actions are not executed.

use lifeharness_core::{
    Action, Environment, EnvironmentFactory, EpisodeView, HistoryEntry, LayerEvent, Observation,
    ObservationSource, Task, ToolSpec,
};
use serde::Serialize;

use crate::error::DiagnoseError;

/// How a replayed result differs from the recorded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceClass {
    /// One is an error and the other is not: rules after this step see
    /// another episode than the agent did.
    Outcome,
    /// Both succeeded (or both failed) with other content: fields or values
    /// differ (e.g. another version of the benchmark's data or schema).
    Content,
}

/// A step whose replayed tool result differs from the recorded one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepDivergence {
    /// The step.
    pub step: usize,
    /// How it differs.
    pub class: DivergenceClass,
    /// The tool.
    pub tool: String,
    /// The recorded result (shortened).
    pub recorded: String,
    /// The replayed result (shortened).
    pub replayed: String,
}

/// Whether two tool results say the same: equal JSON (key order aside),
/// or equal text up to case and surrounding white space.
pub fn same_result(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return true;
    }
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => lifeharness_core::same_json(&x, &y),
        _ => a.to_lowercase() == b.to_lowercase(),
    }
}

/// Shortens `text` to at most `max` characters, marking the cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

/// One episode being replayed.
pub struct Replayer {
    env: Box<dyn Environment>,
    task: Task,
    tools: Vec<ToolSpec>,
    history: Vec<HistoryEntry>,
    events: Vec<LayerEvent>,
    divergences: Vec<StepDivergence>,
    ended_at: Option<usize>,
    context: String,
}

impl Replayer {
    /// Resets a replay environment to `task`'s initial state.
    pub async fn start(
        factory: &dyn EnvironmentFactory,
        task: &Task,
        seed: u64,
        context: &str,
    ) -> Result<Self, DiagnoseError> {
        let mut env = factory
            .create_replay()
            .map_err(|e| DiagnoseError::env(context, e))?;
        env.reset(task, seed)
            .await
            .map_err(|e| DiagnoseError::env(context, e))?;
        let tools = env.tools();
        Ok(Self {
            env,
            task: task.clone(),
            tools,
            history: Vec::new(),
            events: Vec::new(),
            divergences: Vec::new(),
            ended_at: None,
            context: context.to_string(),
        })
    }

    /// The tools the environment offers (to be rewritten by a contract).
    pub fn tools(&self) -> &[ToolSpec] {
        &self.tools
    }

    /// Replaces the tools views show (e.g. after a contract layer).
    pub fn set_tools(&mut self, tools: Vec<ToolSpec>) {
        self.tools = tools;
    }

    /// The task.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Records a layer event so later views see it.
    pub fn push_event(&mut self, event: LayerEvent) {
        self.events.push(event);
    }

    /// The view of the episode now, at `step`, with the replayed state.
    pub fn view(&self, step: usize) -> EpisodeView<'_> {
        EpisodeView {
            task: &self.task,
            tools: &self.tools,
            history: &self.history,
            events: &self.events,
            step,
            max_steps: usize::MAX,
            state: self.env.state(),
            state_version: self.env.state_version(),
            admissible: None,
        }
    }

    /// Whether the replayed environment ended the episode (and at which step).
    pub fn ended_at(&self) -> Option<usize> {
        self.ended_at
    }

    /// Records an action that was not executed (blocked in the recording).
    pub fn skip(&mut self, step: usize, action: &Action) {
        self.history.push(HistoryEntry {
            step,
            action: action.clone(),
            observation: None,
            state_version: self.env.state_version(),
        });
    }

    /// Executes `action` and compares its result with `recorded`. Returns
    /// the replayed observation, or `None` when the replayed episode had
    /// already ended.
    pub async fn execute(
        &mut self,
        step: usize,
        action: &Action,
        recorded: Option<&Observation>,
    ) -> Result<Option<Observation>, DiagnoseError> {
        if self.ended_at.is_some() {
            self.skip(step, action);
            return Ok(None);
        }
        let outcome = self
            .env
            .step(action)
            .await
            .map_err(|e| DiagnoseError::env(format!("{} step {step}", self.context), e))?;
        if let (Some(recorded), ObservationSource::Tool { name, .. }) =
            (recorded, &outcome.observation.source)
            && matches!(recorded.source, ObservationSource::Tool { .. })
            && !same_result(&recorded.content, &outcome.observation.content)
        {
            let class = if recorded.is_error == outcome.observation.is_error {
                DivergenceClass::Content
            } else {
                DivergenceClass::Outcome
            };
            self.divergences.push(StepDivergence {
                step,
                class,
                tool: name.clone(),
                recorded: shorten(&recorded.content, 200),
                replayed: shorten(&outcome.observation.content, 200),
            });
        }
        if outcome.done {
            self.ended_at = Some(step);
        }
        self.history.push(HistoryEntry {
            step,
            action: action.clone(),
            observation: Some(outcome.observation.clone()),
            state_version: self.env.state_version(),
        });
        Ok(Some(outcome.observation))
    }

    /// The steps whose replayed result differed from the recording.
    pub fn divergences(&self) -> &[StepDivergence] {
        &self.divergences
    }

    /// Takes the divergences out.
    pub fn into_divergences(self) -> Vec<StepDivergence> {
        self.divergences
    }
}
