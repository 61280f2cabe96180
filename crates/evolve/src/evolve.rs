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
use crate::gate::{self, GateStep};
use crate::leak::LeakScan;
use crate::miners::{self, MineInput};
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

/// One candidate's record in the ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateEntry {
    /// The candidate.
    pub candidate: Candidate,
    /// Tasks it should make pass.
    pub predicted_flips: Vec<String>,
    /// The offline gate steps.
    pub gate: Vec<GateStep>,
    /// `accepted`, `rejected`, `void` or `passed-offline` (awaiting step d).
    pub decision: String,
}

/// A re-run's summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Where it is recorded.
    pub run_id: String,
    /// Episodes.
    pub episodes: usize,
    /// Mean reward (unscored count as 0).
    pub mean_reward: f64,
    /// Solved episodes.
    pub solved: usize,
    /// Episodes ended by a backend error or timeout.
    pub backend_errors: usize,
}

/// One step (d) decision over a group of changes of one category.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupEntry {
    /// The category.
    pub category: Category,
    /// The candidate ids.
    pub candidates: Vec<String>,
    /// (d1) targeted tasks plus sentinels, and the baseline on the same tasks.
    pub targeted: Option<(EvalSummary, EvalSummary)>,
    /// (d2) the full split.
    pub full: Option<EvalSummary>,
    /// The gate steps.
    pub gate: Vec<GateStep>,
    /// `accepted`, `rejected` or `void`.
    pub decision: String,
}

/// One round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundEntry {
    /// The round (1-based).
    pub round: u32,
    /// The episodes it learned from.
    pub baseline: EvalSummary,
    /// Failed episodes by primary category.
    pub failure_mix: BTreeMap<String, usize>,
    /// The hypothesis: the categories it targets and why.
    pub hypothesis: String,
    /// Every candidate.
    pub candidates: Vec<CandidateEntry>,
    /// Step (d) per group (online only).
    pub groups: Vec<GroupEntry>,
    /// The harness after the round.
    pub harness_id: String,
    /// Wall-clock seconds of the round.
    pub wall_seconds: f64,
    /// Of those, seconds in model calls of its re-runs.
    pub model_seconds: f64,
    /// The harness side (replay, mining, gating, audits, the runtime's own
    /// work): wall minus model seconds.
    pub harness_seconds: f64,
}

/// What happened to one task between the first and the last evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attribution {
    /// The task.
    pub task_id: String,
    /// `flipped`, `still_failing`, `regressed`, `still_passing` (online), or
    /// `predicted_flip` / `failing` / `passing` (offline).
    pub outcome: String,
    /// Success rate before.
    pub before: f64,
    /// Success rate after (offline: none).
    pub after: Option<f64>,
    /// The accepted rules that targeted it.
    pub rules: Vec<String>,
}

/// The record of an evolution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ledger {
    /// The configuration.
    pub config: EvolveConfig,
    /// The environment.
    pub environment: String,
    /// The starting harness (name, id).
    pub parent: (String, String),
    /// Rounds so far.
    pub rounds: Vec<RoundEntry>,
    /// Per task (when finished).
    pub attribution: Vec<Attribution>,
    /// `running`, `finished`.
    pub status: String,
    /// The evolved harness's id (when finished).
    pub result: Option<String>,
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

fn summary(eval: &Evaluation) -> EvalSummary {
    let n = eval.episodes.len();
    EvalSummary {
        run_id: eval.run_id.clone(),
        episodes: n,
        mean_reward: if n == 0 {
            0.0
        } else {
            eval.episodes
                .iter()
                .map(|e| e.reward.unwrap_or(0.0))
                .sum::<f64>()
                / n as f64
        },
        solved: eval
            .episodes
            .iter()
            .filter(|e| e.success == Some(true))
            .count(),
        backend_errors: eval
            .episodes
            .iter()
            .filter(|e| {
                matches!(
                    e.exit_failure,
                    Some(
                        lifeharness_core::FailureKind::BackendError
                            | lifeharness_core::FailureKind::BackendTimeout
                    )
                )
            })
            .count(),
    }
}

