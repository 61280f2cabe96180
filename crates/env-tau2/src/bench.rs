//! Speed and memory figures the CLI can print next to the original's:
//! median tool-call time, episode set-up time (create + reset), database
//! hash time (incremental after the gold actions and right after reset, and
//! from scratch), and resident memory per concurrent episode.
//!
//! [`python_figures`] measures the original the same way (by running
//! `tools/bench_original.py` with an interpreter that has `tau2`
//! installed); [`REFERENCE`] holds the figures the original gave on a
//! 2-core machine, for when it cannot be run. [`comparison_table`] prints
//! both sides and their ratios.

use std::future::Future;
use std::path::Path;
use std::process::{Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use lifeharness_core::{Action, Environment, EnvironmentFactory};
use serde::{Deserialize, Serialize};

use crate::factory::Tau2Factory;
use crate::replay::{gold_actions, to_actions};
use crate::task::Tau2Task;
use crate::user::UserMode;

/// Medians in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct BenchFigures {
    /// `tau2-retail` or `tau2-airline`.
    pub environment: String,
    /// Median time of one gold tool call.
    pub tool_call_ms: f64,
    /// Median time of `create` + `reset` for a task.
    pub setup_ms: f64,
    /// Median time of one database hash (after the gold actions).
    pub db_hash_ms: f64,
    /// Median time of one database hash right after `reset`.
    pub db_hash_fresh_ms: f64,
    /// Median time of the same hash as `db_hash_ms` computed from scratch
    /// (the whole dump, no reuse of the initial database's).
    pub db_hash_scratch_ms: f64,
    /// Number of samples behind each median.
    pub samples: usize,
    /// Median time (ms) and number of calls of each tool, for finding
    /// where the tool-call time goes.
    pub tool_call_ms_by_tool: std::collections::BTreeMap<String, (f64, usize)>,
}

/// Runs a future that never waits (ticket-mode episodes do not).
pub fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Measures the three figures over every task's gold actions, `rounds` times.
///
/// The from-scratch hashes are taken in a pass of their own after the
/// episodes: each dumps the whole database (megabytes), which would
/// otherwise evict the caches between one task's tool calls and the next.
pub fn measure(factory: &Tau2Factory, rounds: usize) -> BenchFigures {
    let factory = factory.with_mode(UserMode::Ticket);
    let tasks = factory.split_tasks("all").unwrap_or_default();
    let parsed: Vec<(&lifeharness_core::Task, Tau2Task)> = tasks
        .iter()
        .filter_map(|task| Some((task, serde_json::from_value(task.data.clone()).ok()?)))
        .collect();
    let (mut calls, mut setups, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut fresh, mut scratch) = (Vec::new(), Vec::new());
    let mut by_tool: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for _ in 0..rounds.max(1) {
        for (task, parsed) in &parsed {
            let actions = to_actions(&gold_actions(parsed));
            let start = Instant::now();
            let Ok(mut env) = factory.create() else {
                continue;
            };
            if block_on(env.reset(task, 0)).is_none() {
                continue;
            }
            setups.push(ms(start));
            let mut concrete = factory.env();
            let _ = block_on(concrete.reset(task, 0));
            let start = Instant::now();
            let _ = concrete.db_hash();
            fresh.push(ms(start));
            for action in &actions {
                let Action::ToolCall(call) = action else {
                    continue;
                };
                let start = Instant::now();
                let _ = block_on(concrete.step(action));
                let took = ms(start);
                calls.push(took);
                by_tool.entry(call.name.clone()).or_default().push(took);
            }
            let start = Instant::now();
            let _ = concrete.db_hash();
            hashes.push(ms(start));
        }
        for (_, parsed) in &parsed {
            let mut db = factory.data().db.clone();
            if db
                .apply_initial_state(parsed.initial_state.as_ref())
                .is_ok()
            {
                for action in parsed
                    .evaluation_criteria
                    .iter()
                    .flat_map(|c| c.actions.iter().flatten())
                {
                    let _ = db.call(&action.name, &action.arguments);
                }
                let start = Instant::now();
                let _ = db.hash();
                scratch.push(ms(start));
            }
        }
    }
    BenchFigures {
        environment: factory.domain().env_name().to_string(),
        tool_call_ms: median(calls.clone()),
        setup_ms: median(setups),
        db_hash_ms: median(hashes),
        db_hash_fresh_ms: median(fresh),
        db_hash_scratch_ms: median(scratch),
        samples: calls.len(),
        tool_call_ms_by_tool: by_tool
            .into_iter()
            .map(|(name, times)| {
                let n = times.len();
                (name, (median(times), n))
            })
            .collect(),
    }
}

