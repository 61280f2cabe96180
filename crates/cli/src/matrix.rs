//! `lifeharness matrix`: every (model, environment, harness, layer variant)
//! cell played into one store, each cell an ordinary run kept by key in the
//! store's `matrices` table, so that running the same command again (or
//! `--resume`) plays only what has not finished. The matrix id is a hash of
//! its configuration: shards of one matrix run anywhere share it, and
//! `runs import` merges their stores.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use lifeharness_report::{ABLATIONS, CellSpec, DECODINGS, FULL_VARIANT, NULL_HARNESS};
use lifeharness_rules::Harness;
use lifeharness_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::cli::MatrixArgs;
use crate::registry::{self, EnvOptions};
use crate::run::{CellRun, Progress, RunConfig, create_run, play_with};

/// A harness of the matrix, with its text (a resumed matrix needs no file).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HarnessEntry {
    env: String,
    label: String,
    file: String,
    toml: String,
    name: String,
    source_model: Option<String>,
}

/// One cell as planned.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CellPlan {
    key: String,
    spec: CellSpec,
    /// The harness text this cell runs (`None`: the null harness).
    toml: Option<String>,
    task_ids: Vec<String>,
}

/// What a matrix is; stored with it, hashed into its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MatrixConfig {
    models: Vec<String>,
    envs: Vec<(String, String)>,
    harnesses: Vec<HarnessEntry>,
    limit: Option<usize>,
    trials: u32,
    seed: u64,
    max_steps: Option<usize>,
    ablate: bool,
    constrained: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guided: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    decoding: bool,
    cells: Vec<CellPlan>,
}

impl MatrixConfig {
    fn id(&self) -> Result<String> {
        let text = serde_json::to_string(self)?;
        Ok(format!(
            "matrix-{:016x}",
            lifeharness_report::stats::seed_of(&text)
        ))
    }
}

/// The cells of a matrix as report cells, with the runs the store holds,
/// and the keys of the cells it holds no run for (other shards, not run yet).
pub(crate) fn cell_specs(
    config: &serde_json::Value,
    runs: &BTreeMap<String, String>,
) -> Result<(Vec<CellSpec>, Vec<String>)> {
    let config: MatrixConfig =
        serde_json::from_value(config.clone()).context("the stored matrix configuration")?;
    let mut missing = Vec::new();
    let mut specs = Vec::new();
    for cell in config.cells {
        match runs.get(&cell.key) {
            Some(run) => {
                let mut spec = cell.spec;
                spec.runs = vec![run.clone()];
                specs.push(spec);
            }
            None => missing.push(cell.key),
        }
    }
    Ok((specs, missing))
}

fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad = || {
        anyhow::anyhow!("--shard '{text}': expected I/N with 0 <= I < N (0-based, e.g. 0/4 .. 3/4)")
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn backend_of(model: &str) -> String {
    model.split(':').next().unwrap_or(model).to_string()
}

fn backend_limits(entries: &[String]) -> Result<HashMap<String, usize>> {
    let mut limits = HashMap::from([("embedded".to_string(), 1)]);
    for entry in entries {
        let (backend, n) = entry
            .split_once('=')
            .with_context(|| format!("--backend-limit '{entry}': expected BACKEND=N"))?;
        let n: usize =
            n.parse().ok().filter(|n| *n > 0).with_context(|| {
                format!("--backend-limit '{entry}': N must be a positive number")
            })?;
        limits.insert(backend.to_string(), n);
    }
    Ok(limits)
}

/// The harness label: its origin (`hand-written`, `evolved`), else its file's stem.
fn label_of(harness: &Harness, file: &Path) -> String {
    if harness.lineage.is_some() {
        return "evolved".into();
    }
    match harness.origin.as_str() {
        "" => file
            .file_stem()
            .map_or("harness".into(), |s| s.to_string_lossy().into_owned()),
        origin => origin.to_string(),
    }
}

fn read_harness(env: &str, file: &Path) -> Result<HarnessEntry> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read harness file {}", file.display()))?;
    let compiled = Harness::compile_toml(&text, &file.display().to_string())
        .with_context(|| format!("harness file {} does not load", file.display()))?;
    let harness = &compiled.harness;
    if let Some(lineage) = &harness.lineage
        && lineage.environment != env
    {
        bail!(
            "harness file {} was evolved for {}, not {env}",
            file.display(),
            lineage.environment
        );
    }
    Ok(HarnessEntry {
        env: env.to_string(),
        label: label_of(harness, file),
        file: file.display().to_string(),
        toml: text,
        name: harness.name.clone(),
        source_model: harness.lineage.as_ref().map(|l| l.source_model.clone()),
    })
}

