//! The store at scale: today's path (schema version 1 store, jobs built up
//! front, episodes polled in one task; kept in `v1.rs`) next to the current
//! one on the real workload: tau2-retail split `all` (114 tasks) x N trials
//! in ticket mode, a scripted 4-turn model, the shipped
//! `harnesses/tau2-retail.toml` with the real layers, at the CLI's default
//! concurrency (4). A `none` row runs the current runtime with a sink that
//! keeps nothing: the ceiling the store is measured against.
//!
//! Every case runs in a fresh child process (this binary with `--child`), so
//! its peak resident memory (`VmHWM`) is its own. Printed per case:
//! episodes/s over the run itself (set-up excluded), stored bytes per
//! episode (the database after a WAL checkpoint, divided by the episodes),
//! and peak RSS. The current path runs at 1x and at `--scale` x the trials
//! to show its memory stays flat; `--old-at-scale` runs the old path at that
//! size too (slow).
//!
//! `cargo bench -p lifeharness-cli --bench store_scale [-- --trials 10 --scale 10 --old-at-scale]`

mod v1;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use lifeharness_core::{EnvironmentFactory, HarnessInfo, Layer, SinkError, Task, TrajectorySink};
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use lifeharness_models::{ScriptedModel, ScriptedTurn};
use lifeharness_rules::Harness;
use lifeharness_runtime::{EpisodeSpec, RuntimeConfig, episode_seed, run_many};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HARNESS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../harnesses/tau2-retail.toml"
);
const CONCURRENCY: usize = 4;

/// What one case measured.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Measured {
    episodes: u64,
    steps: u64,
    seconds: f64,
    bytes: u64,
    peak_rss_kib: u64,
}

/// Which write path a case uses.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WritePath {
    /// Schema version 1 (`v1.rs`) with every job built up front, each with
    /// its own copy of the harness description, and the episodes polled in
    /// one task, as `lifeharness run` did.
    Old,
    /// The current store and `run_many`, jobs built lazily, one shared
    /// harness description.
    New,
    /// No store at all (what the runtime, layers and environment cost alone).
    Null,
}

impl WritePath {
    fn name(self) -> &'static str {
        match self {
            Self::Old => "old",
            Self::New => "new",
            Self::Null => "none",
        }
    }
}

