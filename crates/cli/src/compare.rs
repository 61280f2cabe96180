//! `lifeharness compare`: the same tasks, seeds and model without a harness
//! (or under a baseline harness) and with one or more harnesses, each
//! recorded as its own run, then a table of what changed: executable
//! actions, blocked calls and how many of them the model then corrected,
//! loops stopped, context overflows, success.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use lifeharness_core::{ActionStats, ExitStatus, ModelErrorKind, Trajectory, VerdictKind};
use lifeharness_store::Store;
use serde::Serialize;
use serde_json::json;

use crate::cli::{CompareArgs, RunArgs};
use crate::run::{RunConfig, create_run, new_config, play};
use crate::summary::RunCounts;

/// What one side of the comparison did, summed over its episodes.
#[derive(Debug, Clone, Default, Serialize)]
struct Side {
    label: String,
    run_id: String,
    harness: String,
    episodes: usize,
    solved: usize,
    mean_reward: Option<f64>,
    scored: usize,
    actions: ActionStats,
    /// Blocked actions whose next action in the episode ran without error.
    corrected: usize,
    annotations: usize,
    nudges: usize,
    directives: usize,
    loops_stopped: usize,
    context_overflows: usize,
    backend_errors: usize,
    steps: usize,
    wall_s: f64,
}

impl Side {
    fn add(&mut self, t: &Trajectory) {
        self.actions.merge(&ActionStats::of(&t.steps));
        self.steps += t.steps.len();
        let mut pending_block = false;
        for step in &t.steps {
            if step.model_error.as_ref().map(|e| e.kind) == Some(ModelErrorKind::ContextOverflow) {
                self.context_overflows += 1;
            } else if step.model_error.is_some() {
                self.backend_errors += 1;
            }
            for event in step.events.iter().filter(|e| !e.observe_only) {
                match event.verdict {
                    VerdictKind::Nudge => self.nudges += 1,
                    VerdictKind::Directive => self.directives += 1,
                    _ => {}
                }
            }
            for action in &step.actions {
                if action.executed.is_none() && action.correction.is_some() {
                    pending_block = true;
                    continue;
                }
                if let Some(observation) = &action.observation {
                    self.annotations += observation.notes.len();
                    if pending_block && !observation.is_error {
                        self.corrected += 1;
                    }
                }
                pending_block = false;
            }
        }
        if let Some(end) = &t.end
            && end.exit == ExitStatus::Loop
        {
            self.loops_stopped += 1;
        }
    }
}

fn run_args(args: &CompareArgs, harness: Option<PathBuf>) -> RunArgs {
    RunArgs {
        env: Some(args.env.clone()),
        split: args.split.clone(),
        tasks: args.tasks.clone(),
        limit: args.limit,
        model: Some(args.model.clone()),
        user_model: None,
        judge: None,
        harness,
        out: args.out.clone(),
        concurrency: args.concurrency,
        seed: args.seed,
        trials: args.trials,
        max_steps: args.max_steps,
        resume: None,
        json: false,
        constrained: args.constrained,
        guided: args.guided,
        model_delay_ms: 0,
    }
}

