//! Speed and memory figures the CLI can print next to the original's:
//! median tool-call time, episode set-up time (create + reset), database
//! hash time (incremental after the gold actions and right after reset, and
//! from scratch), and resident memory per concurrent episode.
//!
//! The original's figures on this kind of machine (tau2 1.0.1, Python 3.12):
//! tool call 0.10 ms (retail) / 0.22 ms (airline), set-up 73 ms / 230 ms,
//! hash 51 ms / 132 ms; `tools/bench_original.py` measures them.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use lifeharness_core::{Action, Environment, EnvironmentFactory};
use serde::Serialize;

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
pub fn measure(factory: &Tau2Factory, rounds: usize) -> BenchFigures {
    let factory = factory.with_mode(UserMode::Ticket);
    let tasks = factory.split_tasks("all").unwrap_or_default();
    let (mut calls, mut setups, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut fresh, mut scratch) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        for task in &tasks {
            let Ok(parsed) = serde_json::from_value::<Tau2Task>(task.data.clone()) else {
                continue;
            };
            let actions = to_actions(&gold_actions(&parsed));
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
            for action in actions.iter().filter(|a| matches!(a, Action::ToolCall(_))) {
                let start = Instant::now();
                let _ = block_on(concrete.step(action));
                calls.push(ms(start));
            }
            let start = Instant::now();
            let _ = concrete.db_hash();
            hashes.push(ms(start));
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
