//! `lifeharness run`: play episodes and record them; `--resume` continues a run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use lifeharness_core::{Layer, Task};
use lifeharness_rules::{CompiledHarness, Harness};
use lifeharness_runtime::{
    EpisodeSpec, RunEvent, RunSummary, RuntimeConfig, episode_seed, run_many,
};
use lifeharness_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::registry::{self, Delayed, EnvOptions};
use crate::summary::RunCounts;

/// Everything needed to start or resume a run, stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunConfig {
    env: String,
    split: String,
    pub(crate) task_ids: Vec<String>,
    pub(crate) model: String,
    harness_toml: Option<String>,
    harness_origin: Option<String>,
    seed: u64,
    trials: u32,
    concurrency: u16,
    max_steps: Option<usize>,
    #[serde(default)]
    model_delay_ms: u64,
    #[serde(default)]
    env_options: EnvOptions,
    /// Overrides the harness's `realization.constrained_decoding`.
    #[serde(default)]
    constrained: Option<bool>,
    /// Overrides the harness's `realization.guided_decoding` (off only: on
    /// is the harness's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guided: Option<bool>,
}

impl RunConfig {
    /// The configuration of one of an evolution's re-runs.
    #[expect(clippy::too_many_arguments, reason = "a run's settings, spelled out")]
    pub(crate) fn for_evolution(
        env: &str,
        split: &str,
        task_ids: Vec<String>,
        model: &str,
        harness_toml: String,
        origin: String,
        seed: u64,
        trials: u32,
        concurrency: u16,
        max_steps: Option<usize>,
        env_options: EnvOptions,
    ) -> Self {
        Self {
            env: env.to_string(),
            split: split.to_string(),
            task_ids,
            model: model.to_string(),
            harness_toml: Some(harness_toml),
            harness_origin: Some(origin),
            seed,
            trials,
            concurrency,
            max_steps,
            model_delay_ms: 0,
            env_options,
            constrained: None,
            guided: None,
        }
    }
}

/// One matrix cell's run: the harness (none: the null harness), and the
/// settings every cell of the matrix shares.
pub(crate) struct CellRun {
    pub(crate) env: String,
    pub(crate) split: String,
    pub(crate) task_ids: Vec<String>,
    pub(crate) model: String,
    pub(crate) harness: Option<(String, String)>,
    pub(crate) seed: u64,
    pub(crate) trials: u32,
    pub(crate) concurrency: u16,
    pub(crate) max_steps: Option<usize>,
    pub(crate) constrained: Option<bool>,
    pub(crate) guided: Option<bool>,
}

impl From<CellRun> for RunConfig {
    fn from(cell: CellRun) -> Self {
        let (harness_toml, harness_origin) = cell.harness.unzip();
        Self {
            env: cell.env,
            split: cell.split,
            task_ids: cell.task_ids,
            model: cell.model,
            harness_toml,
            harness_origin,
            seed: cell.seed,
            trials: cell.trials,
            concurrency: cell.concurrency,
            max_steps: cell.max_steps,
            model_delay_ms: 0,
            env_options: EnvOptions {
                user_seed: cell.seed,
                ..EnvOptions::default()
            },
            constrained: cell.constrained,
            guided: cell.guided,
        }
    }
}

pub(crate) fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn new_run_id() -> String {
    timestamped_id("run")
}

/// `PREFIX-YYYYMMDD-HHMMSS-XXXXXXXX`: the UTC second and 32 random bits (ids
/// made in the same second by one matrix or evolution must not collide).
pub(crate) fn timestamped_id(prefix: &str) -> String {
    let t = now();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{prefix}-{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        &suffix[..8]
    )
}

fn select_tasks(all: Vec<Task>, ids: &[String], limit: Option<usize>) -> Result<Vec<Task>> {
    let mut tasks = if ids.is_empty() {
        all
    } else {
        let by_id: HashMap<&str, &Task> = all.iter().map(|t| (t.id.as_str(), t)).collect();
        let mut picked = Vec::new();
        for id in ids {
            match by_id.get(id.as_str()) {
                Some(task) => picked.push((*task).clone()),
                None => bail!("unknown task id '{id}' in this split"),
            }
        }
        picked
    };
    if let Some(limit) = limit {
        tasks.truncate(limit);
    }
    if tasks.is_empty() {
        bail!("no tasks selected");
    }
    Ok(tasks)
}