/// Runs `lifeharness compare`.
pub async fn compare(args: CompareArgs) -> Result<()> {
    let store = Store::open(&args.out)?;
    // Every side is checked (environment, tasks, harness file, model)
    // before any episode runs.
    let mut plans: Vec<(String, RunConfig)> = Vec::new();
    let baseline_label = match &args.baseline {
        Some(path) => format!("baseline ({})", path.display()),
        None => "harness off (null)".to_string(),
    };
    plans.push((
        baseline_label,
        new_config(&run_args(&args, args.baseline.clone())).await?,
    ));
    for path in &args.harness {
        plans.push((
            format!("harness on ({})", path.display()),
            new_config(&run_args(&args, Some(path.clone()))).await?,
        ));
    }
    let mut sides = Vec::new();
    for (label, config) in &plans {
        let run_id = create_run(&store, config)?;
        eprintln!("== {label}");
        let started = Instant::now();
        let summary = play(&store, &run_id, config).await?;
        let mut side = Side {
            label: label.clone(),
            run_id: run_id.clone(),
            wall_s: started.elapsed().as_secs_f64(),
            ..Side::default()
        };
        let episodes = store.episodes(&run_id)?;
        let counts = RunCounts::of(&episodes);
        side.episodes = counts.finished;
        side.solved = counts.successes;
        side.mean_reward = counts.mean_reward;
        side.scored = counts.scored;
        for e in &episodes {
            let t = store.trajectory(&run_id, &e.episode_id)?;
            if side.harness.is_empty() {
                side.harness = t.header.harness.name.clone();
            }
            side.add(&t);
        }
        sides.push(side);
        if summary.interrupted > 0 {
            eprintln!(
                "interrupted: the comparison is incomplete (resume each run with lifeharness run --resume RUN_ID)"
            );
            break;
        }
    }
    let tasks = plans.first().map_or(0, |(_, c)| c.task_ids.len());
    let sample = format!(
        "SMALL SAMPLE: {tasks} task{} x {} trial{} of {} {}, seed {}, model {}. It shows what the \
         harness does to this model's actions; it is not a measurement of improvement.",
        if tasks == 1 { "" } else { "s" },
        args.trials,
        if args.trials == 1 { "" } else { "s" },
        args.env,
        args.split,
        args.seed,
        args.model
    );
    if args.json {
        println!(
            "{}",
            json!({"note": sample, "env": args.env, "split": args.split, "model": args.model,
                   "seed": args.seed, "trials": args.trials, "tasks": tasks, "sides": sides})
        );
    } else {
        print!("{}", table(&sides));
        println!("{sample}");
        println!(
            "Inspect a side: lifeharness runs show RUN_ID --out {} (run ids above).",
            store.path().display()
        );
    }
    Ok(())
}

fn pct(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".to_string()
    } else {
        format!("{:.0}%", part as f64 * 100.0 / whole as f64)
    }
}

impl Side {
    /// The table rows of this side: (metric, value).
    fn cells(&self) -> Vec<(&'static str, String)> {
        let a = &self.actions;
        vec![
            ("run", self.run_id.clone()),
            ("harness", self.harness.clone()),
            ("episodes", self.episodes.to_string()),
            (
                "solved",
                format!("{} ({})", self.solved, pct(self.solved, self.episodes)),
            ),
            (
                "mean reward (scored)",
                self.mean_reward
                    .map_or("n/a".into(), |m| format!("{m:.3} ({})", self.scored)),
            ),
            ("model turns", a.turns.to_string()),
            (
                "tool calls proposed",
                format!("{} of {}", a.proposed_tool_calls, a.proposed),
            ),
            ("format errors", a.format_errors.to_string()),
            ("blocked with a correction", a.blocked.to_string()),
            ("  then corrected", self.corrected.to_string()),
            ("rewritten", a.rewritten.to_string()),
            ("reached the environment", a.executed_tool_calls.to_string()),
            (
                "executable (ran without error)",
                format!(
                    "{} ({} of proposed)",
                    a.executable,
                    pct(a.executable, a.proposed)
                ),
            ),
            ("annotations added", self.annotations.to_string()),
            (
                "nudges / directives",
                format!("{} / {}", self.nudges, self.directives),
            ),
            ("loops stopped", self.loops_stopped.to_string()),
            ("context overflows", self.context_overflows.to_string()),
            ("other backend errors", self.backend_errors.to_string()),
            ("harness faults", a.harness_faults.to_string()),
            ("wall time", format!("{:.0} s", self.wall_s)),
        ]
    }
}

/// The side-by-side table, one column per side.
fn table(sides: &[Side]) -> String {
    let columns: Vec<Vec<(&str, String)>> = sides.iter().map(Side::cells).collect();
    let names: Vec<&str> = columns
        .first()
        .map(|c| c.iter().map(|(name, _)| *name).collect())
        .unwrap_or_default();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    let col_width: Vec<usize> = columns
        .iter()
        .zip(sides)
        .map(|(column, side)| {
            column
                .iter()
                .map(|(_, v)| v.len())
                .chain(std::iter::once(side.label.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |name: &str, values: Vec<&str>| {
        let mut l = format!("{name:<width$}");
        for (v, w) in values.iter().zip(&col_width) {
            l.push_str(&format!(" | {v:<w$}"));
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line("", sides.iter().map(|s| s.label.as_str()).collect());
    out.push_str(&"-".repeat(width + col_width.iter().map(|w| w + 3).sum::<usize>()));
    out.push('\n');
    for (row, name) in names.iter().enumerate() {
        out.push_str(&line(
            name,
            columns.iter().map(|c| c[row].1.as_str()).collect(),
        ));
    }
    out
}
