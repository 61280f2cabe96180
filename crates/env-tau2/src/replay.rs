//! Replays: run a fixed list of actions on a task and score it, without a
//! model. Used by `lifeharness replay` and by the conformance suite.
//!
//! An action is `{name, arguments}`: a tool call, or the pseudo-tool
//! `respond` with `{"content": "..."}` for a message to the user (as in
//! τ-bench v1). After the last action the episode ends by an agent stop and
//! is scored. The gold replay is the task's gold tool calls followed by one
//! `respond` that states every `communicate_info` item (the original's gold
//! actions carry no messages, so this is the message an oracle agent would
//! send).

use lifeharness_core::{Action, Environment, RewardComponent, Task, ToolCall};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Tau2Error;
use crate::evaluator::Termination;
use crate::factory::Tau2Factory;
use crate::task::Tau2Task;
use crate::user::UserMode;

/// The pseudo-tool name for an agent message in a replay.
pub const RESPOND: &str = "respond";

/// One replayed action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayAction {
    /// Tool name, or `respond`.
    pub name: String,
    /// Arguments (for `respond`: `{"content": text}`).
    #[serde(default)]
    pub arguments: Value,
}

/// One line of an actions file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRequest {
    /// The task id.
    pub task_id: String,
    /// The actions, in order.
    pub actions: Vec<ReplayAction>,
}

/// What a replay produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// The environment (`tau2-retail`, `tau2-airline`).
    pub environment: String,
    /// The task id.
    pub task_id: String,
    /// Always `replay` (no user model ran; not comparable with published results).
    pub user_mode: String,
    /// Final database hash.
    pub db_hash: String,
    /// Hash after the gold actions.
    pub gold_db_hash: String,
    /// Whether they match.
    pub db_match: bool,
    /// The reward (`null` when a component could not be evaluated, e.g. no judge).
    pub reward: Option<f64>,
    /// The reward components.
    pub reward_breakdown: Vec<RewardComponent>,
    /// The tool result (or reply) text of each action, in order.
    pub observations: Vec<String>,
    /// Whether each action's result was an error.
    pub errors: Vec<bool>,
    /// Why the episode ended.
    pub termination: String,
}

/// The gold replay actions of a task.
pub fn gold_actions(task: &Tau2Task) -> Vec<ReplayAction> {
    let Some(criteria) = &task.evaluation_criteria else {
        return Vec::new();
    };
    let mut out: Vec<ReplayAction> = criteria
        .actions
        .iter()
        .flatten()
        .map(|a| ReplayAction {
            name: a.name.clone(),
            arguments: a.arguments.clone(),
        })
        .collect();
    let infos = criteria.communicate_info.as_deref().unwrap_or(&[]);
    if !infos.is_empty() {
        out.push(ReplayAction {
            name: RESPOND.to_string(),
            arguments: json!({"content": infos.join("; ")}),
        });
    }
    out
}

/// The actions as lifeharness actions (ids `call_<n>`).
pub fn to_actions(actions: &[ReplayAction]) -> Vec<Action> {
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if a.name == RESPOND {
                let content = a
                    .arguments
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                Action::Message { content }
            } else {
                Action::ToolCall(ToolCall::from_value(
                    format!("call_{i}"),
                    a.name.clone(),
                    a.arguments.clone(),
                ))
            }
        })
        .collect()
}

impl Tau2Factory {
    /// Replays the task's gold actions (see the module docs).
    pub async fn replay_gold(&self, task: &Task) -> Result<ReplayReport, Tau2Error> {
        let parsed = self.parse(task)?;
        self.replay_actions(task, &gold_actions(&parsed)).await
    }

    /// Replays `actions` on `task` in ticket mode and scores the result as
    /// if the agent stopped after the last action.
    pub async fn replay_actions(
        &self,
        task: &Task,
        actions: &[ReplayAction],
    ) -> Result<ReplayReport, Tau2Error> {
        let parsed = self.parse(task)?;
        let mut env = self.with_mode(UserMode::Ticket).env();
        env.reset(task, 0).await?;
        let mut observations = Vec::new();
        let mut errors = Vec::new();
        for action in to_actions(actions) {
            if env.termination().is_some() {
                break;
            }
            let outcome = env.step(&action).await?;
            observations.push(outcome.observation.content.to_string());
            errors.push(outcome.observation.is_error);
        }
        if env.termination().is_none() {
            env.step(&Action::Finish { reason: None }).await?;
        }
        let reward = env.score().await?;
        let db_hash = env.db_hash().unwrap_or_default();
        let gold = crate::evaluator::gold_db(&parsed, &self.data().db).map_err(|message| {
            Tau2Error::BadTask {
                task_id: task.id.clone(),
                message,
            }
        })?;
        let gold = self.data().db_hash(&gold);
        Ok(ReplayReport {
            environment: self.domain().env_name().to_string(),
            task_id: task.id.clone(),
            user_mode: "replay".to_string(),
            db_match: gold == db_hash,
            db_hash,
            gold_db_hash: gold,
            reward: reward.value,
            reward_breakdown: reward.breakdown,
            observations,
            errors,
            termination: env
                .termination()
                .map_or("none", Termination::as_str)
                .to_string(),
        })
    }

    /// Replays every line of a JSONL actions file (`{task_id, actions:[{name, arguments}]}`).
    pub async fn replay_jsonl(&self, jsonl: &str) -> Result<Vec<ReplayReport>, Tau2Error> {
        let mut out = Vec::new();
        for (n, line) in jsonl.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message: String| Tau2Error::BadActionsLine {
                line: n + 1,
                message,
            };
            let request: ReplayRequest =
                serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            let task = self
                .task(&request.task_id)
                .map_err(|e| bad(e.to_string()))?;
            out.push(self.replay_actions(&task, &request.actions).await?);
        }
        Ok(out)
    }

    /// Gold replays of every task of `split`.
    pub async fn replay_gold_split(&self, split: &str) -> Result<Vec<ReplayReport>, Tau2Error> {
        let mut out = Vec::new();
        for task in self.split_tasks(split)? {
            out.push(self.replay_gold(&task).await?);
        }
        Ok(out)
    }

    fn parse(&self, task: &Task) -> Result<Tau2Task, Tau2Error> {
        serde_json::from_value(task.data.clone()).map_err(|e| Tau2Error::BadTask {
            task_id: task.id.clone(),
            message: e.to_string(),
        })
    }
}
