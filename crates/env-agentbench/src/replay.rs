//! Gold replay: runs every task of a split with its gold solution through
//! the environment API and reports the reward, so that the data, the
//! interaction protocol and the scorer are checked end to end.
//!
//! - DB query tasks: `execute_sql` with the reference query (when the task
//!   has one), then `commit_final_answer` with the label.
//! - DB modification tasks: `execute_sql` with each gold statement, then
//!   `commit_final_answer` (the table hash is what is scored).
//! - OS tasks: the example solution runs in the agent's shell (when there is
//!   one); the answer is the expected answer of match tasks, or the example's
//!   trimmed output for check tasks.
//!
//! Excluded tasks are reported with their reason and not run.

use std::time::Instant;

use lifeharness_core::{Action, Environment, Task, ToolCall};
use serde::Serialize;
use serde_json::{Value, json};

use crate::db::{Excluded, compare::is_modification};
use crate::error::AgentBenchError;
use crate::factory::{AgentBenchFactory, Inner};
use crate::os::data::{Evaluation, Language};
use crate::os::{OsEnv, ScriptKind};

/// The outcome of replaying one task's gold solution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// The task id.
    pub task_id: String,
    /// The split.
    pub split: String,
    /// The reward (`None` when the task was excluded or could not run).
    pub reward: Option<f64>,
    /// Why the task is not reproduced, if it is excluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    /// The error, if the episode could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The scorer's details.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
    /// Wall time of the episode in milliseconds.
    pub elapsed_ms: f64,
}

fn call(id: usize, name: &str, args: Value) -> Action {
    Action::ToolCall(ToolCall::from_value(format!("gold-{id}"), name, args))
}

async fn run_actions(
    env: &mut dyn Environment,
    task: &Task,
    actions: &[Action],
) -> Result<(Option<f64>, Value), AgentBenchError> {
    env.reset(task, 0)
        .await
        .map_err(|e| AgentBenchError::State(e.to_string()))?;
    for action in actions {
        env.step(action)
            .await
            .map_err(|e| AgentBenchError::State(e.to_string()))?;
    }
    let reward = env
        .score()
        .await
        .map_err(|e| AgentBenchError::State(e.to_string()))?;
    let detail = reward
        .breakdown
        .first()
        .map(|c| c.detail.clone())
        .unwrap_or(Value::Null);
    Ok((reward.value, detail))
}

fn report(task: &Task, split: &str) -> ReplayReport {
    ReplayReport {
        task_id: task.id.clone(),
        split: split.to_string(),
        reward: None,
        excluded: None,
        error: None,
        detail: Value::Null,
        elapsed_ms: 0.0,
    }
}

fn finish(
    mut r: ReplayReport,
    outcome: Result<(Option<f64>, Value), AgentBenchError>,
    started: Instant,
) -> ReplayReport {
    match outcome {
        Ok((reward, detail)) => {
            r.reward = reward;
            r.detail = detail;
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    r.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    r
}

/// The gold actions of a DB task.
pub fn db_gold_actions(
    factory: &AgentBenchFactory,
    task_id: &str,
) -> Result<Vec<Action>, AgentBenchError> {
    let Inner::Db(data) = &factory.inner else {
        return Err(AgentBenchError::UnknownTask(task_id.into()));
    };
    let entry = &data.get(task_id)?.entry;
    let mut actions = Vec::new();
    if is_modification(entry.kind()) {
        for (i, sql) in entry.label.iter().enumerate() {
            actions.push(call(i, crate::db::env::EXECUTE_SQL, json!({"query": sql})));
        }
        actions.push(call(
            actions.len(),
            crate::db::env::COMMIT_FINAL_ANSWER,
            json!({"answers": []}),
        ));
    } else {
        if let Some(sql) = &entry.sql {
            actions.push(call(
                0,
                crate::db::env::EXECUTE_SQL,
                json!({"query": sql.query}),
            ));
        }
        actions.push(call(
            actions.len(),
            crate::db::env::COMMIT_FINAL_ANSWER,
            json!({"answers": entry.label}),
        ));
    }
    Ok(actions)
}

/// Runs one OS task's gold solution in `env` (already made by the factory).
pub async fn os_gold(
    env: &mut OsEnv,
    task: &Task,
) -> Result<(Option<f64>, Value), AgentBenchError> {
    env.reset(task, 0)
        .await
        .map_err(|e| AgentBenchError::State(e.to_string()))?;
    let record = env
        .task()
        .cloned()
        .ok_or_else(|| AgentBenchError::UnknownTask(task.id.clone()))?;
    let mut example_output = None;
    if let Some(example) = &record.example {
        if example.language != Language::Bash {
            return Err(AgentBenchError::Data("non-bash example solution".into()));
        }
        // As AgentBench's check pipeline runs it: a fresh bash in `/`, stdout only.
        let out = env.run_raw(ScriptKind::Bash, &example.code).await?;
        example_output = Some(String::from_utf8_lossy(&out.output).trim().to_string());
    }
    let answer = match &record.evaluation {
        Evaluation::Match {
            answer: Some(a), ..
        } => Some(a.clone()),
        _ => example_output,
    };
    let action = call(
        0,
        crate::os::env::ANSWER_ACTION,
        json!({"answer": answer.unwrap_or_default()}),
    );
    env.step(&action)
        .await
        .map_err(|e| AgentBenchError::State(e.to_string()))?;
    let reward = env
        .score()
        .await
        .map_err(|e| AgentBenchError::State(e.to_string()))?;
    env.close().await;
    let detail = reward
        .breakdown
        .first()
        .map(|c| c.detail.clone())
        .unwrap_or(Value::Null);
    Ok((reward.value, detail))
}

/// Replays the gold solution of every task of `split` (`dev`, `standard`, `all`).
pub async fn replay_gold(
    factory: &AgentBenchFactory,
    split: &str,
) -> Result<Vec<ReplayReport>, AgentBenchError> {
    let tasks = lifeharness_core::EnvironmentFactory::tasks(factory, split)
        .map_err(|e| AgentBenchError::UnknownSplit(split.into(), e.to_string()))?;
    let excluded: Vec<Excluded> = match factory.inner {
        Inner::Db(_) => crate::db::excluded(),
        Inner::Os(_) => crate::os::excluded(),
    };
    let mut reports = Vec::with_capacity(tasks.len());
    for task in &tasks {
        let started = Instant::now();
        let task_split = task
            .data
            .get("split")
            .and_then(Value::as_str)
            .unwrap_or(split)
            .to_string();
        let mut r = report(task, &task_split);
        if let Some(ex) = excluded.iter().find(|e| e.task_id == task.id) {
            r.excluded = Some(ex.reason.clone());
            reports.push(r);
            continue;
        }
        let outcome = match &factory.inner {
            Inner::Db(_) => match (factory.create_db(), db_gold_actions(factory, &task.id)) {
                (Some(mut env), Ok(actions)) => run_actions(&mut env, task, &actions).await,
                (_, Err(e)) => Err(e),
                (None, _) => Err(AgentBenchError::State("no DB environment".into())),
            },
            Inner::Os(_) => match factory.create_os()? {
                Some(mut env) => os_gold(&mut env, task).await,
                None => Err(AgentBenchError::State("no OS environment".into())),
            },
        };
        reports.push(finish(r, outcome, started));
    }
    Ok(reports)
}