fn episode_id(task_id: &str, trial: u32, attempt: u32) -> String {
    if attempt == 0 {
        format!("{task_id}/{trial}")
    } else {
        format!("{task_id}/{trial}/a{attempt}")
    }
}

/// Runs `lifeharness run`.
pub async fn run(args: RunArgs) -> Result<()> {
    let store = Store::open(&args.out)?;
    let (run_id, config) = match &args.resume {
        Some(run_id) => {
            let record = store.run(run_id)?;
            if record.status == "finished" {
                eprintln!("run {run_id} already finished; nothing to resume");
            }
            let config: RunConfig = serde_json::from_value(record.config)
                .with_context(|| format!("run {run_id} has no resumable configuration"))?;
            (run_id.clone(), config)
        }
        None => {
            let config = new_config(&args).await?;
            let run_id = create_run(&store, &config)?;
            (run_id, config)
        }
    };
    let summary = play(&store, &run_id, &config).await?;
    report(&store, &run_id, &summary, args.json)?;
    if summary.interrupted > 0 {
        eprintln!(
            "resume with: lifeharness run --resume {run_id} --out {}",
            shell_path(store.path())
        );
    }
    Ok(())
}

/// Checks everything a new run needs (environment, tasks, harness file,
/// model spec) before anything is recorded.
pub(crate) async fn new_config(args: &RunArgs) -> Result<RunConfig> {
    let env = args.env.clone().unwrap_or_default();
    let env_options = EnvOptions {
        user_model: args.user_model.clone(),
        judge: args.judge.clone(),
        user_seed: args.seed,
    };
    let factory = registry::environment(&env, &env_options).await?;
    let all = factory.tasks(&args.split)?;
    let tasks = select_tasks(all, &args.tasks, args.limit)?;
    let (harness_toml, harness_origin) = match &args.harness {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read harness file {}", path.display()))?;
            Harness::compile_toml(&text, &path.display().to_string())?;
            (Some(text), Some(path.display().to_string()))
        }
        None => (None, None),
    };
    let config = RunConfig {
        env,
        split: args.split.clone(),
        task_ids: tasks.iter().map(|t| t.id.clone()).collect(),
        model: args.model.clone().unwrap_or_default(),
        harness_toml,
        harness_origin,
        seed: args.seed,
        trials: args.trials,
        concurrency: args.concurrency,
        max_steps: args.max_steps,
        model_delay_ms: args.model_delay_ms,
        env_options,
        constrained: args.constrained,
        guided: args.guided,
    };
    // Resolve the model before recording the run so a bad spec records nothing.
    registry::model(&config.model).await?;
    Ok(config)
}