/// Resident memory (bytes) from `/proc/self/statm`, where available.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Holds `n` episodes open at once, each reset and run through its task's
/// gold actions, and returns the growth of resident memory per episode
/// (bytes), where `/proc` is available.
pub fn memory_per_episode(factory: &Tau2Factory, n: usize) -> Option<f64> {
    let factory = factory.with_mode(UserMode::Ticket);
    let tasks = factory.split_tasks("all").ok()?;
    let before = resident_bytes()?;
    let mut episodes = Vec::with_capacity(n);
    for i in 0..n {
        let task = &tasks[i % tasks.len()];
        let parsed: Tau2Task = serde_json::from_value(task.data.clone()).ok()?;
        let mut env = factory.env();
        block_on(env.reset(task, 0))?.ok()?;
        for action in to_actions(&gold_actions(&parsed)) {
            if matches!(action, Action::ToolCall(_)) {
                let _ = block_on(env.step(&action));
            }
        }
        episodes.push(env);
    }
    let after = resident_bytes()?;
    let per = after.saturating_sub(before) as f64 / n.max(1) as f64;
    drop(episodes);
    Some(per)
}

/// The original's medians (milliseconds) for one domain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PythonFigures {
    /// Median time of one gold tool call (`get_response`).
    pub tool_call_ms: f64,
    /// Median time of `get_environment()` (loads the database).
    pub setup_ms: f64,
    /// Median time of `get_db_hash()` after the gold actions.
    pub db_hash_ms: f64,
}

/// The original's figures given in the issue (tau2 1.0.1, Python 3.12,
/// medians on 2 cores), for when it cannot be measured in the same run.
pub const REFERENCE: [(&str, PythonFigures); 2] = [
    (
        "tau2-retail",
        PythonFigures {
            tool_call_ms: 0.10,
            setup_ms: 73.0,
            db_hash_ms: 51.0,
        },
    ),
    (
        "tau2-airline",
        PythonFigures {
            tool_call_ms: 0.22,
            setup_ms: 230.0,
            db_hash_ms: 132.0,
        },
    ),
];

/// The reference figures of `environment`.
pub fn reference(environment: &str) -> Option<PythonFigures> {
    REFERENCE
        .iter()
        .find(|(name, _)| *name == environment)
        .map(|(_, figures)| *figures)
}

/// Runs `script` (`tools/bench_original.py`) with `python` and returns its
/// figures per environment name; an error says why not (no such
/// interpreter, no `tau2` module, a failed run).
pub fn python_figures(
    python: &Path,
    script: &Path,
    rounds: usize,
) -> Result<Vec<(String, PythonFigures)>, String> {
    let probe = Command::new(python)
        .args(["-c", "import tau2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.success() {
        return Err(format!("{} cannot import tau2", python.display()));
    }
    let output = Command::new(python)
        .arg(script)
        .args(["--rounds", &rounds.max(1).to_string()])
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(format!("{} failed: {tail}", script.display()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    let parsed: indexmap::IndexMap<String, PythonFigures> = serde_json::from_str(line)
        .map_err(|e| format!("unreadable output of {}: {e}", script.display()))?;
    Ok(parsed.into_iter().collect())
}

/// One row of the comparison: a figure, ours, the original's and how many
/// times faster ours is.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// `tau2-retail` or `tau2-airline`.
    pub environment: String,
    /// `tool_call`, `setup` or `db_hash`.
    pub figure: &'static str,
    /// Our median (ms).
    pub ours_ms: f64,
    /// The original's median (ms).
    pub python_ms: f64,
    /// `python_ms / ours_ms`.
    pub speedup: f64,
}

/// The three compared figures of one environment.
pub fn compare(ours: &BenchFigures, python: &PythonFigures) -> Vec<Comparison> {
    [
        ("tool_call", ours.tool_call_ms, python.tool_call_ms),
        ("setup", ours.setup_ms, python.setup_ms),
        ("db_hash", ours.db_hash_ms, python.db_hash_ms),
    ]
    .into_iter()
    .map(|(figure, ours_ms, python_ms)| Comparison {
        environment: ours.environment.clone(),
        figure,
        ours_ms,
        python_ms,
        speedup: python_ms / ours_ms,
    })
    .collect()
}

/// A plain-text table of `rows`; `source` says where the original's
/// figures come from (measured in this run, or reference figures).
pub fn comparison_table(rows: &[Comparison], source: &str) -> String {
    let mut out = format!("Medians in ms; the original's figures: {source}.\n");
    out.push_str(&format!(
        "{:<14} {:<10} {:>12} {:>12} {:>10}\n",
        "environment", "figure", "ours", "python", "speedup"
    ));
    for row in rows {
        out.push_str(&format!(
            "{:<14} {:<10} {:>12.5} {:>12.3} {:>9.0}x\n",
            row.environment, row.figure, row.ours_ms, row.python_ms, row.speedup
        ));
    }
    out
}
