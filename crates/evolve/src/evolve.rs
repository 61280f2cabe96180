//! The evolution loop: diagnose, mine, gate, accept; with a ledger.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lifeharness_core::{EnvironmentFactory, Model};
use lifeharness_diagnose::{Auditor, Category, Diagnosis, Recorded, diagnose};
use lifeharness_rules::{CompiledHarness, Harness, Lineage};
use serde::{Deserialize, Serialize};

use crate::candidate::Candidate;
use crate::error::EvolveError;
use crate::eval::{EvalRequest, Evaluation, Evaluator};
use crate::facts;
use crate::gate;
use crate::leak::LeakScan;
use crate::ledger::{Attribution, CandidateEntry, Ledger, RoundEntry};
use crate::miners::{self, MineInput};
use crate::online::{GroupRun, rate, rates, summary};
use crate::proposer;

/// How to evolve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvolveConfig {
    /// The evolution id.
    pub id: String,
    /// The split whose tasks are evolved on.
    pub split: String,
    /// Rounds at most.
    pub rounds: u32,
    /// Trials per task in re-runs.
    pub trials: u32,
    /// No model re-runs: accept what passes steps (a)-(c).
    pub offline: bool,
    /// Counterfactual variants per id-like argument of each reference write.
    pub counterfactuals: usize,
    /// Untargeted tasks re-run beside the targeted ones in step (d1).
    pub sentinels: usize,
    /// A re-run with more than this share of backend errors is void.
    pub void_share: f64,
    /// The source model (for the lineage).
    pub source_model: String,
    /// Only these train tasks (empty: all of the split).
    #[serde(default)]
    pub task_ids: Vec<String>,
}

/// An evolution's result.
pub struct Outcome {
    /// The evolved harness.
    pub harness: Harness,
    /// Its ledger.
    pub ledger: Ledger,
}

