//! `lifeharness audit`: run a harness's realization (and regulation) over
//! reference solutions or recorded trajectories and report what it would
//! have blocked or nudged, per rule. A sound harness blocks no gold action.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lifeharness_core::{
    Action, ActionVerdict, EpisodeSetup, EpisodeView, FeedbackVerdict, HistoryEntry, Layer,
    LayerEvent, ModelTurn, Observation, Task, ToolCall, ToolSpec,
};
use lifeharness_env_agentbench::{AgentBenchFactory, db_gold_actions};
use lifeharness_env_tau2::task::Tau2Task;
use lifeharness_env_tau2::{gold_actions, to_actions};
use lifeharness_layers::{ContractLayer, RealizationLayer, RegulationLayer};
use lifeharness_rules::{CompiledHarness, Harness};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::AuditArgs;
use crate::registry::{self, EnvOptions};

/// Counts per rule, with one example each.
#[derive(Debug, Default, Serialize)]
struct Tally {
    actions: usize,
    blocked: usize,
    nudged: usize,
    annotated: usize,
    blocked_by_rule: BTreeMap<String, usize>,
    nudged_by_rule: BTreeMap<String, usize>,
    examples: Vec<Value>,
}

impl Tally {
    fn judge(
        &mut self,
        layer: &RealizationLayer,
        view: &EpisodeView<'_>,
        action: &Action,
        task: &str,
    ) -> Result<()> {
        self.actions += 1;
        let verdict = layer
            .after_turn(view, &ModelTurn::default(), action)
            .map_err(|e| anyhow::anyhow!("task {task}: {e}"))?;
        if let ActionVerdict::Block {
            rule_id,
            correction,
            ..
        } = verdict
        {
            self.blocked += 1;
            *self.blocked_by_rule.entry(rule_id.clone()).or_default() += 1;
            if self.examples.len() < 20 {
                self.examples.push(json!({"task_id": task, "rule_id": rule_id, "action": action, "correction": correction}));
            }
        }
        Ok(())
    }

    fn feedback(&mut self, verdicts: Vec<FeedbackVerdict>) {
        for v in verdicts {
            match v {
                FeedbackVerdict::Annotate { .. } => self.annotated += 1,
                FeedbackVerdict::Nudge { rule_id, .. }
                | FeedbackVerdict::Directive { rule_id, .. }
                | FeedbackVerdict::Stop { rule_id, .. } => {
                    self.nudged += 1;
                    *self.nudged_by_rule.entry(rule_id).or_default() += 1;
                }
                FeedbackVerdict::Continue => {}
            }
        }
    }
}

fn gold_of(env: &str, task: &Task, db: Option<&AgentBenchFactory>) -> Result<Vec<Action>> {
    if let Some(db) = db {
        return Ok(db_gold_actions(db, &task.id)?);
    }
    if env.starts_with("tau2-") {
        let parsed: Tau2Task = serde_json::from_value(task.data.clone())
            .with_context(|| format!("task {} is not a tau2 task", task.id))?;
        return Ok(to_actions(&gold_actions(&parsed)));
    }
    let Some(gold) = task.data.get("gold").and_then(Value::as_array) else {
        bail!(
            "environment '{env}' has no gold actions for audit (tau2-retail, tau2-airline, agentbench-db and toy do)"
        );
    };
    Ok(gold
        .iter()
        .enumerate()
        .map(|(i, g)| {
            Action::ToolCall(ToolCall::from_value(
                format!("call_{i}"),
                g["name"].as_str().unwrap_or_default(),
                g["arguments"].clone(),
            ))
        })
        .collect())
}

