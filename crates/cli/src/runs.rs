//! `lifeharness runs`: list, show, export, import (of trajectory files, or
//! of another store, merged).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use lifeharness_core::ActionStats;
use lifeharness_store::Store;

use lifeharness_core::MatchQuality;
use lifeharness_diagnose::DiagnoseError;
use lifeharness_diagnose::import::{self, Format, ImportOptions};

use crate::cli::RunsCommand;
use crate::registry::Factories;
use crate::summary::{RunCounts, config_lines};

fn open_existing(path: &Path) -> Result<Store> {
    if !path.exists() {
        anyhow::bail!(
            "no trajectory store at {} (use --out to point at one)",
            path.display()
        );
    }
    Ok(Store::open(path)?)
}

/// What every SQLite database file begins with.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether `path` is a file that begins with the SQLite header (a store).
fn is_sqlite(path: &Path) -> Result<bool> {
    if !path.is_file() {
        return Ok(false);
    }
    let mut head = Vec::with_capacity(SQLITE_HEADER.len());
    File::open(path)
        .and_then(|f| f.take(SQLITE_HEADER.len() as u64).read_to_end(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(head == SQLITE_HEADER)
}

/// `runs import` of another store: merges it into `out`, one line of summary.
fn merge_store(file: &Path, out: &Path) -> Result<()> {
    if !file.is_file() {
        anyhow::bail!("no store at {} to import", file.display());
    }
    let store = Store::open(out)?;
    let s = store.merge_from(file)?;
    println!(
        "merged store {} into {}: runs {} added, {} extended; episodes {} added, {} already there; \
         matrices {} added, {} merged; evolutions {} added",
        file.display(),
        out.display(),
        s.runs_added,
        s.runs_extended,
        s.episodes_added,
        s.episodes_skipped,
        s.matrices_added,
        s.matrices_merged,
        s.evolutions_added
    );
    Ok(())
}

/// Runs `lifeharness runs ...`.
pub fn runs(command: RunsCommand) -> Result<()> {
    match command {
        RunsCommand::List { out, json } => {
            let store = open_existing(&out)?;
            let runs = store.runs()?;
            if json {
                println!("{}", serde_json::to_string(&runs)?);
                return Ok(());
            }
            if runs.is_empty() {
                println!("no runs in {}", out.display());
            }
            for r in runs {
                let env = r.config["env"].as_str().unwrap_or("?");
                let model = r.config["model"].as_str().unwrap_or("?");
                let counts = RunCounts::of(&store.episodes(&r.run_id)?);
                println!(
                    "{}  {}  {:<11}  env={} model={}  {}",
                    r.run_id,
                    r.created_at,
                    r.status,
                    env,
                    model,
                    counts.line()
                );
            }
        }
        RunsCommand::Show {
            run_id,
            episode,
            out,
            json,
        } => {
            let store = open_existing(&out)?;
            if let Some(episode) = episode {
                let trajectory = store.trajectory(&run_id, &episode)?;
                println!("{}", serde_json::to_string_pretty(&trajectory)?);
                return Ok(());
            }
            let record = store.run(&run_id)?;
            let episodes = store.episodes(&run_id)?;
            let counts = RunCounts::of(&episodes);
            let mut actions = ActionStats::default();
            let mut harness: Option<(String, String)> = None;
            for e in &episodes {
                let trajectory = store.trajectory(&run_id, &e.episode_id)?;
                actions.merge(&ActionStats::of(&trajectory.steps));
                if harness.is_none() {
                    let h = &trajectory.header.harness;
                    harness = Some((h.name.clone(), h.id.clone()));
                }
            }
            if json {
                let value = serde_json::json!({
                    "run": record,
                    "summary": counts.json(),
                    "episodes": episodes,
                    "actions": actions,
                    "executable_fraction": actions.executable_fraction(),
                });
                println!("{value}");
                return Ok(());
            }
            println!(
                "run {} ({}), created {}",
                record.run_id, record.status, record.created_at
            );
            let harness = harness
                .as_ref()
                .map(|(name, id)| (name.as_str(), id.as_str()));
            for line in config_lines(&record, harness) {
                println!("  {line}");
            }
            println!("  {}", counts.line());
            println!(
                "{:<28} {:<12} {:<9} {:>7} {:>6}",
                "episode", "status", "exit", "reward", "steps"
            );
            for e in episodes {
                println!(
                    "{:<28} {:<12} {:<9} {:>7} {:>6}",
                    e.episode_id,
                    e.status,
                    e.exit.unwrap_or_default(),
                    e.reward.map_or("-".into(), |r| format!("{r:.2}")),
                    e.steps
                );
            }
            println!(
                "actions: {} proposed in {} turns ({} format errors): {} tool calls, {} blocked, {} rewritten, \
                 {} reached the environment, {} executable ({}); {} harness faults, {} ran unchecked",
                actions.proposed,
                actions.turns,
                actions.format_errors,
                actions.proposed_tool_calls,
                actions.blocked,
                actions.rewritten,
                actions.executed_tool_calls,
                actions.executable,
                actions
                    .executable_fraction()
                    .map_or("n/a".into(), |f| format!("{:.1}% of proposed", f * 100.0)),
                actions.harness_faults,
                actions.unchecked
            );
        }
        RunsCommand::Export {
            run_id,
            output,
            out,
        } => {
            let store = open_existing(&out)?;
            let count = match output {
                Some(path) => {
                    let file = File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut writer = BufWriter::new(file);
                    let n = store.export_jsonl(&run_id, &mut writer)?;
                    writer.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    store.export_jsonl(&run_id, &mut lock)?
                }
            };
            eprintln!("exported {count} trajectories");
        }
        RunsCommand::Import {
            file,
            format,
            env,
            skip_unmapped,
            out,
        } => {
            if format == "store" || (format == "auto" && is_sqlite(&file)?) {
                return merge_store(&file, &out);
            }
            let format = Format::parse(&format).map_err(|_| {
                anyhow::anyhow!(
                    "unknown format '{format}' (expected auto, lifeharness, tau2, tau-bench or store)"
                )
            })?;
            let factories = Factories::default();
            let lookup = |name: &str| {
                factories
                    .get(name)
                    .map_err(|e| DiagnoseError::Input(e.to_string()))
            };
            let options = ImportOptions { env, skip_unmapped };
            let imported = import::import_path(&file, format, &options, &lookup)?;
            let store = Store::open(&out)?;
            let count = store.import_trajectories(&imported.trajectories, &imported.config)?;
            println!(
                "imported {count} trajectories ({} format) into {} as run {}",
                imported.format.as_str(),
                out.display(),
                imported.run_id
            );
            let mut by_quality: std::collections::BTreeMap<String, usize> = Default::default();
            for row in &imported.mapping {
                *by_quality
                    .entry(format!("{:?}", row.matched.quality).to_lowercase())
                    .or_default() += 1;
            }
            if !by_quality.is_empty() {
                let list: Vec<String> =
                    by_quality.iter().map(|(k, n)| format!("{k} {n}")).collect();
                println!("  tasks: {}", list.join(", "));
            }
            for row in imported
                .mapping
                .iter()
                .filter(|r| r.matched.quality != MatchQuality::Exact)
            {
                println!(
                    "  task {} -> {}: {}",
                    row.source_task,
                    row.matched.task_id.as_deref().unwrap_or("(none)"),
                    row.matched.note
                );
            }
            for skipped in &imported.skipped {
                println!("  skipped {skipped}");
            }
        }
    }
    Ok(())
}
