//! `lifeharness evolve`: harness evolution over the store. Re-runs are
//! ordinary recorded runs; the evolution keeps which run each of its re-runs
//! is, so `--resume` reuses finished ones and finishes interrupted ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use lifeharness_core::{EnvironmentFactory, Model};
use lifeharness_diagnose::import::{self, Format, ImportOptions};
use lifeharness_diagnose::{DiagnoseError, Recorded};
use lifeharness_evolve::{
    EvalRequest, Evaluation, Evaluator, EvolveConfig, EvolveError, Inputs, Ledger, evolve,
    model_seconds, tomlable, train_tasks,
};
use lifeharness_rules::Harness;
use lifeharness_store::Store;

use crate::cli::EvolveArgs;
use crate::diagnose::load_runs;
use crate::registry::{self, EnvOptions, Factories};
use crate::run::{RunConfig, create_run, now, play, timestamped_id};

/// Re-runs the model through `run`'s machinery, one stored run per request.
struct StoreEvaluator {
    store: Store,
    evolution: String,
    env: String,
    split: String,
    model: String,
    seed: u64,
    concurrency: u16,
    max_steps: Option<usize>,
    env_options: EnvOptions,
}

fn failed(e: impl std::fmt::Display) -> EvolveError {
    EvolveError::Evaluation(format!("{e:#}"))
}

#[async_trait]
impl Evaluator for StoreEvaluator {
    fn model_spec(&self) -> String {
        self.model.clone()
    }

    async fn evaluate(&self, request: &EvalRequest) -> Result<Evaluation, EvolveError> {
        let record = self.store.evolution(&self.evolution).map_err(failed)?;
        let run_id = match record.runs.get(&request.key) {
            Some(run_id) => {
                let run = self.store.run(run_id).map_err(failed)?;
                if run.status != "finished" {
                    eprintln!("evolve: resuming re-run {} ({run_id})", request.key);
                    let config: RunConfig = serde_json::from_value(run.config).map_err(failed)?;
                    play(&self.store, run_id, &config).await.map_err(failed)?;
                } else {
                    eprintln!("evolve: re-run {} is finished run {run_id}", request.key);
                }
                run_id.clone()
            }
            None => {
                let harness = tomlable(request.harness.clone())?;
                let toml = harness
                    .to_toml()
                    .map_err(|e| EvolveError::Evaluation(e.to_string()))?;
                let config = RunConfig::for_evolution(
                    &self.env,
                    &self.split,
                    request.task_ids.clone(),
                    &self.model,
                    toml,
                    format!("evolution {} {}", self.evolution, request.key),
                    self.seed,
                    request.trials,
                    self.concurrency,
                    self.max_steps,
                    self.env_options.clone(),
                );
                let run_id = create_run(&self.store, &config).map_err(failed)?;
                self.store
                    .set_evolution_run(&self.evolution, &request.key, &run_id)
                    .map_err(failed)?;
                eprintln!("evolve: re-run {} -> {run_id}", request.key);
                let summary = play(&self.store, &run_id, &config).await.map_err(failed)?;
                if summary.interrupted > 0 {
                    return Err(EvolveError::Evaluation(format!(
                        "re-run {} ({run_id}) was interrupted; continue with lifeharness evolve --resume {} --store {}",
                        request.key,
                        self.evolution,
                        self.store.path().display()
                    )));
                }
                run_id
            }
        };
        let trajectories: Vec<_> = load_runs(&self.store, std::slice::from_ref(&run_id))
            .map_err(failed)?
            .into_iter()
            .filter(|t| t.end.is_some())
            .collect();
        Ok(Evaluation {
            run_id,
            episodes: trajectories.iter().map(Recorded::from_trajectory).collect(),
            model_seconds: model_seconds(&trajectories),
        })
    }
}

fn ledger_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out.with_extension("");
    (
        PathBuf::from(format!("{}.ledger.md", stem.display())),
        PathBuf::from(format!("{}.ledger.json", stem.display())),
    )
}