fn rates(episodes: &[Recorded]) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in episodes {
        let entry = out.entry(e.task.id.clone()).or_default();
        entry.1 += 1;
        if e.success == Some(true) {
            entry.0 += 1;
        }
    }
    out
}

fn rate(r: &BTreeMap<String, (usize, usize)>, task: &str) -> f64 {
    r.get(task).map_or(
        0.0,
        |(s, n)| if *n == 0 { 0.0 } else { *s as f64 / *n as f64 },
    )
}

fn subset(eval: &Evaluation, tasks: &BTreeSet<String>) -> Evaluation {
    Evaluation {
        run_id: eval.run_id.clone(),
        episodes: eval
            .episodes
            .iter()
            .filter(|e| tasks.contains(&e.task.id))
            .cloned()
            .collect(),
        model_seconds: 0.0,
    }
}

/// Solved tasks lost (solved in every baseline trial, in no candidate trial),
/// and the noise allowance (tasks whose baseline outcome varied).
fn lost_and_noise(before: &[Recorded], after: &[Recorded]) -> (Vec<String>, usize) {
    let b = rates(before);
    let a = rates(after);
    let noise = b.values().filter(|(s, n)| *s > 0 && s < n).count();
    let lost = b
        .iter()
        .filter(|(t, (s, n))| *s == *n && *n > 0 && a.get(*t).is_some_and(|(s2, _)| *s2 == 0))
        .map(|(t, _)| t.clone())
        .collect();
    (lost, noise)
}