/// The harness text with its layer switches set (an ablation variant).
fn with_layers(text: &str, layers: [bool; 4]) -> Result<String> {
    let mut value: toml::Table = toml::from_str(text).context("harness TOML")?;
    let mut switches = toml::Table::new();
    for (name, on) in ["contract", "skills", "realization", "regulation"]
        .iter()
        .zip(layers)
    {
        switches.insert((*name).to_string(), toml::Value::Boolean(on));
    }
    value.insert("layers".into(), toml::Value::Table(switches));
    let out = toml::to_string(&value).context("harness TOML")?;
    Harness::compile_toml(&out, "ablation").context("the ablated harness does not load")?;
    Ok(out)
}

/// The harness text with its decoding set (a decoding variant).
fn with_decoding(text: &str, constrained: bool, guided: bool) -> Result<String> {
    let mut value: toml::Table = toml::from_str(text).context("harness TOML")?;
    let realization = value
        .entry("realization")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(table) = realization.as_table_mut() else {
        anyhow::bail!("the harness's [realization] is not a table");
    };
    table.insert(
        "constrained_decoding".into(),
        toml::Value::Boolean(constrained),
    );
    table.insert("guided_decoding".into(), toml::Value::Boolean(guided));
    let out = toml::to_string(&value).context("harness TOML")?;
    Harness::compile_toml(&out, "decoding variant")
        .context("the harness with its decoding set does not load")?;
    Ok(out)
}