/// What an evolution needs besides its configuration.
pub struct Inputs<'a> {
    /// The environment.
    pub factory: &'a dyn EnvironmentFactory,
    /// The harness to start from.
    pub parent: Harness,
    /// Recorded episodes to learn from (offline input, or the online baseline).
    pub episodes: Vec<Recorded>,
    /// Re-runs the model (required unless offline).
    pub evaluator: Option<&'a dyn Evaluator>,
    /// An LLM proposer.
    pub proposer: Option<Arc<dyn Model>>,
    /// Called with the ledger after every decision.
    pub checkpoint: &'a (dyn Fn(&Ledger) -> Result<(), EvolveError> + Sync),
    /// Progress lines.
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// The train tasks of `split`, refusing held-out splits and splits that
/// share a task with them.
pub fn train_tasks(
    factory: &dyn EnvironmentFactory,
    split: &str,
) -> Result<Vec<lifeharness_core::Task>, EvolveError> {
    let held = factory.held_out_splits();
    if held.iter().any(|h| h == split) {
        return Err(EvolveError::HeldOut(format!(
            "split '{split}' of {} is held out for evaluation; evolve on {}",
            factory.info().name,
            factory
                .splits()
                .into_iter()
                .filter(|s| !held.contains(s) && s != "all")
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let tasks = factory
        .tasks(split)
        .map_err(|e| EvolveError::Input(e.to_string()))?;
    let mut held_ids = BTreeSet::new();
    for h in &held {
        if let Ok(list) = factory.tasks(h) {
            held_ids.extend(list.into_iter().map(|t| t.id));
        }
    }
    if let Some(t) = tasks.iter().find(|t| held_ids.contains(&t.id)) {
        return Err(EvolveError::HeldOut(format!(
            "split '{split}' holds task '{}' of the held-out split(s) {}",
            t.id,
            held.join(", ")
        )));
    }
    Ok(tasks)
}

/// The environment's public contract (system text, tool descriptions and
/// schemas) and the names of the tools it offers, from one fresh environment.
fn public_contract(factory: &dyn EnvironmentFactory) -> (String, BTreeSet<String>) {
    let Ok(env) = factory.create_replay() else {
        return (String::new(), BTreeSet::new());
    };
    let mut text = env.system_text();
    let mut names = BTreeSet::new();
    for tool in env.tools() {
        text.push('\n');
        text.push_str(&tool.description);
        text.push('\n');
        text.push_str(&tool.parameters.to_string());
        names.insert(tool.name);
    }
    (text, names)
}

fn category_order(c: Category) -> u8 {
    match c {
        Category::ActionRealization => 0,
        Category::EnvironmentContract => 1,
        Category::TrajectoryDegeneration => 2,
        Category::ResidualReasoning => 3,
        Category::Infrastructure => 4,
    }
}

/// Runs an evolution.
pub async fn evolve(config: EvolveConfig, inputs: Inputs<'_>) -> Result<Outcome, EvolveError> {
    let factory = inputs.factory;
    let environment = factory.info().name;
    let mut tasks = train_tasks(factory, &config.split)?;
    if !config.task_ids.is_empty() {
        let keep: BTreeSet<&String> = config.task_ids.iter().collect();
        tasks.retain(|t| keep.contains(&t.id));
        if tasks.len() != keep.len() {
            return Err(EvolveError::Input(format!(
                "some of the given tasks are not in split '{}'",
                config.split
            )));
        }
    }
    let train_ids: BTreeSet<String> = tasks.iter().map(|t| t.id.clone()).collect();
    let held: BTreeSet<String> = factory
        .held_out_splits()
        .iter()
        .filter_map(|s| factory.tasks(s).ok())
        .flatten()
        .map(|t| t.id)
        .collect();
    for e in &inputs.episodes {
        if held.contains(&e.task.id) {
            return Err(EvolveError::HeldOut(format!(
                "episode {} is of task '{}', which a held-out split holds",
                e.episode_id, e.task.id
            )));
        }
        if !train_ids.contains(&e.task.id) {
            return Err(EvolveError::Input(format!(
                "episode {} is of task '{}', which is not in split '{}'",
                e.episode_id, e.task.id, config.split
            )));
        }
    }
    if !config.offline && inputs.evaluator.is_none() {
        return Err(EvolveError::Input(
            "an online evolution needs a model to re-run (or --offline)".to_string(),
        ));
    }
    let parent = inputs.parent.clone();
    CompiledHarness::compile(parent.clone(), None, &parent.name)?;
    let references = facts::references(factory, &tasks)?;
    let (contract, tools) = public_contract(factory);
    let leaks = LeakScan::new(
        &tasks,
        &references
            .iter()
            .map(|r| {
                (
                    r.task.id.clone(),
                    r.actions
                        .iter()
                        .filter_map(|a| a.executed.clone())
                        .collect(),
                )
            })
            .collect::<Vec<_>>(),
        &factory.splits(),
        &contract,
    );
    let instructions: BTreeMap<String, String> = tasks
        .iter()
        .map(|t| (t.id.clone(), t.instruction.clone()))
        .collect();
    let all_ids: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
    let mut ledger = Ledger {
        config: config.clone(),
        environment: environment.clone(),
        parent: (parent.name.clone(), parent.content_hash()),
        rounds: Vec::new(),
        attribution: Vec::new(),
        status: "running".to_string(),
        result: None,
    };
    // The baseline: the given episodes, or a run of the parent.
    let mut baseline = if inputs.episodes.is_empty() {
        let Some(evaluator) = inputs.evaluator else {
            return Err(EvolveError::Input(
                "an offline evolution needs recorded episodes of the train tasks".to_string(),
            ));
        };
        (inputs.progress)(&format!(
            "baseline: {} task(s) x {} trial(s) under {}",
            all_ids.len(),
            config.trials,
            parent.name
        ));
        evaluator
            .evaluate(&EvalRequest {
                key: "r0-baseline".to_string(),
                harness: parent.clone(),
                task_ids: all_ids.clone(),
                trials: config.trials,
            })
            .await?
    } else {
        Evaluation {
            run_id: inputs
                .episodes
                .first()
                .map(|e| e.run_id.clone())
                .unwrap_or_default(),
            episodes: inputs.episodes.clone(),
            model_seconds: 0.0,
        }
    };
    let first_baseline = baseline.clone();
    let mut current = parent.clone();
    let mut accepted: Vec<(Candidate, u32)> = Vec::new();
    // Offline, the episodes never change: a second round would see the same
    // facts again.
    let rounds = if config.offline { 1 } else { config.rounds };
    for round in 1..=rounds {
        let started = std::time::Instant::now();
        let mut model_seconds = 0.0;
        let diagnoses: Vec<Diagnosis> = baseline
            .episodes
            .iter()
            .map(|e| {
                // An episode whose task the environment cannot read (its
                // reference, say) is diagnosed from what it recorded alone.
                diagnose(Some(factory), e).or_else(|err| match err {
                    lifeharness_diagnose::DiagnoseError::Env { .. } => diagnose(None, e),
                    other => Err(other),
                })
            })
            .collect::<Result<_, _>>()?;
        let mut mix: BTreeMap<String, usize> = BTreeMap::new();
        for d in diagnoses.iter().filter(|d| d.failed()) {
            *mix.entry(d.category.map_or("unlabelled", |c| c.as_str()).to_string())
                .or_default() += 1;
        }
        (inputs.progress)(&format!(
            "round {round}: {} episode(s), {} failed; replaying with state",
            baseline.episodes.len(),
            diagnoses.iter().filter(|d| d.failed()).count()
        ));
        let facts = facts::collect(
            factory,
            &baseline.episodes,
            &references,
            config.counterfactuals,
        )
        .await?;
        let writes = |t: &str| factory.writes_state(t);
        let input = MineInput {
            environment: &environment,
            facts: &facts,
            diagnoses: &diagnoses,
            harness: &current,
            contract_text: &contract,
            instructions: &instructions,
            writes: &writes,
            tools: &tools,
        };
        let mut candidates = miners::mine(&input);
        let mut proposer_note = None;
        if let Some(model) = &inputs.proposer {
            let (proposed, note) =
                proposer::propose(model.as_ref(), &input, &baseline.episodes, round).await;
            (inputs.progress)(&format!("round {round}: {note}"));
            candidates.extend(proposed);
            proposer_note = Some(note);
        }
        let legit: Vec<Recorded> = references
            .iter()
            .cloned()
            .chain(
                baseline
                    .episodes
                    .iter()
                    .filter(|e| e.success == Some(true))
                    .cloned(),
            )
            .collect();
        let mut entries = Vec::new();
        for candidate in candidates {
            (inputs.progress)(&format!(
                "round {round}: gate {} ({})",
                candidate.id, candidate.by
            ));
            let steps = gate::offline(&candidate, &current, factory, &legit, &leaks).await?;
            let passed = gate::passed(&steps);
            entries.push(CandidateEntry {
                predicted_flips: candidate.target_tasks().into_iter().collect(),
                decision: if !passed {
                    "rejected".to_string()
                } else if config.offline {
                    "accepted".to_string()
                } else {
                    "passed-offline".to_string()
                },
                gate: steps,
                candidate,
            });
        }
        let mut categories: Vec<Category> = entries
            .iter()
            .filter(|e| e.decision != "rejected")
            .map(|e| e.candidate.category)
            .collect();
        categories.sort_by_key(|c| category_order(*c));
        categories.dedup();
        let hypothesis = if categories.is_empty() {
            "no candidate passed the offline gate".to_string()
        } else {
            format!(
                "{} change(s) that passed (a)-(c), targeting {}",
                entries.iter().filter(|e| e.decision != "rejected").count(),
                categories
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut groups = Vec::new();
        if config.offline {
            for e in entries.iter().filter(|e| e.decision == "accepted") {
                e.candidate.apply(&mut current);
                accepted.push((e.candidate.clone(), round));
            }
        } else if let Some(evaluator) = inputs.evaluator {
            let runner = GroupRun {
                evaluator,
                config: &config,
                all_ids: &all_ids,
                progress: inputs.progress,
            };
            for category in &categories {
                let members: Vec<usize> = (0..entries.len())
                    .filter(|i| {
                        entries[*i].decision == "passed-offline"
                            && entries[*i].candidate.category == *category
                    })
                    .collect();
                let mut trial = current.clone();
                trial.name = format!("{}-r{round}-{}", parent.name, category.as_str());
                for i in &members {
                    entries[*i].candidate.apply(&mut trial);
                }
                let targeted: BTreeSet<String> = members
                    .iter()
                    .flat_map(|i| entries[*i].candidate.target_tasks())
                    .collect();
                let ids = members
                    .iter()
                    .map(|i| entries[*i].candidate.id.clone())
                    .collect();
                let (group, seconds, full) = runner
                    .gate(round, *category, &trial, ids, &targeted, &baseline)
                    .await?;
                model_seconds += seconds;
                if let Some(full) = full {
                    current = trial;
                    for i in &members {
                        accepted.push((entries[*i].candidate.clone(), round));
                    }
                    baseline = full;
                }
                for i in &members {
                    entries[*i].decision = group.decision.clone();
                }
                groups.push(group);
                (inputs.checkpoint)(&ledger)?;
            }
        }
        let changed = entries.iter().any(|e| e.decision == "accepted");
        ledger.rounds.push(RoundEntry {
            round,
            baseline: summary(&baseline),
            failure_mix: mix,
            hypothesis,
            candidates: entries,
            groups,
            harness_id: current.content_hash(),
            wall_seconds: started.elapsed().as_secs_f64(),
            model_seconds,
            harness_seconds: (started.elapsed().as_secs_f64() - model_seconds).max(0.0),
            unreplayable: facts.unreplayable.clone(),
            proposer: proposer_note,
        });
        (inputs.checkpoint)(&ledger)?;
        if !changed {
            break;
        }
    }
    // Lineage and provenance.
    let mut evolved = current;
    let last_round = accepted.iter().map(|(_, r)| *r).max().unwrap_or(0);
    evolved.origin = "evolved".to_string();
    evolved.name = if parent.name == "null" {
        format!("{environment}-evolved")
    } else if parent.name.ends_with("-evolved") {
        parent.name.clone()
    } else {
        format!("{}-evolved", parent.name)
    };
    evolved.description = format!(
        "Evolved by lifeharness from {} ({}) on {} split '{}' with trajectories of {}: {} change(s) accepted by the regression gate{}.",
        parent.name,
        &parent.content_hash()[..12],
        environment,
        config.split,
        config.source_model,
        accepted.len(),
        if config.offline {
            " (offline: steps a-c)"
        } else {
            ""
        }
    );
    evolved.lineage = Some(Lineage {
        evolution: config.id.clone(),
        parent: parent.content_hash(),
        parent_name: parent.name.clone(),
        source_model: config.source_model.clone(),
        environment: environment.clone(),
        split: config.split.clone(),
        round: last_round,
    });
    for (c, round) in &accepted {
        evolved
            .provenance
            .insert(c.id.clone(), c.provenance(*round));
    }
    // How often each accepted rule fires on the last episodes.
    if !accepted.is_empty() {
        let compiled = Arc::new(CompiledHarness::compile(evolved.clone(), None, "evolved")?);
        let mut auditor = Auditor::new(compiled);
        for e in &baseline.episodes {
            if let Err(e) = auditor.audit(factory, e).await {
                let e = EvolveError::from(e);
                if !facts::unreplayable(&e) {
                    return Err(e);
                }
            }
        }
        let report = auditor.finish();
        for (id, row) in &report.rules {
            if let Some(p) = evolved.provenance.get_mut(id) {
                let c = |x: &lifeharness_diagnose::audit::Counts| {
                    x.blocked + x.rewritten + x.nudged + x.annotated + x.stopped
                };
                p.fired = c(&row.successful) + c(&row.failed) + c(&row.unknown);
            }
        }
    }
    let evolved = tomlable(evolved)?;
    CompiledHarness::compile(evolved.clone(), None, "evolved")?;
    // Attribution.
    let before = rates(&first_baseline.episodes);
    let after = rates(&baseline.episodes);
    let mut by_task: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (c, _) in &accepted {
        for t in c.target_tasks() {
            by_task.entry(t).or_default().push(c.id.clone());
        }
    }
    for id in &all_ids {
        let b = rate(&before, id);
        let rules = by_task.get(id).cloned().unwrap_or_default();
        let (outcome, a) = if config.offline {
            let o = if b >= 1.0 {
                "passing"
            } else if rules.is_empty() {
                "failing"
            } else {
                "predicted_flip"
            };
            (o.to_string(), None)
        } else {
            let a = rate(&after, id);
            let o = match (b > 0.0, a > 0.0) {
                (false, true) => "flipped",
                (false, false) => "still_failing",
                (true, false) => "regressed",
                (true, true) => "still_passing",
            };
            (o.to_string(), Some(a))
        };
        ledger.attribution.push(Attribution {
            task_id: id.clone(),
            outcome,
            before: b,
            after: a,
            rules,
        });
    }
    ledger.status = "finished".to_string();
    ledger.result = Some(evolved.content_hash());
    (inputs.checkpoint)(&ledger)?;
    Ok(Outcome {
        harness: evolved,
        ledger,
    })
}

/// Drops JSON nulls (which TOML cannot hold) and sorts the keys of the
/// harness's JSON values, so it survives a TOML round trip unchanged.
pub fn tomlable(harness: Harness) -> Result<Harness, EvolveError> {
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                // Sorted, as TOML writes and reads tables back.
                let mut entries: Vec<(String, serde_json::Value)> = std::mem::take(m)
                    .into_iter()
                    .filter(|(_, x)| !x.is_null())
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                for (k, mut x) in entries {
                    scrub(&mut x);
                    m.insert(k, x);
                }
            }
            serde_json::Value::Array(a) => {
                a.retain(|x| !x.is_null());
                a.iter_mut().for_each(scrub);
            }
            _ => {}
        }
    }
    let mut value = serde_json::to_value(&harness)
        .map_err(|e| EvolveError::Input(format!("harness to JSON: {e}")))?;
    scrub(&mut value);
    serde_json::from_value(value).map_err(|e| EvolveError::Input(format!("harness from JSON: {e}")))
}