fn contract_tools(
    harness: &Arc<CompiledHarness>,
    task: &Task,
    tools: Vec<ToolSpec>,
) -> Result<Vec<ToolSpec>> {
    let mut setup = EpisodeSetup {
        task: task.clone(),
        system_text: String::new(),
        tools,
    };
    if harness.harness.layers.contract {
        ContractLayer::new(Arc::clone(harness))
            .before_episode(&mut setup)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(setup.tools)
}

async fn audit_gold(args: &AuditArgs, harness: Arc<CompiledHarness>) -> Result<Value> {
    let env_name = args.env.as_deref().context("--gold needs --env")?;
    let factory = registry::environment(env_name, &EnvOptions::default()).await?;
    let tasks = factory.tasks(&args.split)?;
    let db = match env_name {
        "agentbench-db" => Some(AgentBenchFactory::db()?),
        _ => None,
    };
    let realization = RealizationLayer::new(Arc::clone(&harness));
    let regulation = RegulationLayer::new(Arc::clone(&harness));
    let mut tally = Tally::default();
    for task in &tasks {
        let mut env = factory.create()?;
        env.reset(task, 0).await?;
        let tools = contract_tools(&harness, task, env.tools())?;
        let mut history: Vec<HistoryEntry> = Vec::new();
        let events: Vec<LayerEvent> = Vec::new();
        for (step, action) in gold_of(env_name, task, db.as_ref())?
            .into_iter()
            .enumerate()
        {
            {
                let view = EpisodeView {
                    task,
                    tools: &tools,
                    history: &history,
                    events: &events,
                    step,
                    max_steps: usize::MAX,
                    state: env.state(),
                    state_version: env.state_version(),
                };
                tally.judge(&realization, &view, &action, &task.id)?;
            }
            // Execute it anyway so later actions see the real history and state.
            let outcome = env.step(&action).await?;
            let view = EpisodeView {
                task,
                tools: &tools,
                history: &history,
                events: &events,
                step,
                max_steps: usize::MAX,
                state: env.state(),
                state_version: env.state_version(),
            };
            if harness.harness.layers.regulation {
                let verdicts = regulation
                    .after_observation(&view, &action, &outcome.observation)
                    .map_err(|e| anyhow::anyhow!("task {}: {e}", task.id))?;
                tally.feedback(verdicts);
            }
            history.push(HistoryEntry {
                step,
                action,
                observation: Some(outcome.observation),
                state_version: env.state_version(),
            });
            if outcome.done {
                break;
            }
        }
    }
    Ok(
        json!({"mode": "gold", "environment": env_name, "split": args.split, "tasks": tasks.len(), "summary": tally}),
    )
}

/// One recorded episode: the task, the tools offered, and (action, observation) pairs.
struct Recorded {
    task: Task,
    tools: Vec<ToolSpec>,
    pairs: Vec<(Action, Option<Observation>)>,
}

fn from_ours(value: &Value) -> Option<Recorded> {
    let t: lifeharness_core::Trajectory = serde_json::from_value(value.clone()).ok()?;
    let mut pairs = Vec::new();
    for step in &t.steps {
        for record in &step.actions {
            pairs.push((record.proposed.clone(), record.observation.clone()));
        }
    }
    Some(Recorded {
        task: t.header.task,
        tools: Vec::new(),
        pairs,
    })
}

/// tau2 / tau-bench result files: `{"simulations": [{"task_id", "messages": [...]}]}`.
fn from_tau2(value: &Value) -> Vec<Recorded> {
    let sims = value
        .get("simulations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    sims.iter()
        .map(|sim| {
            let task_id = sim["task_id"].as_str().map(str::to_string).unwrap_or_else(|| sim["task_id"].to_string());
            let mut pairs: Vec<(Action, Option<Observation>)> = Vec::new();
            for m in sim["messages"].as_array().into_iter().flatten() {
                match m["role"].as_str() {
                    Some("assistant") => {
                        let calls = m["tool_calls"].as_array().cloned().unwrap_or_default();
                        if calls.is_empty() {
                            let content = m["content"].as_str().unwrap_or_default().to_string();
                            pairs.push((Action::Message { content }, None));
                        }
                        for c in calls {
                            let args = match &c["arguments"] {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            let call = ToolCall::from_raw(c["id"].as_str().unwrap_or_default(), c["name"].as_str().unwrap_or_default(), args);
                            pairs.push((Action::ToolCall(call), None));
                        }
                    }
                    Some("tool") => {
                        let content = m["content"].as_str().unwrap_or_default();
                        let id = m["id"].as_str().or(m["tool_call_id"].as_str()).unwrap_or_default();
                        if let Some((Action::ToolCall(call), slot)) = pairs.iter_mut().rev().find(|(a, o)| o.is_none() && matches!(a, Action::ToolCall(c) if c.id == id || id.is_empty())) {
                            *slot = Some(Observation::tool(call, content, content.starts_with("Error")));
                        }
                    }
                    _ => {}
                }
            }
            Recorded {
                task: Task { id: task_id, environment: String::new(), instruction: String::new(), data: Value::Null },
                tools: Vec::new(),
                pairs,
            }
        })
        .collect()
}

async fn audit_trajectories(
    args: &AuditArgs,
    harness: Arc<CompiledHarness>,
    path: &std::path::Path,
) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut episodes = Vec::new();
    if let Ok(whole) = serde_json::from_str::<Value>(&text) {
        if whole.get("simulations").is_some() {
            episodes = from_tau2(&whole);
        } else if let Some(r) = from_ours(&whole) {
            episodes.push(r);
        }
    } else {
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let value: Value = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
            episodes.push(from_ours(&value).with_context(|| {
                format!("{}:{}: not a lifeharness trajectory", path.display(), i + 1)
            })?);
        }
    }
    if episodes.is_empty() {
        bail!(
            "{}: no trajectories found (expected lifeharness JSONL or a tau2 results file)",
            path.display()
        );
    }
    // Tools: from the environment when given, so schema checks apply.
    let tools = match &args.env {
        Some(env) => {
            let factory = registry::environment(env, &EnvOptions::default()).await?;
            factory.create()?.tools()
        }
        None => Vec::new(),
    };
    let realization = RealizationLayer::new(Arc::clone(&harness));
    let regulation = RegulationLayer::new(Arc::clone(&harness));
    let mut tally = Tally::default();
    for mut ep in episodes {
        if ep.tools.is_empty() {
            ep.tools = contract_tools(&harness, &ep.task, tools.clone())?;
        }
        let mut history: Vec<HistoryEntry> = Vec::new();
        let mut events: Vec<LayerEvent> = Vec::new();
        for (step, (action, observation)) in ep.pairs.into_iter().enumerate() {
            let view = EpisodeView {
                task: &ep.task,
                tools: &ep.tools,
                history: &history,
                events: &events,
                step,
                max_steps: usize::MAX,
                state: None,
                state_version: None,
            };
            if !ep.tools.is_empty() || !matches!(action, Action::ToolCall(_)) {
                tally.judge(&realization, &view, &action, &ep.task.id)?;
            } else {
                tally.actions += 1;
            }
            if let Some(obs) = &observation {
                let verdicts = regulation
                    .after_observation(&view, &action, obs)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                for v in &verdicts {
                    events.push(LayerEvent::from_feedback_verdict("regulation", v));
                }
                tally.feedback(verdicts);
            }
            history.push(HistoryEntry {
                step,
                action,
                observation,
                state_version: None,
            });
        }
    }
    Ok(json!({"mode": "trajectories", "file": path.display().to_string(), "summary": tally}))
}

/// Runs `lifeharness audit`.
pub async fn audit(args: AuditArgs) -> Result<()> {
    let compiled = Arc::new(Harness::load_compiled(&args.harness)?);
    let report = match (&args.trajectories, args.gold) {
        (Some(path), _) => audit_trajectories(&args, compiled, path).await?,
        (None, true) => audit_gold(&args, compiled).await?,
        (None, false) => bail!("say what to audit: --gold (with --env) or --trajectories FILE"),
    };
    if args.json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