fn contract_text(factory: &dyn EnvironmentFactory) -> String {
    factory
        .create_replay()
        .map(|env| {
            let mut text = env.system_text();
            for tool in env.tools() {
                text.push('\n');
                text.push_str(&tool.description);
                text.push('\n');
                text.push_str(&tool.parameters.to_string());
            }
            text
        })
        .unwrap_or_default()
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
    let contract = contract_text(factory);
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
    for round in 1..=config.rounds {
        let started = std::time::Instant::now();
        let mut model_seconds = 0.0;
        let diagnoses: Vec<Diagnosis> = baseline
            .episodes
            .iter()
            .map(|e| diagnose(Some(factory), e))
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
        let tools: BTreeSet<String> = factory
            .create_replay()
            .map(|env| env.tools().into_iter().map(|t| t.name).collect())
            .unwrap_or_default();
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
        if let Some(model) = &inputs.proposer {
            candidates
                .extend(proposer::propose(model.as_ref(), &input, &baseline.episodes, round).await);
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
                let base_rates = rates(&baseline.episodes);
                let sentinels: BTreeSet<String> = all_ids
                    .iter()
                    .filter(|t| !targeted.contains(*t) && rate(&base_rates, t) > 0.0)
                    .take(config.sentinels)
                    .cloned()
                    .collect();
                let mut group = GroupEntry {
                    category: *category,
                    candidates: members
                        .iter()
                        .map(|i| entries[*i].candidate.id.clone())
                        .collect(),
                    targeted: None,
                    full: None,
                    gate: Vec::new(),
                    decision: "rejected".to_string(),
                };
                let key = format!("r{round}-{}", category.as_str());
                let d1_tasks: BTreeSet<String> = targeted.union(&sentinels).cloned().collect();
                let mut ok = true;
                if !targeted.is_empty() && targeted.len() < all_ids.len() {
                    (inputs.progress)(&format!(
                        "round {round}: {} re-run on {} targeted + {} sentinel task(s)",
                        category.as_str(),
                        targeted.len(),
                        sentinels.len()
                    ));
                    let d1 = evaluator
                        .evaluate(&EvalRequest {
                            key: format!("{key}-targeted"),
                            harness: trial.clone(),
                            task_ids: d1_tasks.iter().cloned().collect(),
                            trials: config.trials,
                        })
                        .await?;
                    model_seconds += d1.model_seconds;
                    let s1 = summary(&d1);
                    if s1.backend_errors as f64 > config.void_share * s1.episodes.max(1) as f64 {
                        group.gate.push(GateStep {
                            step: "d1-targeted".into(),
                            passed: false,
                            detail: format!(
                                "void: {} of {} episodes hit backend errors",
                                s1.backend_errors, s1.episodes
                            ),
                        });
                        group.decision = "void".into();
                        group.targeted = Some((s1, summary(&subset(&baseline, &d1_tasks))));
                        groups.push(group);
                        continue;
                    }
                    let before = subset(&baseline, &d1_tasks);
                    let sb = summary(&before);
                    let (lost, noise) = lost_and_noise(
                        &subset(&baseline, &sentinels).episodes,
                        &subset(&d1, &sentinels).episodes,
                    );
                    let t_before = summary(&subset(&baseline, &targeted)).mean_reward;
                    let t_after = summary(&subset(&d1, &targeted)).mean_reward;
                    ok = t_after > t_before && lost.len() <= noise;
                    group.gate.push(GateStep {
                        step: "d1-targeted".into(),
                        passed: ok,
                        detail: format!(
                            "targeted mean reward {t_before:.3} -> {t_after:.3}; sentinel solved tasks lost: {} (noise allowance {noise})",
                            if lost.is_empty() { "none".to_string() } else { lost.join(", ") }
                        ),
                    });
                    group.targeted = Some((s1, sb));
                }
                if ok {
                    (inputs.progress)(&format!(
                        "round {round}: {} re-run on the full split ({} tasks)",
                        category.as_str(),
                        all_ids.len()
                    ));
                    let d2 = evaluator
                        .evaluate(&EvalRequest {
                            key: format!("{key}-full"),
                            harness: trial.clone(),
                            task_ids: all_ids.clone(),
                            trials: config.trials,
                        })
                        .await?;
                    model_seconds += d2.model_seconds;
                    let s2 = summary(&d2);
                    let sb = summary(&baseline);
                    if s2.backend_errors as f64 > config.void_share * s2.episodes.max(1) as f64 {
                        group.gate.push(GateStep {
                            step: "d2-full".into(),
                            passed: false,
                            detail: format!(
                                "void: {} of {} episodes hit backend errors",
                                s2.backend_errors, s2.episodes
                            ),
                        });
                        group.decision = "void".into();
                        group.full = Some(s2);
                        groups.push(group);
                        continue;
                    }
                    let (lost, noise) = lost_and_noise(&baseline.episodes, &d2.episodes);
                    let pass = s2.mean_reward > sb.mean_reward && lost.len() <= noise;
                    group.gate.push(GateStep {
                        step: "d2-full".into(),
                        passed: pass,
                        detail: format!(
                            "mean reward {:.3} -> {:.3} ({} -> {} solved); solved tasks lost: {} (noise allowance {noise})",
                            sb.mean_reward,
                            s2.mean_reward,
                            sb.solved,
                            s2.solved,
                            if lost.is_empty() { "none".to_string() } else { lost.join(", ") }
                        ),
                    });
                    group.full = Some(s2);
                    if pass {
                        group.decision = "accepted".into();
                        current = trial;
                        for i in &members {
                            entries[*i].decision = "accepted".into();
                            accepted.push((entries[*i].candidate.clone(), round));
                        }
                        baseline = d2;
                    }
                }
                for i in &members {
                    if entries[*i].decision == "passed-offline" {
                        entries[*i].decision = group.decision.clone();
                    }
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
    if !evolved.name.ends_with("-evolved") {
        evolved.name = format!("{}-evolved", parent.name);
    }
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
            auditor.audit(factory, e).await?;
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

impl Ledger {
    /// The ledger as markdown.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let c = &self.config;
        let _ = writeln!(s, "# Evolution {}\n", c.id);
        let _ = writeln!(
            s,
            "Environment `{}`, split `{}`, source model `{}`, parent `{}` ({}), {} round(s) at most, {} trial(s), {}.\n",
            self.environment,
            c.split,
            c.source_model,
            self.parent.0,
            &self.parent.1[..12.min(self.parent.1.len())],
            c.rounds,
            c.trials,
            if c.offline {
                "offline (gate steps a-c; no model re-runs)"
            } else {
                "online (gate steps a-d)"
            }
        );
        if let Some(r) = &self.result {
            let _ = writeln!(
                s,
                "Result: harness `{}`; status {}.\n",
                &r[..12.min(r.len())],
                self.status
            );
        }
        for round in &self.rounds {
            let b = &round.baseline;
            let _ = writeln!(s, "## Round {}\n", round.round);
            let _ = writeln!(
                s,
                "Learned from {} episode(s) ({}): mean reward {:.3}, {} solved. Failed episodes by category: {}.\n",
                b.episodes,
                b.run_id,
                b.mean_reward,
                b.solved,
                round
                    .failure_mix
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(s, "Hypothesis: {}.\n", round.hypothesis);
            if round.wall_seconds > 0.0 {
                let _ = writeln!(
                    s,
                    "Time: {:.1} s wall, {:.1} s in model calls, {:.1} s harness side ({:.1}% of the round).\n",
                    round.wall_seconds,
                    round.model_seconds,
                    round.harness_seconds,
                    100.0 * round.harness_seconds / round.wall_seconds
                );
            }
            let _ = writeln!(
                s,
                "| candidate | by | category | signature | predicted flips | gate | decision |"
            );
            let _ = writeln!(s, "|---|---|---|---|---:|---|---|");
            for e in &round.candidates {
                let gate: Vec<String> = e
                    .gate
                    .iter()
                    .map(|g| format!("{} {}", g.step, if g.passed { "ok" } else { "FAIL" }))
                    .collect();
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | `{}` | {} | {} | **{}** |",
                    e.candidate.id,
                    e.candidate.by,
                    e.candidate.category.as_str(),
                    e.candidate.signature.replace('|', "\\|"),
                    e.predicted_flips.len(),
                    gate.join(", "),
                    e.decision
                );
            }
            s.push('\n');
            for e in &round.candidates {
                let _ = writeln!(s, "- `{}`: {}", e.candidate.id, e.candidate.hypothesis);
                for g in e.gate.iter().filter(|g| !g.passed) {
                    let _ = writeln!(s, "  - {} failed: {}", g.step, g.detail);
                }
            }
            if !round.groups.is_empty() {
                let _ = writeln!(s, "\n### Step (d): model re-runs\n");
                for g in &round.groups {
                    let _ = writeln!(
                        s,
                        "- {} ({}): **{}**",
                        g.category.as_str(),
                        g.candidates.join(", "),
                        g.decision
                    );
                    for step in &g.gate {
                        let _ = writeln!(s, "  - {}: {}", step.step, step.detail);
                    }
                }
            }
            s.push('\n');
        }
        if !self.attribution.is_empty() {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for a in &self.attribution {
                *counts.entry(a.outcome.as_str()).or_default() += 1;
            }
            let _ = writeln!(s, "## Per-task attribution\n");
            let _ = writeln!(
                s,
                "{}\n",
                counts
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(
                s,
                "| task | outcome | before | after | rules that targeted it |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---|");
            for a in &self.attribution {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} | {} | {} |",
                    a.task_id,
                    a.outcome,
                    a.before,
                    a.after.map_or("-".to_string(), |x| format!("{x:.2}")),
                    a.rules.join(", ")
                );
            }
        }
        s
    }
}