/// Records a new run with `config`; returns its id. Ids made in the same
/// second differ in 32 random bits (a matrix makes hundreds at once); a
/// failed insert (an id already taken) is tried again with a new id.
pub(crate) fn create_run(store: &Store, config: &RunConfig) -> Result<String> {
    let created = now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let config = serde_json::to_value(config)?;
    let mut tries = 0;
    loop {
        let run_id = new_run_id();
        match store.create_run(&run_id, &created, &config) {
            Ok(()) => return Ok(run_id),
            // Only a taken id makes a second draw succeed; any other error repeats.
            Err(_) if tries < 3 => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Where a run shows its progress: its own bar (a plain run), or bars a
/// caller owns (a matrix cell: the cell's bar and the matrix's overall bar).
#[derive(Default)]
pub(crate) struct Progress {
    /// The bar to advance per episode (a new one when absent).
    pub(crate) bar: Option<ProgressBar>,
    /// A second bar advanced per episode.
    pub(crate) overall: Option<ProgressBar>,
    /// Leave out the run's header lines (the caller prints its own plan).
    pub(crate) quiet: bool,
}

/// Plays the run's episodes that have not finished and records them.
pub(crate) async fn play(store: &Store, run_id: &str, config: &RunConfig) -> Result<RunSummary> {
    play_with(store, run_id, config, Progress::default()).await
}

/// [`play`] with the caller's progress bars.
pub(crate) async fn play_with(
    store: &Store,
    run_id: &str,
    config: &RunConfig,
    progress: Progress,
) -> Result<RunSummary> {
    let factory = registry::environment(&config.env, &config.env_options).await?;
    let mut model = registry::model(&config.model).await?;
    if config.model_delay_ms > 0 {
        model = Arc::new(Delayed {
            inner: model,
            delay: Duration::from_millis(config.model_delay_ms),
        });
    }
    let compiled = match &config.harness_toml {
        Some(text) => {
            Harness::compile_toml(text, config.harness_origin.as_deref().unwrap_or("harness"))?
        }
        None => CompiledHarness::compile(Harness::null(), None, "null")?,
    };
    let compiled = Arc::new(compiled);
    let harness = &compiled.harness;
    // The step limit: --max-steps, else the harness's, capped by the
    // benchmark's own round limit where it has one (a harness must not buy
    // an agent more turns than the original allows).
    let round_limit = factory
        .info()
        .config
        .get("round_limit")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| usize::try_from(n).ok());
    let max_steps = config.max_steps.unwrap_or_else(|| {
        round_limit.map_or(harness.runtime.max_steps, |limit| {
            limit.min(harness.runtime.max_steps)
        })
    });
    let runtime = RuntimeConfig {
        max_steps,
        max_blocked_per_step: harness.runtime.max_blocked_per_step,
        on_block_budget: harness.runtime.on_block_budget,
        on_fault: harness.runtime.on_fault,
        observe_only: harness.observe_only,
        constrained_decoding: config.constrained,
        guided_decoding: config.guided,
    };
    let layers: Arc<[Arc<dyn Layer>]> = Arc::from(lifeharness_layers::build(&compiled));

    let all = factory.tasks(&config.split)?;
    let tasks = select_tasks(all, &config.task_ids, None)?;
    let existing = store.episodes(run_id)?;
    let done: HashSet<(String, u32)> = existing
        .iter()
        .filter(|e| e.status == "finished")
        .map(|e| (e.task_id.clone(), e.trial))
        .collect();
    let mut attempts: HashMap<(String, u32), u32> = HashMap::new();
    for e in &existing {
        *attempts.entry((e.task_id.clone(), e.trial)).or_default() += 1;
    }
    store.mark_interrupted(run_id)?;
    let env_info = factory.info();
    let harness_info = Arc::new(harness.info());
    // Jobs are built as episode slots free up, so memory stays flat in the
    // number of episodes; every job shares the one harness description.
    // (The pending pairs are indices, so the run's future holds no closure
    // over borrowed tasks: it stays `Send` for callers behind async traits.)
    let trials = config.trials;
    let task_count = tasks.len();
    let pending =
        move || (0..trials).flat_map(move |trial| (0..task_count).map(move |i| (trial, i)));
    let is_pending = |(trial, i): (u32, usize)| !done.contains(&(tasks[i].id.clone(), trial));
    let pending_count = pending().filter(|p| is_pending(*p)).count();
    let jobs = pending().filter(move |p| is_pending(*p)).map(|(trial, i)| {
        let task = &tasks[i];
        let attempt = attempts
            .get(&(task.id.clone(), trial))
            .copied()
            .unwrap_or(0);
        EpisodeSpec {
            run_id: run_id.to_string(),
            episode_id: episode_id(&task.id, trial, attempt),
            seed: episode_seed(config.seed, &task.id, trial),
            task: task.clone(),
            trial,
            attempt,
            environment: env_info.clone(),
            harness: Arc::clone(&harness_info),
            config: runtime.clone(),
        }
    });
    let total = tasks.len() * config.trials as usize;
    let skipped = total - pending_count;
    let model_info = model.info();
    if !progress.quiet {
        eprintln!(
            "run {run_id}: env {} split {} | model {} ({}) | harness {} ({}) | {} episodes ({} already finished) -> {}",
            config.env,
            config.split,
            model_info.spec,
            model_info.backend,
            harness.name,
            &harness_info.id[..12],
            total,
            skipped,
            store.path().display()
        );
        if env_info.config.get("comparable_with_published") == Some(&json!(false)) {
            eprintln!(
                "note: {} runs in {} mode: scores are NOT comparable with published numbers",
                config.env,
                env_info.config["user_mode"].as_str().unwrap_or("this")
            );
        }
        if model_info.backend == "scripted" {
            eprintln!(
                "note: the model is SCRIPTED (replays a fixed script); results say nothing about a real model"
            );
        }
    }

    let cancel = CancellationToken::new();
    let watcher = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\ninterrupted: finishing recorded steps; press Ctrl-C again to quit at once"
                );
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };
    let bar = progress.bar.unwrap_or_else(|| {
        let bar = ProgressBar::new(pending_count as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} episodes {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let overall = progress.overall;
    let successes = std::sync::atomic::AtomicUsize::new(0);
    let on_event = |event: RunEvent| {
        if let RunEvent::Finished { end, .. } = event {
            if end.exit == lifeharness_core::ExitStatus::Success {
                successes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            bar.inc(1);
            if let Some(overall) = &overall {
                overall.inc(1);
            }
            bar.set_message(format!(
                "({} solved)",
                successes.load(std::sync::atomic::Ordering::Relaxed)
            ));
        }
    };
    let summary: RunSummary = run_many(
        jobs,
        model,
        factory,
        layers,
        Arc::new(store.clone()),
        usize::from(config.concurrency),
        cancel.clone(),
        &on_event,
    )
    .await?;
    bar.finish_and_clear();
    watcher.abort();
    let status = if summary.interrupted > 0 {
        "interrupted"
    } else {
        "finished"
    };
    store.mark_interrupted(run_id)?;
    store.set_run_status(run_id, status)?;
    // Each finished episode's report facts (its diagnosis included) are
    // computed now, once: a report over many runs then reads small rows.
    let factories = registry::Factories::default();
    let lookup = |name: &str| factories.get(name).ok();
    let mut counts = lifeharness_report::LoadCounts::default();
    if let Err(e) = lifeharness_report::facts::load(store, run_id, &lookup, &|| {}, &mut counts) {
        tracing::warn!("run {run_id}: report facts were not cached ({e}); a report computes them");
    }
    Ok(summary)
}

fn shell_path(path: &Path) -> String {
    path.display().to_string()
}

fn report(store: &Store, run_id: &str, summary: &RunSummary, json_out: bool) -> Result<()> {
    let record = store.run(run_id)?;
    let episodes = store.episodes(run_id)?;
    let counts = RunCounts::of(&episodes);
    let mut exits: BTreeMap<String, usize> = BTreeMap::new();
    for e in episodes.iter().filter(|e| e.status == "finished") {
        *exits.entry(e.exit.clone().unwrap_or_default()).or_default() += 1;
    }
    if json_out {
        let mut out = json!({
            "run_id": run_id,
            "status": record.status,
            "exits": exits,
            "this_invocation": {"finished": summary.finished, "interrupted": summary.interrupted},
        });
        if let (Some(out), Value::Object(fields)) = (out.as_object_mut(), counts.json()) {
            out.extend(fields);
        }
        println!("{out}");
    } else {
        let exits_text: Vec<String> = exits.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{run_id}: {} | exits: {} | status {}",
            counts.line(),
            exits_text.join(", "),
            record.status
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::timestamped_id;

    #[test]
    fn ids_carry_the_prefix_the_second_and_32_random_bits() {
        let id = timestamped_id("evo");
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.len(), 4, "{id}");
        assert_eq!(parts[0], "evo");
        assert_eq!((parts[1].len(), parts[2].len()), (8, 6), "{id}");
        assert_eq!(parts[3].len(), 8, "{id}");
        assert!(parts[3].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_ne!(timestamped_id("evo"), timestamped_id("evo"));
    }
}