/// Checks everything (models, environments, splits, harness files) and
/// plans the cells, before anything is recorded.
async fn plan(args: &MatrixArgs) -> Result<MatrixConfig> {
    if args.models.is_empty() || args.envs.is_empty() {
        bail!("--models and --envs each need at least one name");
    }
    let known: Vec<&str> = registry::ENVIRONMENTS.iter().map(|(n, _)| *n).collect();
    for env in &args.envs {
        if !known.contains(&env.as_str()) {
            bail!("unknown environment '{env}' (known: {})", known.join(", "));
        }
    }
    let mut harnesses: Vec<HarnessEntry> = Vec::new();
    for entry in &args.harnesses {
        let (env, file) = entry.split_once('=').with_context(|| {
            format!("--harness '{entry}': expected ENV=FILE, e.g. tau2-retail=harnesses/tau2-retail.toml")
        })?;
        if !args.envs.iter().any(|e| e == env) {
            bail!("--harness '{entry}': environment '{env}' is not in --envs");
        }
        harnesses.push(read_harness(env, Path::new(file))?);
    }
    if args.shipped {
        for env in &args.envs {
            for file in [
                args.harness_dir.join(format!("{env}.toml")),
                args.harness_dir.join("evolved").join(format!("{env}.toml")),
            ] {
                if file.exists()
                    && !harnesses
                        .iter()
                        .any(|h| h.env == *env && Path::new(&h.file) == file)
                {
                    harnesses.push(read_harness(env, &file)?);
                }
            }
        }
    }
    // Labels are unique per environment: a second `evolved` is named by its file.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for h in &mut harnesses {
        let n = seen.entry((h.env.clone(), h.label.clone())).or_default();
        *n += 1;
        if *n > 1 {
            let stem = Path::new(&h.file)
                .file_stem()
                .map_or(String::new(), |s| s.to_string_lossy().into_owned());
            h.label = format!("{} ({stem}, {})", h.label, *n);
        }
        if h.label == NULL_HARNESS {
            h.label = format!("{NULL_HARNESS} ({})", h.file);
        }
    }
    let mut splits: HashMap<String, String> = HashMap::new();
    let mut default_split: Option<String> = None;
    for s in &args.split {
        match s.split_once('=') {
            Some((env, split)) => {
                splits.insert(env.to_string(), split.to_string());
            }
            None => default_split = Some(s.clone()),
        }
    }
    let mut envs = Vec::new();
    let mut tasks: HashMap<String, Vec<String>> = HashMap::new();
    let mut notes: HashMap<String, Vec<String>> = HashMap::new();
    for env in &args.envs {
        let factory = registry::environment(env, &EnvOptions::default()).await?;
        let split = splits
            .get(env)
            .cloned()
            .or_else(|| default_split.clone())
            .or_else(|| factory.held_out_splits().first().map(|s| s.to_string()))
            .unwrap_or_else(|| "test".into());
        let mut ids: Vec<String> = factory
            .tasks(&split)
            .with_context(|| format!("environment {env}, split {split}"))?
            .into_iter()
            .map(|t| t.id)
            .collect();
        if let Some(limit) = args.limit {
            ids.truncate(limit);
        }
        if ids.is_empty() {
            bail!("environment {env}, split {split}: no tasks");
        }
        let info = factory.info();
        let mut env_notes = Vec::new();
        if info.config.get("comparable_with_published") == Some(&json!(false)) {
            env_notes.push(format!(
                "{env} runs in {} mode: its scores are not comparable with published numbers",
                info.config["user_mode"]
                    .as_str()
                    .unwrap_or("a non-standard")
            ));
        }
        notes.insert(env.clone(), env_notes);
        tasks.insert(env.clone(), ids);
        envs.push((env.clone(), split));
    }
    // Resolve every model (an embedded one is fetched once, with a bar).
    for model in &args.models {
        registry::model(model).await?;
    }
    let mut cells = Vec::new();
    for (env, split) in &envs {
        let mut variants: Vec<(String, String, Option<String>, Option<&HarnessEntry>)> =
            vec![(NULL_HARNESS.into(), FULL_VARIANT.into(), None, None)];
        for h in harnesses.iter().filter(|h| &h.env == env) {
            variants.push((
                h.label.clone(),
                FULL_VARIANT.into(),
                Some(h.toml.clone()),
                Some(h),
            ));
            if args.decoding {
                for (name, constrained, guided) in DECODINGS {
                    variants.push((
                        h.label.clone(),
                        name.to_string(),
                        Some(with_decoding(&h.toml, constrained, guided)?),
                        Some(h),
                    ));
                }
            }
            if args.ablate {
                for (name, layers) in ABLATIONS {
                    variants.push((
                        h.label.clone(),
                        name.to_string(),
                        Some(with_layers(&h.toml, layers)?),
                        Some(h),
                    ));
                }
            }
        }
        for model in &args.models {
            for (label, variant, toml, entry) in &variants {
                let mut cell_notes = notes.get(env).cloned().unwrap_or_default();
                if model.starts_with("scripted") {
                    cell_notes.push(format!(
                        "model {model} is SCRIPTED (replays a fixed script): its cells say nothing about a real model"
                    ));
                }
                let spec = CellSpec {
                    model: model.clone(),
                    environment: env.clone(),
                    split: split.clone(),
                    harness: label.clone(),
                    harness_name: entry.map_or(NULL_HARNESS.into(), |h| h.name.clone()),
                    harness_file: entry.map(|h| h.file.clone()),
                    variant: variant.clone(),
                    source_model: entry.and_then(|h| h.source_model.clone()),
                    notes: cell_notes,
                    runs: Vec::new(),
                };
                cells.push(CellPlan {
                    key: spec.key(),
                    spec,
                    toml: toml.clone(),
                    task_ids: tasks.get(env).cloned().unwrap_or_default(),
                });
            }
        }
    }
    cells.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(MatrixConfig {
        models: args.models.clone(),
        envs,
        harnesses,
        limit: args.limit,
        trials: args.trials,
        seed: args.seed,
        max_steps: args.max_steps,
        ablate: args.ablate,
        constrained: args.constrained,
        guided: args.guided,
        decoding: args.decoding,
        cells,
    })
}