/// The scripted model: three lookups, then the ticket-mode stop.
fn script() -> Vec<ScriptedTurn> {
    vec![
        ScriptedTurn::call(
            "find_user_id_by_name_zip",
            json!({"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}),
        ),
        ScriptedTurn::call("get_order_details", json!({"order_id": "#W2378156"})),
        ScriptedTurn::call("get_product_details", json!({"product_id": "1656367028"})),
        ScriptedTurn::text("The exchange is not possible as asked. ###STOP###"),
    ]
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One case, in this (child) process.
async fn child(path: WritePath, db: &Path, trials: u32) -> Result<Measured> {
    let factory = Arc::new(Tau2Factory::retail(UserMode::Ticket)?);
    let tasks = factory.tasks("all")?;
    let toml = std::fs::read_to_string(HARNESS).with_context(|| HARNESS.to_string())?;
    let compiled = Arc::new(Harness::compile_toml(&toml, "harnesses/tau2-retail.toml")?);
    let layers: Arc<[Arc<dyn Layer>]> = Arc::from(lifeharness_layers::build(&compiled));
    let harness = &compiled.harness;
    let runtime = RuntimeConfig {
        max_steps: harness.runtime.max_steps,
        max_blocked_per_step: harness.runtime.max_blocked_per_step,
        on_block_budget: harness.runtime.on_block_budget,
        on_fault: harness.runtime.on_fault,
        observe_only: harness.observe_only,
        ..RuntimeConfig::default()
    };
    let env_info = factory.info();
    let harness_info = harness.info();
    let model = Arc::new(ScriptedModel::new(script()));
    let run_id = "run-bench";
    // What `lifeharness run` stores with a run (the harness text included).
    let config = json!({"env": "tau2-retail", "split": "all", "trials": trials,
                        "model": "scripted", "harness_toml": toml});
    let created = "2026-01-01T00:00:00Z";
    let spec = |trial: u32, task: &Task, harness: Arc<HarnessInfo>| EpisodeSpec {
        run_id: run_id.to_string(),
        episode_id: format!("{}/{trial}", task.id),
        seed: episode_seed(0, &task.id, trial),
        task: task.clone(),
        trial,
        attempt: 0,
        environment: env_info.clone(),
        harness,
        config: runtime.clone(),
    };
    let pairs = || (0..trials).flat_map(|trial| tasks.iter().map(move |task| (trial, task)));
    let cancel = CancellationToken::new();
    let started;
    match path {
        WritePath::Old => {
            let store = v1::Store::open(db)?;
            store.create_run(run_id, created, &config)?;
            // Every job built up front with its own harness description.
            let jobs: Vec<EpisodeSpec> = pairs()
                .map(|(trial, task)| spec(trial, task, Arc::new(harness_info.clone())))
                .collect();
            started = Instant::now();
            let sink: Arc<dyn TrajectorySink> = Arc::new(store.clone());
            v1::run_many(jobs, model, factory, layers, sink, CONCURRENCY, cancel).await?;
            store.mark_interrupted(run_id)?;
            store.set_run_status(run_id, "finished")?;
        }
        WritePath::New => {
            let store = lifeharness_store::Store::open(db)?;
            store.create_run(run_id, created, &config)?;
            let shared = Arc::new(harness_info);
            let jobs = pairs().map(|(trial, task)| spec(trial, task, Arc::clone(&shared)));
            started = Instant::now();
            let sink: Arc<dyn TrajectorySink> = Arc::new(store.clone());
            run_many(
                jobs,
                model,
                factory,
                layers,
                sink,
                CONCURRENCY,
                cancel,
                &|_| {},
            )
            .await?;
            store.mark_interrupted(run_id)?;
            store.set_run_status(run_id, "finished")?;
        }
        WritePath::Null => {
            let shared = Arc::new(harness_info);
            let jobs = pairs().map(|(trial, task)| spec(trial, task, Arc::clone(&shared)));
            started = Instant::now();
            let sink = Arc::new(NullSink::default());
            run_many(
                jobs,
                model,
                factory,
                layers,
                sink.clone(),
                CONCURRENCY,
                cancel,
                &|_| {},
            )
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            let counts = sink
                .counts
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?;
            return Ok(Measured {
                episodes: counts.0,
                steps: counts.1,
                seconds,
                bytes: 0,
                peak_rss_kib: peak_rss_kib(),
            });
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_kib = peak_rss_kib();
    let conn = rusqlite::Connection::open(db)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let episodes = count("SELECT COUNT(*) FROM episodes WHERE status = 'finished'")? as u64;
    let steps = count("SELECT COUNT(*) FROM steps")? as u64;
    drop(conn);
    let bytes = std::fs::metadata(db)?.len();
    Ok(Measured {
        episodes,
        steps,
        seconds,
        bytes,
        peak_rss_kib,
    })
}

/// A sink that keeps nothing but counts.
#[derive(Default)]
struct NullSink {
    counts: std::sync::Mutex<(u64, u64)>,
}

#[async_trait::async_trait]
impl TrajectorySink for NullSink {
    async fn begin_episode(&self, _: &lifeharness_core::EpisodeHeader) -> Result<(), SinkError> {
        Ok(())
    }

    async fn record_step(
        &self,
        _: &str,
        _: &str,
        _: &lifeharness_core::Step,
    ) -> Result<(), SinkError> {
        if let Ok(mut c) = self.counts.lock() {
            c.1 += 1;
        }
        Ok(())
    }

    async fn end_episode(
        &self,
        _: &str,
        _: &str,
        _: &lifeharness_core::EpisodeEnd,
    ) -> Result<(), SinkError> {
        if let Ok(mut c) = self.counts.lock() {
            c.0 += 1;
        }
        Ok(())
    }
}

/// Runs one case in a child process and reads what it measured.
fn spawn(exe: &Path, path: WritePath, db: &Path, trials: u32) -> Result<Measured> {
    let out = Command::new(exe)
        .args(["--child", path.name(), &db.display().to_string()])
        .arg(trials.to_string())
        .output()
        .context("starting the benchmark child")?;
    if !out.status.success() {
        bail!(
            "{} case failed: {}",
            path.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("child said: {text}"))
}

fn row(name: &str, m: &Measured) {
    println!(
        "{name:<5} {:>8} {:>7} {:>9.2} {:>11.0} {:>14.0} {:>10.1}",
        m.episodes,
        m.steps,
        m.seconds,
        m.episodes as f64 / m.seconds,
        m.bytes as f64 / m.episodes.max(1) as f64,
        m.peak_rss_kib as f64 / 1024.0,
    );
}

fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn value(args: &[String], name: &str, default: u32) -> Result<u32> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{name} takes a number")),
        None => Ok(default),
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let (Some(path), Some(db), Some(trials)) =
            (args.get(i + 1), args.get(i + 2), args.get(i + 3))
        else {
            bail!("--child PATH DB TRIALS");
        };
        let path = match path.as_str() {
            "old" => WritePath::Old,
            "none" => WritePath::Null,
            _ => WritePath::New,
        };
        let trials: u32 = trials.parse()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let measured = rt.block_on(child(path, &PathBuf::from(db), trials))?;
        println!("{}", serde_json::to_string(&measured)?);
        return Ok(());
    }
    let trials = value(&args, "--trials", 10)?;
    let scale = value(&args, "--scale", 10)?;
    let exe = std::env::current_exe()?;
    let dir = tempfile::tempdir()?;
    let db = |name: &str| dir.path().join(format!("{name}.db"));
    println!(
        "store_scale: tau2-retail split all x {trials} trials (x{scale} for the scale rows), scripted 4-turn model, \
         harnesses/tau2-retail.toml, concurrency {CONCURRENCY}"
    );
    println!(
        "{:<5} {:>8} {:>7} {:>9} {:>11} {:>14} {:>10}",
        "path", "episodes", "steps", "seconds", "episodes/s", "bytes/episode", "peak MiB"
    );
    let none = spawn(&exe, WritePath::Null, &db("none"), trials)?;
    row("none", &none);
    let old = spawn(&exe, WritePath::Old, &db("old"), trials)?;
    row("old", &old);
    let new = spawn(&exe, WritePath::New, &db("new"), trials)?;
    row("new", &new);
    let old_big = if flag(&args, "--old-at-scale") {
        let m = spawn(&exe, WritePath::Old, &db("old-big"), trials * scale)?;
        row("old", &m);
        Some(m)
    } else {
        None
    };
    let new_big = spawn(&exe, WritePath::New, &db("new-big"), trials * scale)?;
    row("new", &new_big);
    let rate = |m: &Measured| m.episodes as f64 / m.seconds;
    let per = |m: &Measured| m.bytes as f64 / m.episodes.max(1) as f64;
    let mib = |m: &Measured| m.peak_rss_kib as f64 / 1024.0;
    println!(
        "new vs old at {} episodes: {:.1}x episodes/s, {:.1}x fewer bytes per episode, peak RSS {:.0} -> {:.0} MiB",
        new.episodes,
        rate(&new) / rate(&old),
        per(&old) / per(&new),
        mib(&old),
        mib(&new)
    );
    println!(
        "new peak RSS at {} vs {} episodes: {:.0} vs {:.0} MiB ({:+.0} MiB)",
        new.episodes,
        new_big.episodes,
        mib(&new),
        mib(&new_big),
        mib(&new_big) - mib(&new)
    );
    if let Some(m) = old_big {
        println!(
            "old peak RSS at {} vs {} episodes: {:.0} vs {:.0} MiB",
            old.episodes,
            m.episodes,
            mib(&old),
            mib(&m)
        );
    }
    Ok(())
}
