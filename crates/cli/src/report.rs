//! `lifeharness report`: a matrix's cells, or runs grouped into cells, with
//! the paper's statistics, written as HTML, Markdown and JSON (Markdown on
//! stdout when no file is named).

use std::sync::Arc;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use lifeharness_core::EnvironmentFactory;
use lifeharness_report::{CellSpec, FULL_VARIANT, NULL_HARNESS};
use lifeharness_rules::Harness;
use lifeharness_store::{RunRecord, Store, StoreError};
use serde_json::{Value, json};

use crate::cli::ReportArgs;
use crate::diagnose::open_store;
use crate::registry::Factories;

/// The cell a plain run is: model, environment, split and harness from its
/// stored configuration.
fn run_cell(record: &RunRecord) -> Result<CellSpec> {
    let config = &record.config;
    let text = |key: &str| config[key].as_str().unwrap_or("").to_string();
    let env = text("env");
    let mut spec = CellSpec {
        model: text("model"),
        environment: env.clone(),
        split: text("split"),
        harness: NULL_HARNESS.into(),
        harness_name: NULL_HARNESS.into(),
        harness_file: config["harness_origin"].as_str().map(str::to_string),
        variant: FULL_VARIANT.into(),
        source_model: None,
        notes: Vec::new(),
        runs: vec![record.run_id.clone()],
    };
    if spec.model.is_empty() || env.is_empty() {
        // An imported run: its trajectories name their model and environment.
        spec.model = config["model"].as_str().unwrap_or("imported").to_string();
    }
    if let Some(toml) = config["harness_toml"].as_str() {
        let compiled = Harness::compile_toml(toml, &format!("run {}", record.run_id))
            .with_context(|| format!("run {}: its stored harness does not load", record.run_id))?;
        let h = &compiled.harness;
        spec.harness_name = h.name.clone();
        spec.source_model = h.lineage.as_ref().map(|l| l.source_model.clone());
        spec.harness = if h.lineage.is_some() {
            "evolved".into()
        } else if h.name == NULL_HARNESS {
            NULL_HARNESS.into()
        } else if h.origin.is_empty() {
            h.name.clone()
        } else {
            h.origin.clone()
        };
        let l = &h.layers;
        if h.name != NULL_HARNESS && !(l.contract && l.skills && l.realization && l.regulation) {
            let on: Vec<&str> = [
                ("contract", l.contract),
                ("skills", l.skills),
                ("realization", l.realization),
                ("regulation", l.regulation),
            ]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect();
            spec.variant = format!(
                "layers: {}",
                if on.is_empty() {
                    "none".into()
                } else {
                    on.join("+")
                }
            );
        }
    }
    if env.starts_with("tau2") && config["env_options"]["user_model"].is_null() {
        spec.notes.push(format!(
            "{env} runs in ticket mode: its scores are not comparable with published numbers"
        ));
    }
    if spec.model.starts_with("scripted") {
        spec.notes.push(format!(
            "model {} is SCRIPTED (replays a fixed script): its cells say nothing about a real model",
            spec.model
        ));
    }
    Ok(spec)
}

fn write(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The cells named by `ids` (matrix ids and run ids), and notes on matrix
/// cells this store holds no run for.
fn specs(store: &Store, ids: &[String]) -> Result<(Vec<CellSpec>, Vec<String>)> {
    let mut specs = Vec::new();
    let mut notes = Vec::new();
    for id in ids {
        match store.matrix(id) {
            Ok(record) => {
                let (cells, missing) = crate::matrix::cell_specs(&record.config, &record.cells)
                    .with_context(|| format!("matrix {id}"))?;
                if !missing.is_empty() {
                    notes.push(format!(
                        "matrix {id}: {} of {} cells have no run in this store (other shards, or not started): {}",
                        missing.len(),
                        missing.len() + cells.len(),
                        missing.join("; ")
                    ));
                }
                specs.extend(cells);
            }
            Err(StoreError::NotFound(_)) => {
                let record = store.run(id).map_err(|_| {
                    anyhow::anyhow!(
                        "'{id}' is neither a matrix nor a run in {}",
                        store.path().display()
                    )
                })?;
                specs.push(run_cell(&record)?);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((specs, notes))
}

/// Runs `lifeharness report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let store = open_store(&args.out)?;
    let (specs, missing) = specs(&store, &args.ids)?;
    for note in &missing {
        eprintln!("note: {note}");
    }
    let total: u64 = specs
        .iter()
        .flat_map(|s| &s.runs)
        .map(|r| store.episodes(r).map(|e| e.len() as u64))
        .sum::<Result<u64, _>>()?;
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("reading episodes [{bar:30}] {pos}/{len} ({eta})")
    {
        bar.set_style(style);
    }
    let factories = Factories::default();
    let lookup = |name: &str| -> Option<Arc<dyn EnvironmentFactory>> { factories.get(name).ok() };
    let mut report =
        lifeharness_report::build(&store, args.ids.clone(), specs, &lookup, &|| bar.inc(1))?;
    report.notes.extend(missing);
    bar.finish_and_clear();
    if let Some(path) = &args.html {
        write(path, &report.html())?;
    }
    if let Some(path) = &args.md {
        write(path, &report.markdown())?;
    }
    if let Some(path) = &args.json {
        let value: Value = json!({"format": "lifeharness-report", "version": 1, "report": report});
        write(path, &serde_json::to_string_pretty(&value)?)?;
    }
    if args.html.is_none() && args.md.is_none() && args.json.is_none() {
        print!("{}", report.markdown());
    } else {
        let s = &report.summary;
        println!(
            "{} cells, {} settings: {} improved, {} worse; mean relative improvement {} ({} with a null harness at 0 left out)",
            report.cells.len(),
            s.settings,
            s.improved,
            s.worse,
            s.mean_relative
                .map_or("n/a".into(), |r| format!("{:+.1}%", r * 100.0)),
            s.zero_baseline
        );
    }
    Ok(())
}