fn cell_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} {bar:24} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Runs `lifeharness matrix`.
pub async fn run(args: MatrixArgs) -> Result<()> {
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let limits = backend_limits(&args.backend_limits)?;
    let store = Store::open(&args.out)?;
    let (id, config) = match &args.resume {
        Some(id) => {
            let record = store.matrix(id)?;
            let config: MatrixConfig = serde_json::from_value(record.config)
                .with_context(|| format!("matrix {id} has no resumable configuration"))?;
            (id.clone(), config)
        }
        None => {
            let config = plan(&args).await?;
            (config.id()?, config)
        }
    };
    let mine: Vec<&CellPlan> = config
        .cells
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|(s, n)| i % n == s))
        .map(|(_, c)| c)
        .collect();
    if args.dry_run {
        println!(
            "matrix {id}: {} cells{}",
            config.cells.len(),
            shard.map_or(String::new(), |(s, n)| format!(
                ", {} in shard {s}/{n}",
                mine.len()
            ))
        );
        for cell in &mine {
            println!(
                "  {} ({} tasks x {} trials)",
                cell.key,
                cell.task_ids.len(),
                config.trials
            );
        }
        return Ok(());
    }
    let created = crate::run::now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let record = match store.matrix(&id) {
        Ok(record) => record,
        Err(lifeharness_store::StoreError::NotFound(_)) => {
            store.create_matrix(&id, &created, &serde_json::to_value(&config)?)?;
            store.matrix(&id)?
        }
        Err(e) => return Err(e.into()),
    };
    // Each cell's run: found by key, else created now (nothing is played yet).
    let mut jobs: Vec<(String, String, RunConfig, u64)> = Vec::new();
    let mut total_pending = 0u64;
    for cell in &mine {
        let run_config: RunConfig = CellRun {
            env: cell.spec.environment.clone(),
            split: cell.spec.split.clone(),
            task_ids: cell.task_ids.clone(),
            model: cell.spec.model.clone(),
            harness: cell.toml.clone().map(|t| {
                (
                    t,
                    cell.spec
                        .harness_file
                        .clone()
                        .map_or(cell.spec.harness.clone(), |f| {
                            format!("{f} ({})", cell.spec.variant)
                        }),
                )
            }),
            seed: config.seed,
            trials: config.trials,
            concurrency: args.concurrency,
            max_steps: config.max_steps,
            constrained: config.constrained,
            guided: config.guided,
        }
        .into();
        let run_id = match record.cells.get(&cell.key) {
            Some(run_id) => run_id.clone(),
            None => {
                let run_id = create_run(&store, &run_config)?;
                // Not started yet: the cell waits for its backend's turn.
                store.set_run_status(&run_id, "pending")?;
                store.set_matrix_cell(&id, &cell.key, &run_id)?;
                run_id
            }
        };
        let finished = store
            .episodes(&run_id)?
            .iter()
            .filter(|e| e.status == "finished")
            .count() as u64;
        let total = (cell.task_ids.len() as u64) * u64::from(config.trials);
        let pending = total.saturating_sub(finished);
        total_pending += pending;
        jobs.push((cell.key.clone(), run_id, run_config, pending));
    }
    eprintln!(
        "matrix {id}: {} cells{} | {} episodes to play ({} cells already finished) -> {}",
        mine.len(),
        shard.map_or(String::new(), |(s, n)| format!(
            " (shard {s}/{n} of {})",
            config.cells.len()
        )),
        total_pending,
        jobs.iter().filter(|j| j.3 == 0).count(),
        store.path().display()
    );
    let multi = MultiProgress::new();
    let overall = multi.add(ProgressBar::new(total_pending));
    overall.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} episodes, all cells ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let semaphores: HashMap<String, Arc<Semaphore>> = jobs
        .iter()
        .map(|(_, _, c, _)| backend_of(&c.model))
        .map(|b| {
            let n = limits.get(&b).copied().unwrap_or(4);
            (b, Arc::new(Semaphore::new(n)))
        })
        .collect();
    // Ctrl-C stops the cells that are playing (each finishes its recorded
    // steps) and keeps the waiting ones from starting.
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stopping = Arc::clone(&stopping);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    let mut set = tokio::task::JoinSet::new();
    for (key, run_id, run_config, pending) in jobs {
        if pending == 0 {
            continue;
        }
        let bar = multi.add(ProgressBar::new(pending));
        bar.set_style(cell_style());
        bar.set_prefix(key.clone());
        bar.set_message("waiting for its backend");
        let semaphore = Arc::clone(&semaphores[&backend_of(&run_config.model)]);
        let store = store.clone();
        let overall = overall.clone();
        let stopping = Arc::clone(&stopping);
        set.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                bar.finish_with_message("not started (interrupted)");
                return (key, run_id, Ok(None));
            }
            bar.set_message("");
            if let Err(e) = store.set_run_status(&run_id, "running") {
                return (key, run_id, Err(e.into()));
            }
            let progress = Progress {
                bar: Some(bar.clone()),
                overall: Some(overall),
                quiet: true,
            };
            let result = play_with(&store, &run_id, &run_config, progress).await;
            bar.finish();
            (key, run_id, result.map(Some))
        });
    }
    let mut failed: Vec<String> = Vec::new();
    let mut interrupted = 0usize;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((_, _, Ok(Some(summary)))) => interrupted += summary.interrupted,
            Ok((_, _, Ok(None))) => interrupted += 1,
            Ok((key, run_id, Err(e))) => failed.push(format!("{key} (run {run_id}): {e:#}")),
            Err(e) => failed.push(format!("a cell's task failed: {e}")),
        }
    }
    overall.finish_and_clear();
    watcher.abort();
    let status = match shard {
        _ if !failed.is_empty() || interrupted > 0 => "incomplete".to_string(),
        Some((s, n)) if n > 1 => format!("shard {s}/{n} finished"),
        _ => "finished".to_string(),
    };
    store.set_matrix_status(&id, &status)?;
    for f in &failed {
        eprintln!("cell failed: {f}");
    }
    summary(&store, &id, &args)?;
    if args.html.is_some() || args.md.is_some() {
        crate::report::run(crate::cli::ReportArgs {
            ids: vec![id.clone()],
            out: args.out.clone(),
            html: args.html.clone(),
            md: args.md.clone(),
            json: None,
        })?;
    }
    if !failed.is_empty() {
        bail!(
            "{} cell(s) failed; run the same command again to retry them",
            failed.len()
        );
    }
    if interrupted > 0 {
        eprintln!("interrupted: run the same command again (or --resume {id}) to continue");
    }
    if matches!(shard, Some((_, n)) if n > 1) {
        eprintln!(
            "merge the shards' stores with: lifeharness runs import SHARD.db --out ALL.db (once per shard)"
        );
    }
    Ok(())
}