/// Runs `lifeharness evolve`.
pub async fn run(args: EvolveArgs) -> Result<()> {
    let store = Store::open(&args.store)?;
    let (id, args) = match &args.resume {
        Some(id) => {
            let record = store.evolution(id)?;
            if record.status == "finished" {
                eprintln!("evolution {id} already finished; its re-runs are reused");
            }
            let stored: EvolveArgs = serde_json::from_value(record.config)
                .with_context(|| format!("evolution {id} has no resumable configuration"))?;
            (id.clone(), stored)
        }
        None => {
            let id = timestamped_id("evo");
            if !args.offline && args.model.is_none() {
                bail!(
                    "an online evolution re-runs a model: give --model (or --offline with --trajectories / --run)"
                );
            }
            if args.offline && args.trajectories.is_empty() && args.runs.is_empty() {
                bail!(
                    "an offline evolution learns from recorded episodes: give --trajectories FILE or --run RUN_ID"
                );
            }
            (id, args)
        }
    };
    let env = args.env.clone().unwrap_or_default();
    let env_options = EnvOptions {
        user_model: args.user_model.clone(),
        judge: None,
        user_seed: args.seed,
    };
    let factory: Arc<dyn EnvironmentFactory> = registry::environment(&env, &env_options).await?;
    let parent = match &args.from {
        Some(path) => Harness::load_compiled(path)?.harness,
        None => Harness::null(),
    };
    let mut tasks = train_tasks(factory.as_ref(), &args.split)?;
    if !args.tasks.is_empty() {
        for wanted in &args.tasks {
            if !tasks.iter().any(|t| &t.id == wanted) {
                bail!("task '{wanted}' is not in split '{}' of {env}", args.split);
            }
        }
        tasks.retain(|t| args.tasks.contains(&t.id));
    }
    if let Some(limit) = args.limit {
        tasks.truncate(limit);
    }
    let task_ids: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
    // Recorded episodes.
    let mut trajectories = Vec::new();
    for path in &args.trajectories {
        let factories = Factories::default();
        let lookup = |name: &str| {
            factories
                .get(name)
                .map_err(|e| DiagnoseError::Input(e.to_string()))
        };
        let options = ImportOptions {
            env: Some(env.clone()),
            skip_unmapped: true,
        };
        let imported = import::import_path(path, Format::parse(&args.format)?, &options, &lookup)?;
        eprintln!(
            "evolve: {} episode(s) from {} ({}){}",
            imported.trajectories.len(),
            path.display(),
            imported.format.as_str(),
            if imported.skipped.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} record(s) matched no task of {env} and were skipped",
                    imported.skipped.len()
                )
            }
        );
        trajectories.extend(imported.trajectories);
    }
    if !args.runs.is_empty() {
        trajectories.extend(load_runs(&store, &args.runs)?);
    }
    let mut episodes: Vec<Recorded> = trajectories
        .iter()
        .filter(|t| t.end.is_some())
        .map(Recorded::from_trajectory)
        .collect();
    if args.split_only {
        let before = episodes.len();
        episodes.retain(|e| task_ids.contains(&e.task.id));
        if before > episodes.len() {
            eprintln!(
                "evolve: dropped {} recorded episode(s) of tasks outside the {} task(s) of split '{}'",
                before - episodes.len(),
                task_ids.len(),
                args.split
            );
        }
    }
    let source_model = args.model.clone().unwrap_or_else(|| {
        let mut specs: Vec<String> = Vec::new();
        for t in &trajectories {
            if !specs.contains(&t.header.model.spec) {
                specs.push(t.header.model.spec.clone());
            }
        }
        specs.join(", ")
    });
    let evaluator = (!args.offline).then(|| StoreEvaluator {
        store: store.clone(),
        evolution: id.clone(),
        env: env.clone(),
        split: args.split.clone(),
        model: args.model.clone().unwrap_or_default(),
        seed: args.seed,
        concurrency: args.concurrency,
        max_steps: args.max_steps,
        env_options: env_options.clone(),
    });
    if let Some(spec) = &args.model {
        registry::model(spec).await?;
    }
    let proposer: Option<Arc<dyn Model>> = match &args.proposer {
        Some(spec) => Some(registry::model(spec).await?),
        None => None,
    };
    let config = EvolveConfig {
        id: id.clone(),
        split: args.split.clone(),
        rounds: args.rounds,
        trials: args.trials,
        offline: args.offline,
        counterfactuals: args.counterfactuals,
        sentinels: args.sentinels,
        void_share: 0.25,
        source_model,
        task_ids,
    };
    eprintln!(
        "evolution {id}: env {env} split {} | from {} | {} | {} recorded episode(s) -> {}",
        args.split,
        parent.name,
        if args.offline {
            "offline".to_string()
        } else {
            format!("online, model {}", args.model.clone().unwrap_or_default())
        },
        episodes.len(),
        store.path().display()
    );
    // Everything is checked: record the evolution (a resumed one exists).
    if args.resume.is_none() && store.evolution(&id).is_err() {
        let created = now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        store.create_evolution(&id, &created, &serde_json::to_value(&args)?)?;
    }
    let checkpoint = |ledger: &Ledger| -> Result<(), EvolveError> {
        let value =
            serde_json::to_value(ledger).map_err(|e| EvolveError::Checkpoint(e.to_string()))?;
        store
            .save_evolution(&id, &ledger.status, &value)
            .map_err(|e| EvolveError::Checkpoint(e.to_string()))
    };
    let progress = |line: &str| eprintln!("evolve: {line}");
    let outcome = evolve(
        config,
        Inputs {
            factory: factory.as_ref(),
            parent,
            episodes,
            evaluator: evaluator.as_ref().map(|e| e as &dyn Evaluator),
            proposer,
            checkpoint: &checkpoint,
            progress: &progress,
        },
    )
    .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            if let Ok(record) = store.evolution(&id) {
                let _ = store.save_evolution(&id, "interrupted", &record.ledger);
            }
            return Err(e).with_context(|| {
                format!(
                    "evolution {id} stopped; continue with: lifeharness evolve --resume {id} --store {}",
                    store.path().display()
                )
            });
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("evolved.toml"));
    if let Some(dir) = out.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let harness = outcome.harness;
    let text = format!(
        "# Evolved by `lifeharness evolve` (evolution {id}); see {} for the ledger.\n# Loading checks every rule's examples; `lifeharness harness diff` shows what changed.\n{}",
        ledger_paths(&out).0.display(),
        harness.to_toml()?
    );
    Harness::compile_toml(&text, &out.display().to_string())
        .context("the evolved harness does not load back")?;
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    let (md, json) = ledger_paths(&out);
    std::fs::write(&md, outcome.ledger.markdown())
        .with_context(|| format!("cannot write {}", md.display()))?;
    std::fs::write(&json, serde_json::to_string_pretty(&outcome.ledger)?)
        .with_context(|| format!("cannot write {}", json.display()))?;
    let accepted: Vec<String> = harness.provenance.keys().cloned().collect();
    println!(
        "evolution {id}: {} change(s) accepted{} -> {} (id {})\nledger: {} and {}",
        accepted.len(),
        if accepted.is_empty() {
            String::new()
        } else {
            format!(": {}", accepted.join(", "))
        },
        out.display(),
        &harness.content_hash()[..12],
        md.display(),
        json.display()
    );
    Ok(())
}
