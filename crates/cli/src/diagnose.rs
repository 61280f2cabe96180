//! `lifeharness diagnose`: every failed episode of some runs labelled with
//! its bottleneck (see `lifeharness_diagnose::diagnose`), summed up per
//! environment, as text, JSON or Markdown.

use std::sync::Arc;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use lifeharness_core::{EnvironmentFactory, Trajectory};
use lifeharness_diagnose::{Recorded, Report, diagnose, judge};
use lifeharness_store::Store;

use crate::cli::DiagnoseArgs;
use crate::registry::{self, Factories};

/// Opens a store that must exist.
pub fn open_store(path: &std::path::Path) -> Result<Store> {
    if !path.exists() {
        anyhow::bail!(
            "no trajectory store at {} (use --out to point at one)",
            path.display()
        );
    }
    Ok(Store::open(path)?)
}

/// The environment a trajectory ran in (its header, else its task's).
pub fn env_of(t: &Trajectory) -> &str {
    if t.header.environment.name.is_empty() {
        &t.header.task.environment
    } else {
        &t.header.environment.name
    }
}

/// Every finished episode of `run_ids`, as trajectories.
pub fn load_runs(store: &Store, run_ids: &[String]) -> Result<Vec<Trajectory>> {
    let mut out = Vec::new();
    for run in run_ids {
        store.run(run)?;
        for row in store.episodes(run)? {
            out.push(
                store
                    .trajectory(run, &row.episode_id)
                    .with_context(|| format!("run {run} episode {}", row.episode_id))?,
            );
        }
    }
    Ok(out)
}

fn bar(n: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Runs `lifeharness diagnose`.
pub async fn run(args: DiagnoseArgs) -> Result<()> {
    let store = open_store(&args.out)?;
    let trajectories = load_runs(&store, &args.run_ids)?;
    let judge_model = match &args.judge {
        Some(spec) => Some(registry::model(spec).await?),
        None => None,
    };
    let factories = Factories::default();
    let progress = bar(trajectories.len(), "diagnosing");
    let mut diagnoses = Vec::with_capacity(trajectories.len());
    for t in &trajectories {
        let factory: Arc<dyn EnvironmentFactory> = factories.get(env_of(t))?;
        let recorded = Recorded::from_trajectory(t);
        let mut d = diagnose(Some(factory.as_ref()), &recorded)?;
        if let Some(model) = &judge_model
            && d.failed()
        {
            let reference = factory.reference_actions(&recorded.task).ok().flatten();
            d.judge = Some(judge::judge(model.as_ref(), &recorded, reference.as_deref(), &d).await);
        }
        diagnoses.push(d);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let report = Report::of(diagnoses);
    if let Some(path) = &args.md {
        std::fs::write(path, report.markdown())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.text(args.episodes));
        if !args.episodes {
            println!(
                "(--episodes lists every failed episode; --json gives each one's signals and evidence)"
            );
        }
    }
    Ok(())
}