fn summary(store: &Store, id: &str, args: &MatrixArgs) -> Result<()> {
    let record = store.matrix(id)?;
    if args.json {
        println!(
            "{}",
            json!({"matrix": id, "status": record.status, "cells": record.cells, "store": store.path()})
        );
    } else {
        println!(
            "matrix {id}: {} ({} cells recorded in {})",
            record.status,
            record.cells.len(),
            store.path().display()
        );
        println!(
            "report: lifeharness report {id} --out {} --html report.html --md report.md --json report.json",
            store.path().display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn shards_are_zero_based_and_checked() {
        assert_eq!(parse_shard("0/4").unwrap(), (0, 4));
        assert_eq!(parse_shard("3/4").unwrap(), (3, 4));
        for bad in ["4/4", "1", "a/b", "0/0", "-1/3"] {
            let err = parse_shard(bad).unwrap_err().to_string();
            assert!(err.contains("--shard"), "{bad}: {err}");
        }
    }

    #[test]
    fn backend_limits_default_embedded_to_one() {
        let limits = backend_limits(&["openai=8".into()]).unwrap();
        assert_eq!(limits["embedded"], 1);
        assert_eq!(limits["openai"], 8);
        assert!(backend_limits(&["openai".into()]).is_err());
        assert!(backend_limits(&["openai=0".into()]).is_err());
        assert_eq!(backend_of("embedded:smollm2-135m"), "embedded");
    }

    #[test]
    fn ablation_sets_the_layer_switches() {
        let text = "format_version = 1\nname = \"x\"\n";
        let out = with_layers(text, [true, false, true, false]).unwrap();
        let h = Harness::compile_toml(&out, "t").unwrap();
        assert!(h.harness.layers.contract && !h.harness.layers.skills);
        assert!(h.harness.layers.realization && !h.harness.layers.regulation);
    }
}
