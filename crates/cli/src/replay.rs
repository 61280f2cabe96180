//! `lifeharness replay`: reference solutions (or given actions) through an environment.

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::ReplayArgs;
use crate::registry::{self, EnvOptions};

/// Prints one report per task and a summary line on stderr.
fn emit(reports: Vec<Value>, json: bool) -> Result<()> {
    let mut scored = 0usize;
    let mut solved = 0usize;
    let mut skipped = 0usize;
    for report in &reports {
        match report.get("reward").and_then(Value::as_f64) {
            Some(r) => {
                scored += 1;
                if (r - 1.0).abs() < 1e-9 {
                    solved += 1;
                }
            }
            None => skipped += 1,
        }
        if json {
            println!("{report}");
        } else {
            let id = report["task_id"].as_str().unwrap_or("?");
            let reward = report["reward"]
                .as_f64()
                .map_or("null".into(), |r| format!("{r}"));
            let note = report
                .get("excluded")
                .or_else(|| report.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("");
            println!("{id:<32} reward {reward:<5} {note}");
        }
    }
    eprintln!(
        "replayed {} tasks: reward 1 on {solved}/{scored} scored, {skipped} not scored (excluded or unevaluable, listed with reasons)",
        reports.len()
    );
    Ok(())
}

/// Runs `lifeharness replay`: whatever the environment's
/// [`ReferenceReplay`](lifeharness_core::ReferenceReplay) reports.
pub async fn replay(args: ReplayArgs) -> Result<()> {
    let options = EnvOptions {
        judge: args.judge.clone(),
        ..EnvOptions::default()
    };
    let factory = registry::environment(&args.env, &options).await?;
    let Some(replayer) = factory.reference_replay() else {
        bail!(
            "environment '{}' has no reference solutions to replay",
            args.env
        );
    };
    let reports = match &args.actions_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read actions file {}", path.display()))?;
            replayer
                .replay_actions(&text)
                .await
                .with_context(|| format!("--actions-file {} with {}", path.display(), args.env))?
        }
        None => replayer.replay_reference(&args.split).await?,
    };
    emit(reports, args.json)
}
